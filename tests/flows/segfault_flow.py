"""`end` prints a line, then dies of a segmentation fault (as Metaflow's detect_segfault test)."""
import os
import signal
import sys

from flowdrop import FlowSpec, step


class SegfaultFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        print("Crash and burn!")
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGSEGV)


if __name__ == '__main__':
    SegfaultFlow()
