# expect: next_inside_if.py:11: step 'start': self.next() must be the last statement of the step, not inside an if, a loop or a try: a flow's graph is static
from flowdrop import FlowSpec, Parameter, step


class ConditionalFlow(FlowSpec):
    quick = Parameter('quick', default=False)

    @step
    def start(self):
        if self.quick:
            self.next(self.end)
        else:
            self.next(self.slow)

    @step
    def slow(self):
        self.next(self.end)

    @step
    def end(self):
        pass
