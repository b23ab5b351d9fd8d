# expect: next_string_target.py:9: step 'start': self.next() takes steps as attributes: write self.next(self.end), not self.next('end')
from flowdrop import FlowSpec, step


class StringTargetFlow(FlowSpec):

    @step
    def start(self):
        self.next('end')

    @step
    def end(self):
        pass
