# expect: catch_on_foreach.py:7: step 'start': @catch is not supported in foreach split steps
from flowdrop import FlowSpec, catch, step


class CatchOnForeachFlow(FlowSpec):

    @catch(var='failure')
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.square, foreach='items')

    @step
    def square(self):
        self.squared = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(inp.squared for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
