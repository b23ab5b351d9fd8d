# expect: wrong_join_count.py:24: step 'join_ab': a join after split 'start' needs one input per branch, 3 (a, b, c)
from flowdrop import FlowSpec, step


class PartialJoinFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.a, self.b, self.c)

    @step
    def a(self):
        self.next(self.join_ab)

    @step
    def b(self):
        self.next(self.join_ab)

    @step
    def c(self):
        self.next(self.join_all)

    @step
    def join_ab(self, inputs):
        self.next(self.join_all)

    @step
    def join_all(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
