"""The deployer: what runs in Lambda. app.py is the Chalice app; every other module is a service it calls.

  app.py          the Chalice app: routes and event handlers, a few lines each
  settings.py     DeployerSettings, read once from the environment
  clients.py      the boto3 clients bundle; AWS errors -> DeployError
  candidate.py    untrusted package -> validated Candidate (pure)
  plan.py         live state + wanted state -> actions (pure)
  publish.py      what is live (read_live) and actions -> AWS calls (execute_plan)
  records.py      DeploymentRecord, Release, the DynamoDB deployments table
  deploy.py       deploy_package: fetch, check, plan, execute, record
  sqs_events.py   SQS batch of S3 notifications, partial failures, idempotency
  schedule.py     start_scheduled_run: one run per schedule tick
  trigger.py      trigger_run: start a run of the production version
  runs.py         list_runs, run_status: reading runs from Step Functions
  step_states.py  execution histories -> per-step states (pure)
  flows.py        list_flows, describe_flow, get_deployment, rollback, delete_flow
  auth.py         bearer tokens against sha256 digests
"""
