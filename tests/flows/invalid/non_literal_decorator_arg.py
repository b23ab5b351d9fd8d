# expect: non_literal_decorator_arg.py:13: step 'fetch': @retry(times=RETRIES) is not a literal
from flowdrop import FlowSpec, retry, step

RETRIES = 3


class NonLiteralRetryFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.fetch)

    @retry(times=RETRIES)
    @step
    def fetch(self):
        self.next(self.end)

    @step
    def end(self):
        pass
