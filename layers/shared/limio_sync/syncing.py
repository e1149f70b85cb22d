"""Syncing one task's subscriptions: read their Zuora state, decide with the pure rules, write only if needed.

Every subscription ends with a receipt: permanent failures become a FAILED result naming the subscription;
a transient one becomes a FAILED, retryable result, and the task then raises for the state machine to retry
it. A retried task redoes only its subscriptions whose receipt does not stand (none yet, or a transient
failure), so a success is never recorded twice nor turned into UNCHANGED by the retry.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from limio_sync import ids
from limio_sync.catalog import CatalogMapping
from limio_sync.errors import ErrorCode, SyncError, TransientSyncError, for_state_machine
from limio_sync.models import Outcome, SubscriptionResult, SyncBatch, SyncItem
from limio_sync.observability import logger
from limio_sync.planning import invoice_owner, items_by_subscription, preview_target_date
from limio_sync.sync_rules import LimioSubscription, ZuoraState, decide, desired_record
from limio_sync.zuora.errors import ZuoraRequestRejected
from limio_sync.zuora.subscription import parse_account, parse_invoice_items, parse_subscription


class ZuoraSource(Protocol):
    def get_subscription(self, subscription_key: str) -> dict[str, Any]: ...
    def get_account_detail(self, account_key: str) -> dict[str, Any]: ...
    def preview_billing(self, account_key: str, target_date: dt.date) -> list[dict[str, Any]]: ...
    def preview_subscription(self, subscription_key: str, through_date: dt.date) -> list[dict[str, Any]]: ...


class Receipts(Protocol):
    def record_receipts(self, sync_id: str, results: list[SubscriptionResult], *, task: str, attempt: int = 0) -> None: ...
    def receipts_of(self, sync_id: str, task: str, numbers: list[str]) -> dict[str, SubscriptionResult]: ...
    def count_settled(self, sync_id: str, settled: int) -> None: ...


class Customers(Protocol):
    def upsert_from(self, records: list[LimioSubscription], *, synced_at: str) -> bool: ...


class SnapshotReader(Protocol):
    def get(self, key: str) -> dict | None: ...


class LimioStore(Protocol):
    def get(self, subscription_number: str) -> LimioSubscription | None: ...
    def get_many(self, subscription_numbers: list[str]) -> dict[str, LimioSubscription]: ...
    def save(self, record: LimioSubscription) -> bool: ...


@dataclass(frozen=True)
class SyncRules:
    """What the rules need besides Zuora's state: the catalog mapping, today's date, the evergreen horizon."""

    catalog: CatalogMapping
    today: dt.date
    evergreen_horizon_days: int = 365


def sync_batch(
    sync_id: str,
    batch: SyncBatch,
    *,
    attempt: int,
    snapshots: SnapshotReader,
    zuora: Callable[[], ZuoraSource],
    store: LimioStore,
    customers: Customers,
    receipts: Receipts,
    rules: SyncRules,
    now: Callable[[], str],
) -> list[SubscriptionResult]:
    """Sync a task's subscriptions and record a receipt for each. `attempt` is the state machine's retry count
    of this task: a retry skips the subscriptions whose receipt already stands. If any subscription failed for a
    transient reason, a TransientSyncError is raised after the receipts are recorded, for the state machine to
    retry the task (after its retries, the receipts say why).

    A subscription written to Limio gets its receipt at once, so a task that dies afterwards (a Lambda timeout,
    `Lambda.Unknown`, which the state machine retries) keeps its outcome and audit entry: the retry finds the
    receipt standing instead of finding the record already written and calling it UNCHANGED."""
    try:
        items = batch.items
        written_before: list[str] = []
        if attempt:
            stored = receipts.receipts_of(sync_id, batch.batchId, batch.numbers)
            items = [item for item in items if not _stands(stored.get(item.subscriptionNumber))]
            # An earlier attempt may have died after writing these and before updating their customers.
            written_before = [number for number, receipt in stored.items() if receipt.outcome in (Outcome.CREATED, Outcome.UPDATED)]
        snapshot = snapshots.get(batch.snapshotKey) if batch.snapshotKey else None
        existing = store.get_many([item.subscriptionNumber for item in items] + written_before)
        results: list[SubscriptionResult] = []
        unrecorded: list[SubscriptionResult] = []
        records: list[LimioSubscription] = [existing[number] for number in written_before if number in existing]
        zuora = _one_client_per_task(zuora)
        for item in items:
            logger.append_keys(subscription_number=item.subscriptionNumber)
            result, record, wrote = _result_of(
                sync_id, item, snapshot, existing.get(item.subscriptionNumber), zuora=zuora, store=store, rules=rules, now=now
            )
            results.append(result)
            if wrote:
                receipts.record_receipts(sync_id, [result], task=batch.batchId, attempt=attempt)
            else:
                unrecorded.append(result)
            # A retried task also refreshes the customers of subscriptions an earlier attempt wrote (now UNCHANGED).
            if record is not None and (wrote or attempt):
                records.append(record)
        logger.remove_keys(["subscription_number"])
        _update_customers(records, customers, now())
        receipts.record_receipts(sync_id, unrecorded, task=batch.batchId, attempt=attempt)
        receipts.count_settled(sync_id, sum(result.settled for result in results))
        logger.info(
            "Task synced",
            extra={
                "outcomes": dict(Counter(result.outcome.value for result in results)),
                "changed": [r.subscriptionNumber for r in results if r.outcome in (Outcome.CREATED, Outcome.UPDATED)],
                "failed": [r.subscriptionNumber for r in results if r.failed],
            },
        )
        transient = [result for result in results if not result.settled]
        if transient:
            others = f" (and {len(transient) - 1} more of this task)" if len(transient) > 1 else ""
            raise TransientSyncError(f"{transient[0].message}{others}", code=transient[0].errorCode)
        return results
    except SyncError as error:
        raise for_state_machine(error) from error


def _stands(receipt: SubscriptionResult | None) -> bool:
    """A receipt a retried task keeps: a success, or a failure retrying cannot help."""
    return receipt is not None and receipt.settled


def _update_customers(records: list[LimioSubscription], customers: Customers, synced_at: str) -> None:
    """One update per customer per task, however many of its subscriptions changed."""
    by_customer: dict[str, list[LimioSubscription]] = defaultdict(list)
    for record in records:
        by_customer[record.customerId].append(record)
    for customer_id, theirs in by_customer.items():
        if customers.upsert_from(theirs, synced_at=synced_at):
            logger.info("Created the Limio customer", extra={"customer_id": customer_id})


def _result_of(
    sync_id: str, item: SyncItem, snapshot: dict | None, existing: LimioSubscription | None, **ports: Any
) -> tuple[SubscriptionResult, LimioSubscription | None, bool]:
    number = item.subscriptionNumber
    try:
        return _sync(sync_id, item, snapshot, existing, **ports)
    except SyncError as error:
        if error.retryable:
            logger.warning("Transient failure; the state machine retries the task", extra={"error_code": error.code})
            message = f"Subscription {number} could not be synced yet: {error.message}"
        else:
            logger.info("Subscription failed", extra={"error_code": error.code, "reason": error.message})
            message = error.message
        result = SubscriptionResult(
            subscriptionNumber=number, outcome=Outcome.FAILED, errorCode=error.code, message=message, retryable=error.retryable
        )
        return result, None, False
    except Exception:
        logger.exception("Unexpected error while syncing a subscription")
        result = SubscriptionResult(
            subscriptionNumber=number,
            outcome=Outcome.FAILED,
            errorCode=ErrorCode.INTERNAL_ERROR,
            message=f"Subscription {number} could not be synced because of an internal error (sync {sync_id}).",
        )
        return result, None, False


def read_zuora_state(item: SyncItem, snapshot: dict | None, zuora: Callable[[], ZuoraSource], rules: SyncRules) -> ZuoraState:
    """From the task's planning snapshot when it holds the subscription; otherwise (a retry, or a subscription
    no longer listed under the customer's accounts, or an expired snapshot) from Zuora: the subscription by
    number, its account, and its invoice owner's billing preview. The account's crmId is the customer key in its
    18-character form, whichever form Zuora holds."""
    number = item.subscriptionNumber
    entry = (snapshot or {}).get("subscriptions", {}).get(number)
    if entry is None:
        client = zuora()
        raw = client.get_subscription(number)
        subscription = parse_subscription(raw, number)
        account_raw: dict[str, Any] | None = client.get_account_detail(subscription.accountNumber)
        target = preview_target_date([raw], rules.today, rules.evergreen_horizon_days)
        preview = _preview_of(client, number, invoice_owner(raw, subscription.accountNumber), target)
        entry, accounts = {"subscription": raw, "invoiceItems": preview}, {subscription.accountNumber: account_raw}
    else:
        accounts = (snapshot or {}).get("accounts", {})
    subscription = parse_subscription(entry["subscription"], number)
    account_raw = accounts.get(subscription.accountNumber)
    account = parse_account(account_raw, subscription.accountNumber) if account_raw else None
    if account is not None and account.crmId:
        account = account.model_copy(update={"crmId": ids.customer_key_of(account.crmId)})
    return ZuoraState(subscription=subscription, account=account, invoiceItems=tuple(parse_invoice_items(entry.get("invoiceItems", []), number)))


def _preview_of(client: ZuoraSource, number: str, owner: str, target: dt.date) -> list[dict]:
    """The subscription's items of its invoice owner's preview; if Zuora refuses the owner's preview (a business
    rule about another of its subscriptions, say), this subscription's own preview."""
    try:
        items = client.preview_billing(owner, target)
    except ZuoraRequestRejected:
        logger.warning("Zuora refused the invoice owner's billing preview; previewing the subscription alone", extra={"invoice_owner": owner})
        return client.preview_subscription(number, target)
    return items_by_subscription(items).get(number, [])


