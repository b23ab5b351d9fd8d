# expect: split_never_joins.py:8: step 'start': this foreach never joins: a path from it reaches 'end' without a join
from flowdrop import FlowSpec, step


class NeverJoinsFlow(FlowSpec):

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.square, foreach='items')

    @step
    def square(self):
        self.squared = self.input ** 2
        self.next(self.end)

    @step
    def end(self):
        pass
