"""DeploymentStore: the only code that reads or writes the deployments table (DynamoDB).

Owns: the table layout below and conditional writes that keep production
moving forward only. Does not own: the records' shapes (records.py) or
deciding what to record (deploy.py, flows.py).

Table layout (key: `flow` = state machine name, `sk`):
  production            the Release behind the `production` alias, plus
                        `newest_uploaded`, the newest upload time (S3's
                        LastModified) ever accepted: a late, older package
                        never moves the alias. The server's time, not the
                        manifest's `created`, which the uploader's clock wrote.
  version#000007        the Release published as version 7
  deployment#<sha256>   the latest record for that code (what the uploader polls)
  history#<time>#<sha>  every record, kept forever (also rollbacks)
  queued#<tick>         a schedule tick waiting for the flow's scheduled runs to end (overlap "queue")
  alert#<execution>#<status>#<target digest>   an alert claimed for delivery (one per run end and target)
  arrival#<key>         the latest event of a multi-event trigger's key (event name or flow:<upstream>)
  event#<time>#<id>     what a trigger event did: started, waiting, duplicate or rejected (with the reason)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flowdrop.deployer.clients import AWS_ERRORS, aws_error, error_code
from flowdrop.deployer.records import PRODUCTION, DeploymentRecord, Production, Release


def _production(item: Mapping[str, Any]) -> Production:
    newest = item.get("newest_uploaded") or {"S": ""}  # "" sorts before every time: a pointer from before uploads
    return Production(Release.from_dict(json.loads(item["data"]["S"])), newest["S"])


def _version_key(version: int) -> str:
    return f"version#{version:06d}"


class DeploymentStore:
    """The deployments table, through a boto3 DynamoDB client."""

    def __init__(self, client: Any, table: str):
        self._client = client
        self._table = table

    # -- records ---------------------------------------------------------------

    def put_record(self, record: DeploymentRecord) -> None:
        """Write `record` as the latest for its code and into the history."""
        data = json.dumps(record.to_dict(), sort_keys=True)
        item = {"flow": {"S": record.flow}, "data": {"S": data}, "status": {"S": record.status}}
        self._call("PutItem", self._client.put_item, TableName=self._table,
                   Item={**item, "sk": {"S": f"deployment#{record.code_sha256}"}})
        history = f"history#{record.deployed_at}#{record.code_sha256}"
        self._call("PutItem", self._client.put_item, TableName=self._table, Item={**item, "sk": {"S": history}})

    def get_record(self, flow: str, sha: str) -> DeploymentRecord | None:
        """The latest record for code `sha` of `flow`, if any."""
        data = self._get(flow, f"deployment#{sha}")
        return DeploymentRecord.from_dict(data) if data is not None else None

    def history(self, flow: str) -> list[DeploymentRecord]:
        """Every record of `flow`, oldest first."""
        return [DeploymentRecord.from_dict(d) for d in self._query(flow, "history#")]

    # -- releases --------------------------------------------------------------

    def put_release(self, release: Release) -> None:
        """Remember a published version (rollback needs its ARN: moto cannot list versions)."""
        item = {"flow": {"S": release.flow}, "sk": {"S": _version_key(release.version)},
                "data": {"S": json.dumps(release.to_dict(), sort_keys=True)}}
        self._call("PutItem", self._client.put_item, TableName=self._table, Item=item)

    def get_release(self, flow: str, version: int) -> Release | None:
        """The release published as `version`, if recorded."""
        data = self._get(flow, _version_key(version))
        return Release.from_dict(data) if data is not None else None

    def releases(self, flow: str) -> list[Release]:
        """Every recorded version of `flow`, oldest first."""
        return [Release.from_dict(d) for d in self._query(flow, "version#")]

    # -- production pointer ----------------------------------------------------

    def production(self, flow: str) -> Production | None:
        """The production pointer of `flow` (strongly consistent), or None."""
        response = self._call("GetItem", self._client.get_item, TableName=self._table, ConsistentRead=True,
                              Key={"flow": {"S": flow}, "sk": {"S": PRODUCTION}})
        item = response.get("Item")
        if not item:
            return None
        return _production(item)

    def claim_production(self, release: Release) -> bool:
        """Point production at `release` unless a newer package was accepted meanwhile; False if one was.

        The condition makes "never move backwards" hold when two deploys of
        one flow race in two Lambda containers.
        """
        item = self._production_item(release, release.uploaded)
        try:
            # A pointer written before upload times were kept has no newest_uploaded: any upload may claim it.
            self._client.put_item(
                TableName=self._table, Item=item,
                ConditionExpression="attribute_not_exists(sk) OR attribute_not_exists(newest_uploaded) "
                                    "OR newest_uploaded <= :uploaded",
                ExpressionAttributeValues={":uploaded": {"S": release.uploaded}},
            )
        except AWS_ERRORS as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return False
            raise aws_error("DynamoDB", "PutItem", f"table {self._table!r}", err) from err
        return True

    def restore_production(self, release: Release, newest_uploaded: str) -> None:
        """Point production at an earlier release (rollback), keeping the newest accepted upload time."""
        self._call("PutItem", self._client.put_item, TableName=self._table,
                   Item=self._production_item(release, newest_uploaded))

    def clear_production(self, flow: str) -> None:
        """Forget the production pointer (the flow was deleted; records stay)."""
        self._call("DeleteItem", self._client.delete_item, TableName=self._table,
                   Key={"flow": {"S": flow}, "sk": {"S": PRODUCTION}})

    def productions(self) -> list[Production]:
        """Every flow's production pointer, by flow name."""
        out: list[Production] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "sk = :sk",
            "ExpressionAttributeValues": {":sk": {"S": PRODUCTION}},
        }
        while True:
            response = self._call("Scan", self._client.scan, **kwargs)
            for item in response.get("Items", []):
                out.append(_production(item))
            if "LastEvaluatedKey" not in response:
                return sorted(out, key=lambda p: p.release.flow)
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # -- queued schedule ticks ---------------------------------------------------

    def queue_tick(self, flow: str, tick: str) -> None:
        """Remember `tick` (ISO 8601 UTC) until no scheduled run of `flow` is going."""
        self._call("PutItem", self._client.put_item, TableName=self._table,
                   Item={"flow": {"S": flow}, "sk": {"S": f"queued#{tick}"}, "data": {"S": json.dumps(tick)}})

    def queued_ticks(self, flow: str) -> list[str]:
        """The queued ticks of `flow`, oldest first."""
        return [str(tick) for tick in self._query(flow, "queued#")]

    def remove_queued_tick(self, flow: str, tick: str) -> bool:
        """Take `tick` off the queue; False if someone else already did."""
        try:
            self._client.delete_item(TableName=self._table, Key={"flow": {"S": flow}, "sk": {"S": f"queued#{tick}"}},
                                     ConditionExpression="attribute_exists(sk)")
        except AWS_ERRORS as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return False
            raise aws_error("DynamoDB", "DeleteItem", f"table {self._table!r}", err) from err
        return True

    # -- alerts sent ------------------------------------------------------------------

    def claim_alert(self, flow: str, key: str, data: Mapping[str, Any]) -> bool:
        """Claim alert `key` of `flow` for delivery; False if it was claimed before (a redelivered event)."""
        item = {"flow": {"S": flow}, "sk": {"S": f"alert#{key}"}, "data": {"S": json.dumps(data, sort_keys=True)}}
        try:
            self._client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(sk)")
        except AWS_ERRORS as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return False
            raise aws_error("DynamoDB", "PutItem", f"table {self._table!r}", err) from err
        return True

    def release_alert(self, flow: str, key: str) -> None:
        """Give up a claim whose delivery failed, so the event's redelivery tries again."""
        self._call("DeleteItem", self._client.delete_item, TableName=self._table,
                   Key={"flow": {"S": flow}, "sk": {"S": f"alert#{key}"}})


    # -- trigger events ------------------------------------------------------------

    def put_arrival(self, flow: str, key: str, arrival: Mapping[str, Any]) -> None:
        """Remember the latest event that arrived for `key` of a multi-event trigger."""
        self._call("PutItem", self._client.put_item, TableName=self._table, Item={
            "flow": {"S": flow}, "sk": {"S": f"arrival#{key}"}, "data": {"S": json.dumps(arrival, sort_keys=True)}})

    def arrivals(self, flow: str) -> list[dict[str, Any]]:
        """Every remembered arrival of `flow`'s trigger events."""
        return self._query(flow, "arrival#")

    def clear_arrival(self, flow: str, key: str, event_id: str) -> None:
        """Forget the arrival of `key` if it is still event `event_id` (a newer one stays)."""
        try:
            self._client.delete_item(TableName=self._table, Key={"flow": {"S": flow}, "sk": {"S": f"arrival#{key}"}},
                                     ConditionExpression="contains(#d, :id)", ExpressionAttributeNames={"#d": "data"},
                                     ExpressionAttributeValues={":id": {"S": json.dumps(event_id)}})
        except AWS_ERRORS as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise aws_error("DynamoDB", "DeleteItem", f"table {self._table!r}", err) from err

    def put_event_outcome(self, flow: str, handled_at: str, event_id: str, outcome: Mapping[str, Any]) -> None:
        """Record what a trigger event did (kept, like deployment history)."""
        self._call("PutItem", self._client.put_item, TableName=self._table, Item={
            "flow": {"S": flow}, "sk": {"S": f"event#{handled_at}#{event_id}"},
            "data": {"S": json.dumps(outcome, sort_keys=True)}})

    def event_outcomes(self, flow: str) -> list[dict[str, Any]]:
        """What every trigger event of `flow` did, oldest first."""
        return self._query(flow, "event#")

    # -- plumbing --------------------------------------------------------------

    def _production_item(self, release: Release, newest_uploaded: str) -> dict[str, Any]:
        return {
            "flow": {"S": release.flow},
            "sk": {"S": PRODUCTION},
            "version": {"N": str(release.version)},
            "newest_uploaded": {"S": newest_uploaded},
            "data": {"S": json.dumps(release.to_dict(), sort_keys=True)},
        }

    def _get(self, flow: str, sk: str) -> dict[str, Any] | None:
        response = self._call("GetItem", self._client.get_item, TableName=self._table, ConsistentRead=True,
                              Key={"flow": {"S": flow}, "sk": {"S": sk}})
        item = response.get("Item")
        return json.loads(item["data"]["S"]) if item else None

    def _query(self, flow: str, prefix: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "flow = :flow AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":flow": {"S": flow}, ":prefix": {"S": prefix}},
            "ConsistentRead": True,
        }
        while True:
            response = self._call("Query", self._client.query, **kwargs)
            out += [json.loads(item["data"]["S"]) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return out
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _call(self, operation: str, method: Any, **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except AWS_ERRORS as err:
            raise aws_error("DynamoDB", operation, f"table {self._table!r}", err) from err
