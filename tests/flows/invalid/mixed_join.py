# expect: mixed_join.py:25: step 'join': a join closes one split, but its inputs come from different ones: 'work' (inside split 'left'), 'right' (inside split 'start')
from flowdrop import FlowSpec, step


class CrossJoinFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.items = [1, 2]
        self.next(self.work, foreach='items')

    @step
    def work(self):
        self.next(self.join)

    @step
    def right(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
