# expect: missing_next.py:12: step 'load': the step has no self.next()
from flowdrop import FlowSpec, step


class MissingNextFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.load)

    @step
    def load(self):
        self.rows = [1, 2, 3]

    @step
    def end(self):
        pass
