"""The compute backends a Task state can run on, named once.

Owns: the backend names the manifest, the command line, the compiler and the
deployer's settings accept, the default (Batch, as in the seed), and which
one a running task is on, read from the environment it is given. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

BATCH, LAMBDA, WORKER = "batch", "lambda", "worker"
BACKENDS = (BATCH, LAMBDA, WORKER)
DEFAULT_BACKEND = BATCH

# Set by the embedded stack's task worker in every task it runs; Batch and Lambda say it themselves.
WORKER_ENV = "FLOWDROP_TASK_BACKEND"


def task_backend(environ: Mapping[str, str]) -> str:
    """Which backend runs this process's task, from its environment: what AWS sets in a Batch job
    (AWS_BATCH_JOB_ID) and a Lambda function (AWS_LAMBDA_FUNCTION_NAME), the worker's WORKER_ENV; else "local"."""
    if environ.get(WORKER_ENV) in BACKENDS:
        return environ[WORKER_ENV]
    if environ.get("AWS_BATCH_JOB_ID"):
        return BATCH
    if environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return LAMBDA
    return "local"
