"""A flow with a valid graph but code that cannot work: `end` reads a name nothing defines."""
import os  # unused: a pyflakes warning, not an error

from flowdrop import FlowSpec, step


class LintErrorFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        print(undefined_total)  # noqa: F821 - the error under test


if __name__ == '__main__':
    LintErrorFlow()
