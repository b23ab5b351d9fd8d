# expect: end_with_next.py:14: step 'end': the end step must not call self.next()
from flowdrop import FlowSpec, step


class EndWithNextFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        print('done')
        self.next(self.start)
