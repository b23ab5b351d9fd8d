"""A Metaflow flow using decorators flowdrop accepts without carrying out: it runs, and says what is left out."""
from flowdrop import FlowSpec, card, conda, kubernetes, pypi, pypi_base, step


@pypi_base(python='3.11', packages={'pandas': '2.2.2'})
class ExtrasFlow(FlowSpec):

    @card(type='blank', id='summary')
    @pypi(packages={'numpy': '1.26.4'})
    @step
    def start(self):
        self.x = 1
        self.next(self.train)

    @kubernetes(cpu=2)
    @conda(libraries={'scikit-learn': '1.5'})
    @card
    @step
    def train(self):
        self.x += 1
        self.next(self.end)

    @step
    def end(self):
        print('x is', self.x)


if __name__ == '__main__':
    ExtrasFlow()
