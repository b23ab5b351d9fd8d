# expect: join_without_inputs.py:22: step 'join': 2 steps lead here (a, b), so it is a join and needs `inputs`: write def join(self, inputs)
from flowdrop import FlowSpec, step


class JoinWithoutInputsFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1
        self.next(self.join)

    @step
    def b(self):
        self.x = 2
        self.next(self.join)

    @step
    def join(self):
        self.next(self.end)

    @step
    def end(self):
        pass
