"""Cold task start: one fresh `python flow.py step ...` process, as every Batch and Lambda task is.

Times the start task of a two-step flow run as its own process (a new run id
each time, local datastore), the bare interpreter start (`python -c pass`)
in the same run as the floor, and, with Metaflow installed (the `bench`
extra, or METAFLOW_PYTHON pointing at an interpreter that has it), the same
task under Metaflow (`step start --input-paths <run>/_parameters/0` after its
`init`). Overhead = task process minus the bare interpreter.

    python bench/cold_task.py [--repeat N]

Goal (issue 12): at most 120 ms of overhead on a 2-core machine, and at
most a third of Metaflow's.
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

FLOW = """from {package} import FlowSpec, step


class ColdFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    ColdFlow()
"""


def timed(args: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(args)}` failed:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    return elapsed


def flowdrop_task(work: Path, repeat: int) -> float:
    folder = work / "flowdrop"
    folder.mkdir()
    (folder / "cold_flow.py").write_text(FLOW.format(package="flowdrop"))
    env = dict(os.environ, FLOWDROP_CONFIG=str(folder / "none.json"), FLOWDROP_USER="bench")
    times = [timed([sys.executable, "cold_flow.py", "--datastore", str(folder / ".flowdrop"), "step", "start",
                    "--run-id", f"cold-{i}", "--task-id", "start"], env, folder) for i in range(repeat)]
    return statistics.median(times)


def metaflow_task(work: Path, repeat: int, python: str) -> float:
    folder = work / "metaflow"
    folder.mkdir()
    (folder / "cold_flow.py").write_text(FLOW.format(package="metaflow"))
    env = dict(os.environ, USERNAME="bench", METAFLOW_DEFAULT_DATASTORE="local", METAFLOW_DEFAULT_METADATA="local",
               METAFLOW_DATASTORE_SYSROOT_LOCAL=str(folder))
    base = [python, "cold_flow.py", "--no-pylint", "--quiet"]
    times = []
    for i in range(repeat):
        run_id = f"cold-{i}"
        timed([*base, "init", "--run-id", run_id, "--task-id", "0"], env, folder)
        times.append(timed([*base, "step", "start", "--run-id", run_id, "--task-id", "1",
                            "--input-paths", f"{run_id}/_parameters/0"], env, folder))
    return statistics.median(times)


def metaflow_python() -> str | None:
    for python in filter(None, [os.environ.get("METAFLOW_PYTHON"), sys.executable]):
        if subprocess.run([python, "-c", "import metaflow"], capture_output=True).returncode == 0:
            return python
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bare = statistics.median(timed([sys.executable, "-c", "pass"], dict(os.environ), work)
                                 for _ in range(args.repeat))
        ours = flowdrop_task(work, args.repeat)
        python = metaflow_python()
        theirs = metaflow_task(work, args.repeat, python) if python else None
        theirs_bare = (statistics.median(timed([python, "-c", "pass"], dict(os.environ), work)
                                         for _ in range(args.repeat)) if python else None)
    print(f"cold `python flow.py step start`, median of {args.repeat}, {os.cpu_count()} cores")
    print(f"  bare interpreter            {bare * 1000:7.1f} ms")
    print(f"  flowdrop task process       {ours * 1000:7.1f} ms   overhead {(ours - bare) * 1000:6.1f} ms")
    if theirs is not None:
        mf_overhead = theirs - theirs_bare
        print(f"  metaflow task process       {theirs * 1000:7.1f} ms   overhead {mf_overhead * 1000:6.1f} ms")
        print(f"  ratio of overheads (flowdrop / metaflow): {(ours - bare) / mf_overhead:.2f}")
    else:
        print("  (metaflow not installed: pip install -e '.[bench]', or set METAFLOW_PYTHON)")


if __name__ == "__main__":
    main()
