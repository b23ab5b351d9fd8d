# expect: helper_not_step.py:9: step 'start': self.next() names an unknown step 'train'
from flowdrop import FlowSpec, step


class ForgotStepFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.train)

    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass
