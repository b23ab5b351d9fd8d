# expect: empty_foreach.py:10: step 'start': the foreach goes straight to join 'join'
from flowdrop import FlowSpec, step


class EmptyForeachFlow(FlowSpec):

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.join, foreach='items')

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
