"""moto, the embedded stack's AWS: started as a server with flowdrop's pinned patches.

  server.py     start moto's server on loopback and wait until it answers
  main.py       the server process: apply the patches, then moto's own entry point
  compat.py     Step Functions fixes (StartExecution on aliases, timeouts, ...), each with a canary
  callbacks.py  task-token callbacks for retried tasks, with canaries
"""
