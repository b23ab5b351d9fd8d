"""@catch over Metaflow's exceptions: a raised ExternalCommandFailed and a @timeout."""
import time

from flowdrop import FlowSpec, catch, step, timeout
from flowdrop.exception import ExternalCommandFailed


class CatchFlow(FlowSpec):

    @catch(var='start_ex', print_exception=False)
    @step
    def start(self):
        raise ExternalCommandFailed('catch me!')
        self.next(self.slow)  # noqa - never reached; the graph reads it

    @catch(var='slow_ex', print_exception=False)
    @timeout(seconds=1)
    @step
    def slow(self):
        time.sleep(10)
        self.next(self.end)

    @step
    def end(self):
        self.start_type = self.start_ex.type
        self.slow_type = self.slow_ex.type


if __name__ == '__main__':
    CatchFlow()
