# expect: foreach_two_targets.py:10: step 'start': a foreach goes to exactly one step
from flowdrop import FlowSpec, step


class ForeachTwoTargetsFlow(FlowSpec):

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.a, self.b, foreach='items')

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
