"""A corpus of bad packages: each is recorded FAILED with a precise message, and production is unchanged.

All of them are dropped into one stack whose ParameterFlow is in production
at version 1, delivered to the deploy handler in SQS batches as the bucket
notification produced them, then every record and the alias are checked.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:Couldn.t determine the remaining time")

from flowdrop.cli import uploader
from flowdrop.codepackage.archive import PackageLimits
from flowdrop.codepackage.snapshot import code_sha256
from flowdrop.deployer.deploy import deploy_package
from flowdrop.deployer.sqs_events import handle_package_batch
from flowdrop.graph import find_flow_class_names
from tests.helpers.deployer import (
    EXAMPLES,
    INVALID_FLOWS,
    T0,
    BuiltPackage,
    flow_package,
    make_stack,
    package_of,
    sqs_event,
    tar_entry,
    tar_package,
)

GOOD = (EXAMPLES / "parameter_flow.py").read_text()
LATER = T0 + timedelta(hours=1)  # every bad package is newer than production: only checks stop it
CLOCK = lambda: datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)  # noqa: E731


def invalid_flow_cases() -> list[tuple[str, str, str]]:
    """(case id, source, expected message) for every tests/flows/invalid/*.py."""
    cases = []
    for path in sorted(INVALID_FLOWS.glob("*.py")):
        source = path.read_text()
        expected = source.splitlines()[0].removeprefix("# expect: ")
        if path.name == "no_flow_class.py":
            # The manifest names the class, so the parser looks for it by name.
            expected = "no_flow_class.py:1: no FlowSpec subclass named 'ParameterFlow'"
        if path.name == "two_flows.py":
            # The manifest picks one class; the other's graph is not the manifest's.
            expected = "its graph disagrees with the flow's source"
        cases.append((path.stem, source, expected))
    return cases


def bad_packages(good: BuiltPackage, machine: str) -> list[tuple[str, BuiltPackage, str]]:
    """(case id, package, expected message fragment), all aimed at the production flow."""
    base = dict(good.manifest, created=LATER.isoformat(timespec="seconds"))
    cases: list[tuple[str, BuiltPackage, str]] = []

    def raw(case: str, entries: list, expected: str) -> None:
        sha = code_sha256({case: b""})  # any sha: these fail before the hash is checked
        cases.append((case, BuiltPackage(f"packages/{machine}/{sha}.tar.gz", tar_package(entries), base), expected))

    manifest_bytes = json.dumps(base).encode()
    raw("path_traversal", [(tar_entry("manifest.json"), manifest_bytes), (tar_entry("code/../evil.py"), b"x")],
        "package entry 'code/../evil.py': '..' component escapes the package")
    raw("symlink", [(tar_entry("manifest.json"), manifest_bytes),
                    (tar_entry("code/link.py", tarfile.SYMTYPE, "/etc/passwd"), None)],
        "package entry 'code/link.py': is a symlink")
    raw("missing_manifest", [(tar_entry("code/parameter_flow.py"), GOOD.encode())],
        "package: missing manifest.json")
    sha = code_sha256({"not_a_tarball": b""})
    cases.append(("not_a_tarball", BuiltPackage(f"packages/{machine}/{sha}.tar.gz", b"not gz at all", base),
                  "not a gzip-compressed tar archive"))
    big = b"#" * (PackageLimits().max_file_bytes + 1)
    raw("oversized_file", [(tar_entry("manifest.json"), manifest_bytes), (tar_entry("code/data.py"), big)],
        "package entry 'code/data.py': larger than the limit of 10485760 bytes")

    def files(case: str, flow: str = GOOD) -> dict[str, bytes]:
        # A file per case: each package gets its own code sha, so its own key.
        return {"parameter_flow.py": flow.encode(), f"case_{case}.py": b""}

    lying_graph = json.loads(json.dumps(base["graph"]))
    lying_graph["nodes"][0]["out_funcs"] = ["elsewhere"]
    cases.append(("manifest_lies_about_graph", package_of(base, files("graph"), graph=lying_graph),
                  "parameter_flow.py:10: step 'start': manifest.json says out_funcs=['elsewhere'], the source says ['end']"))
    cases.append(("manifest_lies_about_sha", package_of(base, files("sha"), code_sha256="0" * 64),
                  "manifest.json: code_sha256 0000000000000000000000000000000000000000000000000000000000000000 disagrees"))
    other = package_of(base, files("other"))
    cases.append(("key_names_other_flow", package_of(base, files("other"), key=other.key.replace(machine, machine + "X")),
                  f"state_machine_name '{machine}' disagrees with the package key's folder '{machine}X'"))
    cases.append(("key_lies_about_sha", package_of(base, files("key"), key=f"packages/{machine}/{'1' * 64}.tar.gz"),
                  f"the key names {'1' * 64}"))
    broken = {k: v for k, v in base.items() if k != "graph"}
    cases.append(("manifest_missing_field", package_of(broken, files("missing")), "manifest.json: graph is missing"))
    cases.append(("flow_file_missing", package_of(base, {"other.py": b"x = 1\n"}),
                  "manifest.json: flow_file 'parameter_flow.py' is not in the package"))
    bad_cron = GOOD.replace("class ParameterFlow", "@schedule(cron='61 25 * * ? *')\nclass ParameterFlow").replace(
        "import FlowSpec, Parameter, step", "import FlowSpec, Parameter, schedule, step")
    cases.append(("bad_cron", package_of(base, files("cron", bad_cron)),
                  "parameter_flow.py:4: flow 'ParameterFlow': cron '61 25 * * ? *': minutes field '61' is out of range"))
    # Sources too deep for Python's parser (RecursionError, MemoryError inside ast.parse).
    end = len(GOOD.splitlines()) + 1
    for case, expression in (("deep_attribute_chain", "a" + ".b" * 100_000), ("deep_unary", "-" * 100_000 + "1")):
        cases.append((case, package_of(base, files(case, GOOD + f"x = {expression}\n")),
                      f"parameter_flow.py:{end}: Python cannot parse this file: an expression is nested too deeply"))
    deep_argument = GOOD.replace("    @step\n    def start", "    @retry(times=a" + ".b" * 600 + ")\n    @step\n    def start")
    cases.append(("deep_decorator_argument", package_of(base, files("deep_arg", deep_argument)),
                  "parameter_flow.py:9: step 'start': @retry(times=<attribute nested too deeply to show>) is not a literal"))
    # Decorator arguments that cannot work, in the source and in the manifest's --with specs.
    for case, decorator, expected in (
        ("timeout_not_a_number", "@timeout(seconds='abc')", "@timeout(seconds='abc'): seconds must be a whole number"),
        ("timeout_too_long", "@timeout(hours=30000)", "@timeout(hours=30000): the total is more than Step Functions'"),
        ("retry_too_many", "@retry(times=1000)", "@retry(times=1000): times must be a whole number from 0 to 10"),
        ("environment_not_strings", "@environment(vars={'N': 1})", "@environment(vars={'N': 1}): vars must be a dict"),
    ):
        source = GOOD.replace("    @step\n    def start", f"    {decorator}\n    @step\n    def start")
        cases.append((case, package_of(base, files(case, source)), f"parameter_flow.py:9: step 'start': {expected}"))
    bad_with = dict(base["options"], with_decorators=["retry", "timeout:seconds='abc'"])
    cases.append(("with_bad_timeout", package_of(base, files("with"), options=bad_with),
                  "manifest.json: options.with_decorators[1]: --with \"timeout:seconds='abc'\": @timeout(seconds='abc'): "
                  "seconds must be a whole number of seconds >= 0"))
    long_run = dict(base["options"], workflow_timeout=100_000_000)
    cases.append(("workflow_timeout_too_long", package_of(base, files("wt"), options=long_run),
                  "manifest.json: options.workflow_timeout must be null or an int from 1 to 99999999"))
    nested: list = []
    for _ in range(600):
        nested = [nested]
    cases.append(("manifest_nested_too_deeply", package_of(base, files("nested"), decorators={"deep": nested}),
                  "manifest.json: a value is nested too deeply to check"))
    # `--with catch` would put @catch on a foreach step, which Metaflow (and flowdrop) refuse.
    foreach = flow_package(EXAMPLES / "foreach_flow.py", name=machine, created=LATER,
                           options=uploader.DeployOptions(name=machine, backend="worker", with_specs=("catch",)))
    cases.append(("with_catch_on_foreach", foreach, "manifest.json: options.with_decorators[0] adds @catch to every "
                  "step, but @catch is not supported in foreach split steps (start in foreach_flow.py)"))
    # A manifest from the future would have blocked every later upload.
    cases.append(("created_in_the_future", package_of(base, files("future"), created="2999-01-01T00:00:00+00:00"),
                  "manifest.json: created 2999-01-01T00:00:00+00:00 is "))
    for case, source, expected in invalid_flow_cases():
        name = f"{case}.py"
        classes = find_flow_class_names(source)
        cases.append((f"invalid_{case}", package_of(base, {name: source.encode()}, flow_file=name,
                                                    flow_class=classes[0] if classes else "ParameterFlow"), expected))
    return cases


@pytest.fixture(scope="module")
def corpus_results(aws):
    """Deploy the good flow, drop every bad package, deliver them all; (stack, cases, responses)."""
    stack = make_stack(aws, "corpus" + datetime.now().strftime("%H%M%S%f"))
    machine = stack.machine("ParameterFlow")
    good = stack.package(GOOD, file_name="parameter_flow.py")
    stack.upload(good.key, good.data)
    assert deploy_package(stack.bucket, good.key, stack.clients, stack.settings, CLOCK()).status == "ACCEPTED"
    cases = bad_packages(good, machine)
    stack.receive()  # the good package's notification and the test event: already handled
    for _, package, _ in cases:
        stack.upload(package.key, package.data)
    records = stack.receive()
    responses = [handle_package_batch(sqs_event(records[i:i + 10]), stack.clients, stack.settings, CLOCK)
                 for i in range(0, len(records), 10)]
    return stack, machine, good, cases, responses, len(records)


def test_every_bad_package_is_processed_not_retried(corpus_results):
    stack, machine, good, cases, responses, delivered = corpus_results
    assert delivered == len(cases)
    assert all(response == {"batchItemFailures": []} for response in responses)


def test_production_is_unchanged(corpus_results):
    stack, machine, good, cases, responses, _ = corpus_results
    production = stack.store.production(machine)
    assert production is not None and production.release.version == 1
    assert production.release.code_sha256 == good.sha
    routing = stack.clients.sfn.describe_state_machine_alias(
        stateMachineAliasArn=stack.machine_arn("ParameterFlow") + ":production")["routingConfiguration"]
    assert routing[0]["stateMachineVersionArn"].endswith(":1")
    assert [r.version for r in stack.store.releases(machine)] == [1]
    assert stack.clients.events.list_rules(NamePrefix=f"flowdrop-{machine}")["Rules"] == []


def test_each_bad_package_has_a_failed_record_naming_the_fault(corpus_results):
    stack, machine, good, cases, responses, _ = corpus_results
    wrong = []
    for case, package, expected in cases:
        flow, sha = package.key[len("packages/"):-len(".tar.gz")].split("/")
        record = stack.store.get_record(flow, sha)
        if record is None or record.status != "FAILED" or expected not in record.message:
            wrong.append((case, expected, record.status if record else None, record.message if record else None))
    assert wrong == []


def test_an_oversized_object_is_refused_before_reading(aws, unique_name):
    stack = make_stack(aws, unique_name)
    good = stack.package(GOOD, file_name="parameter_flow.py")
    stack.upload(good.key, good.data)
    small = replace(stack.settings, max_package_bytes=100)
    record = deploy_package(stack.bucket, good.key, stack.clients, small, CLOCK())
    assert record.status == "FAILED"
    assert f"{len(good.data)} bytes exceeds the limit of 100 bytes" in record.message
    assert stack.store.production(good.flow) is None
