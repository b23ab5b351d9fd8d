"""A flow with every switch shape the runtime knows: a recursive switch, a switch in a foreach, one at the top."""

from flowdrop import FlowSpec, Parameter, step


class SwitchFlow(FlowSpec):
    mode = Parameter("mode", default="fast")

    @step
    def start(self):
        self.count = 0
        self.next(self.loop)

    @step
    def loop(self):
        self.count += 1
        self.again = self.count < 3
        self.next({True: self.loop, False: self.fan}, condition="again")

    @step
    def fan(self):
        self.items = ["a", "b", "c"]
        self.next(self.pick, foreach="items")

    @step
    def pick(self):
        self.kind = "vowel" if self.input == "a" else "consonant"
        self.next({"vowel": self.vowel, "consonant": self.consonant}, condition="kind")

    @step
    def vowel(self):
        self.seen = f"V:{self.input}"
        self.next(self.gather)

    @step
    def consonant(self):
        self.seen = f"C:{self.input}"
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.seen = sorted(i.seen for i in inputs)
        self.count = inputs[0].count
        self.next({"fast": self.quick, "slow": self.careful}, condition="mode")

    @step
    def quick(self):
        self.path = "quick"
        self.next(self.end)

    @step
    def careful(self):
        self.path = "careful"
        self.next(self.end)

    @step
    def end(self):
        print("seen", self.seen, "count", self.count, "path", self.path)


if __name__ == "__main__":
    SwitchFlow()
