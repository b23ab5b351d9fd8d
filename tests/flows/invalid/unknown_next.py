# expect: unknown_next.py:10: step 'start': self.next() names an unknown step 'trian'
from flowdrop import FlowSpec, step


class TrainFlow(FlowSpec):

    @step
    def start(self):
        self.data = [1, 2, 3]
        self.next(self.trian)

    @step
    def train(self):
        self.model = sum(self.data)
        self.next(self.end)

    @step
    def end(self):
        print(self.model)
