"""`python -m flowdrop.runtime.job`: a Batch task container's entry point, after the bootstrap.

Owns: turning the job's environment (the TaskPayload variables that
compiler/batch.py sets on each SubmitJob) into the flow's own command line,
`python <flow file> step <step> --run-id ... --task-id ...`, and running it
in this process, as the flow file run as a script would (no second
interpreter start). The flow file is the manifest's, in the extracted code
package this module itself was imported from (code/flowdrop/runtime/job.py).
Does not own: fetching the package (compiler/job.py's bootstrap) or the task
runner (the flow CLI's `step`).
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from collections.abc import Mapping
from pathlib import Path

from flowdrop.errors import FlowdropError
from flowdrop.model.task import payload_from_batch_environment
from flowdrop.runtime import task_command


def package_flow_file(code_dir: Path) -> Path:
    """The flow file named by the manifest beside `code_dir`."""
    manifest_path = code_dir.parent / "manifest.json"
    try:
        flow_file = json.loads(manifest_path.read_text())["flow_file"]
    except (OSError, ValueError, KeyError) as err:
        raise FlowdropError(f"{manifest_path}: no readable manifest with a flow_file ({err})") from err
    path = code_dir / flow_file
    if not path.is_file():
        raise FlowdropError(f"{manifest_path}: flow_file {flow_file!r} is not in the package")
    return path


def main(env: Mapping[str, str] | None = None) -> int:
    """Run the task the environment describes; the exit code is the task's."""
    env = os.environ if env is None else env
    try:
        payload = payload_from_batch_environment(env)
        flow_file = package_flow_file(Path(__file__).resolve().parents[2])
    except FlowdropError as err:
        print(f"flowdrop task: {err}", file=sys.stderr)
        return 2
    sys.argv = task_command(flow_file, payload)[1:]  # as `python flow.py step ...` sees it
    sys.path.insert(0, str(flow_file.parent))
    try:
        runpy.run_path(str(flow_file), run_name="__main__")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    # A flow file that never instantiates its FlowSpec under __main__ runs no task.
    print(f"flowdrop task: {flow_file.name} did not start its flow (no `if __name__ == '__main__': "
          f"{payload.flow_name}()`)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
