"""A subscription a task reads from Zuora by number (no longer listed under the customer, or a scheduled retry)
is previewed through its invoice owner, once per task, and alone when Zuora refuses the owner's preview; its
customer is keyed on the 18-character form of the account's crmId."""

from __future__ import annotations

import datetime as dt

from limio_sync.catalog import CatalogMapping
from limio_sync.models import SyncItem
from limio_sync.syncing import SyncRules, _one_client_per_task, read_zuora_state
from limio_sync.zuora.errors import ZuoraRequestRejected
from tests import zuora_fixtures as z

RULES = SyncRules(catalog=CatalogMapping(), today=dt.date(2026, 12, 1))
ID18 = z.salesforce_id("REREAD1")


def item(number: str, through: str) -> dict:
    return {"subscriptionNumber": number, "chargeAmount": 5, "serviceStartDate": "2027-01-01", "chargeName": through}


class Zuora:
    """A-S1 and A-S2 belong to A1 and are invoiced to A2; A1's crmId holds the 15-character id."""

    def __init__(self, refuse_owner: bool = False):
        self.refuse_owner = refuse_owner
        self.previews: list[str] = []

    def get_subscription(self, key):
        return {**z.subscription(key, "A1"), "invoiceOwnerAccountNumber": "A2"}

    def get_account_detail(self, key):
        return z.account(key, ID18[:15])

    def preview_billing(self, account_key, target_date):
        self.previews.append(account_key)
        if self.refuse_owner:
            raise ZuoraRequestRejected(f"Zuora rejected the request for account {account_key} (billing preview)")
        return [item("A-S1", "owner"), item("A-S2", "owner"), item("A-S9", "owner")]

    def preview_subscription(self, subscription_key, through_date):
        self.previews.append(subscription_key)
        return [item(subscription_key, "alone")]


def test_a_subscription_read_by_number_is_previewed_through_its_invoice_owner_once_per_task():
    zuora = Zuora()
    client = _one_client_per_task(lambda: zuora)

    first = read_zuora_state(SyncItem(subscriptionNumber="A-S1"), None, client, RULES)
    second = read_zuora_state(SyncItem(subscriptionNumber="A-S2"), None, client, RULES)

    assert zuora.previews == ["A2"]
    assert [i.subscriptionNumber for i in first.invoiceItems] == ["A-S1"] and [i.subscriptionNumber for i in second.invoiceItems] == ["A-S2"]
    assert first.account.crmId == ID18


def test_when_zuora_refuses_the_owners_preview_the_subscription_is_previewed_alone():
    zuora = Zuora(refuse_owner=True)
    client = _one_client_per_task(lambda: zuora)

    first = read_zuora_state(SyncItem(subscriptionNumber="A-S1"), None, client, RULES)
    second = read_zuora_state(SyncItem(subscriptionNumber="A-S2"), None, client, RULES)

    assert zuora.previews == ["A2", "A-S1", "A-S2"]  # the refusal is remembered for the task
    assert [i.chargeName for i in (*first.invoiceItems, *second.invoiceItems)] == ["alone", "alone"]
