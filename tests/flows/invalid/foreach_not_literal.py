# expect: foreach_not_literal.py:12: step 'start': foreach= must be a string literal naming the artifact to iterate over, e.g
from flowdrop import FlowSpec, step

FIELD = 'items'


class ForeachVariableFlow(FlowSpec):

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.work, foreach=FIELD)

    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
