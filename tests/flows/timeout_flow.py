"""A step that sleeps past its @timeout."""
import time

from flowdrop import FlowSpec, step, timeout


class TimeoutFlow(FlowSpec):

    @timeout(seconds=1)
    @step
    def start(self):
        time.sleep(30)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    TimeoutFlow()
