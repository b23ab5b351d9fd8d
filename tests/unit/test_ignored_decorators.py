"""Metaflow's @card, @pypi, @conda, @kubernetes, @secrets, @pypi_base, @conda_base: a flow using them runs, and is told."""

from __future__ import annotations

import pytest

from flowdrop import FlowSpec, card, secrets, step
from flowdrop.errors import DecoratorError
from flowdrop.graph.parse import parse_flow_file
from flowdrop.model.ignored import ignored_notes
from tests.helpers.runtime import TEST_FLOWS, run_flow

FLOW = TEST_FLOWS / "metaflow_extras_flow.py"


def test_each_ignored_decorator_is_one_note_naming_its_steps_and_why():
    notes = ignored_notes(parse_flow_file(FLOW))
    assert notes[0].startswith("@pypi_base on flow ExtrasFlow: packages are not installed")
    assert "@card on start, train: Metaflow cards are not rendered" in notes
    assert any(n.startswith("@pypi on start: packages are not installed") for n in notes)
    assert any(n.startswith("@conda on train: ") for n in notes)
    assert any(n.startswith("@kubernetes on train: tasks run on the backend chosen at deploy") for n in notes)
    assert len(notes) == 5


def test_the_decorators_take_metaflows_forms_and_sit_above_step_as_the_others():
    class Decorated(FlowSpec):
        @secrets(sources=["db-password"])
        @card
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert [d.name for d in Decorated.start._flowdrop_decorators] == ["card", "secrets"]
    with pytest.raises(DecoratorError, match="put @card above @step"):
        card(lambda self: None)


@pytest.mark.slow
def test_a_flow_using_them_runs_and_the_run_says_what_flowdrop_leaves_out(tmp_path):
    done = run_flow(FLOW, "run", datastore=tmp_path / "ds")
    assert done.returncode == 0, done.stderr
    assert "x is 2" in done.stdout
    assert "summary components 2" in done.stdout and "train components 1" in done.stdout  # per task
    assert "Not carried out by flowdrop:" in done.stderr
    assert "@card on start, train: Metaflow cards are not rendered" in done.stderr
