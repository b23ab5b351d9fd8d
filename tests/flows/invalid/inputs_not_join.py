# expect: inputs_not_join.py:12: step 'a': takes `inputs` but is a branch of split 'start', not the step where its branches meet: a join needs 2 or more inputs
from flowdrop import FlowSpec, step


class BranchInputsFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self, inputs):
        self.x = 1
        self.next(self.join)

    @step
    def b(self):
        self.x = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(inp.x for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
