"""A 4x3 nested foreach; each join computes a sum of what its inputs made."""
from flowdrop import FlowSpec, step


class NestedForeachFlow(FlowSpec):

    @step
    def start(self):
        self.rows = [0, 1, 2, 3]
        self.next(self.row, foreach='rows')

    @step
    def row(self):
        self.row_id = self.input
        self.cols = [0, 1, 2]
        self.next(self.cell, foreach='cols')

    @step
    def cell(self):
        self.col_id = self.input
        self.value = self.row_id * 10 + self.col_id
        self.next(self.join_cols)

    @step
    def join_cols(self, inputs):
        self.row_sum = sum(inp.value for inp in inputs)
        self.cells = sorted((inp.row_id, inp.col_id) for inp in inputs)
        self.next(self.join_rows)

    @step
    def join_rows(self, inputs):
        self.total = sum(inp.row_sum for inp in inputs)
        self.cells = sorted(c for inp in inputs for c in inp.cells)
        self.next(self.end)

    @step
    def end(self):
        print('total is %d over %d cells' % (self.total, len(self.cells)))


if __name__ == '__main__':
    NestedForeachFlow()
