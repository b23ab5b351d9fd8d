"""moto, the embedded stack's AWS: started as a server with flowdrop's pinned patches.

  server.py            start moto's server on loopback and wait until it answers
  main.py              the server process: apply the patches, then moto's own entry point
  startup.py           a faster start (shared botocore loader, lazy EC2 offerings)
  compat.py            Step Functions fixes (StartExecution on aliases and versions, ...), each with a canary
  callbacks.py         task-token callbacks for retried tasks, with canaries
  batch_jobs.py        Batch jobs run as local processes instead of Docker containers
  lambda_functions.py  Lambda invokes run as local processes instead of Docker containers
  state_errors.py      a Map iteration's or Parallel branch's `States.*` error kept as it is
  speed.py, speed_requests.py   CPU fixes to the interpreter and the per-request path
  journal.py, executions.py     the durable stack: calls journalled, executions snapshotted
"""
