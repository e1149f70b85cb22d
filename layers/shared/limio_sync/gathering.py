"""Gathering a run's receipts into the job record, and keeping the retry queue in step with them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from limio_sync.jobs import receipt_from_item, reconcile
from limio_sync.models import SubscriptionResult, SyncBatch, SyncJob
from limio_sync.observability import logger
from limio_sync.retries import RetryEntry, RetryPolicy


class JobRecords(Protocol):
    def stored_results(self, sync_id: str) -> tuple[dict[str, dict], dict[str, dict]]: ...
    def complete(
        self, sync_id: str, every: list[SubscriptionResult], rewrites: list[SubscriptionResult], consumed_batch_failures: Sequence[str] = ...
    ) -> SyncJob: ...
    def queue_retries(self, job: SyncJob, results: list[SubscriptionResult], policy: RetryPolicy, now: dt.datetime) -> int: ...
    def settle_retries(self, sync_id: str, results: list[SubscriptionResult], policy: RetryPolicy, now: dt.datetime) -> list[RetryEntry]: ...


class DeadLetters(Protocol):
    def send(self, entry: RetryEntry) -> None: ...


def gather(
    sync_id: str,
    planned: list[SyncBatch],
    *,
    retry_run: bool,
    jobs: JobRecords,
    dead_letters: DeadLetters,
    policy: RetryPolicy,
    now: dt.datetime,
) -> tuple[SyncJob, list[SubscriptionResult], list[RetryEntry]]:
    """Make sure every planned subscription has exactly one receipt and end the job; queue transient failures
    for a scheduled retry (first run) or settle the queue (retry run). Returns the job, this run's receipts,
    and the failures that ran out of attempts (already dead-lettered)."""
    receipts, failed_batches = jobs.stored_results(sync_id)
    ours = {batch.batchId for batch in planned}
    consumed = sorted(batch_id for batch_id in failed_batches if batch_id in ours)
    results, rewrites = reconcile([(batch.batchId, batch.numbers) for batch in planned], receipts, failed_batches)
    # The job's other receipts (a retry run re-syncs only some subscriptions) count towards its status too.
    every = {number: receipt_from_item(number, item) for number, item in receipts.items()}
    every.update((result.subscriptionNumber, result) for result in results)
    if rewrites:
        logger.error(
            "Some planned subscriptions recorded no result", extra={"missing": [r.subscriptionNumber for r in rewrites], "failed_tasks": consumed}
        )
    job = jobs.complete(sync_id, list(every.values()), rewrites, consumed)
    if not retry_run:
        # Every receipt of a first run is this run's, those planning recorded itself included.
        queued = jobs.queue_retries(job, list(every.values()), policy, now)
        if queued:
            logger.info("Queued transient failures for a scheduled retry", extra={"queued": queued})
        return job, results, []
    exhausted = jobs.settle_retries(sync_id, results, policy, now)
    for entry in exhausted:
        dead_letters.send(entry)
        logger.error(
            "Scheduled retries exhausted; failure dead-lettered",
            extra={"subscription_number": entry.subscriptionNumber, "attempts": entry.attempts, "error_code": entry.errorCode},
        )
    return job, results, exhausted
