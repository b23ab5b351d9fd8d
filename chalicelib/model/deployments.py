"""What can become of an uploaded package: the deployment statuses, named once.

Owns: the statuses of a deployment record (the deployer writes them, the
uploader and the operator commands wait for and print them) and which of
them end the uploader's wait. Pure.
"""

from __future__ import annotations

ACCEPTED, FAILED, SUPERSEDED, DUPLICATE, ROLLBACK = "ACCEPTED", "FAILED", "SUPERSEDED", "DUPLICATE", "ROLLBACK"
STATUSES = (ACCEPTED, FAILED, SUPERSEDED, DUPLICATE, ROLLBACK)
# A package's record with one of these is final: the uploader stops waiting.
FINAL_STATUSES = (ACCEPTED, FAILED, SUPERSEDED, DUPLICATE)
