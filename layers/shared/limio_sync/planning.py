"""Planning a customer sync: find the customer's Zuora accounts, list every subscription (following
pagination), keep a snapshot of each so the sync tasks need not call Zuora again, and emit one small
item per subscription for the Map state."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from limio_sync.errors import CustomerNotFound
from limio_sync.models import CustomerRef, SyncItem, SyncPlan
from limio_sync.observability import logger
from limio_sync.zuora.errors import ZuoraNotFound
from limio_sync.zuora.models import ZuoraAccountRef

SNAPSHOT_WRITERS = 8


class AccountsAndSubscriptions(Protocol):
    def find_accounts_by_crm_id(self, crm_id: str) -> list[ZuoraAccountRef]: ...
    def get_account(self, account_key: str) -> ZuoraAccountRef: ...
    def iter_subscription_pages(self, account_key: str, page_size: int = 40): ...


class Snapshots(Protocol):
    def key_for(self, sync_id: str, subscription_number: str) -> str: ...

    def put(self, sync_id: str, subscription_number: str, raw: dict) -> str: ...


def resolve_accounts(customer: CustomerRef, zuora: AccountsAndSubscriptions) -> list[ZuoraAccountRef]:
    if customer.salesforceAccountId:
        accounts = zuora.find_accounts_by_crm_id(customer.salesforceAccountId)
        if not accounts:
            raise CustomerNotFound(f"No Zuora account has CRM ID {customer.salesforceAccountId} (the Salesforce account id).")
        return sorted(accounts, key=lambda a: a.accountNumber)
    try:
        return [zuora.get_account(customer.zuoraAccountNumber or "")]
    except ZuoraNotFound:
        raise CustomerNotFound(f"Zuora has no account {customer.zuoraAccountNumber}.") from None


def plan_sync(
    sync_id: str, customer: CustomerRef, zuora: AccountsAndSubscriptions, snapshots: Snapshots, *, page_size: int = 40
) -> SyncPlan:
    accounts = resolve_accounts(customer, zuora)
    items: list[SyncItem] = []
    seen: set[str] = set()
    with ThreadPoolExecutor(max_workers=SNAPSHOT_WRITERS) as writers:
        pending = []
        for account in accounts:
            for page in zuora.iter_subscription_pages(account.accountNumber, page_size=page_size):
                for raw in page:
                    number = raw.get("subscriptionNumber")
                    if not number or number in seen:
                        continue
                    seen.add(number)
                    key = snapshots.key_for(sync_id, number)
                    pending.append(writers.submit(snapshots.put, sync_id, number, raw))
                    items.append(
                        SyncItem(
                            subscriptionNumber=number,
                            accountNumber=account.accountNumber,
                            salesforceAccountId=account.crmId or customer.salesforceAccountId,
                            snapshotKey=key,
                        )
                    )
        for write in pending:
            write.result()
    logger.info("Planned customer sync", extra={"accounts": [a.accountNumber for a in accounts], "subscriptions": len(items)})
    return SyncPlan(
        syncId=sync_id,
        customer=customer,
        accountNumbers=[a.accountNumber for a in accounts],
        total=len(items),
        items=items,
    )
