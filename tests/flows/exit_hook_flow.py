"""A flow with @exit_hook: the hooks say what they saw, one of them raises (which changes nothing)."""

from flowdrop import FlowSpec, Parameter, exit_hook, step


def report_success(run):
    print(f"success hook: {run.pathspec} successful={run.successful} x={run['end'].task.data.x}")


def broken_hook():
    raise RuntimeError("this hook is broken")


def report_error(run=None):
    print(f"error hook: {run.pathspec} successful={run.successful}")


@exit_hook(on_success=[report_success, broken_hook], on_error=[broken_hook, "report_error"])
class ExitHookFlow(FlowSpec):
    fail = Parameter("fail", default=False, help="Fail in the end step")

    @step
    def start(self):
        self.x = 41
        self.next(self.end)

    @step
    def end(self):
        self.x += 1
        if self.fail:
            raise ValueError("the end step was asked to fail")


if __name__ == "__main__":
    ExitHookFlow()
