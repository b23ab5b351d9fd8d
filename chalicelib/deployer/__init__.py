"""The deployer: what the Chalice app's Lambdas do (app.py only wires events to these).

  settings.py    DeployerSettings, read once from the environment
  names.py       every AWS resource name and ARN (alias, rules, executions, keys)
  clients.py     the boto3 clients bundle; AWS errors -> DeployError
  candidate.py   untrusted package -> validated Candidate (pure)
  plan.py        live state + wanted state -> actions (pure); execute_plan runs them
  records.py     DeploymentRecord, Release, the DynamoDB deployments table
  deploy.py      deploy_package: fetch, check, plan, execute, record
  sqs_events.py  SQS batch of S3 notifications, partial failures, idempotency
  schedule.py    start_scheduled_run: one run per schedule tick
  trigger.py     trigger_run, list_runs, run_status
  flows.py       list_flows, describe_flow, get_deployment, rollback, delete_flow
  auth.py        bearer tokens against sha256 digests
  api.py         errors -> HTTP status and JSON body
"""
