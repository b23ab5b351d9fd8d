# expect: syntax_error.py:8: syntax error: expected ':'
from flowdrop import FlowSpec, step


class BrokenFlow(FlowSpec):

    @step
    def start(self)
        self.next(self.end)

    @step
    def end(self):
        pass