class _PreviewsOnce:
    """A task's Zuora client that keeps its billing previews (answers and refusals): the task's subscriptions read
    from Zuora share their invoice owner's preview for the same horizon instead of each running it again."""

    def __init__(self, client: ZuoraSource):
        self._client = client
        self._previews: dict[tuple[str, dt.date], list[dict] | ZuoraRequestRejected] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def preview_billing(self, account_key: str, target_date: dt.date) -> list[dict[str, Any]]:
        key = (account_key, target_date)
        if key not in self._previews:
            try:
                self._previews[key] = self._client.preview_billing(account_key, target_date)
            except ZuoraRequestRejected as refused:
                self._previews[key] = refused
        answer = self._previews[key]
        if isinstance(answer, ZuoraRequestRejected):
            raise answer
        return answer


def _one_client_per_task(connect: Callable[[], ZuoraSource]) -> Callable[[], ZuoraSource]:
    held: list[ZuoraSource] = []

    def client() -> ZuoraSource:
        if not held:
            held.append(_PreviewsOnce(connect()))
        return held[0]

    return client


def _sync(
    sync_id: str,
    item: SyncItem,
    snapshot: dict | None,
    existing: LimioSubscription | None,
    *,
    zuora: Callable[[], ZuoraSource],
    store: LimioStore,
    rules: SyncRules,
    now: Callable[[], str],
) -> tuple[SubscriptionResult, LimioSubscription | None, bool]:
    number = item.subscriptionNumber
    state = read_zuora_state(item, snapshot, zuora, rules)
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
        lost = SubscriptionResult(
            subscriptionNumber=number,
            outcome=Outcome.UNCHANGED,
            message=f"A concurrent sync stored version {held} of subscription {number}; "
            f"version {state.subscription.version} was not written over it.",
            zuoraVersion=newer.zuoraVersion if newer else None,
            limioId=newer.id if newer else None,
        )
        return lost, None, False
    # One line per subscription only at DEBUG: the task logs its outcomes once (a 10,000-subscription sync would
    # otherwise write 10,000 lines to CloudWatch, and formatting them is a fifth of a task's own time).
    logger.debug("Subscription synced", extra={"outcome": decision.outcome, "changed_fields": list(decision.changed_fields)})
    result = SubscriptionResult(
        subscriptionNumber=number,
        outcome=decision.outcome,
        message=decision.message,
        zuoraVersion=decision.record.zuoraVersion,
        limioId=decision.record.id,
        changes=[change.model_dump(mode="json") for change in decision.changes],
    )
    return result, decision.record, decision.write
