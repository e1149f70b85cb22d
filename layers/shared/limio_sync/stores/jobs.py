"""The job record LFS polls, in DynamoDB: one header item per sync plus one receipt item per subscription,
so a job of any size stays within DynamoDB's item limit and one subscription's receipt can be replaced
on its own."""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from limio_sync.errors import ErrorCode, TransientSyncError
from limio_sync.jobs import AccountFailure, account_failures_error, job_failure_notification, latest_receipts, receipt_from_item, summarize
from limio_sync.models import JobFailure, JobStatus, Outcome, SubscriptionResult, SyncJob
from limio_sync.observability import logger
from limio_sync.retries import RetryEntry, RetryPolicy
from limio_sync.stores import aws

HEADER = "JOB"
RECEIPT_PREFIX = "SUB#"
RETRY_PREFIX = "RETRY#"
PLAN_RETRY = "REPLAN#"  # the retry entry of a job whose planning failed for a transient reason
BATCH_FAILURE_PREFIX = "BATCH#"  # written by the state machine's Catch when a sync task's retries ran out
UNCHANGED_PREFIX = "UNCHANGED#"  # one item per task attempt: its UNCHANGED subscriptions, so they cost no write each
BY_SUBSCRIPTION_INDEX = "bySubscription"
BY_RETRY_DUE_INDEX = "byRetryDue"
BY_CUSTOMER_INDEX = "byCustomer"  # job headers only (the one item with customerKey): a customer's syncs by start
RETRY_QUEUE = "PENDING"
# A new job header carries startCheck until its execution is seen (planning ran, or the sweep found it) or the job
# ends: the sparse byUnconfirmedStart index is what the sweep reads to find jobs whose execution never started.
BY_UNCONFIRMED_START_INDEX = "byUnconfirmedStart"
START_CHECK = "startCheck"
START_CHECK_PENDING = "PENDING"
RETENTION = dt.timedelta(days=90)
IDEMPOTENCY_RETENTION = dt.timedelta(hours=24)
# A customer's running-sync lock outlives the longest execution (the state machine's own timeout) so a lock
# that was never released (a crashed release) stops blocking new syncs on its own.
LOCK_LEASE = dt.timedelta(minutes=20)


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was already used with a different request body."""


@dataclass(frozen=True)
class StartedJob:
    job: SyncJob
    reused: bool


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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
    def __init__(self, table_name: str, table: Any | None = None, *, sleep: Callable[[float], None] = time.sleep):
        self._table = table or aws.resource("dynamodb").Table(table_name)
        self._sleep = sleep

    def start(self, job: SyncJob, *, idempotency_key: str | None = None, request_hash: str = "") -> StartedJob:
        """Record a new RUNNING job, unless the customer already has one running (a repeat click) or the
        Idempotency-Key was seen before: then that job is returned instead. The job, the customer's lock and
        the idempotency record are written in one transaction, so two racing clicks cannot both start."""
        for _ in range(3):
            now = dt.datetime.now(dt.UTC)
            items = self._start_items(job, idempotency_key, request_hash, now)
            try:
                # A click storm on one customer makes these transactions conflict on its lock item: each is tried again
                # after a jittered backoff before the caller is told the store is busy.
                write = functools.partial(self._table.meta.client.transact_write_items, TransactItems=items)
                aws.retry_conflicts(write, "The job store", sleep=self._sleep)
                return StartedJob(job=job, reused=False)
            except ClientError as exc:
                if aws.error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if idempotency_key and len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
                earlier = self._earlier_for_key(idempotency_key, request_hash)
                if earlier:
                    return StartedJob(job=earlier, reused=True)
                continue
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                running = self._running_for(job.customer.key())
                if running and (not idempotency_key or self._remember_key(idempotency_key, request_hash, running.syncId)):
                    return StartedJob(job=running, reused=True)
        raise TransientSyncError("The job store is busy starting syncs for this customer; try again.", code=ErrorCode.STORE_UNAVAILABLE)

    def _start_items(self, job: SyncJob, idempotency_key: str | None, request_hash: str, now: dt.datetime) -> list[dict]:
        name = self._table.name
        header = _without_nones(job.model_dump(mode="json", exclude={"subscriptions"}))
        header.update(itemKey=HEADER, customerKey=job.customer.key(), expiresAt=_epoch(now + RETENTION), **{START_CHECK: START_CHECK_PENDING})
        lock = {"syncId": _lock_key(job.customer.key()), "itemKey": HEADER, "runningSyncId": job.syncId, "leaseUntil": _epoch(now + LOCK_LEASE)}
        items = [
            {"Put": {"TableName": name, "Item": header, "ConditionExpression": "attribute_not_exists(syncId)"}},
            {
                "Put": {
                    "TableName": name,
                    "Item": {**lock, "expiresAt": _epoch(now + LOCK_LEASE)},
                    "ConditionExpression": "attribute_not_exists(syncId) OR leaseUntil < :now",
                    "ExpressionAttributeValues": {":now": _epoch(now)},
                }
            },
        ]
        if idempotency_key:
            record = _idempotency_record(idempotency_key, request_hash, job.syncId, now)
            items.append({"Put": {"TableName": name, "Item": record, "ConditionExpression": "attribute_not_exists(syncId)"}})
        return items

    def _remember_key(self, idempotency_key: str, request_hash: str, sync_id: str) -> bool:
        """A click coalesced into the customer's running sync got that sync: its key must replay it too. False if
        the key was recorded meanwhile (the caller's next attempt then replays or rejects it)."""
        record = _idempotency_record(idempotency_key, request_hash, sync_id, dt.datetime.now(dt.UTC))
        with aws.store_errors("The job store"), _ignore_condition_failure() as outcome:
            self._table.put_item(Item=record, ConditionExpression=Attr("syncId").not_exists())
        return not outcome.condition_failed

    def _earlier_for_key(self, idempotency_key: str, request_hash: str) -> SyncJob | None:
        record = self._get_item(_idempotency_key(idempotency_key))
        if record is None:
            return None
        if record.get("requestHash") != request_hash:
            raise IdempotencyKeyReused(idempotency_key)
        return self.get(record["firstSyncId"])

    def _running_for(self, customer_key: str) -> SyncJob | None:
        """The customer's running sync; a lock left by a job that has ended is cleared."""
        lock = self._get_item(_lock_key(customer_key))
        if lock is None:
            return None
        running = self.get(lock["runningSyncId"])
        if running and running.status is JobStatus.RUNNING:
            return running
        self._release_lock(customer_key, lock["runningSyncId"])
        return None

    def _release_lock(self, customer_key: str, sync_id: str) -> None:
        with aws.store_errors("The job store"), _ignore_condition_failure():
            self._table.delete_item(
                Key={"syncId": _lock_key(customer_key), "itemKey": HEADER},
                ConditionExpression=Attr("runningSyncId").eq(sync_id),
            )

    def _get_item(self, partition: str) -> dict | None:
        with aws.store_errors("The job store"):
            item = self._table.get_item(Key={"syncId": partition, "itemKey": HEADER}, ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    def poll(self, sync_id: str) -> SyncJob | None:
        """What LFS polls: while the job runs, its header alone (one read, whatever the customer's size); once it
        has ended, the whole job with every receipt."""
        header = self._get_item(sync_id)
        if header is None or header.get("status") != JobStatus.RUNNING.value:
            return self.get(sync_id)
        return SyncJob.model_validate(_strip_keys(header, *_HEADER_ONLY))

    # ------------------------------------------------------------ jobs whose execution never started

    def awaiting_execution(self, recorded_before: dt.datetime, limit: int = 100) -> list[str]:
        """Sync ids of RUNNING jobs recorded before `recorded_before` whose execution has not been seen yet."""
        bound = recorded_before.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with aws.store_errors("The job store"):
            page = self._table.query(
                IndexName=BY_UNCONFIRMED_START_INDEX,
                KeyConditionExpression=Key(START_CHECK).eq(START_CHECK_PENDING) & Key("startedAt").lt(bound),
                Limit=limit,
            )
        return [item["syncId"] for item in page.get("Items", [])]

    def confirm_started(self, sync_id: str) -> None:
        """The job's execution exists: it leaves the sweep's index (EventBridge reports how the execution ends)."""
        with aws.store_errors("The job store"), _ignore_condition_failure():
            self._table.update_item(
                Key={"syncId": sync_id, "itemKey": HEADER},
                UpdateExpression=f"REMOVE {START_CHECK}",
                ConditionExpression=Attr("syncId").exists(),
            )

    def get(self, sync_id: str) -> SyncJob | None:
        """The whole job. Each receipt's field-by-field `changes` stay out (see `_query`), so the job of a
        10,000-subscription customer stays a few MB, within a Lambda response; a subscription's changes are read
        from its audit trail (`receipts_for`)."""
        items = self._query(sync_id)
        header = next((i for i in items if i["itemKey"] == HEADER), None)
        if header is None:
            return None
        latest = _latest(items)
        receipts = [receipt_from_item(number, latest[number]) for number in sorted(latest)]
        return SyncJob.model_validate({**_strip_keys(header, *_HEADER_ONLY), "subscriptions": [r.model_dump() for r in receipts]})

    def record_plan(self, sync_id: str, total: int, account_failures: Sequence[AccountFailure] = ()) -> None:
        """Let pollers see how many subscriptions are being synced while the job runs, and keep the Zuora accounts
        planning could not read for the job's outcome."""
        with aws.store_errors("The job store"), _ignore_condition_failure():
            self._table.update_item(
                Key={"syncId": sync_id, "itemKey": HEADER},
                # Planning runs inside the execution: the job's start is confirmed, the sweep can leave it.
                UpdateExpression=f"SET #total = :total, accountFailures = :failures REMOVE {START_CHECK}",
                ConditionExpression=Attr("status").eq(JobStatus.RUNNING.value),
                ExpressionAttributeNames={"#total": "total"},
                ExpressionAttributeValues={":total": total, ":failures": [f.model_dump(mode="json") for f in account_failures]},
            )

    def count_settled(self, sync_id: str, settled: int) -> None:
        """Progress for pollers: a task adds how many of its subscriptions now have a final outcome, in one atomic
        update of the header (a retried task counts only those its earlier attempts left unsettled). A job that has
        ended keeps its count (complete() set it to the total), so a scheduled retry's tasks do not move it."""
        if not settled:
            return
        try:
            with aws.store_errors("The job store"), _ignore_condition_failure():
                self._table.update_item(
                    Key={"syncId": sync_id, "itemKey": HEADER},
                    UpdateExpression="ADD settled :settled",
                    ConditionExpression=Attr("status").eq(JobStatus.RUNNING.value),
                    ExpressionAttributeValues={":settled": settled},
                )
        except TransientSyncError:  # the receipts are recorded; a progress count missed must not fail the task
            logger.warning("Could not count the task's settled subscriptions in the job's progress", extra={"settled": settled})

    def record_receipts(self, sync_id: str, results: list[SubscriptionResult], *, task: str, attempt: int = 0) -> None:
        """A sync task records its subscriptions' receipts itself, so no state payload carries the results: one
        item per created, updated or failed subscription, and one item for all of the task's UNCHANGED ones
        (per attempt, so a retried task adds to it), so a subscription that did not change costs no write of its
        own."""
        self._put_receipts(sync_id, [result for result in results if result.outcome is not Outcome.UNCHANGED])
        unchanged = {
            result.subscriptionNumber: _without_nones({"zuoraVersion": result.zuoraVersion, "limioId": result.limioId, "message": result.message})
            for result in results
            if result.outcome is Outcome.UNCHANGED
        }
        if unchanged:
            summary = {
                "syncId": sync_id,
                "itemKey": f"{UNCHANGED_PREFIX}{task}#{attempt}",
                "unchanged": unchanged,
                "recordedAt": utc_now(),
                "expiresAt": _epoch(dt.datetime.now(dt.UTC) + RETENTION),
            }
            with aws.store_errors("The job store"):
                self._table.put_item(Item=summary)

    def receipts_of(self, sync_id: str, task: str, numbers: list[str]) -> dict[str, SubscriptionResult]:
        """The latest receipts stored so far for a task's subscriptions, by number (for a retried task)."""
        keys = [{"syncId": sync_id, "itemKey": RECEIPT_PREFIX + number} for number in numbers]
        items = [_plain(i) for i in aws.batch_get(self._table, keys, "The job store")] if keys else []
        with aws.store_errors("The job store"):
            summaries = self._table.query(
                KeyConditionExpression=Key("syncId").eq(sync_id) & Key("itemKey").begins_with(f"{UNCHANGED_PREFIX}{task}#"), ConsistentRead=True
            ).get("Items", [])
        latest = latest_receipts(items, [_plain(s) for s in summaries])
        return {number: receipt_from_item(number, latest[number]) for number in numbers if number in latest}

    def stored_results(self, sync_id: str) -> tuple[dict[str, dict], dict[str, dict]]:
        """The job's latest receipts by subscription number, and the failures the Map's Catch recorded by task."""
        items = self._query(sync_id)
        failed_batches = {i["itemKey"].removeprefix(BATCH_FAILURE_PREFIX): i for i in items if i["itemKey"].startswith(BATCH_FAILURE_PREFIX)}
        return _latest(items), failed_batches

    def _put_receipts(self, sync_id: str, results: list[SubscriptionResult]) -> None:
        recorded_at = utc_now()
        expires_at = _epoch(dt.datetime.now(dt.UTC) + RETENTION)
        with aws.store_errors("The job store"), self._table.batch_writer(overwrite_by_pkeys=["syncId", "itemKey"]) as batch:
            for result in results:
                item = {**_without_nones(result.model_dump(mode="json")), "recordedAt": recorded_at, "expiresAt": expires_at}
                batch.put_item(Item={**item, "syncId": sync_id, "itemKey": RECEIPT_PREFIX + result.subscriptionNumber})

    def complete(
        self, sync_id: str, every: list[SubscriptionResult], rewrites: list[SubscriptionResult], consumed_batch_failures: Sequence[str] = ()
    ) -> SyncJob:
        """End the job: store the receipts gathering had to write (`rewrites`: failures of tasks whose retries
        ran out, missing ones), drop the raw task failures they were made from, then write the status, counts
        and notification computed from `every` receipt of the job (rewrites included). A scheduled retry's tasks
        have replaced the receipts of the subscriptions it re-synced, so its completion recomputes the job's
        status and a healed failure disappears from the next poll."""
        self._put_receipts(sync_id, rewrites)
        if consumed_batch_failures:
            with aws.store_errors("The job store"), self._table.batch_writer() as batch:
                for batch_id in consumed_batch_failures:
                    batch.delete_item(Key={"syncId": sync_id, "itemKey": BATCH_FAILURE_PREFIX + batch_id})
        every = sorted(every, key=lambda r: r.subscriptionNumber)
        account_failures = [AccountFailure.model_validate(f) for f in (self._get_item(sync_id) or {}).get("accountFailures") or []]
        status, counts, failed, notification = summarize(every, account_failures)
        error = account_failures_error(account_failures)
        set_error = ", #error = :error" if error else ""
        values = {":error": error.model_dump(mode="json")} if error else {}
        try:
            with aws.store_errors("The job store"):
                header = self._table.update_item(
                    Key={"syncId": sync_id, "itemKey": HEADER},
                    UpdateExpression=(
                        "SET #status = :status, #total = :total, counts = :counts, failedSubscriptions = :failed, "
                        f"settled = :total, notification = :notification, finishedAt = :finished{set_error} "
                        f"REMOVE {'' if error else '#error, '}{START_CHECK}"
                    ),
                    ConditionExpression=Attr("syncId").exists(),
                    ExpressionAttributeNames={"#status": "status", "#total": "total", "#error": "error"},
                    ExpressionAttributeValues={
                        ":status": status.value,
                        ":total": len(every),
                        ":counts": counts,
                        ":failed": failed,
                        ":notification": notification,
                        ":finished": utc_now(),
                        **values,
                    },
                    ReturnValues="ALL_NEW",
                )["Attributes"]
        except ClientError as exc:
            if aws.error_code(exc) != "ConditionalCheckFailedException":
                raise
            raise TransientSyncError(f"The job record of sync {sync_id} is missing", code=ErrorCode.STORE_UNAVAILABLE) from exc
        header = _plain(header)
        if header.get("customerKey"):
            self._release_lock(header["customerKey"], sync_id)
        return SyncJob.model_validate({**_strip_keys(header, *_HEADER_ONLY), "subscriptions": [r.model_dump() for r in every]})

    def fail(self, sync_id: str, failure: JobFailure) -> bool:
        """End a still-running job FAILED with its reason. False if the job had already ended."""
        with aws.store_errors("The job store"), _ignore_condition_failure() as outcome:
            reply = self._table.update_item(
                Key={"syncId": sync_id, "itemKey": HEADER},
                UpdateExpression=f"SET #status = :failed, #error = :error, notification = :notification, finishedAt = :finished REMOVE {START_CHECK}",
                ConditionExpression=Attr("status").eq(JobStatus.RUNNING.value),
                ExpressionAttributeNames={"#status": "status", "#error": "error"},
                ExpressionAttributeValues={
                    ":failed": JobStatus.FAILED.value,
                    ":error": failure.model_dump(mode="json"),
                    ":notification": job_failure_notification(failure),
                    ":finished": utc_now(),
                },
                ReturnValues="ALL_NEW",
            )
            if reply["Attributes"].get("customerKey"):
                self._release_lock(reply["Attributes"]["customerKey"], sync_id)
        return not outcome.condition_failed

    # ------------------------------------------------------------ scheduled retries

    def queue_retries(self, job: SyncJob, results: list[SubscriptionResult], policy: RetryPolicy, now: dt.datetime) -> int:
        """Queue each subscription whose failure was transient for its first scheduled attempt."""
        queued = 0
        for result in results:
            if result.failed and result.retryable:
                entry = RetryEntry(
                    syncId=job.syncId,
                    subscriptionNumber=result.subscriptionNumber,
                    customer=job.customer,
                    attempts=0,
                    nextAttemptAt=_iso(policy.next_attempt_at(0, now)),
                    errorCode=result.errorCode,
                    message=result.message,
                )
                self._put_retry(entry)
                queued += 1
        return queued

    def due_retries(self, now: dt.datetime, limit: int = 200) -> list[RetryEntry]:
        with aws.store_errors("The job store"):
            page = self._table.query(
                IndexName=BY_RETRY_DUE_INDEX,
                KeyConditionExpression=Key("retryQueue").eq(RETRY_QUEUE) & Key("nextAttemptAt").lte(_iso(now)),
                Limit=limit,
            )
        return [RetryEntry.model_validate(_plain(item)) for item in page.get("Items", [])]

    def claim_retry(self, entry: RetryEntry, now: dt.datetime, lease: dt.timedelta) -> bool:
        """Take a due entry for one retry run; a second scheduler run finds it claimed and leaves it."""
        with aws.store_errors("The job store"), _ignore_condition_failure() as outcome:
            self._table.update_item(
                Key={"syncId": entry.syncId, "itemKey": _retry_key(entry)},
                UpdateExpression="SET claimedUntil = :until",
                ConditionExpression="attribute_exists(syncId) AND (attribute_not_exists(claimedUntil) OR claimedUntil < :now)",
                ExpressionAttributeValues={":until": _iso(now + lease), ":now": _iso(now)},
            )
        return not outcome.condition_failed

    def settle_retries(self, sync_id: str, results: list[SubscriptionResult], policy: RetryPolicy, now: dt.datetime) -> list[RetryEntry]:
        """After a retry run: healed or permanently failed subscriptions leave the queue; transient failures
        wait longer; those out of attempts leave the queue and are returned for the dead-letter queue."""
        exhausted = []
        for result in results:
            key = {"syncId": sync_id, "itemKey": RETRY_PREFIX + result.subscriptionNumber}
            with aws.store_errors("The job store"):
                item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
            if item is None:
                continue
            entry = RetryEntry.model_validate(_plain(item))
            attempts = entry.attempts + 1
            if result.failed and result.retryable and not policy.exhausted(attempts):
                update = {"attempts": attempts, "nextAttemptAt": _iso(policy.next_attempt_at(attempts, now))}
                self._put_retry(entry.model_copy(update={**update, "errorCode": result.errorCode, "message": result.message}))
                continue
            with aws.store_errors("The job store"):
                self._table.delete_item(Key=key)
            if result.failed and result.retryable:
                exhausted.append(entry.model_copy(update={"attempts": attempts, "errorCode": result.errorCode, "message": result.message}))
        return exhausted

    def requeue(self, entry: RetryEntry, now: dt.datetime) -> None:
        """Put a dead-lettered failure back in the queue for an attempt now, with a fresh attempt count."""
        self._put_retry(entry.model_copy(update={"attempts": 0, "nextAttemptAt": _iso(now)}))

    def _put_retry(self, entry: RetryEntry) -> None:
        item = {
            **_without_nones(entry.model_dump(mode="json")),
            "customer": entry.customer.model_dump(exclude_none=True),
            "syncId": entry.syncId,
            "itemKey": _retry_key(entry),
            "retryQueue": RETRY_QUEUE,
            "expiresAt": _epoch(dt.datetime.now(dt.UTC) + RETENTION),
        }
        with aws.store_errors("The job store"):
            self._table.put_item(Item=item)

    def queue_replan(self, sync_id: str, failure: JobFailure, policy: RetryPolicy, now: dt.datetime) -> RetryEntry | None:
        """A job whose planning failed for a transient reason waits for its plan to be retried by the schedule,
        with the same backoff and cap as a subscription: `replanAttempts` scheduled plans were already made.
        Returns the entry when it is out of attempts (not queued: for the dead-letter queue)."""
        header = self._get_item(sync_id)
        if header is None:
            return None
        attempts = int(header.get("replanAttempts") or 0)
        entry = RetryEntry(
            syncId=sync_id,
            customer=header["customer"],
            attempts=attempts,
            nextAttemptAt=_iso(policy.next_attempt_at(attempts, now)),
            errorCode=failure.errorCode,
            message=failure.message,
        )
        if policy.exhausted(attempts):
            return entry
        self._put_retry(entry)
        return None

    def reopen_for_replan(self, entry: RetryEntry) -> None:
        """Before its plan is retried, the job runs again (so its failure can be recorded again, or its outcome
        replace it) and its retry entry leaves the queue."""
        with aws.store_errors("The job store"):
            self._table.update_item(
                Key={"syncId": entry.syncId, "itemKey": HEADER},
                UpdateExpression="SET #status = :running, replanAttempts = :attempts REMOVE #error, finishedAt, notification, settled",
                ConditionExpression=Attr("syncId").exists(),
                ExpressionAttributeNames={"#status": "status", "#error": "error"},
                ExpressionAttributeValues={":running": JobStatus.RUNNING.value, ":attempts": entry.attempts + 1},
            )
            self._table.delete_item(Key={"syncId": entry.syncId, "itemKey": _retry_key(entry)})

    def history(self, customer_key: str, *, limit: int, start_after: dict | None = None) -> tuple[list[SyncJob], dict | None]:
        """A customer's syncs, newest first, without their receipts: one page of at most `limit`, and the key to
        read the next page from (None after the last)."""
        kwargs: dict[str, Any] = {
            "IndexName": BY_CUSTOMER_INDEX,
            "KeyConditionExpression": Key("customerKey").eq(customer_key),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_after:
            kwargs["ExclusiveStartKey"] = start_after
        with aws.store_errors("The job store"):
            page = self._table.query(**kwargs)
        jobs = [SyncJob.model_validate(_strip_keys(_plain(item), *_HEADER_ONLY)) for item in page.get("Items", [])]
        return jobs, page.get("LastEvaluatedKey")

    def receipts_for(self, subscription_number: str, limit: int = 100) -> list[dict]:
        """The audit trail of one subscription: its receipt from each sync, newest first."""
        with aws.store_errors("The job store"):
            page = self._table.query(
                IndexName=BY_SUBSCRIPTION_INDEX,
                KeyConditionExpression=Key("subscriptionNumber").eq(subscription_number),
                ScanIndexForward=False,
                Limit=limit,
            )
        receipts = [_strip_keys(_plain(item)) for item in page.get("Items", [])]
        askers = self._who_asked({receipt["syncId"] for receipt in receipts})
        return [{**receipt, **askers.get(receipt["syncId"], {})} for receipt in receipts]

    def _who_asked(self, sync_ids: set[str]) -> dict[str, dict]:
        """Each sync's requestedBy and caller (from its job header), for its receipts in the audit trail."""
        keys = [{"syncId": sync_id, "itemKey": HEADER} for sync_id in sorted(sync_ids)]
        headers = [_plain(item) for item in aws.batch_get(self._table, keys, "The job store")] if keys else []
        return {header["syncId"]: {k: header[k] for k in ("requestedBy", "caller") if header.get(k)} for header in headers}

    def _query(self, sync_id: str) -> list[dict]:
        """The job's items, with what the job and its receipts are made of but not each receipt's `changes`
        (field by field, before and after: they are for the audit trail, not for the job)."""
        items: list[dict] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("syncId").eq(sync_id), "ConsistentRead": True, **_JOB_PROJECTION}
        with aws.store_errors("The job store"):
            while True:
                page = self._table.query(**kwargs)
                items.extend(_plain(i) for i in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return items
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _latest(items: list[dict]) -> dict[str, dict]:
    receipts = [i for i in items if i["itemKey"].startswith(RECEIPT_PREFIX)]
    return latest_receipts(receipts, [i for i in items if i["itemKey"].startswith(UNCHANGED_PREFIX)])


def _projection(attributes: set[str]) -> dict[str, Any]:
    names = {f"#a{i}": name for i, name in enumerate(sorted(attributes))}
    return {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}


_JOB_PROJECTION = _projection(
    (set(SyncJob.model_fields) - {"subscriptions"})
    | (set(SubscriptionResult.model_fields) - {"changes"})
    | {"syncId", "itemKey", "customerKey", "caughtError", "unchanged", "recordedAt"}
)


# What the job header holds for the service's own use, not part of the job LFS reads.
_HEADER_ONLY = ("customerKey", "accountFailures", "replanAttempts")


def _retry_key(entry: RetryEntry) -> str:
    return RETRY_PREFIX + entry.subscriptionNumber if entry.subscriptionNumber is not None else PLAN_RETRY


def _lock_key(customer_key: str) -> str:
    return f"CUSTOMER#{customer_key}"


def _idempotency_key(key: str) -> str:
    return f"IDEMPOTENCY#{key}"


def _idempotency_record(key: str, request_hash: str, sync_id: str, now: dt.datetime) -> dict:
    return {
        "syncId": _idempotency_key(key),
        "itemKey": HEADER,
        "requestHash": request_hash,
        "firstSyncId": sync_id,
        "expiresAt": _epoch(now + IDEMPOTENCY_RETENTION),
    }


def _strip_keys(item: dict, *extra: str) -> dict:
    return {k: v for k, v in item.items() if k not in {"itemKey", "expiresAt", START_CHECK, *extra}}


class _ConditionOutcome:
    condition_failed = False


class _ignore_condition_failure:  # noqa: N801 - used as a context manager, reads like a statement
    """A conditional write that found the job in another state is not an error: report it, don't raise."""

    def __enter__(self) -> _ConditionOutcome:
        self.outcome = _ConditionOutcome()
        return self.outcome

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        if isinstance(exc, ClientError) and aws.error_code(exc) == "ConditionalCheckFailedException":
            self.outcome.condition_failed = True
            return True
        return False
