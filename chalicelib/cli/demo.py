"""`flowdrop demo` (what `make demo` runs): the seed's story, end to end, on the embedded stack.

Owns: the story and what it prints. It starts a stack in a fresh folder,
deploys the seed's ParameterFlow with `python parameter_flow.py --with retry
step-functions create` (package dropped in S3, deployed by the deploy
handler), triggers it over the API with alpha=0.5 and shows its steps and
artifacts through the client API; deploys HourlyFlow and fires its rule;
deploys DebugFlow, whose step `b` fails in production, and resumes that run
locally with `python debug_flow.py resume --origin-run-id sfn-...` once
"fixed" (FIX_DEBUG_FLOW=1), then deploys the fix and resumes it in production
(`step-functions resume`). Exit code 0 only if every part worked. The
helpers it shares with tests and benches live in flowdrop.testing.
Parts that do not wait on the one before (HourlyFlow's and DebugFlow's
deploys and runs, the fix's deploy) start early in threads (Background); each
phase waits for what is left and says how long the part ran, so the story
prints in order while the machine's two cores stay busy.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flowdrop.cli.operations import fire_schedule, run_artifacts, task_logs
from flowdrop.errors import DemoError, FlowdropError
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import client_env, deploy_flow, examples_dir, run_command, wait_for_run


@contextmanager
def phase(console: Any, title: str) -> Iterator[None]:
    """A spinner with elapsed time while a part runs; a check mark (or cross) and its duration after."""
    began = time.monotonic()
    done = threading.Event()
    with console.status(title) as status:
        def tick() -> None:
            while not done.wait(0.2):
                status.update(f"{title} [dim]({time.monotonic() - began:.1f}s)[/dim]")

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            yield
        except BaseException:
            done.set()
            ticker.join()
            console.print(f"[red]✗[/red] {title} [dim]({time.monotonic() - began:.1f}s)[/dim]")
            raise
        done.set()
        ticker.join()
    console.print(f"[green]✓[/green] {title} [dim]({time.monotonic() - began:.1f}s)[/dim]")


class Background:
    """Parts of the story started before their turn: each runs in a thread; its phase waits for what is left."""

    def __init__(self, workers: int):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flowdrop-demo")
        self._took: dict[Future[Any], list[float]] = {}

    def submit(self, fn: Any, *args: Any, after: Future[Any] | None = None, **kwargs: Any) -> Future[Any]:
        """Start fn(*args, **kwargs) now, or once `after` succeeded (its error is raised then)."""
        took: list[float] = []

        def timed() -> Any:
            if after is not None:
                after.result()
            began = time.monotonic()
            try:
                return fn(*args, **kwargs)
            finally:
                took.append(time.monotonic() - began)

        future = self._pool.submit(timed)
        self._took[future] = took
        return future

    def note(self, console: Any, future: Future[Any]) -> None:
        """Say how long a finished part ran in the background."""
        took = self._took.get(future) or [0.0]
        console.print(f"    [dim](ran in the background, started before its turn: {took[0]:.1f}s)[/dim]")

    def close(self) -> None:
        """Wait for what is still running (after an error: the parts end with the stack's timeouts)."""
        self._pool.shutdown(wait=True)


# How the demo looks at a run until it ends (flowdrop.testing.wait_for_run): a look costs ~17 ms of CPU on the
# two cores the runs need, so looks thin out; a part waited on in the background, whose end is rarely awaited
# yet, looks less often still.
LOOKS = {"poll": 0.1, "max_poll": 0.4}
BACKGROUND_LOOKS = {"poll": 0.2, "max_poll": 1.0}


def _show_run(console: Any, flow: str, answer: Mapping[str, Any]) -> None:
    style = "green" if answer.get("status") == "SUCCEEDED" else "red"
    console.print(f"    run [bold]{flow}/{answer.get('run_id')}[/bold]: [{style}]{answer.get('status')}[/{style}]")
    for step, state in (answer.get("steps") or {}).items():
        mark = {"SUCCEEDED": "[green]✓[/green]", "FAILED": "[red]✗[/red]"}.get(state, "[yellow]…[/yellow]")
        console.print(f"      {mark} {step:<10} {state}")


def _run_id_in(output: str) -> str:
    found = re.search(r"\b(sfn-[A-Za-z0-9_-]+)", output)
    if not found:
        raise DemoError(f"no run id (sfn-...) in the trigger's output:\n{output[-2000:]}")
    return found.group(1)


def run_demo(state_dir: Path | None, console: Any) -> int:
    """The whole demo; the process exit code."""
    keep = state_dir is not None
    state_dir = Path(state_dir or tempfile.mkdtemp(prefix="flowdrop-demo-")).resolve()
    began = time.monotonic()
    console.print("[bold]flowdrop demo[/bold]: the seed's story on the embedded stack (moto as AWS, no account)")
    stack = EmbeddedStack(StackOptions(state_dir=state_dir, max_tasks=4))
    try:
        with phase(console, "Starting the embedded stack (moto, deployer API, SQS event source, clock, workers)"):
            stack.start()
        console.print(f"    API {stack.api.url if stack.api else '?'}, AWS endpoint {stack.aws.endpoint_url if stack.aws else '?'}")
        story(stack, console)
    except (FlowdropError, OSError) as err:
        console.print(f"\n[bold red]The demo failed:[/bold red] {err}", markup=True, highlight=False)
        console.print(f"The stack's logs: {stack.logs_dir} (moto.log, stack.log); state kept in {state_dir}")
        return 1
    except KeyboardInterrupt:
        console.print("\nInterrupted.")
        return 130
    finally:
        stack.stop()
    console.print(f"\n[bold green]Demo complete[/bold green] in {time.monotonic() - began:.0f}s: deployed by upload, "
                  "triggered over the API, scheduled, failed in production, resumed locally and in production.")
    if not keep:
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


def story(stack: EmbeddedStack, console: Any) -> None:
    """The seed's steps against a running stack (DemoError at the first that fails)."""
    from flowdrop.cli.api_client import ApiClient

    assert stack.config is not None
    api = ApiClient.from_config(stack.config)
    examples = examples_dir()
    work = stack.state_dir / "work"
    work.mkdir(exist_ok=True)
    env = client_env(stack, FLOWDROP_DATASTORE=str(work / ".flowdrop"))

    # Parts 2 and 3 do not depend on part 1: their deploys (and runs) go on in the background meanwhile,
    # and each phase below waits only for what is still going (the story is printed in the same order).
    background = Background(workers=5)
    try:
        hourly_deploy = background.submit(deploy_flow, stack, examples / "hourly_flow.py", cwd=work)
        hourly_run = background.submit(_fire_hourly, stack, after=hourly_deploy)
        debug_deploy = background.submit(deploy_flow, stack, examples / "debug_flow.py", cwd=work)
        debug_run = background.submit(_run_debug_flow, stack, after=debug_deploy)
        _story(stack, console, api, examples, work, env, background,
               (hourly_deploy, hourly_run, debug_deploy, debug_run))
    finally:
        background.close()


def _fire_hourly(stack: EmbeddedStack) -> tuple[str, dict[str, Any]]:
    """HourlyFlow deployed: fire its schedule now (instead of waiting for the hour); its run's end."""
    from flowdrop.cli.api_client import ApiClient

    assert stack.config is not None
    firings = fire_schedule(stack.config, "HourlyFlow")
    if not firings or firings[0].get("error"):
        raise DemoError(f"firing HourlyFlow's schedule failed: {firings}")
    run_id = str((firings[0].get("result") or {}).get("run_id"))
    return run_id, wait_for_run(ApiClient.from_config(stack.config), "HourlyFlow", run_id, **BACKGROUND_LOOKS)


def _run_debug_flow(stack: EmbeddedStack) -> tuple[str, dict[str, Any]]:
    """DebugFlow deployed: a production run of it (step b fails); its run id and end."""
    from flowdrop.cli.api_client import ApiClient

    assert stack.config is not None
    api = ApiClient.from_config(stack.config)
    run_id = str(api.trigger("DebugFlow", {})["run_id"])
    return run_id, wait_for_run(api, "DebugFlow", run_id, **BACKGROUND_LOOKS)


def _story(stack: EmbeddedStack, console: Any, api: Any, examples: Path, work: Path, env: dict[str, str],
           background: Background, started: tuple[Future[Any], ...]) -> None:
    hourly_deploy, hourly_run, debug_deploy, debug_run = started
    # 1. The seed's ParameterFlow: deployed by dropping its package into S3.
    with phase(console, "python parameter_flow.py --with retry step-functions create"):
        output = deploy_flow(stack, examples / "parameter_flow.py", "--with", "retry", cwd=work)
    version = api.get_flow("ParameterFlow").get("production_version")
    console.print(f"    S3 upload -> SQS -> deploy handler: ParameterFlow version {version} is behind 'production'")
    with phase(console, "python parameter_flow.py step-functions trigger --alpha 0.5"):
        run_id = _run_id_in(run_command([sys.executable, str(examples / "parameter_flow.py"), "step-functions",
                                         "trigger", "--alpha", "0.5"], env, work))
    with phase(console, f"Waiting for ParameterFlow/{run_id}"):
        answer = wait_for_run(api, "ParameterFlow", run_id, **LOOKS)
    _show_run(console, "ParameterFlow", answer)
    if answer.get("status") != "SUCCEEDED":
        raise DemoError(f"ParameterFlow/{run_id} ended {answer.get('status')}: {answer.get('cause') or ''}")
    artifacts = run_artifacts(stack.config, "ParameterFlow", run_id)
    for step, values in artifacts.items():
        console.print(f"      Run('ParameterFlow/{run_id}')['{step}'].task.data: {values}")
    if artifacts.get("end", {}).get("alpha") != 0.5:
        raise DemoError(f"ParameterFlow/{run_id}: expected alpha == 0.5 in the end step, got {artifacts}")

    # 2. @schedule(hourly=True): an EventBridge Scheduler schedule; fire it now instead of waiting for the hour.
    with phase(console, "python hourly_flow.py step-functions create"):
        output = hourly_deploy.result()
    background.note(console, hourly_deploy)
    for line in output.splitlines():
        if line.startswith(("Schedule:", "  next runs:")):
            console.print(f"    {line.strip()}")
    with phase(console, "flowdrop schedule fire HourlyFlow (the clock invokes the scheduled handler)"):
        scheduled_run, answer = hourly_run.result()
    background.note(console, hourly_run)
    _show_run(console, "HourlyFlow", answer)
    if answer.get("status") != "SUCCEEDED":
        raise DemoError(f"HourlyFlow/{scheduled_run} ended {answer.get('status')}: {answer.get('cause') or ''}")
    for pathspec, stdout, _ in task_logs(stack.config, "HourlyFlow", scheduled_run, "start"):
        console.print(f"      {pathspec} printed: {stdout.strip()}")

    # 3. The seed's debugging story: a step fails in production; fix it and resume locally.
    with phase(console, "python debug_flow.py step-functions create"):
        debug_deploy.result()
    background.note(console, debug_deploy)
    with phase(console, "A production run of DebugFlow (step b fails)"):
        failed_run, answer = debug_run.result()
    background.note(console, debug_run)
    _show_run(console, "DebugFlow", answer)
    if answer.get("status") != "FAILED" or (answer.get("steps") or {}).get("b") != "FAILED":
        raise DemoError(f"DebugFlow/{failed_run} should fail in step b; it ended {answer.get('status')} "
                        f"with steps {answer.get('steps')}")
    for pathspec, _, stderr in task_logs(stack.config, "DebugFlow", failed_run, "b"):
        last = [line for line in stderr.strip().splitlines() if line.strip()][-1:]
        console.print(f"      {pathspec} stderr: {last[0].strip() if last else '(empty)'}")
    # 4 (below) deploys the fix; that goes on while the fix is tried locally (production is not touched here).
    fixed = work / "debug_flow.py"  # the fix, made in the file this time (no FIX_DEBUG_FLOW in production)
    fixed.write_text((examples / "debug_flow.py").read_text().replace("os.environ.get('FIX_DEBUG_FLOW') == '1'",
                                                                     "True"))
    fixed_deployed = background.submit(deploy_flow, stack, fixed, cwd=work)
    _resume_locally(console, examples, work, env, failed_run)
    _resume_in_production(stack, console, api, background, fixed, work, failed_run, fixed_deployed)


def _resume_locally(console: Any, examples: Path, work: Path, env: dict[str, str], failed_run: str) -> None:
    """The failed production run resumed on this machine with the fix (FIX_DEBUG_FLOW=1): b on, a and start reused."""
    with phase(console, f"FIX_DEBUG_FLOW=1 python debug_flow.py resume --origin-run-id {failed_run}"):
        output = run_command([sys.executable, str(examples / "debug_flow.py"), "resume", "--origin-run-id",
                              failed_run], {**env, "FIX_DEBUG_FLOW": "1"}, work)
    shown = [line for line in output.splitlines() if "total is" in line or "Resuming" in line or "Done" in line]
    for line in shown[-4:]:
        console.print(f"    {line.strip()}")
    if "total is 3" not in output:
        raise DemoError(f"the resumed DebugFlow did not print 'total is 3':\n{output[-2000:]}")


def _resume_in_production(stack: EmbeddedStack, console: Any, api: Any, background: Background, fixed: Path,
                          work: Path, failed_run: str, fixed_deployed: Future[str]) -> None:
    """4. The fix deployed, and the failed run resumed in production: b, join and end rerun; start and a reused."""
    from flowdrop.cli.operations import production_client
    from flowdrop.client import Run

    with phase(console, "python debug_flow.py step-functions create (the fix: version 2)"):
        fixed_deployed.result()
    background.note(console, fixed_deployed)
    with phase(console, f"python debug_flow.py step-functions resume --origin-run-id {failed_run}"):
        output = run_command([sys.executable, str(fixed), "step-functions", "resume", "--origin-run-id",
                              failed_run], client_env(stack), work)
        found = re.search(r"run-id (sfn-[A-Za-z0-9_-]+)", output)
        if not found:
            raise DemoError(f"no new run id in the resume's output:\n{output[-2000:]}")
        answer = wait_for_run(api, "DebugFlow", found.group(1), **LOOKS)
    _show_run(console, "DebugFlow", answer)
    if answer.get("status") != "SUCCEEDED":
        raise DemoError(f"the production resume DebugFlow/{found.group(1)} ended {answer.get('status')}: "
                        f"{answer.get('cause') or ''}")
    production_client(stack.config)
    run = Run(f"DebugFlow/{found.group(1)}")
    for step in ("start", "a", "b", "join", "end"):
        origin = run[step].task.origin_pathspec
        console.print(f"      {step:<10} " + (f"reused from {origin}" if origin else "rerun"))
