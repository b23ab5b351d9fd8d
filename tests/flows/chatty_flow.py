"""Prints a lot: `start` writes CHATTY_BYTES bytes to stdout, then a last line (for --max-log-size)."""
import os
import sys

from flowdrop import FlowSpec, current, get_namespace, step


class ChattyFlow(FlowSpec):

    @step
    def start(self):
        sys.stdout.write("x" * int(os.environ.get("CHATTY_BYTES", "10")) + "\n")
        print("the last line")
        self.seen_namespace = get_namespace()
        self.tags_seen = sorted(current.tags)
        self.next(self.end)

    @step
    def end(self):
        sys.stderr.write("to stderr\n")


if __name__ == '__main__':
    ChattyFlow()
