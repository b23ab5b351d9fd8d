"""app.py imported in this process: what importing it leaves behind, without AWS.

The handlers end to end on a moto server, and app.py in fresh interpreters:
tests/functional/test_app.py.
"""

from __future__ import annotations

import app  # noqa: F401  (imported for what importing it does to logging)


def test_deployer_info_logs_are_not_muted_by_chalice():
    import logging


    library = logging.getLogger("flowdrop.deployer.deploy")
    assert library.isEnabledFor(logging.INFO)
    assert logging.getLogger("flowdrop").propagate
