"""Per-task overhead of the local runtime, against Metaflow's when it is installed.

Runs a 10-step linear flow and a 100-way foreach whose steps do nothing, so
the wall time (including interpreter start-up) is all overhead, and prints
milliseconds per task, for the default fork launcher and for the
subprocess launcher (`python flow.py step ...` per task). With the
`bench` extra installed (Metaflow), runs the same flows under Metaflow's
local runtime in this same process run and prints the ratio.

    python bench/local_runtime.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LINEAR_STEPS = 10
FOREACH_WIDTH = 100


def linear_source(package: str) -> str:
    steps = []
    names = ["start", *[f"s{i}" for i in range(1, LINEAR_STEPS - 1)], "end"]
    for here, nxt in zip(names, names[1:] + [None]):
        body = f"        self.x = {len(steps)}\n"
        body += f"        self.next(self.{nxt})\n" if nxt else "        pass\n"
        steps.append(f"    @step\n    def {here}(self):\n{body}")
    return (f"from {package} import FlowSpec, step\n\n\nclass LinearBench(FlowSpec):\n"
            + "\n".join(steps) + "\n\nif __name__ == '__main__':\n    LinearBench()\n")


def foreach_source(package: str) -> str:
    return f"""from {package} import FlowSpec, step


class ForeachBench(FlowSpec):
    @step
    def start(self):
        self.items = list(range({FOREACH_WIDTH}))
        self.next(self.work, foreach='items')

    @step
    def work(self):
        self.y = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.y for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    ForeachBench()
"""


def time_run(flow: Path, env: dict[str, str], extra: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(flow), *extra, "run", "--max-workers", "16"],
                          cwd=flow.parent, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{flow.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def measure(package: str, work: Path, repeat: int, launcher: str = "fork") -> dict[str, float]:
    folder = work / f"{package}-{launcher}"
    folder.mkdir()
    env = dict(os.environ, FLOWDROP_LAUNCHER=launcher, FLOWDROP_CONFIG=str(folder / "none.json"), USERNAME="bench", USER="bench",
               METAFLOW_DEFAULT_DATASTORE="local", METAFLOW_DEFAULT_METADATA="local",
               METAFLOW_DATASTORE_SYSROOT_LOCAL=str(folder))
    extra = ["--datastore", str(folder / ".flowdrop")] if package == "flowdrop" else ["--no-pylint"]
    out = {}
    for name, source, tasks in (("linear", linear_source(package), LINEAR_STEPS),
                                ("foreach", foreach_source(package), FOREACH_WIDTH + 3)):
        flow = folder / f"{name}_bench.py"
        flow.write_text(source)
        times = [time_run(flow, env, extra) for _ in range(repeat)]
        out[name] = statistics.median(times) / tasks
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    try:
        import metaflow  # noqa: F401

        have_metaflow = True
    except ImportError:
        have_metaflow = False
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ours = measure("flowdrop", work, args.repeat)
        spawned = measure("flowdrop", work, args.repeat, launcher="subprocess")
        theirs = measure("metaflow", work, args.repeat) if have_metaflow else None
    print(f"per-task overhead, median of {args.repeat} runs, --max-workers 16, {os.cpu_count()} cores")
    for name, label in (("linear", f"{LINEAR_STEPS}-step linear"), ("foreach", f"{FOREACH_WIDTH}-way foreach")):
        line = (f"  {label:<18} flowdrop {ours[name] * 1000:7.1f} ms/task"
                f" (subprocess launcher {spawned[name] * 1000:6.1f})")
        if theirs:
            line += (f"   metaflow {theirs[name] * 1000:7.1f} ms/task   ratio {ours[name] / theirs[name]:.2f}"
                     f" (subprocess {spawned[name] / theirs[name]:.2f})")
        print(line)
    if not theirs:
        print("  (metaflow not installed: pip install -e '.[bench]' to compare)")


if __name__ == "__main__":
    main()
