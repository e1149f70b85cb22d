"""Planning a customer sync: find the customer's Zuora accounts, read each account once (its details, every
page of its subscriptions), preview each invoice owner's billing once, cut the subscriptions into the Map's
tasks and keep one snapshot per task so the tasks need not call Zuora again. Subscriptions Limio holds for the
customer (or, for a sync by account number, for that account) that Zuora no longer lists are planned too,
without a snapshot: their task reads them from Zuora by number.

Nothing Zuora lists is lost on the way: a record planning cannot use, a subscription whose billing preview
Zuora refuses, and Limio's subscriptions of an account Zuora would not let planning read each get a FAILED
receipt naming them, recorded here; only when nothing at all can be synced does the whole plan fail.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError

from limio_sync import ids
from limio_sync.batching import MAX_ZUORA_READS_PER_TASK, batch_size, chunks, inline_tasks, tasks_reading_zuora
from limio_sync.errors import CustomerNotFound, ErrorCode, SyncError
from limio_sync.jobs import AccountFailure
from limio_sync.models import CustomerRef, ItemsLocation, Outcome, SubscriptionNumber, SubscriptionResult, SyncBatch, SyncItem, SyncPlan
from limio_sync.observability import logger
from limio_sync.zuora.errors import ZuoraNotFound, ZuoraRequestRejected
from limio_sync.zuora.models import ZuoraAccountRef
from limio_sync.zuora.subscription import latest_billing_preview_date

SNAPSHOT_WRITERS = 8
# Accounts are read in parallel, each reader with at most two Zuora calls in flight (its details beside its pages),
# so a plan reads `zuora_share // 2` accounts at a time (`account_readers`).
ZUORA_CALLS_PER_ACCOUNT_READER = 2


def account_readers(zuora_share: int) -> int:
    """How many accounts planning reads at once within `zuora_share` Zuora requests in flight (the stack's bound
    on concurrent Zuora requests, ZuoraMaxConcurrentRequests: the permits enforce it across every sync)."""
    return max(1, zuora_share // ZUORA_CALLS_PER_ACCOUNT_READER)


# Zuora lists an account's subscriptions newest `updatedDate` first (developer.zuora.com, GET_SubscriptionsByAccount),
# so a page is an offset into a list that reorders whenever a subscription changes: one amended while the pages
# are read moves to page 1 and would be skipped. Everything after it shifts one place down, so a number seen on an
# earlier page comes again: then the listing is read again, up to this many times in all, and the passes merged.
MAX_LISTING_PASSES = 3
PLAN_TASK = "plan"  # the task name of the receipts planning records itself

_SUBSCRIPTION_NUMBER = TypeAdapter(SubscriptionNumber)


class ZuoraReader(Protocol):
    def find_accounts_by_crm_id(self, crm_id: str) -> list[ZuoraAccountRef]: ...
    def get_account_detail(self, account_key: str) -> dict[str, Any]: ...
    def iter_subscription_pages(self, account_key: str, page_size: int = 40) -> Iterator[list[dict[str, Any]]]: ...
    def preview_billing(self, account_key: str, target_date: dt.date) -> list[dict[str, Any]]: ...
    def preview_subscription(self, subscription_key: str, through_date: dt.date) -> list[dict[str, Any]]: ...


class Snapshots(Protocol):
    def put(self, sync_id: str, batch_id: str, snapshot: dict) -> str: ...


class ItemListStore(Protocol):
    def put(self, sync_id: str, name: str, items: list[dict]) -> dict: ...


class CustomerSubscriptions(Protocol):
    def numbers_for_customer(self, customer_id: str) -> list[str]: ...
    def numbers_for_zuora_account(self, account_number: str) -> list[str]: ...


class PlanRecords(Protocol):
    def record_receipts(self, sync_id: str, results: list[SubscriptionResult], *, task: str, attempt: int = 0) -> None: ...
    def record_plan(self, sync_id: str, total: int, account_failures: list[AccountFailure] = ...) -> None: ...


def resolve_accounts(customer: CustomerRef, zuora: ZuoraReader) -> list[tuple[ZuoraAccountRef, dict | None]]:
    """The customer's accounts, each with its details when resolving them already fetched them."""
    if customer.salesforceAccountId:
        accounts = zuora.find_accounts_by_crm_id(customer.salesforceAccountId)
        if not accounts:
            raise CustomerNotFound(f"No Zuora account has CRM ID {customer.salesforceAccountId} (the Salesforce account id).")
        return [(account, None) for account in sorted(accounts, key=lambda a: a.accountNumber)]
    try:
        detail = zuora.get_account_detail(customer.zuoraAccountNumber or "")
    except ZuoraNotFound:
        raise CustomerNotFound(f"Zuora has no account {customer.zuoraAccountNumber}.") from None
    return [(ZuoraAccountRef.model_validate(detail["basicInfo"]), detail)]


def preview_target_date(raw_subscriptions: Iterable[dict], today: dt.date, evergreen_horizon_days: int) -> dt.date:
    """One billing preview per invoice owner must reach the latest term end among its subscriptions (or the
    evergreen horizon), so every subscription's schedule is covered by the same call; never past the date Zuora
    previews to."""
    target = today + dt.timedelta(days=evergreen_horizon_days)
    for raw in raw_subscriptions:
        term_end = raw.get("termEndDate")
        if raw.get("termType") == "TERMED" and isinstance(term_end, str):
            try:
                target = max(target, dt.date.fromisoformat(term_end))
            except ValueError:
                continue
    return min(target, latest_billing_preview_date(today))


def items_by_subscription(invoice_items: Iterable[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for item in invoice_items:
        number = item.get("subscriptionNumber") or item.get("subscriptionName")
        if number:
            grouped[number].append(item)
    return grouped


def invoice_owner(raw: dict, listed_under: str) -> str:
    """Who Zuora bills for the subscription: its invoice owner, which may be another account than its owner
    (knowledgecenter.zuora.com, Invoice Subscriptions to Different Accounts)."""
    return raw.get("invoiceOwnerAccountNumber") or raw.get("accountNumber") or listed_under


def read_listing(zuora: ZuoraReader, account_number: str, *, page_size: int, found: set[str] | None = None) -> list[dict]:
    """Every subscription Zuora lists under the account, once each (its highest `version` when listed twice),
    read again while the listing shifts under the reader (see MAX_LISTING_PASSES). `found` gets each number as
    it is read, so a listing that fails half-way still tells whose subscriptions were not synced."""
    merged: dict[str, dict] = {}
    found = set() if found is None else found
    for listing_pass in range(1, MAX_LISTING_PASSES + 1):
        numberless: list[dict] = []  # kept from the last pass only: without a number they cannot be merged
        seen: set[str] = set()
        shifted = False
        for page in zuora.iter_subscription_pages(account_number, page_size=page_size):
            on_this_page: set[str] = set()
            for raw in page:
                number = raw.get("subscriptionNumber")
                if not isinstance(number, str) or not number:
                    numberless.append(raw)
                    continue
                shifted = shifted or (number in seen and number not in on_this_page)
                on_this_page.add(number)
                found.add(number)
                held = merged.get(number)
                if held is None or _version(raw) >= _version(held):
                    merged[number] = raw
            seen |= on_this_page
        if not shifted:
            break
        logger.info(
            "An account's subscriptions moved between pages while they were read; reading them again",
            extra={"account": account_number, "pass": listing_pass},
        )
    else:
        logger.warning("An account's listing kept moving; planning keeps every subscription any pass found", extra={"account": account_number})
    return [*merged.values(), *numberless]


def _version(raw: dict) -> int:
    version = raw.get("version")
    return version if isinstance(version, int) and not isinstance(version, bool) else -1


def unusable_records(raws: list[dict], account_number: str) -> tuple[dict[str, dict], list[SubscriptionResult]]:
    """The records planning can key a sync on, by number, and a FAILED receipt for each it cannot: one without
    a subscriptionNumber is named by its Zuora id, one with a number Limio cannot key a record on by that number."""
    usable: dict[str, dict] = {}
    failed: list[SubscriptionResult] = []
    for position, raw in enumerate(raws, start=1):
        number = raw.get("subscriptionNumber")
        if not isinstance(number, str) or not number:
            zuora_id = raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else None
            name = zuora_id or f"{account_number}#{position}"
            which = f"Zuora id {zuora_id}" if zuora_id else f"record {position} of the listing"
            failed.append(
                _failed(
                    name,
                    ErrorCode.ZUORA_BAD_RESPONSE,
                    f"Zuora listed a subscription without a subscriptionNumber under account {account_number} ({which}); "
                    "it cannot be synced until Zuora's record has one.",
                )
            )
            continue
        if not _keyable(number):
            shown = number[:100]
            failed.append(
                _failed(
                    shown,
                    ErrorCode.ZUORA_BAD_RESPONSE,
                    f"Zuora listed subscription {shown!r} under account {account_number}; "
                    "Limio cannot key a record on that number (1-100 letters, digits, '.', '_' or '-').",
                )
            )
            continue
        usable[number] = raw
    return usable, failed


def _keyable(number: str) -> bool:
    try:
        _SUBSCRIPTION_NUMBER.validate_python(number)
    except ValidationError:
        return False
    return True


def _failed(number: str, code: ErrorCode, message: str, *, retryable: bool = False) -> SubscriptionResult:
    return SubscriptionResult(subscriptionNumber=number, outcome=Outcome.FAILED, errorCode=code, message=message, retryable=retryable)


class InvoiceOwnerPreviews:
    """Each invoice owner's billing preview, run once per plan and shared by every account whose subscriptions
    it bills; each subscription's items are handed out once, so an account's preview is let go of as soon as its
    own subscriptions have theirs. If Zuora refuses an owner's preview (a 4xx business rule: one subscription's
    charge it cannot bill, say), its subscriptions are previewed one by one and only those Zuora refuses fail."""

    def __init__(self, zuora: ZuoraReader, *, today: dt.date, evergreen_horizon_days: int):
        self._zuora = zuora
        self._today = today
        self._horizon = evergreen_horizon_days
        self._lock = threading.Lock()
        self._owner_locks: dict[str, threading.Lock] = {}
        self._previewed: dict[str, tuple[dt.date, dict[str, list[dict]]]] = {}
        self.failures: dict[str, AccountFailure] = {}  # invoice owners whose preview could not be read, and why

    def take(self, owner: str, subscriptions: list[dict]) -> tuple[dict[str, list[dict]], list[SubscriptionResult]]:
        """The preview items of these subscriptions (all billed to `owner`), and a FAILED receipt for each whose
        preview Zuora would not give."""
        if not subscriptions:
            return {}, []
        target = preview_target_date(subscriptions, self._today, self._horizon)
        numbers = [raw["subscriptionNumber"] for raw in subscriptions]
        with self._lock:
            owner_lock = self._owner_locks.setdefault(owner, threading.Lock())
        with owner_lock:
            previewed = self._previewed.get(owner)
            if previewed is None or previewed[0] < target:
                # Again only when a later account's subscription billed to this owner needs a later horizon.
                try:
                    previewed = (target, items_by_subscription(self._zuora.preview_billing(owner, target)))
                except ZuoraRequestRejected as refused:
                    logger.warning(
                        "Zuora refused an invoice owner's billing preview; previewing its subscriptions one by one",
                        extra={"invoice_owner": owner, "reason": refused.message},
                    )
                    return self._one_by_one(owner, numbers, target)
                except SyncError as error:
                    self.failures.setdefault(owner, _account_failure(owner, error))
                    return {}, [_preview_failure(number, owner, error) for number in numbers]
                self._previewed[owner] = previewed
            items = previewed[1]
            return {number: items.pop(number, []) for number in numbers}, []

    def _one_by_one(self, owner: str, numbers: list[str], target: dt.date) -> tuple[dict[str, list[dict]], list[SubscriptionResult]]:
        items: dict[str, list[dict]] = {}
        failed: list[SubscriptionResult] = []
        for number in numbers:
            try:
                items[number] = self._zuora.preview_subscription(number, target)
            except SyncError as error:
                failed.append(_preview_failure(number, owner, error))
        return items, failed


def _account_failure(account_number: str, error: SyncError) -> AccountFailure:
    return AccountFailure(accountNumber=account_number, errorCode=error.code, message=error.message, retryable=error.retryable)


def _preview_failure(number: str, owner: str, error: SyncError) -> SubscriptionResult:
    message = f"Zuora's billing preview for subscription {number} (invoice owner {owner}) failed: {error.message}"
    return _failed(number, error.code, message, retryable=error.retryable)


@dataclass
class _AccountPlan:
    """What planning one account produced."""

    batches: list[SyncBatch] = field(default_factory=list)
    receipts: list[SubscriptionResult] = field(default_factory=list)
    billed_elsewhere: list[tuple[dict, str, dict]] = field(default_factory=list)  # (subscription, its account, the account's details)
    listed: set[str] = field(default_factory=set)
    failure: AccountFailure | None = None


def plan_sync(
    sync_id: str,
    customer: CustomerRef,
    zuora: ZuoraReader,
    snapshots: Snapshots,
    limio: CustomerSubscriptions,
    item_lists: ItemListStore,
    jobs: PlanRecords,
    *,
    today: dt.date,
    concurrency: int,
    page_size: int = 40,
    evergreen_horizon_days: int = 365,
    inline_threshold: int = 0,
    inline_concurrency: int = 20,
    zuora_share: int = 8,
) -> SyncPlan:
    """Each account is read, cut into tasks and snapshotted on its own, then let go: planning holds at most
    `account_readers(zuora_share)` accounts' Zuora data at a time, whatever the customer's size. The Map's concurrency is
    shared between the accounts, so the customer's tasks still make about one wave. Subscriptions billed to
    another account than their own are planned last, grouped by that invoice owner."""
    resolved = resolve_accounts(customer, zuora)
    accounts = [account for account, _ in resolved]
    share = max(1, concurrency // len(resolved))
    previews = InvoiceOwnerPreviews(zuora, today=today, evergreen_horizon_days=evergreen_horizon_days)
    plan_one = partial(_plan_account, sync_id, zuora, snapshots, limio, previews, share=share, page_size=page_size)
    with ThreadPoolExecutor(max_workers=account_readers(zuora_share)) as readers, ThreadPoolExecutor(max_workers=SNAPSHOT_WRITERS) as writers:
        planned = list(readers.map(lambda args: plan_one(*args, writers=writers), enumerate(resolved)))
        billed = _plan_billed_elsewhere(sync_id, planned, snapshots, previews, writers, share=share)
    batches = _without_repeats([batch for account_plan in planned for batch in account_plan.batches] + billed.batches)
    in_tasks = {number for batch in batches for number in batch.numbers}
    # A subscription its task syncs gets its receipt there, even if another account's planning failed it.
    receipts = [
        r
        for r in _first_of_each([r for account_plan in planned for r in account_plan.receipts] + billed.receipts)
        if r.subscriptionNumber not in in_tasks
    ]
    unreadable = [account_plan.failure for account_plan in planned if account_plan.failure]
    accounted = in_tasks | {receipt.subscriptionNumber for receipt in receipts}
    listed = {number for account_plan in planned for number in account_plan.listed}
    gone = _gone_from_accounts(customer, accounts, limio, listed | accounted)
    if unreadable and len(unreadable) == len(accounts) and not gone:
        raise _nothing_could_be_planned(unreadable)
    failures = unreadable + [failure for owner, failure in sorted(previews.failures.items())]
    batches += tasks_reading_zuora("zuora", gone, concurrency)
    total = len(accounted) + len(gone)
    if receipts:
        jobs.record_receipts(sync_id, receipts, task=PLAN_TASK)
    jobs.record_plan(sync_id, total, failures)
    logger.info(
        "Planned customer sync",
        extra={
            "accounts": [a.accountNumber for a in accounts],
            "subscriptions": total,
            "tasks": len(batches),
            "failed_in_planning": [r.subscriptionNumber for r in receipts],
            "unreadable_accounts": [f.accountNumber for f in failures],
        },
    )
    inline = choose_inline(batches, inline_threshold, inline_concurrency)
    location = item_lists.put(sync_id, "items", [batch.model_dump(exclude_none=True) for batch in inline or batches])
    return SyncPlan(
        syncId=sync_id,
        customer=customer,
        accountNumbers=[a.accountNumber for a in accounts],
        total=total,
        items=ItemsLocation(**location),
        inline=inline,
    )


def choose_inline(batches: list[SyncBatch], threshold: int, concurrency: int) -> list[SyncBatch] | None:
    """The inline Map (one wave of `concurrency` tasks, in the state) up to `threshold` subscriptions, else the
    distributed Map over the planned tasks in S3. The item list in S3 is what the Map runs, so GatherResults
    checks the receipts of the tasks that actually ran."""
    inline = inline_tasks(batches, threshold, concurrency)
    logger.info("Map chosen", extra={"map": "inline" if inline else "distributed", "tasks": len(inline or batches), "threshold": threshold})
    return inline


def _plan_account(
    sync_id: str,
    zuora: ZuoraReader,
    snapshots: Snapshots,
    limio: CustomerSubscriptions,
    previews: InvoiceOwnerPreviews,
    index: int,
    resolved: tuple[ZuoraAccountRef, dict | None],
    *,
    writers: ThreadPoolExecutor,
    share: int,
    page_size: int,
) -> _AccountPlan:
    """One account's tasks, their snapshots written: its `share` of the Map's concurrency, each task at most
    MAX_PER_TASK subscriptions of this account. An account Zuora will not let planning read fails only the
    subscriptions Limio holds for it."""
    account, known = resolved
    number_of = account.accountNumber
    found: set[str] = set()
    try:
        detail, raws = _read_account(zuora, number_of, known, page_size=page_size, found=found)
    except SyncError as error:
        return _unreadable(account, error, limio, found)
    usable, receipts = unusable_records(raws, number_of)
    own = [raw for raw in usable.values() if invoice_owner(raw, number_of) == number_of]
    elsewhere = [(raw, number_of, detail) for raw in usable.values() if invoice_owner(raw, number_of) != number_of]
    invoice_items, refused = previews.take(number_of, own)
    failed = {receipt.subscriptionNumber for receipt in refused}
    items = [
        SyncItem(subscriptionNumber=raw["subscriptionNumber"], accountNumber=number_of, salesforceAccountId=ids.customer_key_of(account.crmId))
        for raw in own
        if raw["subscriptionNumber"] not in failed
    ]
    entries = {
        item.subscriptionNumber: (usable[item.subscriptionNumber], invoice_items.get(item.subscriptionNumber, []), number_of, detail)
        for item in items
    }
    batches = _write_tasks(sync_id, f"plan-{index:04d}", items, entries, snapshots, writers, share)
    return _AccountPlan(batches=batches, receipts=receipts + refused, billed_elsewhere=elsewhere, listed=set(usable))


def _read_account(zuora: ZuoraReader, account_number: str, detail: dict | None, *, page_size: int, found: set[str]) -> tuple[dict, list[dict]]:
    """The account's details and its subscriptions. The details need only the account number, so they are read
    while the pages are (the pages must come one after another: each page's nextPage is in the previous one)."""
    if detail:
        return detail, read_listing(zuora, account_number, page_size=page_size, found=found)
    with ThreadPoolExecutor(max_workers=1) as side:
        pending_detail = side.submit(zuora.get_account_detail, account_number)
        subscriptions = read_listing(zuora, account_number, page_size=page_size, found=found)
        return pending_detail.result(), subscriptions


def _unreadable(account: ZuoraAccountRef, error: SyncError, limio: CustomerSubscriptions, found: set[str]) -> _AccountPlan:
    """The account fails with its reason, and so does each of its subscriptions that is known: those Limio holds
    for it and those its listing gave before it failed."""
    failure = _account_failure(account.accountNumber, error)
    known = sorted(set(limio.numbers_for_zuora_account(account.accountNumber)) | {number for number in found if _keyable(number)})
    logger.warning(
        "A Zuora account could not be read; only its own subscriptions fail",
        extra={"account": account.accountNumber, "error_code": error.code, "known": known},
    )
    receipts = [
        _failed(
            number,
            error.code,
            f"Subscription {number} was not synced: Zuora account {account.accountNumber} could not be read ({error.message}).",
            retryable=error.retryable,
        )
        for number in known
    ]
    return _AccountPlan(receipts=receipts, listed=set(known), failure=failure)


def _plan_billed_elsewhere(
    sync_id: str, planned: list[_AccountPlan], snapshots: Snapshots, previews: InvoiceOwnerPreviews, writers: ThreadPoolExecutor, *, share: int
) -> _AccountPlan:
    """Subscriptions whose invoice owner is another account than the one they are listed under, grouped by that
    owner: each owner previewed once (the preview shared with the owner's own subscriptions when the owner is one
    of the customer's accounts)."""
    by_owner: dict[str, list[tuple[dict, str, dict]]] = defaultdict(list)
    for account_plan in planned:
        for entry in account_plan.billed_elsewhere:
            by_owner[invoice_owner(entry[0], entry[1])].append(entry)
    result = _AccountPlan()
    for index, (owner, entries) in enumerate(sorted(by_owner.items())):
        invoice_items, refused = previews.take(owner, [raw for raw, _, _ in entries])
        failed = {receipt.subscriptionNumber for receipt in refused}
        kept = {
            raw["subscriptionNumber"]: (raw, invoice_items.get(raw["subscriptionNumber"], []), account, detail)
            for raw, account, detail in entries
            if raw["subscriptionNumber"] not in failed
        }
        items = [
            SyncItem(
                subscriptionNumber=number,
                accountNumber=account,
                salesforceAccountId=ids.customer_key_of((detail.get("basicInfo") or {}).get("crmId")),
            )
            for number, (_, _, account, detail) in kept.items()
        ]
        result.batches += _write_tasks(sync_id, f"billed-{index:04d}", items, kept, snapshots, writers, share)
        result.receipts += refused
    return result


def _write_tasks(
    sync_id: str,
    prefix: str,
    items: list[SyncItem],
    entries: dict[str, tuple[dict, list[dict], str, dict]],
    snapshots: Snapshots,
    writers: ThreadPoolExecutor,
    share: int,
) -> list[SyncBatch]:
    """The tasks of these subscriptions, each with its snapshot: the subscriptions, their preview items and
    their accounts' details. `entries` is (subscription, its preview items, its account, the account's details)
    by number."""
    writes = []
    for j, chunk in enumerate(chunks(items, batch_size(len(items), share))):
        batch_id = f"{prefix}-{j:03d}"
        accounts = {entries[item.subscriptionNumber][2]: entries[item.subscriptionNumber][3] for item in chunk}
        subscriptions = {
            item.subscriptionNumber: {"subscription": entries[item.subscriptionNumber][0], "invoiceItems": entries[item.subscriptionNumber][1]}
            for item in chunk
        }
        snapshot = {"accounts": accounts, "subscriptions": subscriptions}
        writes.append((batch_id, chunk, writers.submit(snapshots.put, sync_id, batch_id, snapshot)))
    return [batch for batch_id, chunk, write in writes for batch in _with_snapshot(batch_id, chunk, write)]


def _with_snapshot(batch_id: str, chunk: list[SyncItem], write: Future) -> list[SyncBatch]:
    """The task, with its snapshot's key; if the snapshot could not be stored, its subscriptions are not lost:
    they go to short tasks that read them from Zuora by number."""
    try:
        return [SyncBatch(batchId=batch_id, items=chunk, snapshotKey=write.result())]
    except SyncError as error:
        logger.warning(
            "A task's snapshot could not be stored; its subscriptions will be read from Zuora", extra={"task": batch_id, "reason": error.message}
        )
        return [SyncBatch(batchId=f"{batch_id}-{k:02d}", items=part) for k, part in enumerate(chunks(chunk, MAX_ZUORA_READS_PER_TASK))]


def _without_repeats(batches: list[SyncBatch]) -> list[SyncBatch]:
    """A subscription listed under two accounts (Zuora should never do it) is synced once, by its first task."""
    seen: set[str] = set()
    kept = []
    for batch in batches:
        items = [item for item in batch.items if item.subscriptionNumber not in seen]
        seen.update(item.subscriptionNumber for item in items)
        if items:
            kept.append(batch if len(items) == len(batch.items) else batch.model_copy(update={"items": items}))
    return kept


def _first_of_each(receipts: list[SubscriptionResult]) -> list[SubscriptionResult]:
    by_number: dict[str, SubscriptionResult] = {}
    for receipt in receipts:
        by_number.setdefault(receipt.subscriptionNumber, receipt)
    return list(by_number.values())


def _gone_from_accounts(customer: CustomerRef, accounts: list[ZuoraAccountRef], limio: CustomerSubscriptions, accounted: set[str]) -> list[SyncItem]:
    """What Limio holds in the sync's scope that Zuora did not list: each is re-read by number. The scope of a
    sync by Salesforce id is the customer (records keyed by either form of the id, as older syncs keyed a
    15-character crmId); of a sync by account number, that one account."""
    if customer.salesforceAccountId:
        held = {
            number
            for key in sorted(set(ids.salesforce_id_forms(customer.salesforceAccountId)))
            for number in limio.numbers_for_customer(ids.customer_id(key))
        }
    else:
        held = {number for account in accounts for number in limio.numbers_for_zuora_account(account.accountNumber)}
    gone = sorted(held - accounted)
    if gone:
        logger.info("Limio holds subscriptions Zuora no longer lists in this sync's scope", extra={"subscriptions": gone})
    return [SyncItem(subscriptionNumber=number) for number in gone]


def _nothing_could_be_planned(failures: list[AccountFailure]) -> SyncError:
    """Not one account could be read and Limio holds nothing of them: the job fails (and, if every cause may
    pass, its plan is retried by the state machine and then by the retry schedule)."""
    message = "; ".join(f"Zuora account {f.accountNumber} could not be read ({f.message})" for f in failures)
    return SyncError(message, code=failures[0].errorCode, retryable=all(f.retryable for f in failures))
