"""A @project flow: its state machine is named <project>.<branch>.ProjectFlow."""
from flowdrop import FlowSpec, project, step


@project(name='demo')
class ProjectFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    ProjectFlow()
