"""A foreach whose tasks sleep, to observe --max-workers."""
import time

from flowdrop import FlowSpec, Parameter, step


class WideFlow(FlowSpec):
    width = Parameter('width', default=6)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach='items')

    @step
    def work(self):
        time.sleep(0.3)
        self.value = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    WideFlow()
