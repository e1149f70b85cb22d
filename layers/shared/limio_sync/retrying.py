"""Scheduled retries: start a retry run of the same state machine for each sync whose transient failures
are due, and put dead-lettered failures back in the queue when an operator replays them."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any, Protocol

from limio_sync.batching import tasks_reading_zuora
from limio_sync.models import JobFailure, SyncItem, SyncJob
from limio_sync.observability import logger
from limio_sync.retries import RetryEntry, RetryPolicy, is_transient

CLAIM_LEASE = dt.timedelta(minutes=20)


class RetryQueue(Protocol):
    def due_retries(self, now: dt.datetime, limit: int = 200) -> list[RetryEntry]: ...
    def claim_retry(self, entry: RetryEntry, now: dt.datetime, lease: dt.timedelta) -> bool: ...
    def requeue(self, entry: RetryEntry, now: dt.datetime) -> None: ...
    def get(self, sync_id: str) -> SyncJob | None: ...
    def reopen_for_replan(self, entry: RetryEntry) -> None: ...


class Executions(Protocol):
    def start_execution(self, **kwargs: Any) -> dict: ...


class ItemListStore(Protocol):
    def put(self, sync_id: str, name: str, items: list[dict]) -> dict: ...


class DeadLetters(Protocol):
    def drain(self) -> list[tuple[RetryEntry, str]]: ...
    def delete(self, receipt_handle: str) -> None: ...


class PlanRetryQueue(Protocol):
    def queue_replan(self, sync_id: str, failure: JobFailure, policy: RetryPolicy, now: dt.datetime) -> RetryEntry | None: ...


class DeadLetterSink(Protocol):
    def send(self, entry: RetryEntry) -> None: ...


def retry_execution_name(sync_id: str, now: dt.datetime) -> str:
    """Named after the sync it heals, so its job record and logs are found from the execution; to the millisecond,
    because a sync's next retry (or its re-plan) may start within the same second and Step Functions refuses a
    second execution of the same name (ExecutionAlreadyExists)."""
    return f"{sync_id}-retry-{now.strftime('%Y%m%dT%H%M%S')}{now.microsecond // 1000:03d}"


def sync_id_of_execution(name: str) -> str:
    return name.split("-retry-", 1)[0]


def start_due_retries(
    *, queue: RetryQueue, executions: Executions, item_lists: ItemListStore, state_machine_arn: str, concurrency: int, now: dt.datetime
) -> list[str]:
    due: dict[str, list[RetryEntry]] = defaultdict(list)
    for entry in queue.due_retries(now):
        due[entry.syncId].append(entry)
    started = []
    for sync_id, entries in sorted(due.items()):
        replans = [e for e in entries if e.subscriptionNumber is None]
        if replans:
            # The whole job is planned again: that covers its subscriptions' own retries too.
            if queue.claim_retry(replans[0], now, CLAIM_LEASE):
                started.append(_start_replan(replans[0], queue=queue, executions=executions, state_machine_arn=state_machine_arn, now=now))
            continue
        claimed = [e for e in entries if queue.claim_retry(e, now, CLAIM_LEASE)]
        if not claimed:
            continue
        name = retry_execution_name(sync_id, now)
        run = name.removeprefix(sync_id + "-")
        # Retried subscriptions are read from Zuora by number (the first run's snapshots may be stale). Each claimed
        # entry has one: the job's entries without (replans) were started above instead.
        items = [SyncItem(subscriptionNumber=e.subscriptionNumber) for e in claimed if e.subscriptionNumber is not None]
        tasks = tasks_reading_zuora(run, items, concurrency)
        batches = [task.model_dump(exclude_none=True) for task in tasks]
        execution_input = {
            "syncId": sync_id,
            "customer": claimed[0].customer.model_dump(exclude_none=True),
            "retry": True,
            "total": len(claimed),
            "items": item_lists.put(sync_id, run, batches),
        }
        executions.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input))
        logger.info("Started a scheduled retry", extra={"sync_id": sync_id, "subscriptions": [e.subscriptionNumber for e in claimed]})
        started.append(name)
    return started


def _start_replan(entry: RetryEntry, *, queue: RetryQueue, executions: Executions, state_machine_arn: str, now: dt.datetime) -> str:
    """Plan a job again whose planning failed for a transient reason: the same state machine from the start,
    under the same sync id, so the original job shows the outcome."""
    name = retry_execution_name(entry.syncId, now)
    queue.reopen_for_replan(entry)
    execution_input = {"syncId": entry.syncId, "customer": entry.customer.model_dump(exclude_none=True)}
    executions.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input))
    logger.info("Started a scheduled plan of a job whose planning failed", extra={"sync_id": entry.syncId, "attempt": entry.attempts + 1})
    return name


def after_plan_failure(
    sync_id: str, failure: JobFailure, caught: dict, *, queue: PlanRetryQueue, dead_letters: DeadLetterSink, policy: RetryPolicy, now: dt.datetime
) -> bool:
    """A job whose planning failed for a reason that may pass (Zuora or AWS unavailable) is planned again by the
    retry schedule; out of attempts, it goes to the dead-letter queue like a subscription. True if queued."""
    if not is_transient(caught):
        return False
    exhausted = queue.queue_replan(sync_id, failure, policy, now)
    if exhausted is None:
        logger.info("Queued the job's plan for a scheduled retry", extra={"sync_id": sync_id, "error_code": failure.errorCode})
        return True
    dead_letters.send(exhausted)
    logger.error("Scheduled plans exhausted; the job's failure dead-lettered", extra={"sync_id": sync_id, "attempts": exhausted.attempts})
    return False


def replay_dead_letters(*, dead_letters: DeadLetters, queue: RetryQueue, now: dt.datetime) -> int:
    """An operator's replay: each dead-lettered failure is queued for an attempt now, then removed."""
    replayed = 0
    for entry, receipt_handle in dead_letters.drain():
        queue.requeue(entry, now)
        dead_letters.delete(receipt_handle)
        replayed += 1
    return replayed
