"""Trigger throughput of the embedded stack on loopback: POST /flows/LoadFlow/runs from several threads.

Prints the triggers per second achieved (the goal is at least 30/s on two
cores) and the latency spread; asserts nothing about speed. Every trigger
must be accepted with its own run id, and every run listed through the paged
API, or the bench fails.

Where the time goes (2026-12, py-spy --gil on the stack and its moto server, 200
triggers from 8 threads, 2 shared cores): the deployer's side (Chalice handler, auth,
body checks, one GetItem of the production record, StartExecution) holds the GIL
~2.5 ms a trigger; moto is the bottleneck. Before local/moto/speed.py's patch (3),
each execution's thread re-parsed the whole ASL definition with ANTLR (~25 ms of
CPU each, ~40% of moto's busy time while the bench fires); StartExecution's own
handling is ~1 ms. What is left in moto per trigger: HTTP dispatch of its requests
(GetItem, StartExecution, the execution's SQS SendMessage and the worker's polls,
~1-2 ms each), the first Task state's SQS call, thread start-up for the
execution, and the journal's snapshot of running executions every 2 s.
Measured on the same loaded machine (other jobs running, so +-30%): before
8-13 triggers/s, p50 600-900 ms; after 21-35 triggers/s, p50 210-340 ms.
The production record is read per trigger on purpose (no cache): a rollback
or new deploy changes the parameters a trigger is checked against at once.

Usage: python bench/triggers.py [--triggers 200] [--threads 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flowdrop.cli.api_client import ApiClient
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import deploy_flow

GOAL_PER_SECOND = 30.0

LOAD_FLOW = '''from flowdrop import FlowSpec, Parameter, step


class LoadFlow(FlowSpec):
    number = Parameter("number", default=0)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LoadFlow()
'''


def fire(stack: EmbeddedStack, count: int, threads: int) -> tuple[float, list[float], set[str]]:
    """(wall seconds, per-trigger seconds, run ids) for `count` triggers from `threads` threads."""
    local = [ApiClient.from_config(stack.config) for _ in range(threads)]

    def trigger(index: int) -> tuple[float, str]:
        began = time.perf_counter()
        answer = local[index % threads].trigger("LoadFlow", {"number": index})
        return time.perf_counter() - began, str(answer["run_id"])

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(trigger, range(count)))
    return time.perf_counter() - began, [r[0] for r in results], {r[1] for r in results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triggers", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flowdrop-bench-triggers-") as tmp:
        flow_file = Path(tmp) / "load_flow.py"
        flow_file.write_text(LOAD_FLOW)
        # One worker: runs queue behind the triggers instead of competing with them for the cores.
        with EmbeddedStack(StackOptions(state_dir=Path(tmp) / "stack", max_tasks=1)) as stack:
            deploy_flow(stack, flow_file, backend="worker")
            fire(stack, min(8, args.triggers), args.threads)  # warm up: connections, caches, first imports
            api = ApiClient.from_config(stack.config)
            before = {run["run_id"] for run in api.iter_runs("LoadFlow")}
            seconds, latencies, run_ids = fire(stack, args.triggers, args.threads)
            listed = {run["run_id"] for run in api.iter_runs("LoadFlow")} - before
    if len(run_ids) != args.triggers or listed != run_ids:
        print(f"triggers: {len(run_ids)} distinct run ids for {args.triggers} triggers, {len(listed)} listed",
              file=sys.stderr)
        return 1
    rate = args.triggers / seconds
    cut = statistics.quantiles(latencies, n=100)
    print(f"triggers: {args.triggers} from {args.threads} threads in {seconds:.2f} s = {rate:.1f} triggers/s "
          f"(goal >= {GOAL_PER_SECOND:.0f}/s: {'met' if rate >= GOAL_PER_SECOND else 'NOT met'}); "
          f"latency p50 {cut[49] * 1000:.0f} ms, p95 {cut[94] * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
