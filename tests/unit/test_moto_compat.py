"""local/moto/compat.py on its own: how a weighted alias picks the version an execution runs."""

from __future__ import annotations

from flowdrop.local.moto import compat as moto_compat


def test_choose_version_arn_follows_the_weights():
    routes = [{"stateMachineVersionArn": "a", "weight": 90}, {"stateMachineVersionArn": "b", "weight": 10}]

    picks = [moto_compat.choose_version_arn(routes, f"seed-{i}") for i in range(2000)]

    assert 1700 < picks.count("a") < 1900
    assert picks[:50] == [moto_compat.choose_version_arn(routes, f"seed-{i}") for i in range(50)]
    assert moto_compat.choose_version_arn([{"stateMachineVersionArn": "only", "weight": 100}], "x") == "only"
