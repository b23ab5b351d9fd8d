"""Four steps in a row, each building on the last one's artifacts."""
from flowdrop import FlowSpec, Parameter, step


class LinearFlow(FlowSpec):
    base = Parameter('base', help='Starting value', default=1)

    @step
    def start(self):
        self.trail = ['start']
        self.value = self.base
        self.next(self.double)

    @step
    def double(self):
        self.trail.append('double')
        self.value *= 2
        self.next(self.increment)

    @step
    def increment(self):
        self.trail.append('increment')
        self.value += 1
        self.next(self.end)

    @step
    def end(self):
        self.trail.append('end')
        print('value is %d after %s' % (self.value, ' -> '.join(self.trail)))


if __name__ == '__main__':
    LinearFlow()
