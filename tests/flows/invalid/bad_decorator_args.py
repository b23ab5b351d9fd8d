# expect: bad_decorator_args.py:12: step 'fetch': @timeout(seconds='abc'): seconds must be a whole number of seconds >= 0
from flowdrop import FlowSpec, retry, step, timeout


class BadDecoratorArgsFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.fetch)

    @retry(times=2)
    @timeout(seconds='abc')
    @step
    def fetch(self):
        self.next(self.end)

    @step
    def end(self):
        pass
