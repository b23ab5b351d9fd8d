import json
from datetime import datetime

from flowdrop import FlowSpec, JSONType, Parameter, step


def deployment_info(context):
    return json.dumps({'who': context.user_name,
                       'when': datetime.now().isoformat()})


class DeploymentInfoFlow(FlowSpec):
    info = Parameter('deployment_info',
                     type=JSONType,
                     default=deployment_info)

    @step
    def start(self):
        print('This flow was deployed at %s by %s'
              % (self.info['when'], self.info['who']))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    DeploymentInfoFlow()
