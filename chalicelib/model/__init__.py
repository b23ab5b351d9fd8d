"""The pure vocabulary every layer shares: frozen data and pure functions, no I/O, no clock.

  graph.py        node types, Node, Graph
  reserved.py     FlowSpec's own attribute names (never artifacts)
  parameters.py   ParameterSpec and checking values given for parameters
  decorators.py   Decorator, Metaflow's defaults, argument rules, --with specs
  task.py         task ids, TaskPayload, a task's output to Step Functions
  runs.py         run ids (`sfn-`), execution statuses, run.json
  deployments.py  deployment record statuses
  backends.py     compute backends (batch, lambda, worker) and the default
  layout.py       the datastore's key layout
  names.py        AWS resource names and ARNs (alias, rules, executions, package keys)
  state_names.py  the grammar of state names in compiled state machines
  schedule.py     @schedule -> EventBridge expression and time zone; fire times
  cron.py         EventBridge's cron and rate grammar, checked by AWS's rules
  excerpts.py     how untrusted input is quoted in errors (short, whatever its size)
  version.py      flowdrop's version
"""
