"""Cold task start: one fresh `python flow.py step ...` process, as every Batch and Lambda task is.

Times the start task of a two-step flow run as its own process (a new run id
each time, local datastore), the bare interpreter start (`python -c pass`)
in the same run as the floor, and, with Metaflow installed (the `bench`
extra, or METAFLOW_PYTHON pointing at an interpreter that has it), the same
task under Metaflow (`step start --input-paths <run>/_parameters/0` after its
`init`). Overhead = task process minus the bare interpreter.

Each figure is a median wall time and, beside it, the median CPU time
(user + system) of the process: on a shared machine the wall time moves
with the load, the CPU time much less.

Two cases each. "installed": the package as installed, its bytecode cached
(one warm-up run first; PYTHONDONTWRITEBYTECODE is dropped). "fresh
package": a copy of the package's source beside the flow file, no bytecode,
PYTHONDONTWRITEBYTECODE=1, as in a Batch container or a Lambda invoke that
just extracted its code package: every module the task imports is compiled
from source.

    python bench/cold_task.py [--repeat N]

Goal (issue 12): at most 120 ms of overhead on a 2-core machine, and at
most a third of Metaflow's.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

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


class Sample(NamedTuple):
    wall: float
    cpu: float

    def __sub__(self, other: Sample) -> Sample:  # type: ignore[override]
        return Sample(self.wall - other.wall, self.cpu - other.cpu)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str], env: dict[str, str], cwd: Path) -> Sample:
    cpu, started = _children_cpu(), time.perf_counter()
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    sample = Sample(time.perf_counter() - started, _children_cpu() - cpu)
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(args)}` failed:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    return sample


def median(samples: list[Sample]) -> Sample:
    return Sample(statistics.median(s.wall for s in samples), statistics.median(s.cpu for s in samples))


def task_env(env: dict[str, str], fresh: bool) -> dict[str, str]:
    """Bytecode cached (installed), or nothing cached and nothing written (a just-extracted code package)."""
    if fresh:
        return dict(env, PYTHONDONTWRITEBYTECODE="1")
    return {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}


def copy_package(python: str, package: str, folder: Path) -> None:
    """Copy `package`'s source, as `python` imports it, into `folder` without bytecode: a code package's copy."""
    probe = f"import importlib.util; print(importlib.util.find_spec({package!r}).origin)"
    origin = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    shutil.copytree(Path(origin).parent, folder / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def flowdrop_task(work: Path, repeat: int, fresh: bool) -> Sample:
    folder = work / ("flowdrop-fresh" if fresh else "flowdrop")
    folder.mkdir()
    (folder / "cold_flow.py").write_text(FLOW.format(package="flowdrop"))
    if fresh:
        copy_package(sys.executable, "flowdrop", folder)  # found first: the flow file's folder leads sys.path
    env = task_env(dict(os.environ, FLOWDROP_CONFIG=str(folder / "none.json"), FLOWDROP_USER="bench"), fresh)
    args = [sys.executable, "cold_flow.py", "--datastore", str(folder / ".flowdrop"), "step", "start",
            "--task-id", "start", "--run-id"]
    timed([*args, "warm-up"], env, folder)
    return median([timed([*args, f"cold-{i}"], env, folder) for i in range(repeat)])


def metaflow_task(work: Path, repeat: int, python: str, fresh: bool) -> Sample:
    folder = work / ("metaflow-fresh" if fresh else "metaflow")
    folder.mkdir()
    (folder / "cold_flow.py").write_text(FLOW.format(package="metaflow"))
    if fresh:
        copy_package(python, "metaflow", folder)
    env = task_env(dict(os.environ, USERNAME="bench", METAFLOW_DEFAULT_DATASTORE="local",
                        METAFLOW_DEFAULT_METADATA="local", METAFLOW_DATASTORE_SYSROOT_LOCAL=str(folder)), fresh)
    base = [python, "cold_flow.py", "--no-pylint", "--quiet"]
    times = []
    for i in range(repeat + 1):  # the first is the warm-up
        run_id = f"cold-{i}"
        timed([*base, "init", "--run-id", run_id, "--task-id", "0"], env, folder)
        elapsed = timed([*base, "step", "start", "--run-id", run_id, "--task-id", "1",
                         "--input-paths", f"{run_id}/_parameters/0"], env, folder)
        if i:
            times.append(elapsed)
    return median(times)


def metaflow_python() -> str | None:
    for python in filter(None, [os.environ.get("METAFLOW_PYTHON"), sys.executable]):
        if subprocess.run([python, "-c", "import metaflow"], capture_output=True).returncode == 0:
            return python
    return None


def ms(sample: Sample) -> str:
    return f"{sample.wall * 1000:6.1f} ms ({sample.cpu * 1000:5.1f} cpu)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    python = metaflow_python()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)

        def bare(interpreter: str) -> Sample:
            env = task_env(dict(os.environ), fresh=False)
            return median([timed([interpreter, "-c", "pass"], env, work) for _ in range(args.repeat)])

        floor = bare(sys.executable)
        ours = {fresh: flowdrop_task(work, args.repeat, fresh) for fresh in (False, True)}
        theirs = {fresh: metaflow_task(work, args.repeat, python, fresh) for fresh in (False, True)} if python else {}
        theirs_floor = bare(python) if python else floor
    print(f"cold `python flow.py step start`, median of {args.repeat}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}: wall (cpu)")
    print(f"  bare interpreter              {ms(floor)}")
    for fresh, label in ((False, "installed"), (True, "fresh package")):
        overhead = ours[fresh] - floor
        print(f"  flowdrop task, {label:14} {ms(ours[fresh])}   overhead {ms(overhead)}")
        if theirs:
            mf = theirs[fresh] - theirs_floor
            print(f"  metaflow task, {label:14} {ms(theirs[fresh])}   overhead {ms(mf)}   "
                  f"flowdrop/metaflow {overhead.wall / mf.wall:.2f} ({overhead.cpu / mf.cpu:.2f} cpu)")
    if not theirs:
        print("  (metaflow not installed: pip install -e '.[bench]', or set METAFLOW_PYTHON)")


if __name__ == "__main__":
    main()
