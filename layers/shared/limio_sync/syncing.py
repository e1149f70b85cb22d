"""Syncing one subscription: read its Zuora state, decide with the pure rules, write only if needed.

Every path ends in a receipt: permanent failures become a FAILED result naming the subscription;
transient ones are raised for the state machine to retry (and, after its retries, its Catch records them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from limio_sync.errors import ErrorCode, SyncError, for_state_machine
from limio_sync.models import Outcome, SubscriptionResult, SyncItem
from limio_sync.observability import logger
from limio_sync.sync_rules import LimioSubscription, decide, desired_record
from limio_sync.zuora.subscription import parse_subscription


class SubscriptionSource(Protocol):
    def get_subscription(self, subscription_key: str) -> dict: ...


class SnapshotReader(Protocol):
    def get(self, key: str) -> dict | None: ...


class LimioStore(Protocol):
    def get(self, subscription_number: str) -> LimioSubscription | None: ...
    def save(self, record: LimioSubscription) -> bool: ...


def sync_one(
    sync_id: str,
    item: SyncItem,
    *,
    snapshots: SnapshotReader,
    zuora: Callable[[], SubscriptionSource],
    store: LimioStore,
    now: Callable[[], str],
) -> SubscriptionResult:
    number = item.subscriptionNumber
    try:
        return _sync(sync_id, item, snapshots=snapshots, zuora=zuora, store=store, now=now)
    except SyncError as error:
        if error.retryable:
            logger.warning("Transient failure, leaving it to the state machine to retry", extra={"error_code": error.code})
            raise for_state_machine(error) from error
        logger.info("Subscription failed", extra={"error_code": error.code, "reason": error.message})
        return SubscriptionResult(subscriptionNumber=number, outcome=Outcome.FAILED, errorCode=error.code, message=error.message)
    except Exception:
        logger.exception("Unexpected error while syncing a subscription")
        return SubscriptionResult(
            subscriptionNumber=number,
            outcome=Outcome.FAILED,
            errorCode=ErrorCode.INTERNAL_ERROR,
            message=f"Subscription {number} could not be synced because of an internal error (sync {sync_id}).",
        )


def _sync(sync_id, item, *, snapshots, zuora, store, now) -> SubscriptionResult:
    number = item.subscriptionNumber
    raw = snapshots.get(item.snapshotKey) if item.snapshotKey else None
    if raw is None:
        raw = zuora().get_subscription(number)
    subscription = parse_subscription(raw, number)
    existing = store.get(number)
    desired = desired_record(
        subscription, existing, salesforce_account_id=item.salesforceAccountId, sync_id=sync_id, synced_at=now()
    )
    decision = decide(desired, existing)
    if decision.write and not store.save(decision.record):
        newer = store.get(number)
        held = newer.zuoraVersion if newer else "an unknown"
        return SubscriptionResult(
            subscriptionNumber=number,
            outcome=Outcome.UNCHANGED,
            message=f"A concurrent sync stored version {held} of subscription {number}; version {subscription.version} was not written over it.",
            zuoraVersion=newer.zuoraVersion if newer else None,
            limioId=newer.id if newer else None,
        )
    logger.info("Subscription synced", extra={"outcome": decision.outcome, "changed_fields": list(decision.changedFields)})
    return SubscriptionResult(
        subscriptionNumber=number,
        outcome=decision.outcome,
        message=decision.message,
        zuoraVersion=decision.record.zuoraVersion,
        limioId=decision.record.id,
    )
