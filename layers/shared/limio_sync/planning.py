"""Planning a customer sync: find the customer's Zuora accounts, read each account once (its details, every
page of its subscriptions, one billing preview), cut each account's subscriptions into the Map's tasks and
keep one snapshot per task so the tasks need not call Zuora again. Subscriptions Limio holds for the customer that
Zuora no longer lists under these accounts (an owner transfer, say) are planned too, without a snapshot:
their task reads them from Zuora by number."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol

from limio_sync import ids
from limio_sync.batching import batch_size, chunks, inline_tasks, tasks_reading_zuora
from limio_sync.errors import CustomerNotFound
from limio_sync.models import CustomerRef, ItemsLocation, SyncBatch, SyncItem, SyncPlan
from limio_sync.observability import logger
from limio_sync.zuora.errors import ZuoraNotFound
from limio_sync.zuora.models import ZuoraAccountRef
from limio_sync.zuora.subscription import latest_billing_preview_date

SNAPSHOT_WRITERS = 8
# Accounts are read in parallel, each with at most two Zuora calls in flight (its details beside its pages):
# 4 at a time keeps a plan within 8 of Zuora's concurrency limit (40 by default).
ACCOUNT_READERS = 4


class ZuoraReader(Protocol):
    def find_accounts_by_crm_id(self, crm_id: str) -> list[ZuoraAccountRef]: ...
    def get_account_detail(self, account_key: str) -> dict[str, Any]: ...
    def iter_subscription_pages(self, account_key: str, page_size: int = 40) -> Iterator[list[dict[str, Any]]]: ...
    def preview_billing(self, account_key: str, target_date: dt.date) -> list[dict[str, Any]]: ...


class Snapshots(Protocol):
    def put(self, sync_id: str, batch_id: str, snapshot: dict) -> str: ...


class ItemListStore(Protocol):
    def put(self, sync_id: str, name: str, items: list[dict]) -> dict: ...


class CustomerSubscriptions(Protocol):
    def numbers_for_customer(self, customer_id: str) -> list[str]: ...


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
    """One billing preview per account must reach the latest term end among its subscriptions (or the
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


def read_account(
    zuora: ZuoraReader, account_number: str, detail: dict | None, *, page_size: int, today: dt.date, evergreen_horizon_days: int
) -> tuple[dict, list[dict], dict[str, list[dict]]]:
    """Everything the sync needs from one account: its details, its subscriptions, its billing preview. The
    details need only the account number, so they are read while the pages are (the pages must come one after
    another: each page's nextPage is in the previous one)."""
    with ThreadPoolExecutor(max_workers=1) as side:
        pending_detail = None if detail else side.submit(zuora.get_account_detail, account_number)
        subscriptions = [raw for page in zuora.iter_subscription_pages(account_number, page_size=page_size) for raw in page]
        detail = detail or pending_detail.result()
    if not subscriptions:
        return detail, [], {}
    target = preview_target_date(subscriptions, today, evergreen_horizon_days)
    return detail, subscriptions, items_by_subscription(zuora.preview_billing(account_number, target))


def plan_sync(
    sync_id: str,
    customer: CustomerRef,
    zuora: ZuoraReader,
    snapshots: Snapshots,
    limio: CustomerSubscriptions,
    item_lists: ItemListStore,
    *,
    today: dt.date,
    concurrency: int,
    page_size: int = 40,
    evergreen_horizon_days: int = 365,
    inline_threshold: int = 0,
    inline_concurrency: int = 20,
) -> SyncPlan:
    """Each account is read, cut into tasks and snapshotted on its own, then let go: planning holds at most
    ACCOUNT_READERS accounts' Zuora data at a time, whatever the customer's size. The Map's concurrency is
    shared between the accounts, so the customer's tasks still make about one wave."""
    resolved = resolve_accounts(customer, zuora)
    accounts = [account for account, _ in resolved]
    share = max(1, concurrency // len(resolved))
    plan_one = partial(
        _plan_account,
        sync_id,
        customer,
        zuora,
        snapshots,
        share=share,
        page_size=page_size,
        today=today,
        evergreen_horizon_days=evergreen_horizon_days,
    )
    with ThreadPoolExecutor(max_workers=ACCOUNT_READERS) as readers, ThreadPoolExecutor(max_workers=SNAPSHOT_WRITERS) as writers:
        planned = list(readers.map(lambda args: plan_one(*args, writers=writers), enumerate(resolved)))
    batches = _without_repeats([batch for account_batches in planned for batch in account_batches])
    listed = {number for batch in batches for number in batch.numbers}
    gone = _gone_from_accounts(accounts, customer, limio, listed)
    batches += tasks_reading_zuora("zuora", gone, concurrency)
    total = len(listed) + len(gone)
    logger.info("Planned customer sync", extra={"accounts": [a.accountNumber for a in accounts], "subscriptions": total, "tasks": len(batches)})
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
    customer: CustomerRef,
    zuora: ZuoraReader,
    snapshots: Snapshots,
    index: int,
    resolved: tuple[ZuoraAccountRef, dict | None],
    *,
    writers: ThreadPoolExecutor,
    share: int,
    page_size: int,
    today: dt.date,
    evergreen_horizon_days: int,
) -> list[SyncBatch]:
    """One account's tasks, their snapshots written: its `share` of the Map's concurrency, each task at most
    MAX_PER_TASK subscriptions of this account."""
    account, known = resolved
    number_of = account.accountNumber
    detail, subscriptions, invoice_items = read_account(
        zuora, number_of, known, page_size=page_size, today=today, evergreen_horizon_days=evergreen_horizon_days
    )
    crm_id = account.crmId or customer.salesforceAccountId
    raw_by_number = {raw["subscriptionNumber"]: raw for raw in subscriptions if raw.get("subscriptionNumber")}
    items = [SyncItem(subscriptionNumber=number, accountNumber=number_of, salesforceAccountId=crm_id) for number in raw_by_number]
    writes = []
    for j, chunk in enumerate(chunks(items, batch_size(len(items), share))):
        batch_id = f"plan-{index:04d}-{j:03d}"
        snapshot = {
            "accounts": {number_of: detail},
            "subscriptions": {
                item.subscriptionNumber: {
                    "subscription": raw_by_number[item.subscriptionNumber],
                    "invoiceItems": invoice_items.get(item.subscriptionNumber, []),
                }
                for item in chunk
            },
        }
        writes.append((batch_id, chunk, writers.submit(snapshots.put, sync_id, batch_id, snapshot)))
    return [SyncBatch(batchId=batch_id, items=chunk, snapshotKey=write.result()) for batch_id, chunk, write in writes]


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


def _gone_from_accounts(accounts: list[ZuoraAccountRef], customer: CustomerRef, limio: CustomerSubscriptions, listed: set[str]) -> list[SyncItem]:
    """Subscriptions Limio holds for this customer that Zuora did not list: each is re-read by number."""
    customer_keys = {account.crmId or customer.salesforceAccountId or account.accountNumber for account in accounts}
    held = {number for key in sorted(customer_keys) for number in limio.numbers_for_customer(ids.customer_id(key))}
    gone = sorted(held - listed)
    if gone:
        logger.info("Limio holds subscriptions Zuora no longer lists for this customer", extra={"subscriptions": gone})
    return [SyncItem(subscriptionNumber=number) for number in gone]
