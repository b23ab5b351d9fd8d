"""Runs at 10:00 UTC every day, in EventBridge's six-field cron form."""
from flowdrop import FlowSpec, schedule, step


@schedule(cron='0 10 * * ? *')
class MorningReportFlow(FlowSpec):

    @step
    def start(self):
        self.report = 'all good'
        self.next(self.end)

    @step
    def end(self):
        print(self.report)


if __name__ == '__main__':
    MorningReportFlow()
