"""`python -m flowdrop.local.moto.main -H HOST -p PORT`: moto's server, patched.

Owns: applying local/moto/compat.py's fixes in this process, then handing
over to moto's own `moto_server` entry point (moto/server.py `main`) with the
same command line, so flags, signals and MOTO_PORT behave exactly as there.
Does not own: choosing the port or configuring moto (local/moto/server.py).
"""

from __future__ import annotations

from moto.server import main as moto_server_main

from flowdrop.local.moto.batch_jobs import apply_patches as apply_batch_patches
from flowdrop.local.moto.callbacks import apply_patches as apply_callback_patches
from flowdrop.local.moto.compat import apply_patches
from flowdrop.local.moto.lambda_functions import apply_patches as apply_lambda_patches


def main(argv: list[str] | None = None) -> None:
    """Run moto's server with flowdrop's Step Functions fixes."""
    apply_patches()
    apply_callback_patches()
    apply_batch_patches()
    apply_lambda_patches()
    moto_server_main(argv)


if __name__ == "__main__":
    main()
