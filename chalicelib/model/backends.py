"""The compute backends a Task state can run on, named once.

Owns: the backend names the manifest, the command line, the compiler and the
deployer's settings accept, and the default (Batch, as in the seed). Pure.
"""

from __future__ import annotations

BATCH, LAMBDA, WORKER = "batch", "lambda", "worker"
BACKENDS = (BATCH, LAMBDA, WORKER)
DEFAULT_BACKEND = BATCH
