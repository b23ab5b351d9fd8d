"""Read what flows produced, with Metaflow's client names and semantics.

    from flowdrop import Flow, Run, namespace
    Flow('TrainFlow').latest_run['end'].task['x'].data
    Run('TrainFlow/sfn-1a2b').data.model

Where runs are read (reading.py): the datastore given to set_datastore(),
else the config's `datastore` (default ".flowdrop" in the working
directory). When a run is not found there and the config names a
`production_datastore` (where Step Functions runs, `sfn-...`, keep their
artifacts, on S3), it is looked up there too; listing a flow's runs covers
both, so local and production runs read the same way.

Namespaces, as in Metaflow: a run belongs to namespace N when the "tags"
list of its run.json contains N. Whoever starts a run writes the system
tags: `user:<name>` for every run a person starts (locally or by
`step-functions trigger`) and `production:<token>` for runs of a deployed
flow. The default namespace is `user:<$USER>`. Listing a flow's runs shows
only runs in the current namespace; naming a run outside it raises
MetaflowNamespaceMismatch (NamespaceMismatchError). namespace(None) sees
every run. objects.py holds Metaflow, Flow and Run; step.py Step; task.py
Task and DataArtifact; code.py MetaflowCode (a production run's code
package). Does not own the storage layout (datastore/flow.py) or writing
anything but a run's tags.
"""

from flowdrop.client.code import MetaflowCode
from flowdrop.client.objects import Flow, Metaflow, Run, Step, run_in_storage
from flowdrop.client.reading import default_namespace, get_metadata, get_namespace, metadata, namespace, set_datastore
from flowdrop.client.task import DataArtifact, Metadata, MetaflowData, Task, TaskArtifacts, TaskData
from flowdrop.errors import MissingObjectError, NamespaceMismatchError
from flowdrop.exception import MetaflowNamespaceMismatch, MetaflowNotFound

__all__ = [
    "Metaflow", "Flow", "Run", "Step", "Task", "DataArtifact", "MetaflowCode", "Metadata", "MetaflowData",
    "TaskData", "TaskArtifacts", "namespace", "get_namespace", "default_namespace", "set_datastore", "get_metadata",
    "metadata",
    "MissingObjectError", "NamespaceMismatchError", "MetaflowNotFound", "MetaflowNamespaceMismatch",
]
