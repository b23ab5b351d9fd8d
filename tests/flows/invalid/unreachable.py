# expect: unreachable.py:12: step 'cleanup': no path leads here from 'start', so it would never run
from flowdrop import FlowSpec, step


class UnreachableFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.end)

    @step
    def cleanup(self):
        self.next(self.end)

    @step
    def end(self):
        pass
