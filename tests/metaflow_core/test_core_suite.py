"""Metaflow's own core suite against flowdrop, in `make test`: a representative subset of its cases.

Each case is a real run of a flow generated from one of Metaflow's graphs and
tests (module name changed, nothing else), then both of Metaflow's checkers.
The whole suite (every graph x test) runs with
`python tests/metaflow_core/harness.py`, which prints the pass count over all
cases; the subset here covers each feature once and keeps `make test` fast.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.metaflow_core import harness

# One case per feature the suite exercises: artifacts through branches and
# foreaches, switches (all eight switch graphs of the suite also run locally and
# on moto in tests/functional/test_compiler_switch_moto.py), merge_artifacts, parameters and constants,
# current, logs, resume (also through a recursive switch), tags, @catch and
# @retry, lineage, configs, included files and @project branches.
SUBSET = [
    "BasicArtifactTest[small-foreach]", "BasicForeachTest[simple-foreach]", "NestedForeachTest[nested-foreach]",
    "BasicSwitchTest[simple_switch]", "SwitchInForeachTest[switch_in_foreach]",
    "RecursiveSwitchFlowTest[recursive_switch]",
    "RecursiveSwitchInsideForeachFlowTest[recursive_switch_inside_foreach]",
    "MergeArtifactsTest[single-and-branch]", "MergeArtifactsIncludeTest[simple-foreach]",
    "ConstantsTest[single-linear-step]", "BasicParameterTest[single-linear-step]",
    "CurrentSingletonTest[single-linear-step]", "ParameterNameTest[single-and-branch]",
    "BasicLogTest[single-linear-step]", "TaskExceptionTest[single-linear-step]", "RunIdFileTest[single-linear-step]",
    "ResumeStartStepTest[single-linear-step]", "ResumeForeachInnerTest[simple-foreach]",
    "BasicConfigTest[single-and-branch]", "BasicIncludeTest[simple-foreach]", "ProjectBranchTest[single-linear-step]",
    "LineageTest[single-and-branch]", "CatchRetryTest[simple-foreach]", "TagCatchTest[single-linear-step]",
    "ResumeRecursiveSwitchFlowTest[recursive_switch]",
]


def _all_cases() -> dict[str, harness.Case]:
    with tempfile.TemporaryDirectory() as cache:
        return {case.id: case for case in harness.all_cases(Path(cache))}


CASES = _all_cases()


def test_the_whole_suite_is_generated_and_every_case_left_out_says_why() -> None:
    # 251 (graph, test) pairs are valid by Metaflow's own rules at the vendored commit.
    assert len(CASES) == 251
    left_out = {case_id: harness.not_applicable(case) for case_id, case in CASES.items() if harness.not_applicable(case)}
    assert all(len(reason) > 20 for reason in left_out.values())
    # Nothing the subset runs is among the cases called not applicable.
    assert not set(SUBSET) & set(left_out)


@pytest.mark.slow
@pytest.mark.parametrize("case_id", SUBSET)
def test_metaflow_core_case(case_id: str) -> None:
    outcome = harness.run_case(CASES[case_id], timeout=240)
    assert outcome.passed, f"{case_id} failed at {outcome.stage}:\n{outcome.output[-6000:]}"
