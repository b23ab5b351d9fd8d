"""app.py imported in this process: what importing it leaves behind, without AWS.

The handlers end to end on a moto server, and app.py in fresh interpreters:
tests/functional/test_app.py.
"""

from __future__ import annotations

import app  # noqa: F401  (imported for what importing it does to logging)


def test_deployer_info_logs_are_not_muted_by_chalice():
    # In a fresh interpreter: other tests in this process may have set flowdrop's log level since the import.
    import subprocess
    import sys
    from pathlib import Path

    probe = ("import logging, app; library = logging.getLogger('flowdrop.deployer.deploy'); "
             "print(library.isEnabledFor(logging.INFO), logging.getLogger('flowdrop').propagate)")
    env = {k: v for k, v in __import__("os").environ.items() if k != "FLOWDROP_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=Path(__file__).resolve().parents[2], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]
