# expect: join_single_input.py:17: step 'load': a join needs 2 or more inputs
from flowdrop import FlowSpec, step


class EtlFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.extract)

    @step
    def extract(self):
        self.rows = [1, 2, 3]
        self.next(self.load)

    @step
    def load(self, inputs):
        self.rows = [row for inp in inputs for row in inp.rows]
        self.next(self.end)

    @step
    def end(self):
        pass
