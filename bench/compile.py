"""How long compile_flow takes and how big its output is, for generated flows of growing size.

Prints the median of several runs for 10, 100 and 1,000 linear steps and a
1,000-step flow with 50 foreach and 50 branch blocks, the growth factor
between sizes (10x the steps should cost about 10x the time) and the
definition size per step. Goal: 1,000 steps under 50 ms, near-linear growth.
Run: .venv/bin/python bench/compile.py
"""

from __future__ import annotations

import statistics
import time

from flowdrop.compiler import BackendSettings, CompileOptions, compile_flow, definition_json
from flowdrop.testing import synthetic_graph

RUNS = 15
CASES = [
    ("10 steps", synthetic_graph(10)),
    ("100 steps", synthetic_graph(100)),
    ("1,000 steps", synthetic_graph(1000)),
    ("1,000 steps, 50 foreach + 50 branches", synthetic_graph(1000, foreach=50, branches=50)),
]


def median_ms(graph, options) -> float:
    timings = []
    for _ in range(RUNS):
        start = time.perf_counter()
        compile_flow(graph, options)  # includes check_limits (and so one JSON encoding)
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def main() -> None:
    for kind in ("batch", "lambda", "worker"):
        options = CompileOptions(
            state_machine_name="GeneratedFlow", datastore_root="s3://flowdrop-data/data",
            code_package="s3://flowdrop-packages/packages/GeneratedFlow/0f1e.tar.gz",
            backend=BackendSettings(kind=kind, worker_queue_url="https://sqs.us-east-1.amazonaws.com/1/q"))
        print(f"backend {kind}")
        previous = None
        for label, graph in CASES:
            ms = median_ms(graph, options)
            size = len(definition_json(compile_flow(graph, options)).encode())
            growth = f"  x{ms / previous[1]:.1f} for x{len(graph) / previous[0]:.0f} steps" if previous and \
                "foreach" not in label else ""
            print(f"  {label:<40} {ms:8.2f} ms  {size:>9,} bytes  {size / len(graph):6.0f} B/step{growth}")
            if "foreach" not in label:
                previous = (len(graph), ms)


if __name__ == "__main__":
    main()
