"""FlowSpec's own attribute names: what a step's `self.x` can never be.

Owns: the one set the parser (it refuses them), the runtime (it never stores
them) and FlowSpec share. Its own module so that `import flowdrop` does not
load the graph model (Node, Graph) to learn seven names. Pure.
"""

FLOWSPEC_ATTRIBUTES = frozenset({"next", "merge_artifacts", "input", "index", "foreach_stack", "name", "script_name"})
