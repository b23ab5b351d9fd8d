# expect: cycle.py:19: step 'check': self.next(self.fetch) closes a loop (fetch -> check -> fetch)
from flowdrop import FlowSpec, step


class RetryLoopFlow(FlowSpec):

    @step
    def start(self):
        self.attempt = 0
        self.next(self.fetch)

    @step
    def fetch(self):
        self.attempt += 1
        self.next(self.check)

    @step
    def check(self):
        self.next(self.fetch)

    @step
    def end(self):
        pass
