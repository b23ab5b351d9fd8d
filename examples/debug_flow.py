"""The seed's debugging story: branch `b` fails; fix it, then resume.

Set FIX_DEBUG_FLOW=1 to run the fixed code (the demo and tests do this to
stand in for editing the file).
"""
import os

from flowdrop import FlowSpec, step


class DebugFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1
        self.next(self.join)

    @step
    def b(self):
        if os.environ.get('FIX_DEBUG_FLOW') == '1':
            self.x = 2
        else:
            self.x = int('2fail')
        self.next(self.join)

    @step
    def join(self, inputs):
        print('a is %s' % inputs.a.x)
        print('b is %s' % inputs.b.x)
        print('total is %d' % sum(inp.x for inp in inputs))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    DebugFlow()
