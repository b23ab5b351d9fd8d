# expect: different_joins.py:8: step 'start': the branches of this split are joined by different steps (join_train, join_score)
from flowdrop import FlowSpec, step


class TwoJoinsFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.train_a, self.train_b, self.score_a, self.score_b)

    @step
    def train_a(self):
        self.next(self.join_train)

    @step
    def train_b(self):
        self.next(self.join_train)

    @step
    def score_a(self):
        self.next(self.join_score)

    @step
    def score_b(self):
        self.next(self.join_score)

    @step
    def join_train(self, inputs):
        self.next(self.end)

    @step
    def join_score(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
