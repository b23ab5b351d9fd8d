"""End-to-end latencies on the embedded stack (moto as AWS, no account), with issue 17's goals.

Prints one table, each figure the median of --repeat runs (min-max beside it):
  50-way foreach        foreach_flow.py --width 50 trigger to SUCCEEDED on the stack, next to
                        `python foreach_flow.py run --width 50` timed in the same bench run; the
                        ratio is the figure that counts (machines here are noisy). Goal: <= 3x.
  100-way foreach       the same with width 100, trigger to SUCCEEDED. Goal: < 5 s, flat over
                        a long-lived stack (every run's figure is printed in order).
  trigger-to-first-task POST /flows/ParameterFlow/runs to the start task's start as recorded by
                        the task runner in the datastore. Goal: < 0.2 s.
  trigger-to-SUCCEEDED  the 2-step ParameterFlow (no goal of its own; where the first-task time goes).
  upload-to-production  the package's S3 PutObject returning to the deployment record ACCEPTED.
  flowdrop up           `flowdrop up --state-dir <fresh>` started until it prints that the stack is
                        up (the whole process, as a user waits for it). Goal: < 2 s.
  make demo             `flowdrop demo` end to end, only with --demo (it takes ~40 s); otherwise
                        time it with `time make demo`. Goal: < 10 s.
Stack rows are printed for each backend asked (--backend worker|batch|both).

With --startup, only the two rows a user waits for before any flow runs: `flowdrop up` and (with --demo) `make demo`.

Usage: python bench/e2e.py [--repeat 3] [--backend worker|batch|both] [--workers 4] [--demo] [--no-up] [--startup]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import importlib.util
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.operations import production_client
from flowdrop.cli.uploader import DeployOptions, prepare_deployment
from flowdrop.graph import parse_flow
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.model.runs import TERMINAL_STATUSES
from flowdrop.testing import examples_dir, wait_for_run


def load_flow_class(flow_file: Path, class_name: str) -> type:
    spec = importlib.util.spec_from_file_location(f"bench_{flow_file.stem}_{time.monotonic_ns()}", flow_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, class_name)


def upload_to_production(stack: EmbeddedStack, api: ApiClient, count: int, backend: str = "worker") -> list[float]:
    """Seconds from PutObject returning to an ACCEPTED record, for `count` uploads of changed code."""
    s3 = stack.aws.client("s3")
    latencies = []
    with tempfile.TemporaryDirectory(prefix="flowdrop-bench-") as tmp:
        flow_file = Path(tmp) / "parameter_flow.py"
        source = (examples_dir() / "parameter_flow.py").read_text()
        for i in range(count):
            flow_file.write_text(source + f"\n# bench upload {backend} {i}\n")  # new code: a new sha and version
            graph = parse_flow(flow_file.read_text(), flow_file.name)
            flow_cls = load_flow_class(flow_file, graph.flow_name)
            prepared = prepare_deployment(flow_cls, flow_file, graph, DeployOptions(backend=backend), "bench",
                                          datetime.now(timezone.utc))
            s3.put_object(Bucket=stack.names.bucket, Key=prepared.key, Body=prepared.data)
            began = time.monotonic()
            while True:
                record = api.get_deployment(graph.flow_name, prepared.code_sha256)
                if record and record.get("status") in ("ACCEPTED", "FAILED", "DUPLICATE", "SUPERSEDED"):
                    break
                if time.monotonic() - began > 60:
                    raise SystemExit(f"upload {i}: no deployment record after 60s")
                time.sleep(0.02)
            latencies.append(time.monotonic() - began)
            assert record["status"] == "ACCEPTED", record
    return latencies


def first_task_started(stack: EmbeddedStack, flow: str, run_id: str, timeout: float = 60.0) -> datetime:
    from flowdrop.client import Run
    from flowdrop.errors import FlowdropError

    production_client(stack.config)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            started = Run(f"{flow}/{run_id}")["start"].task.created_at
            if started is not None:
                return started
        except (FlowdropError, AttributeError, KeyError):
            pass
        time.sleep(0.02)
    raise SystemExit(f"{flow}/{run_id}: the start task never started")


def trigger_to_first_task(stack: EmbeddedStack, api: ApiClient, count: int) -> tuple[list[float], list[float]]:
    """(seconds to the first task's start, seconds to SUCCEEDED) for `count` ParameterFlow runs."""
    to_first, to_end = [], []
    for _ in range(count):
        wall, began = datetime.now(timezone.utc), time.monotonic()
        run_id = api.trigger("ParameterFlow", {"alpha": 0.5})["run_id"]
        started = first_task_started(stack, "ParameterFlow", run_id)
        answer = wait_for_run(api, "ParameterFlow", run_id, poll=0.05)
        to_end.append(time.monotonic() - began)
        assert answer["status"] == "SUCCEEDED", answer
        to_first.append((started - wall).total_seconds())
    return to_first, to_end


def local_foreach_wall_time(width: int) -> float:
    """Seconds of `python foreach_flow.py run --width N` on this machine (the local runtime)."""
    with tempfile.TemporaryDirectory(prefix="flowdrop-bench-local-") as tmp:
        env = dict(os.environ, FLOWDROP_CONFIG=str(Path(tmp) / "none.json"))
        began = time.monotonic()
        subprocess.run([sys.executable, str(examples_dir() / "foreach_flow.py"), "--datastore", str(Path(tmp) / "ds"),
                        "run", "--width", str(width)], env=env, cwd=tmp, check=True, capture_output=True)
        return time.monotonic() - began


def run_to_end(api: ApiClient, flow: str, parameters: dict, timeout: float = 1800.0) -> float:
    """Seconds from trigger to the run's cheap status reading SUCCEEDED (polled every 50 ms)."""
    began = time.monotonic()
    run_id = api.trigger(flow, parameters)["run_id"]
    while True:
        answer = api.get_run(flow, run_id, steps=False)
        if answer.get("status") in TERMINAL_STATUSES:
            elapsed = time.monotonic() - began
            break
        if time.monotonic() - began > timeout:
            raise SystemExit(f"{flow}/{run_id}: still {answer.get('status')} after {timeout:.0f}s")
        time.sleep(0.05)
    assert answer["status"] == "SUCCEEDED", answer
    return elapsed


def flowdrop_up_time(timeout: float = 120.0) -> float:
    """Seconds from starting `flowdrop up` on a fresh state dir until it wrote <state>/stack.json (written once
    every part answers, just before it prints that the stack is up); then stops it."""
    flowdrop = Path(sys.executable).with_name("flowdrop")
    with tempfile.TemporaryDirectory(prefix="flowdrop-bench-up-") as tmp:
        state = Path(tmp) / "state"
        env = dict(os.environ, FLOWDROP_CONFIG=str(Path(tmp) / "config.json"), TERM="dumb")
        began = time.monotonic()
        process = subprocess.Popen([str(flowdrop), "up", "--state-dir", str(state)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        try:
            while not (state / "stack.json").exists():
                if process.poll() is not None or time.monotonic() - began > timeout:
                    raise SystemExit(f"flowdrop up never came up (exit {process.poll()}; logs in {state}/logs)")
                time.sleep(0.01)
            return time.monotonic() - began
        finally:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in its terminal: moto gets it too
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def demo_time() -> float:
    """Seconds of `flowdrop demo`, the body of `make demo`."""
    began = time.monotonic()
    subprocess.run([str(Path(sys.executable).with_name("flowdrop")), "demo"], check=True, capture_output=True,
                   env=dict(os.environ, TERM="dumb"))
    return time.monotonic() - began


def startup_rows(args: argparse.Namespace) -> int:
    """--startup: `flowdrop up` until ready (--repeat times) and `flowdrop demo` (with --demo, --repeat times)."""
    rows = [Row("flowdrop up until ready", "-", [flowdrop_up_time() for _ in range(args.repeat)], "< 2 s")]
    if args.demo:
        rows.append(Row("make demo end to end (flowdrop demo)", "-",
                        [demo_time() for _ in range(args.repeat)], "< 10 s"))
    print_table(rows)
    return 0


def summary(values: list[float]) -> str:
    return (f"median {statistics.median(values):.2f}s  min {min(values):.2f}s  max {max(values):.2f}s  "
            f"(n={len(values)})")


@dataclass
class Row:
    """One line of the table: what was measured, the runs' seconds, the figure against the goal."""

    what: str
    backend: str
    values: list[float]
    goal: str
    yardstick: float | None = None  # the local runtime's median, when the goal is a ratio

    def cells(self) -> list[str]:
        median = statistics.median(self.values)
        spread = f"{min(self.values):.2f}-{max(self.values):.2f}" if len(self.values) > 1 else ""
        ratio = f"{median / self.yardstick:.1f}x" if self.yardstick else ""
        return [self.what, self.backend, f"{median:.2f}s", spread, ratio, self.goal]


def print_table(rows: list[Row]) -> None:
    header = ["what", "backend", "median", "min-max", "ratio", "goal"]
    lines = [header] + [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print()
    for n, line in enumerate(lines):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def bench_backend(stack: EmbeddedStack, api: ApiClient, backend: str, repeat: int,
                  local: dict[int, float]) -> list[Row]:
    """Every stack row for one compute backend."""
    from flowdrop.testing import deploy_flow

    rows = []
    uploads = upload_to_production(stack, api, repeat, backend)
    rows.append(Row("upload-to-production", backend, uploads, "(part of create < 1 s)"))
    first, end = trigger_to_first_task(stack, api, max(repeat, 3))
    rows.append(Row("trigger-to-first-task", backend, first, "< 0.2 s"))
    rows.append(Row("trigger-to-SUCCEEDED, 2-step flow", backend, end, "-"))
    deploy_flow(stack, examples_dir() / "foreach_flow.py", backend=backend)
    for width in sorted(local):
        walls = []
        goal = "<= 3x local" if width == 50 else "< 5 s, flat"
        try:
            for _ in range(repeat):
                walls.append(run_to_end(api, "ForeachFlow", {"width": width}))
                print(f"  {backend} {width}-way foreach: {walls[-1]:.2f}s "
                      f"({walls[-1] / local[width]:.1f}x local)", flush=True)
        except Exception as err:  # noqa: BLE001 - a row that failed says so; the rest of the table still prints
            print(f"  {backend} {width}-way foreach failed: {type(err).__name__}: {err}", flush=True)
            goal += " (FAILED, see above)"
        if walls:
            rows.append(Row(f"{width}-way foreach, trigger to SUCCEEDED", backend, walls, goal, local[width]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (the median is printed)")
    parser.add_argument("--backend", choices=["worker", "batch", "both"], default="both")
    parser.add_argument("--workers", type=int, default=4, help="tasks the worker pool runs at once")
    parser.add_argument("--widths", default="50,100", help="comma-separated foreach widths")
    parser.add_argument("--demo", action="store_true", help="also time `flowdrop demo` once (~40 s)")
    parser.add_argument("--no-up", action="store_true", help="skip timing `flowdrop up`")
    parser.add_argument("--startup", action="store_true", help="only `flowdrop up` (and `flowdrop demo` with --demo)")
    args = parser.parse_args(argv)
    if args.startup:
        return startup_rows(args)
    backends = ["worker", "batch"] if args.backend == "both" else [args.backend]
    widths = [int(w) for w in args.widths.split(",") if w.strip()]
    rows: list[Row] = []
    local = {}
    for width in widths:
        runs = [local_foreach_wall_time(width) for _ in range(args.repeat)]
        rows.append(Row(f"{width}-way foreach, python flow.py run", "local", runs, "(the yardstick)"))
        local[width] = statistics.median(runs)
        print(f"local {width}-way foreach: {summary(runs)}", flush=True)
    if not args.no_up:
        ups = [flowdrop_up_time() for _ in range(args.repeat)]
        rows.append(Row("flowdrop up until ready", "-", ups, "< 2 s"))
        print(f"flowdrop up: {summary(ups)}", flush=True)
    state = Path(tempfile.mkdtemp(prefix="flowdrop-bench-stack-"))
    began = time.monotonic()
    try:
        with EmbeddedStack(StackOptions(state_dir=state, max_tasks=args.workers)) as stack:
            print(f"embedded stack up in {time.monotonic() - began:.1f}s ({args.workers} workers)", flush=True)
            api = ApiClient.from_config(stack.config)
            for backend in backends:
                rows.extend(bench_backend(stack, api, backend, args.repeat, local))
    finally:
        shutil.rmtree(state, ignore_errors=True)
    if args.demo:
        rows.append(Row("make demo end to end (flowdrop demo)", "worker", [demo_time()], "< 10 s"))
    print_table(rows)
    if not args.demo:
        print("make demo end to end: not timed (run with --demo, or `time make demo`); goal < 10 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
