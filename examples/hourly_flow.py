from datetime import datetime

from flowdrop import FlowSpec, schedule, step


@schedule(hourly=True)
class HourlyFlow(FlowSpec):

    @step
    def start(self):
        now = datetime.now().strftime('%Y-%m-%d %H:%M:%S')
        print('time is %s' % now)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    HourlyFlow()
