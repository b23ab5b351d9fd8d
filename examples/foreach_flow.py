"""A foreach over a list, squared in parallel and summed in the join."""
from flowdrop import FlowSpec, Parameter, step


class ForeachFlow(FlowSpec):
    width = Parameter('width', help='How many items to fan out to', default=5)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.square, foreach='items')

    @step
    def square(self):
        self.item = self.input
        self.squared = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(inp.squared for inp in inputs)
        self.items_seen = sorted(inp.item for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        print('sum of squares is %d' % self.total)


if __name__ == '__main__':
    ForeachFlow()
