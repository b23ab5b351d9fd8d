"""A 3-way branch whose join merges the artifacts the branches agree on."""
from flowdrop import FlowSpec, step


class BranchFlow(FlowSpec):

    @step
    def start(self):
        self.shared = 'from start'
        self.next(self.fetch_a, self.fetch_b, self.fetch_c)

    @step
    def fetch_a(self):
        self.a = 1
        self.score = 10
        self.next(self.join)

    @step
    def fetch_b(self):
        self.b = 2
        self.score = 20
        self.next(self.join)

    @step
    def fetch_c(self):
        self.c = 3
        self.score = 30
        self.next(self.join)

    @step
    def join(self, inputs):
        # `score` differs between branches, so it must be resolved by hand.
        self.total_score = sum(inp.score for inp in inputs)
        self.merge_artifacts(inputs, exclude=['score'])
        self.next(self.end)

    @step
    def end(self):
        print('a=%d b=%d c=%d shared=%s total=%d'
              % (self.a, self.b, self.c, self.shared, self.total_score))


if __name__ == '__main__':
    BranchFlow()
