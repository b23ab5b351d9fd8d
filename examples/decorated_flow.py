"""Steps with @retry, @catch, @timeout and @resources."""
from flowdrop import FlowSpec, catch, resources, retry, step, timeout


class DecoratedFlow(FlowSpec):

    @resources(cpu=2, memory=4096)
    @step
    def start(self):
        self.next(self.flaky)

    @retry(times=3, minutes_between_retries=0)
    @step
    def flaky(self):
        from flowdrop import current
        if current.retry_count < 2:
            raise RuntimeError('transient failure on attempt %d' % current.retry_count)
        self.attempts = current.retry_count + 1
        self.next(self.risky)

    @catch(var='risky_failure')
    @timeout(minutes=5)
    @step
    def risky(self):
        self.never_set = 1 / 0
        self.next(self.end)

    @step
    def end(self):
        print('flaky took %d attempts; risky failed with %s'
              % (self.attempts, self.risky_failure))


if __name__ == '__main__':
    DecoratedFlow()
