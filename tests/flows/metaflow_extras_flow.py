"""A Metaflow flow using decorators flowdrop accepts without carrying out: it runs, and says what is left out."""
from flowdrop import FlowSpec, card, conda, current, kubernetes, pypi, pypi_base, step
from flowdrop.cards import Markdown, ProgressBar, Table


@pypi_base(python='3.11', packages={'pandas': '2.2.2'})
class ExtrasFlow(FlowSpec):

    @card(type='blank', id='summary')
    @pypi(packages={'numpy': '1.26.4'})
    @step
    def start(self):
        self.x = 1
        # Card content as Metaflow's docs write it: kept by the task, not rendered.
        current.card['summary'].append(Markdown('# Summary'))
        current.card['summary'].extend([Table([[1, 2]], headers=['a', 'b'])])
        print('summary components', len(current.card['summary']))
        self.next(self.train)

    @kubernetes(cpu=2)
    @conda(libraries={'scikit-learn': '1.5'})
    @card
    @step
    def train(self):
        bar = ProgressBar(max=2, label='epochs')
        current.card.append(bar)
        bar.update(2)
        current.card.refresh()
        print('train components', len(current.card))
        self.x += 1
        self.next(self.end)

    @step
    def end(self):
        print('x is', self.x)


if __name__ == '__main__':
    ExtrasFlow()
