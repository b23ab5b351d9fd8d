"""What runs on a user's laptop: the flow's command line, deploying, and the operator's `flowdrop` command.

  flow.py            `python flow.py run|show|resume|step ...`, as Metaflow's
  step_functions.py  `python flow.py step-functions create|trigger|list-runs|delete`
  uploader.py        snapshot, manifest and upload of a code package; waiting for its record
  api_client.py      the deployer's HTTPS API (bearer token or SigV4)
  operator.py        `flowdrop up|demo|flows|runs|status|logs|trigger|rollback|schedule`
  operations.py      task logs, artifacts and schedule firing, for the operator and the demo
  demo.py            `flowdrop demo`: the seed's story on the embedded stack
  exits.py           one way to fail a command: a message and an exit code
"""

