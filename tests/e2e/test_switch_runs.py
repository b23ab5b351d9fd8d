"""Switch steps run locally: only the chosen case runs, a recursive switch runs its step again, bad values fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.runtime import TEST_FLOWS, run_flow

pytestmark = pytest.mark.slow


def test_switch_flow_runs_only_the_chosen_cases(tmp_path: Path):
    done = run_flow(TEST_FLOWS / "switch_flow.py", "--no-pylint", "run", datastore=tmp_path / "ds")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "seen ['C:b', 'C:c', 'V:a'] count 3 path quick" in done.stdout
    # The recursive step ran three times, as loop, loop.1 and loop.2; the case not taken never ran.
    steps = tmp_path / "ds" / "SwitchFlow"
    assert sorted(p.name for p in steps.rglob("loop*") if p.parent.name == "loop") == ["loop", "loop.1", "loop.2"]
    assert not any(p.name == "careful" for p in steps.rglob("careful"))


def test_a_value_that_is_no_case_fails_naming_step_and_value(tmp_path: Path):
    done = run_flow(TEST_FLOWS / "switch_flow.py", "--no-pylint", "run", "--mode", "medium", datastore=tmp_path / "ds")
    assert done.returncode != 0
    assert "step 'gather': switch condition self.mode is 'medium', which is none of the cases ['fast', 'slow']" \
        in done.stdout + done.stderr
