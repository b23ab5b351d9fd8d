# expect: start_with_inputs.py:8: step 'start': start cannot take `inputs`: nothing comes before it
from flowdrop import FlowSpec, step


class StartInputsFlow(FlowSpec):

    @step
    def start(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
