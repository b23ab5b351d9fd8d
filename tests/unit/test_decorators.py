"""The decorators at import time and model.decorator_problems, the one check they share with the graph and `--with`."""

from __future__ import annotations

import pytest

from flowdrop import batch, catch, environment, resources, retry, step, timeout
from flowdrop.errors import DecoratorError
from flowdrop.model.decorators import DECORATOR_DEFAULTS, Decorator, decorator_problems


@pytest.mark.parametrize(("make", "message"), [
    (lambda: timeout(seconds="5"), "@timeout(seconds='5'): seconds must be a whole number of seconds >= 0"),
    (lambda: timeout(), "@timeout(seconds=0, minutes=0, hours=0): the total is 0 seconds"),
    (lambda: retry(times=2.5), "@retry(times=2.5): times must be a whole number from 0 to 10"),
    (lambda: retry(minutes_between_retries="2"), "@retry(minutes_between_retries='2'): minutes_between_retries must"),
    (lambda: catch(var=3), "@catch(var=3): var must be an artifact name (a Python identifier) or None"),
    (lambda: resources(memory=None), "@resources(memory=None): memory must be a whole number of megabytes > 0"),
    (lambda: batch(cpu=-2), "@batch(cpu=-2): cpu must be a number of vCPUs > 0"),
    (lambda: environment(vars=["A=1"]), "@environment(vars=['A=1']): vars must be a dict"),
])
def test_bad_arguments_raise_a_decorator_error_not_a_type_error(make, message):
    with pytest.raises(DecoratorError) as info:
        make()
    where, _, what = str(info.value).partition(": ")
    assert what.startswith(message), str(info.value)
    assert where.startswith(__file__ + ":")  # the line that wrote the decorator, outside flowdrop


def test_good_arguments_decorate_a_step():
    @retry(times=1, minutes_between_retries=0)
    @timeout(minutes=5)
    @environment(vars={"MODE": "fast"})
    @step
    def start(self):
        pass

    assert [d.name for d in start._flowdrop_decorators] == ["environment", "timeout", "retry"]


def test_every_problem_is_listed():
    problems = decorator_problems(Decorator("resources", {"cpu": 0, "gpu": 0.5, "memory": -1, "disk": 10}))
    assert problems == [
        "@resources(disk=...): unknown argument 'disk'; @resources takes cpu, gpu, memory",
        "@resources(cpu=0): cpu must be a number of vCPUs > 0",
        "@resources(gpu=0.5): gpu must be a whole number of GPUs >= 0",
        "@resources(memory=-1): memory must be a whole number of megabytes > 0",
    ]


def test_defaults_are_valid_except_timeouts_zero_total():
    for name, defaults in DECORATOR_DEFAULTS.items():
        problems = decorator_problems(Decorator(name, dict(defaults)))
        assert problems == ([] if name != "timeout" else [
            "@timeout(seconds=0, minutes=0, hours=0): the total is 0 seconds; give a positive seconds=, minutes= "
            "or hours="]), name


def test_limits_and_odd_values():
    assert decorator_problems(Decorator("timeout", {"seconds": 99_999_999})) == []
    assert decorator_problems(Decorator("timeout", {"seconds": 99_999_999, "minutes": 1}))
    assert decorator_problems(Decorator("retry", {"times": True}))  # bool is not a count
    assert decorator_problems(Decorator("retry", {"minutes_between_retries": float("nan")}))
    assert decorator_problems(Decorator("retry", {"times": 10 ** 5000})) == [
        "@retry(times=<int>): times must be a whole number from 0 to 10"]
    assert decorator_problems(Decorator("kubernetes", {"cpu": "lots"})) == []  # not ours: ignored
