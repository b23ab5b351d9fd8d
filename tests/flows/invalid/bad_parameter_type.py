# expect: bad_parameter_type.py:6: flow 'ListParameterFlow': parameter `names`: type=list is not supported
from flowdrop import FlowSpec, Parameter, step


class ListParameterFlow(FlowSpec):
    names = Parameter('names', type=list, default='a,b')

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
