"""Syncing one subscription: read its Zuora state, decide with the pure rules, write only if needed.

Every path ends in a receipt: permanent failures become a FAILED result naming the subscription;
transient ones are raised for the state machine to retry (and, after its retries, its Catch records them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from limio_sync.catalog import CatalogMapping
from limio_sync.errors import ErrorCode, SyncError, for_state_machine
from limio_sync.models import Outcome, SubscriptionResult, SyncItem
from limio_sync.observability import logger
from limio_sync.planning import items_by_subscription, preview_target_date
from limio_sync.sync_rules import LimioSubscription, ZuoraState, decide, desired_record
from limio_sync.zuora.subscription import parse_account, parse_invoice_items, parse_subscription


class ZuoraSource(Protocol):
    def get_subscription(self, subscription_key: str) -> dict[str, Any]: ...
    def get_account_detail(self, account_key: str) -> dict[str, Any]: ...
    def preview_billing(self, account_key: str, target_date: dt.date) -> list[dict[str, Any]]: ...


class Receipts(Protocol):
    def record_receipt(self, sync_id: str, result: SubscriptionResult) -> None: ...


class Customers(Protocol):
    def upsert_from(self, record: LimioSubscription, *, synced_at: str) -> bool: ...


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
    zuora: Callable[[], ZuoraSource],
    store: LimioStore,
    customers: Customers,
    receipts: Receipts,
    rules: SyncRules,
    now: Callable[[], str],
) -> SubscriptionResult:
    """Sync one subscription and record its receipt in the job. A transient failure (of the sync or of the
    receipt's write) is raised for the state machine to retry; after its retries, its Catch records it."""
    result = _result_of(sync_id, item, snapshots=snapshots, zuora=zuora, store=store, customers=customers, rules=rules, now=now)
    try:
        receipts.record_receipt(sync_id, result)
    except SyncError as error:
        raise for_state_machine(error) from error
    return result


def _result_of(sync_id: str, item: SyncItem, **ports) -> SubscriptionResult:
    number = item.subscriptionNumber
    try:
        return _sync(sync_id, item, **ports)
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


@dataclass(frozen=True)
class SyncRules:
    """What the rules need besides Zuora's state: the catalog mapping, today's date, the evergreen horizon."""

    catalog: CatalogMapping
    today: dt.date
    evergreen_horizon_days: int = 365


def read_zuora_state(item: SyncItem, snapshots: SnapshotReader, zuora: Callable[[], ZuoraSource], rules: SyncRules) -> ZuoraState:
    """From the planning snapshot when there is one; otherwise (a retry, or a subscription no longer listed
    under the customer's accounts) from Zuora: the subscription by number, its account, its billing preview."""
    number = item.subscriptionNumber
    snapshot = snapshots.get(item.snapshotKey) if item.snapshotKey else None
    if snapshot is None:
        client = zuora()
        raw = client.get_subscription(number)
        subscription = parse_subscription(raw, number)
        account_raw = client.get_account_detail(subscription.accountNumber)
        target = preview_target_date([raw], rules.today, rules.evergreen_horizon_days)
        preview = items_by_subscription(client.preview_billing(subscription.accountNumber, target)).get(number, [])
        snapshot = {"subscription": raw, "account": account_raw, "invoiceItems": preview}
    subscription = parse_subscription(snapshot["subscription"], number)
    account = parse_account(snapshot["account"], subscription.accountNumber) if snapshot.get("account") else None
    return ZuoraState(subscription=subscription, account=account, invoiceItems=tuple(parse_invoice_items(snapshot.get("invoiceItems", []), number)))


def _sync(sync_id, item, *, snapshots, zuora, store, customers, rules, now) -> SubscriptionResult:
    number = item.subscriptionNumber
    state = read_zuora_state(item, snapshots, zuora, rules)
    existing = store.get(number)
    synced_at = now()
    desired = desired_record(
        state,
        existing,
        catalog=rules.catalog,
        salesforce_account_id=item.salesforceAccountId,
        sync_id=sync_id,
        synced_at=synced_at,
        today=rules.today,
        evergreen_horizon_days=rules.evergreen_horizon_days,
    )
    decision = decide(desired, existing)
    if decision.write and not store.save(decision.record):
        newer = store.get(number)
        held = newer.zuoraVersion if newer else "an unknown"
        return SubscriptionResult(
            subscriptionNumber=number,
            outcome=Outcome.UNCHANGED,
            message=f"A concurrent sync stored version {held} of subscription {number}; "
            f"version {state.subscription.version} was not written over it.",
            zuoraVersion=newer.zuoraVersion if newer else None,
            limioId=newer.id if newer else None,
        )
    if decision.write and customers.upsert_from(decision.record, synced_at=synced_at):
        logger.info("Created the Limio customer", extra={"customer_id": decision.record.customerId})
    logger.info("Subscription synced", extra={"outcome": decision.outcome, "changed_fields": list(decision.changed_fields)})
    return SubscriptionResult(
        subscriptionNumber=number,
        outcome=decision.outcome,
        message=decision.message,
        zuoraVersion=decision.record.zuoraVersion,
        limioId=decision.record.id,
        changes=[change.model_dump(mode="json") for change in decision.changes],
    )
