# expect: two_flows.py:16: 2 FlowSpec subclasses (FirstFlow, SecondFlow)
from flowdrop import FlowSpec, step


class FirstFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class SecondFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
