# expect: no_flow_class.py:1: no FlowSpec subclass found
from flowdrop import step


class NotAFlow:

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
