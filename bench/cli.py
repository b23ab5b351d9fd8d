"""Whole-process times of the commands a user waits on, each a median of several runs.

Prints, next to the bare interpreter start (`python -c pass`) measured in the
same run:
  import flowdrop          what every `python flow.py ...` process pays first;
  import app               the deployer's cold start, next to a bare `import boto3`;
  --only-json, 10 steps    `python flow.py step-functions create --only-json`;
  --only-json, 1000 steps  the same for a generated linear flow of 1,000 steps;
  create (new version)     `python flow.py step-functions create` against an embedded
                           stack, upload to production, the code changed each time;
  create (duplicate)       the same command with unchanged code.

Goals (issue 17): import flowdrop < 40 ms, import app <= 1.2x import boto3,
--only-json 10 steps < 0.15 s, 1000 steps < 0.3 s, create < 1 s.

Usage: python bench/cli.py [--repeat 5] [--no-stack]
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

ROOT = Path(__file__).resolve().parents[1]


def linear_flow(steps: int, name: str, marker: int = 0) -> str:
    """A flow of `steps` steps in a line (start, s1 ... s<n-2>, end)."""
    names = ["start", *[f"s{i}" for i in range(1, steps - 1)], "end"]
    lines = ["from flowdrop import FlowSpec, Parameter, step", "", "", f"class {name}(FlowSpec):",
             "    alpha = Parameter('alpha', default=0.1)", ""]
    for here, after in zip(names, [*names[1:], None]):
        lines += ["    @step", f"    def {here}(self):", f"        self.{here}_value = {marker}"]
        lines += [f"        self.next(self.{after})" if after else "        pass", ""]
    lines += ["", "if __name__ == '__main__':", f"    {name}()", ""]
    return "\n".join(lines)


def user_env(**extra: str) -> dict[str, str]:
    """This environment as a user's shell has it: bytecode cached (some sandboxes set PYTHONDONTWRITEBYTECODE)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, **extra}


def median_time(args: list[str], env: dict[str, str], cwd: Path, repeat: int, prepare=None) -> float:
    subprocess.run(args, env=env, cwd=cwd, capture_output=True)  # warm: bytecode written, files in the page cache
    times = []
    for attempt in range(repeat):
        if prepare is not None:
            prepare(attempt)
        started = time.perf_counter()
        done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"`{' '.join(args)}` failed ({done.returncode}):\n{done.stdout[-1500:]}\n"
                             f"{done.stderr[-1500:]}")
    return statistics.median(times)


def row(label: str, seconds: float, baseline: float | None = None, note: str = "") -> None:
    extra = f"  {seconds / baseline:5.2f}x {note}" if baseline else f"  {note}" if note else ""
    print(f"{label:<34} {seconds * 1000:8.1f} ms{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-stack", action="store_true", help="Skip the create rows (no embedded stack).")
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="flowdrop-bench-cli-") as tmp:
        work = Path(tmp)
        env = user_env(FLOWDROP_CONFIG=str(work / "none.json"), FLOWDROP_USER="bench")
        bare = median_time([py, "-c", "pass"], env, work, args.repeat)
        row("python -c pass", bare)
        flowdrop = median_time([py, "-c", "import flowdrop"], env, work, args.repeat)
        row("import flowdrop (process - bare)", flowdrop - bare, note="goal < 40 ms")
        boto3 = median_time([py, "-c", "import boto3"], env, work, args.repeat)
        app = median_time([py, "-c", "import app"], env, ROOT, args.repeat)
        row("import boto3 (process - bare)", boto3 - bare)
        row("import app (process - bare)", app - bare, boto3 - bare, "of import boto3; goal <= 1.2x")
        for steps in (10, 1000):
            (work / f"flow{steps}.py").write_text(linear_flow(steps, f"Linear{steps}Flow"))
            took = median_time([py, f"flow{steps}.py", "step-functions", "create", "--only-json"], env, work,
                               args.repeat)
            row(f"--only-json, {steps} steps", took, note="goal < %s" % ("0.15 s" if steps == 10 else "0.3 s"))
        if not args.no_stack:
            bench_create(work, args.repeat)


def bench_create(work: Path, repeat: int) -> None:
    from flowdrop.local.stack import EmbeddedStack, StackOptions
    from flowdrop.testing import client_env

    with EmbeddedStack(StackOptions(state_dir=work / "stack", max_tasks=2)) as stack:
        env = {k: v for k, v in client_env(stack).items() if k != "PYTHONDONTWRITEBYTECODE"}
        folder = work / "deployed"
        folder.mkdir()
        flow = folder / "bench_flow.py"

        def changed(attempt: int) -> None:
            flow.write_text(linear_flow(5, "CreateBenchFlow", marker=attempt + 1))

        changed(-1)
        subprocess.run([sys.executable, str(flow), "step-functions", "create"], env=env, cwd=folder,
                       capture_output=True, check=True)  # the first deploy creates the state machine
        new = median_time([sys.executable, str(flow), "step-functions", "create"], env, folder, repeat, changed)
        row("create, new version", new, note="goal < 1 s")
        same = median_time([sys.executable, str(flow), "step-functions", "create"], env, folder, repeat)
        row("create, duplicate", same)


if __name__ == "__main__":
    main()
