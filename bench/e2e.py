"""End-to-end latencies on the embedded stack (moto as AWS, no account).

Prints:
  upload-to-production  from the package's S3 PutObject returning to the deployment
                        record ACCEPTED (notification -> SQS -> deploy handler -> version
                        published, alias moved), over several uploads of changed code;
  trigger-to-first-task from POST /flows/ParameterFlow/runs to the first task's start as
                        recorded by the task runner in the datastore;
  N-way foreach         wall time of foreach_flow.py with width=N, trigger to SUCCEEDED,
                        next to the same flow run locally (`python foreach_flow.py run`) in
                        the same process run: the ratio is the figure that counts.
Trigger and foreach rows are printed for each backend asked (--backends worker,batch).

Usage: python bench/e2e.py [--uploads 5] [--triggers 5] [--width 100] [--workers 4] [--backends worker,batch]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.operations import production_client
from flowdrop.cli.uploader import DeployOptions, prepare_deployment
from flowdrop.graph import parse_flow
from flowdrop.local.stack import EmbeddedStack, StackOptions
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
    import os
    import subprocess

    with tempfile.TemporaryDirectory(prefix="flowdrop-bench-local-") as tmp:
        env = dict(os.environ, FLOWDROP_CONFIG=str(Path(tmp) / "none.json"))
        began = time.monotonic()
        subprocess.run([sys.executable, str(examples_dir() / "foreach_flow.py"), "--datastore", str(Path(tmp) / "ds"),
                        "run", "--width", str(width)], env=env, cwd=tmp, check=True, capture_output=True)
        return time.monotonic() - began


def foreach_wall_time(stack: EmbeddedStack, api: ApiClient, width: int, backend: str = "worker") -> float:
    """Seconds from trigger to SUCCEEDED of foreach_flow.py with `width` items."""
    from flowdrop.testing import deploy_flow

    deploy_flow(stack, examples_dir() / "foreach_flow.py", backend=backend)
    began = time.monotonic()
    run_id = api.trigger("ForeachFlow", {"width": width})["run_id"]
    answer = wait_for_run(api, "ForeachFlow", run_id, timeout=1800, poll=0.2)  # polls the cheap status
    elapsed = time.monotonic() - began
    assert answer["status"] == "SUCCEEDED", answer
    return elapsed


def summary(values: list[float]) -> str:
    return (f"median {statistics.median(values):.2f}s  min {min(values):.2f}s  max {max(values):.2f}s  "
            f"(n={len(values)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=5)
    parser.add_argument("--triggers", type=int, default=5)
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4, help="tasks the worker pool runs at once")
    parser.add_argument("--backends", default="worker,batch", help="comma-separated: worker, batch, lambda")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    state = Path(tempfile.mkdtemp(prefix="flowdrop-bench-stack-"))
    began = time.monotonic()
    try:
        with EmbeddedStack(StackOptions(state_dir=state, max_tasks=args.workers)) as stack:
            print(f"embedded stack up in {time.monotonic() - began:.1f}s ({args.workers} workers)", flush=True)
            api = ApiClient.from_config(stack.config)
            local = local_foreach_wall_time(args.width)
            print(f"{args.width}-way foreach, local runtime: {local:.2f}s wall (the yardstick)", flush=True)
            for backend in backends:
                print(f"-- backend {backend}", flush=True)
                uploads = upload_to_production(stack, api, args.uploads, backend)
                print(f"upload-to-production:   {summary(uploads)}", flush=True)
                first, end = trigger_to_first_task(stack, api, args.triggers)
                print(f"trigger-to-first-task:  {summary(first)}", flush=True)
                print(f"trigger-to-SUCCEEDED:   {summary(end)}  (2-step ParameterFlow)", flush=True)
                wall = foreach_wall_time(stack, api, args.width, backend)
                print(f"{args.width}-way foreach run:   {wall:.1f}s wall, trigger to SUCCEEDED "
                      f"({args.width + 3} tasks, {(args.width + 3) / wall:.1f} tasks/s), "
                      f"{wall / local:.1f}x the local runtime", flush=True)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
