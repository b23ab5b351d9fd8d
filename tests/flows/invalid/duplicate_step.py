# expect: duplicate_step.py:16: step 'train': defined twice (also at line 12)
from flowdrop import FlowSpec, step


class DuplicateStepFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        self.next(self.end)

    @step
    def train(self):
        self.model = 'v2'
        self.next(self.end)

    @step
    def end(self):
        pass
