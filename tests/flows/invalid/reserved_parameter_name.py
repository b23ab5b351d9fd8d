# expect: reserved_parameter_name.py:7: flow 'ReservedParameterNameFlow': parameter name 'max-workers' is reserved: the flow's command line has its own `--max-workers` option
from flowdrop import FlowSpec, Parameter, step


class ReservedParameterNameFlow(FlowSpec):
    alpha = Parameter('alpha', default=0.01)
    workers = Parameter('max-workers', default=4)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
