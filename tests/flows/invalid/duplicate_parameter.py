# expect: duplicate_parameter.py:7: flow 'DuplicateParameterFlow': parameter 'alpha' is declared twice (also at line 6)
from flowdrop import FlowSpec, Parameter, step


class DuplicateParameterFlow(FlowSpec):
    alpha = Parameter('alpha', default=0.01)
    learning_rate = Parameter('alpha', default=0.1)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
