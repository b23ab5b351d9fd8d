"""`flowdrop.metaflow_current`: where Metaflow's code imports `current` from (`from metaflow.metaflow_current import current`).

Owns nothing of its own: it re-exports current.py's `current` and `Current`.
"""

from flowdrop.current import Current, current

__all__ = ["Current", "current"]
