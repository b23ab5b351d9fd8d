"""@catch as Metaflow's: a raised ExternalCommandFailed, a @timeout, a retried step, and a task that is killed."""
import os
import signal
import time

from flowdrop import FlowSpec, catch, current, retry, step, timeout
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
        self.next(self.retried)

    @catch(var='retried_ex', print_exception=False)
    @retry(times=1, minutes_between_retries=0)
    @step
    def retried(self):
        self.attempt_seen = current.retry_count  # set before the raise: kept, as Metaflow keeps it
        raise KeyError('still broken')
        self.next(self.killed)  # noqa

    @catch(var='killed_ex', print_exception=False)
    @step
    def killed(self):
        os.kill(os.getpid(), signal.SIGKILL)
        self.next(self.end)  # noqa

    @step
    def end(self):
        self.start_type = self.start_ex.type
        self.slow_type = self.slow_ex.type


if __name__ == '__main__':
    CatchFlow()
