# expect: no_end.py:5: flow 'NoEndFlow': no 'end' step
from flowdrop import FlowSpec, step


class NoEndFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.process)

    @step
    def process(self):
        self.result = 42
        self.next(self.done)

    @step
    def done(self):
        print(self.result)
