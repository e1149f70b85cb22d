"""The job record LFS polls, in DynamoDB: one header item per sync plus one receipt item per subscription,
so a job of any size stays within DynamoDB's item limit and one subscription's receipt can be replaced
on its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from limio_sync.jobs import job_failure_notification, summarize
from limio_sync.models import JobFailure, JobStatus, SubscriptionResult, SyncJob
from limio_sync.stores import aws

HEADER = "JOB"
RECEIPT_PREFIX = "SUB#"
BY_SUBSCRIPTION_INDEX = "bySubscription"
RETENTION = dt.timedelta(days=90)


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    """DynamoDB returns numbers as Decimal; the models want ints."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value.__class__.__name__ == "Decimal":
        return int(value) if value == int(value) else float(value)
    return value


def _without_nones(data: dict) -> dict:
    return {k: v for k, v in data.items() if v is not None}


class JobStore:
    def __init__(self, table_name: str, table: Any | None = None):
        self._table = table or aws.resource("dynamodb").Table(table_name)

    def create(self, job: SyncJob) -> None:
        header = _without_nones(job.model_dump(mode="json", exclude={"subscriptions"}))
        header.update(itemKey=HEADER, expiresAt=int((dt.datetime.now(dt.UTC) + RETENTION).timestamp()))
        with aws.store_errors("The job store"):
            self._table.put_item(Item=header, ConditionExpression=Attr("syncId").not_exists())

    def get(self, sync_id: str) -> SyncJob | None:
        items = self._query(sync_id)
        header = next((i for i in items if i["itemKey"] == HEADER), None)
        if header is None:
            return None
        receipts = sorted(
            (SubscriptionResult.model_validate(_strip_keys(i, "syncId", "recordedAt")) for i in items if i["itemKey"].startswith(RECEIPT_PREFIX)),
            key=lambda r: r.subscriptionNumber,
        )
        return SyncJob.model_validate({**_strip_keys(header), "subscriptions": [r.model_dump() for r in receipts]})

    def record_plan(self, sync_id: str, total: int) -> None:
        """Let pollers see how many subscriptions are being synced while the job runs."""
        with aws.store_errors("The job store"), _ignore_condition_failure():
            self._table.update_item(
                Key={"syncId": sync_id, "itemKey": HEADER},
                UpdateExpression="SET #total = :total",
                ConditionExpression=Attr("status").eq(JobStatus.RUNNING.value),
                ExpressionAttributeNames={"#total": "total"},
                ExpressionAttributeValues={":total": total},
            )

    def complete(self, sync_id: str, results: list[SubscriptionResult]) -> SyncJob:
        """Store every receipt (each is also the subscription's audit-trail entry for this sync), then the
        terminal status computed from all of them."""
        recorded_at = utc_now()
        with aws.store_errors("The job store"), self._table.batch_writer(overwrite_by_pkeys=["syncId", "itemKey"]) as batch:
            for result in results:
                batch.put_item(
                    Item={
                        **_without_nones(result.model_dump(mode="json")),
                        "syncId": sync_id,
                        "itemKey": RECEIPT_PREFIX + result.subscriptionNumber,
                        "recordedAt": recorded_at,
                        "expiresAt": int((dt.datetime.now(dt.UTC) + RETENTION).timestamp()),
                    }
                )
        status, counts, failed, notification = summarize(results)
        with aws.store_errors("The job store"):
            self._table.update_item(
                Key={"syncId": sync_id, "itemKey": HEADER},
                UpdateExpression=(
                    "SET #status = :status, #total = :total, counts = :counts, failedSubscriptions = :failed, "
                    "notification = :notification, finishedAt = :finished"
                ),
                ConditionExpression=Attr("syncId").exists(),
                ExpressionAttributeNames={"#status": "status", "#total": "total"},
                ExpressionAttributeValues={
                    ":status": status.value,
                    ":total": len(results),
                    ":counts": counts,
                    ":failed": failed,
                    ":notification": notification,
                    ":finished": utc_now(),
                },
            )
        job = self.get(sync_id)
        assert job is not None
        return job

    def fail(self, sync_id: str, failure: JobFailure) -> bool:
        """End a still-running job FAILED with its reason. False if the job had already ended."""
        with aws.store_errors("The job store"), _ignore_condition_failure() as outcome:
            self._table.update_item(
                Key={"syncId": sync_id, "itemKey": HEADER},
                UpdateExpression="SET #status = :failed, #error = :error, notification = :notification, finishedAt = :finished",
                ConditionExpression=Attr("status").eq(JobStatus.RUNNING.value),
                ExpressionAttributeNames={"#status": "status", "#error": "error"},
                ExpressionAttributeValues={
                    ":failed": JobStatus.FAILED.value,
                    ":error": failure.model_dump(mode="json"),
                    ":notification": job_failure_notification(failure),
                    ":finished": utc_now(),
                },
            )
        return not outcome.condition_failed

    def receipts_for(self, subscription_number: str, limit: int = 100) -> list[dict]:
        """The audit trail of one subscription: its receipt from each sync, newest first."""
        with aws.store_errors("The job store"):
            page = self._table.query(
                IndexName=BY_SUBSCRIPTION_INDEX,
                KeyConditionExpression=Key("subscriptionNumber").eq(subscription_number),
                ScanIndexForward=False,
                Limit=limit,
            )
        return [_strip_keys(_plain(item)) for item in page.get("Items", [])]

    def _query(self, sync_id: str) -> list[dict]:
        items: list[dict] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("syncId").eq(sync_id), "ConsistentRead": True}
        with aws.store_errors("The job store"):
            while True:
                page = self._table.query(**kwargs)
                items.extend(_plain(i) for i in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return items
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _strip_keys(item: dict, *extra: str) -> dict:
    return {k: v for k, v in item.items() if k not in {"itemKey", "expiresAt", *extra}}


class _ConditionOutcome:
    condition_failed = False


class _ignore_condition_failure:  # noqa: N801 - used as a context manager, reads like a statement
    """A conditional write that found the job in another state is not an error: report it, don't raise."""

    def __enter__(self) -> _ConditionOutcome:
        self.outcome = _ConditionOutcome()
        return self.outcome

    def __exit__(self, exc_type, exc, tb) -> bool:
        if isinstance(exc, ClientError) and aws.error_code(exc) == "ConditionalCheckFailedException":
            self.outcome.condition_failed = True
            return True
        return False
