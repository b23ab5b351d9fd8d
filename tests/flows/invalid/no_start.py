# expect: no_start.py:5: flow 'NoStartFlow': no 'start' step
from flowdrop import FlowSpec, step


class NoStartFlow(FlowSpec):

    @step
    def begin(self):
        self.next(self.end)

    @step
    def end(self):
        pass
