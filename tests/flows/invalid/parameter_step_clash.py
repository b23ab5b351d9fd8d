# expect: parameter_step_clash.py:6: flow 'ClashFlow': parameter `train` clashes with step 'train' (line 13)
from flowdrop import FlowSpec, Parameter, step


class ClashFlow(FlowSpec):
    train = Parameter('train', default=True)

    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass
