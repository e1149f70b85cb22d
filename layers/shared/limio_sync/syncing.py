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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

from limio_sync import ids
from limio_sync.catalog import CatalogMapping
from limio_sync.content_hash import StoredDigest, content_hash, unchanged
from limio_sync.errors import ErrorCode, SyncError, TransientSyncError, for_state_machine
from limio_sync.models import Outcome, SubscriptionResult, SyncBatch, SyncItem
from limio_sync.observability import logger
from limio_sync.planning import invoice_owner, items_by_subscription, preview_target_date
from limio_sync.sync_rules import LimioSubscription, SyncDecision, ZuoraState, decide, desired_record
from limio_sync.zuora.errors import ZuoraRequestRejected
from limio_sync.zuora.subscription import parse_account, parse_invoice_items, parse_subscription

T = TypeVar("T")


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
    def digests(self, subscription_numbers: list[str]) -> dict[str, StoredDigest]: ...
    def save(self, record: LimioSubscription, content_hash: str | None = None) -> bool: ...


# A task's conditional puts (one per created or changed subscription, up to 100) overlap on this many threads:
# each is a round trip of a few ms that would otherwise add up (botocore clients are thread-safe).
WRITERS = 8


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

    Deciding reads only each record's digest (content_hash.py) first: a subscription whose digest matches is
    UNCHANGED without its Limio record being read; only the others' records are read whole.

    What was written to Limio gets its receipts before anything else, so a task that dies afterwards (a Lambda
    timeout, `Lambda.Unknown`, which the state machine retries) keeps those outcomes and audit entries: the retry
    finds the receipts standing instead of finding the records already written and calling them UNCHANGED."""
    try:
        items = batch.items
        written_before: list[str] = []
        if attempt:
            stored = receipts.receipts_of(sync_id, batch.batchId, batch.numbers)
            items = [item for item in items if not _stands(stored.get(item.subscriptionNumber))]
            # An earlier attempt may have died after writing these and before updating their customers.
            written_before = [number for number, receipt in stored.items() if receipt.outcome in (Outcome.CREATED, Outcome.UPDATED)]
        snapshot = snapshots.get(batch.snapshotKey) if batch.snapshotKey else None
        zuora = _one_client_per_task(zuora)
        digests = store.digests([item.subscriptionNumber for item in items])
        results: dict[str, SubscriptionResult] = {}
        pending: list[_Prepared] = []
        for item in items:
            logger.append_keys(subscription_number=item.subscriptionNumber)
            prepared = _guarded(sync_id, item, results, partial(_prepare, sync_id, item, snapshot, zuora=zuora, rules=rules, now=now))
            held = digests.get(item.subscriptionNumber)
            # A retried task takes the full path: it refreshes the customers of what an earlier attempt wrote.
            if prepared is not None and held is not None and not attempt and unchanged(held, prepared.digest):
                results[item.subscriptionNumber] = SubscriptionResult(
                    subscriptionNumber=item.subscriptionNumber, outcome=Outcome.UNCHANGED, zuoraVersion=held.zuoraVersion, limioId=held.id
                )
            elif prepared is not None:
                pending.append(prepared)
        logger.remove_keys(["subscription_number"])
        existing = store.get_many([p.item.subscriptionNumber for p in pending if p.item.subscriptionNumber in digests] + written_before)
        records, written = _decide_and_write(sync_id, pending, existing, results, store=store, rules=rules, attempt=attempt)
        ordered = [results[item.subscriptionNumber] for item in items]
        receipts.record_receipts(sync_id, [result for result in ordered if result.subscriptionNumber in written], task=batch.batchId, attempt=attempt)
        records += [existing[number] for number in written_before if number in existing]
        _update_customers(records, customers, now())
        unrecorded = [result for result in ordered if result.subscriptionNumber not in written]
        receipts.record_receipts(sync_id, unrecorded, task=batch.batchId, attempt=attempt)
        receipts.count_settled(sync_id, sum(result.settled for result in ordered))
        logger.info(
            "Task synced",
            extra={
                "outcomes": dict(Counter(result.outcome.value for result in ordered)),
                "changed": [r.subscriptionNumber for r in ordered if r.outcome in (Outcome.CREATED, Outcome.UPDATED)],
                "failed": [r.subscriptionNumber for r in ordered if r.failed],
            },
        )
        transient = [result for result in ordered if not result.settled]
        if transient:
            others = f" (and {len(transient) - 1} more of this task)" if len(transient) > 1 else ""
            raise TransientSyncError(f"{transient[0].message}{others}", code=transient[0].errorCode)
        return ordered
    except SyncError as error:
        raise for_state_machine(error) from error


@dataclass(frozen=True)
class _Prepared:
    """A subscription's Zuora state and what the rules make of it alone (no Limio record), with its digest."""

    item: SyncItem
    state: ZuoraState
    fresh: LimioSubscription
    digest: str
    synced_at: str


def _prepare(
    sync_id: str, item: SyncItem, snapshot: dict | None, *, zuora: Callable[[], ZuoraSource], rules: SyncRules, now: Callable[[], str]
) -> _Prepared:
    state = read_zuora_state(item, snapshot, zuora, rules)
    synced_at = now()
    fresh = _desired(state, None, item, sync_id, synced_at, rules)
    return _Prepared(item=item, state=state, fresh=fresh, digest=content_hash(fresh), synced_at=synced_at)


def _desired(
    state: ZuoraState, existing: LimioSubscription | None, item: SyncItem, sync_id: str, synced_at: str, rules: SyncRules
) -> LimioSubscription:
    return desired_record(
        state,
        existing,
        catalog=rules.catalog,
        salesforce_account_id=item.salesforceAccountId,
        sync_id=sync_id,
        synced_at=synced_at,
        today=rules.today,
        evergreen_horizon_days=rules.evergreen_horizon_days,
    )


def _decide_and_write(
    sync_id: str,
    pending: list[_Prepared],
    existing: dict[str, LimioSubscription],
    results: dict[str, SubscriptionResult],
    *,
    store: LimioStore,
    rules: SyncRules,
    attempt: int,
) -> tuple[list[LimioSubscription], set[str]]:
    """Decide each subscription against its whole Limio record, write those to write with their conditional
    puts overlapping, and return the records whose customer must be updated and the numbers written."""
    decided: list[tuple[_Prepared, SyncDecision]] = []
    for prepared in pending:
        number = prepared.item.subscriptionNumber
        held = existing.get(number)

        def decision_of(prepared: _Prepared = prepared, held: LimioSubscription | None = held) -> SyncDecision:
            desired = prepared.fresh if held is None else _desired(prepared.state, held, prepared.item, sync_id, prepared.synced_at, rules)
            return decide(desired, held)

        decision = _guarded(sync_id, prepared.item, results, decision_of)
        if decision is not None:
            decided.append((prepared, decision))
    to_write = [(prepared, decision) for prepared, decision in decided if decision.write]
    written = _write_all(sync_id, to_write, results, store)
    records = []
    for prepared, decision in decided:
        number = prepared.item.subscriptionNumber
        if number in results:  # its write failed, or a newer version won
            continue
        # One line per subscription only at DEBUG: the task logs its outcomes once (a 10,000-subscription sync would
        # otherwise write 10,000 lines to CloudWatch, and formatting them is a fifth of a task's own time).
        logger.debug("Subscription synced", extra={"outcome": decision.outcome, "changed_fields": list(decision.changed_fields)})
        results[number] = SubscriptionResult(
            subscriptionNumber=number,
            outcome=decision.outcome,
            message=decision.message,
            zuoraVersion=decision.record.zuoraVersion,
            limioId=decision.record.id,
            changes=[change.model_dump(mode="json") for change in decision.changes],
        )
        # A retried task also refreshes the customers of subscriptions an earlier attempt wrote (now UNCHANGED).
        if number in written or attempt:
            records.append(decision.record)
    return records, written


def _write_all(sync_id: str, to_write: list[tuple[_Prepared, SyncDecision]], results: dict[str, SubscriptionResult], store: LimioStore) -> set[str]:
    """The conditional puts, overlapped; returns the numbers written. A put that lost to a newer version gets
    its UNCHANGED result here, a failed one its FAILED result."""
    if not to_write:
        return set()

    def put(entry: tuple[_Prepared, SyncDecision]) -> bool:
        prepared, decision = entry
        return store.save(decision.record, content_hash=prepared.digest)

    with ThreadPoolExecutor(max_workers=min(WRITERS, len(to_write))) as writers:
        futures = [(entry, writers.submit(put, entry)) for entry in to_write]
    written = set()
    for (prepared, _), future in futures:
        number = prepared.item.subscriptionNumber
        saved = _guarded(sync_id, prepared.item, results, future.result)
        if saved:
            written.add(number)
        elif saved is False:
            newer = store.get(number)
            held = newer.zuoraVersion if newer else "an unknown"
            results[number] = SubscriptionResult(
                subscriptionNumber=number,
                outcome=Outcome.UNCHANGED,
                message=f"A concurrent sync stored version {held} of subscription {number}; "
                f"version {prepared.state.subscription.version} was not written over it.",
                zuoraVersion=newer.zuoraVersion if newer else None,
                limioId=newer.id if newer else None,
            )
    return written


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


def _guarded(sync_id: str, item: SyncItem, results: dict[str, SubscriptionResult], step: Callable[[], T]) -> T | None:
    """Run one subscription's step; if it fails, record its FAILED result (retryable for a transient error) and
    return None, so one bad subscription never fails the others."""
    number = item.subscriptionNumber
    try:
        return step()
    except SyncError as error:
        if error.retryable:
            logger.warning("Transient failure; the state machine retries the task", extra={"error_code": error.code, "subscription_number": number})
            message = f"Subscription {number} could not be synced yet: {error.message}"
        else:
            logger.info("Subscription failed", extra={"error_code": error.code, "reason": error.message, "subscription_number": number})
            message = error.message
        results[number] = SubscriptionResult(
            subscriptionNumber=number, outcome=Outcome.FAILED, errorCode=error.code, message=message, retryable=error.retryable
        )
    except Exception:
        logger.exception("Unexpected error while syncing a subscription", extra={"subscription_number": number})
        results[number] = SubscriptionResult(
            subscriptionNumber=number,
            outcome=Outcome.FAILED,
            errorCode=ErrorCode.INTERNAL_ERROR,
            message=f"Subscription {number} could not be synced because of an internal error (sync {sync_id}).",
        )
    return None


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
