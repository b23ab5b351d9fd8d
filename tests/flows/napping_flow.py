"""Step `nap` sleeps for a long time unless NO_NAP=1: a local run to interrupt with SIGINT or SIGTERM."""
import os
import time

from flowdrop import FlowSpec, step


class NappingLocalFlow(FlowSpec):

    @step
    def start(self):
        self.before = 'ready'
        self.next(self.nap)

    @step
    def nap(self):
        print('napping', flush=True)
        if os.environ.get('NO_NAP') != '1':
            time.sleep(300)
        self.slept = True
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    NappingLocalFlow()
