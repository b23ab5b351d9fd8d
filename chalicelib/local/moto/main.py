"""`python -m flowdrop.local.moto.main -H HOST -p PORT`: moto's server, patched.

Owns: applying local/moto/compat.py's fixes in this process, then handing
over to moto's own `moto_server` entry point (moto/server.py `main`) with the
same command line, so flags, signals and MOTO_PORT behave exactly as there.
With FLOWDROP_MOTO_REQUEST_LOG=1, moto.log has werkzeug's line per request
(off by default: it costs CPU on every call). With FLOWDROP_MOTO_STATE_DIR set, moto's app is wrapped by the journal
(local/moto/journal.py) that makes the embedded stack durable.
Does not own: choosing the port or configuring moto (local/moto/server.py).
"""

from __future__ import annotations

import atexit
import logging
import os
from pathlib import Path
from typing import Any

from flowdrop.local.moto.startup import apply_patches as apply_startup_patches

apply_startup_patches()  # before moto's modules are imported: moto.ec2 asks botocore for regions at import

import moto.server  # noqa: E402
from moto.server import main as moto_server_main  # noqa: E402

from flowdrop.local.moto.batch_jobs import apply_patches as apply_batch_patches  # noqa: E402
from flowdrop.local.moto.callbacks import apply_patches as apply_callback_patches  # noqa: E402
from flowdrop.local.moto.compat import apply_patches  # noqa: E402
from flowdrop.local.moto.journal import STATE_DIR_ENV, Journal  # noqa: E402
from flowdrop.local.moto.executions import apply_patches as apply_journal_patches  # noqa: E402
from flowdrop.local.moto.lambda_functions import apply_patches as apply_lambda_patches  # noqa: E402
from flowdrop.local.moto.speed import apply_patches as apply_speed_patches  # noqa: E402
from flowdrop.local.moto.speed_requests import apply_patches as apply_request_speed_patches  # noqa: E402
from flowdrop.local.moto.state_errors import apply_patches as apply_state_error_patches  # noqa: E402

REQUEST_LOG_ENV = "FLOWDROP_MOTO_REQUEST_LOG"  # "1": moto.log gets a line per request, as stock moto_server


def main(argv: list[str] | None = None) -> None:
    """Run moto's server with flowdrop's Step Functions fixes."""
    apply_patches()
    apply_callback_patches()
    apply_batch_patches()
    apply_lambda_patches()
    apply_state_error_patches()
    apply_speed_patches()
    apply_request_speed_patches()
    if os.environ.get(REQUEST_LOG_ENV) != "1":
        # werkzeug logs a line per request to moto.log: about a tenth of moto's
        # CPU in a wide foreach. Errors (tracebacks) are still logged.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    state_dir = os.environ.get(STATE_DIR_ENV)
    if state_dir:
        _journal_app(Journal(Path(state_dir)))
    moto_server_main(argv)


def _journal_app(journal: Journal) -> None:
    """moto's main builds its app and hands it to werkzeug's run_simple: wrap it there."""
    apply_journal_patches()
    stock_run_simple = moto.server.run_simple

    def run_simple(host: str, port: int, app: Any, **kwargs: Any) -> None:
        stock_run_simple(host, port, journal.wrap(app), **kwargs)

    moto.server.run_simple = run_simple
    # moto exits on SIGTERM through sys.exit: the last look at the executions happens then.
    atexit.register(lambda: journal.recording and journal.snapshot())


if __name__ == "__main__":
    main()
