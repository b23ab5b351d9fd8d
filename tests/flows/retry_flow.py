"""`start` fails on its first attempt; `fragile` opts out of retries with times=0."""
import os

from flowdrop import FlowSpec, current, retry, step


class RetryFlow(FlowSpec):

    @step
    def start(self):
        if current.retry_count == 0:
            raise RuntimeError('first attempt always fails')
        self.start_attempts = current.retry_count + 1
        self.next(self.fragile)

    @retry(times=0)
    @step
    def fragile(self):
        if os.environ.get('BREAK_FRAGILE') == '1' and current.retry_count == 0:
            raise RuntimeError('fragile must not be retried')
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    RetryFlow()
