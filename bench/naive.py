"""The naive route the service replaces: a per-subscription sync called in a loop.

Listing tells it the subscription numbers (accounts by crmId, then each account's pages); then, one
subscription after another, it reads the subscription (`GET /v1/subscriptions/{number}`) and its account
(`GET /v1/accounts/{number}`): two sequential Zuora round trips per subscription. It only reads — it writes
nothing to Limio — so its time is a floor for the naive route, which is the comparison we want.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from limio_sync.zuora.client import ZuoraClient
from limio_sync.zuora.models import ZuoraCredentials


@dataclass(frozen=True)
class NaiveRun:
    seconds: float  # measured for `measured` subscriptions (plus the listing)
    subscriptions: int  # the customer's subscriptions
    measured: int  # how many of them the loop went through
    listing_seconds: float

    @property
    def estimated_seconds(self) -> float:
        """The whole customer's time: the loop is sequential, so its time per subscription is constant."""
        if self.measured == self.subscriptions:
            return self.seconds
        per_subscription = (self.seconds - self.listing_seconds) / self.measured
        return self.listing_seconds + per_subscription * self.subscriptions


def run_naive(base_url: str, client_id: str, client_secret: str, crm_id: str, *, limit: int | None = None) -> NaiveRun:
    """Sync (read) every subscription of the customer one at a time; stop after `limit` subscriptions if given."""
    client = ZuoraClient(base_url, ZuoraCredentials(client_id=client_id, client_secret=client_secret), api_version="2025-08-12")
    started = time.monotonic()
    numbers: list[str] = []
    for account in client.find_accounts_by_crm_id(crm_id):
        for page in client.iter_subscription_pages(account.accountNumber):
            numbers.extend(raw["subscriptionNumber"] for raw in page)
    listed = time.monotonic()
    chosen = numbers if limit is None else numbers[:limit]
    for number in chosen:
        subscription = client.get_subscription(number)
        client.get_account_detail(subscription["accountNumber"])
    return NaiveRun(
        seconds=time.monotonic() - started,
        subscriptions=len(numbers),
        measured=len(chosen),
        listing_seconds=listed - started,
    )
