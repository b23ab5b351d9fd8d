# expect: non_literal_schedule.py:7: flow 'EnvScheduleFlow': @schedule(cron=os.environ['REPORT_CRON']) is not a literal
import os

from flowdrop import FlowSpec, schedule, step


@schedule(cron=os.environ['REPORT_CRON'])
class EnvScheduleFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
