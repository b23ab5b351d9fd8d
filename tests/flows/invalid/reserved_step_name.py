# expect: reserved_step_name.py:12: step 'input': 'input' is reserved (FlowSpec uses self.input)
from flowdrop import FlowSpec, step


class ReservedNameFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.input)

    @step
    def input(self):
        self.next(self.end)

    @step
    def end(self):
        pass
