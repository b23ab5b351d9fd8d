# expect: reserved_parameter_attribute.py:6: flow 'ReservedParameterAttributeFlow': parameter `input`: `input` is an attribute of FlowSpec itself (self.input)
from flowdrop import FlowSpec, Parameter, step


class ReservedParameterAttributeFlow(FlowSpec):
    input = Parameter('input_path', default='s3://bucket/data.csv')

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
