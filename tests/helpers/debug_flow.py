"""The seed's DebugFlow for production tests that check `a` SUCCEEDED beside `b` FAILED.

In production `a` and `b` are parallel branches: when `b` fails, Step Functions
stops the Parallel state and aborts a branch still running (its Batch job is
terminated), so whether `a` ends SUCCEEDED or ABORTED depends on which task
ends first (the same race on AWS). CI lost it once on a loaded machine. This
copy of the flow, otherwise unchanged, has `b` wait before it fails, so `a`
has ended by then and the test checks what the status views say of it.
"""

from __future__ import annotations

from pathlib import Path

from flowdrop.testing import examples_dir

B_WAITS_SECONDS = 8


def debug_flow_where_a_ends_first(folder: Path) -> Path:
    """examples/debug_flow.py written to `folder`, with `b` sleeping B_WAITS_SECONDS before its failure."""
    source = (examples_dir() / "debug_flow.py").read_text()
    start = "    def b(self):\n"
    assert start in source and "import os\n" in source, "examples/debug_flow.py changed: update this helper"
    source = source.replace("import os\n", "import os\nimport time\n", 1)
    source = source.replace(start, f"{start}        time.sleep({B_WAITS_SECONDS})  # a ends first\n", 1)
    path = Path(folder) / "debug_flow.py"
    path.write_text(source)
    return path
