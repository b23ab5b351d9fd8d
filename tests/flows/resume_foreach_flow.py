"""A foreach whose item 1 fails unless FIX_ITEM=1; every task records current.origin_run_id."""
import os

from flowdrop import FlowSpec, current, step


class ResumeForeachFlow(FlowSpec):

    @step
    def start(self):
        self.items = [0, 1, 2]
        self.origin_seen = current.origin_run_id
        self.next(self.inner, foreach='items')

    @step
    def inner(self):
        if self.input == 1 and os.environ.get('FIX_ITEM') != '1':
            raise ValueError('item 1 is broken')
        self.doubled = self.input * 2
        self.origin_seen = current.origin_run_id
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.doubled for i in inputs)
        self.origin_seen = current.origin_run_id
        self.next(self.end)

    @step
    def end(self):
        self.origin_seen = current.origin_run_id


if __name__ == '__main__':
    ResumeForeachFlow()
