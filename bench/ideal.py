"""The ideal sync time: the Zuora round trips the data dependencies force, times the latency, and nothing else.

A sync must learn, for every account of the customer, its details, every subscription and its billing
preview. What forces calls to wait for each other:

* the token comes first (the emulator answers it without latency, like Zuora's unmetered /oauth/token, so it
  costs `token_latency`, 0 by default);
* the accounts lookup (Object Query by crmId, 99 accounts a page, each page's cursor from the previous one)
  needs the token;
* per account, the subscription list pages are sequential (each page's `nextPage` comes from the previous
  one, 40 subscriptions a page; an account with none still needs its one empty page to know it);
* the billing preview needs the list (its target date is the latest term end among the subscriptions);
  none is asked for an account without subscriptions, as planning does;
* the account detail needs only the account number, so it overlaps the first list page;
* accounts are independent, in parallel up to the concurrency limit: with `c` calls per account phase and a
  limit `L`, no schedule finishes in fewer than ⌈Σc / L⌉ steps.

    ideal = token_latency + latency × (lookup_pages + max(longest account chain, ⌈account calls / limit⌉))
    longest account chain = max over accounts of (⌈n/40⌉ list pages + 1 preview)
    minimum calls = 1 token + lookup_pages + Σ over accounts of (1 detail + ⌈n/40⌉ pages + 1 preview)

Our own compute (Lambda, Step Functions, DynamoDB, S3) counts for nothing: the ideal is a lower bound
no implementation can beat at that latency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

SUBSCRIPTION_PAGE_SIZE = 40  # Zuora's maximum for GET /v1/subscriptions/accounts/{key}
ACCOUNT_QUERY_PAGE_SIZE = 99  # Object Query's maximum page size


@dataclass(frozen=True)
class IdealSync:
    """The lower bound for one customer: how many sequential latency steps, which calls, how long."""

    seconds: float
    steps: int
    calls: dict[str, int]
    token_seconds: float

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def list_pages(subscriptions: int, page_size: int = SUBSCRIPTION_PAGE_SIZE) -> int:
    """Pages of one account's subscription list; an empty account still answers one (empty) page."""
    if subscriptions < 0:
        raise ValueError("an account cannot hold a negative number of subscriptions")
    return max(1, math.ceil(subscriptions / page_size))


def account_chain(subscriptions: int, page_size: int = SUBSCRIPTION_PAGE_SIZE) -> int:
    """Sequential steps one account needs: its list pages, then its billing preview (if it has subscriptions)."""
    return list_pages(subscriptions, page_size) + (1 if subscriptions else 0)


def account_calls(subscriptions: int, page_size: int = SUBSCRIPTION_PAGE_SIZE) -> int:
    """Calls one account needs: its detail, its list pages, its preview (if it has subscriptions)."""
    return 1 + account_chain(subscriptions, page_size)


def ideal_sync(
    accounts: Sequence[int],
    *,
    latency_seconds: float,
    concurrency_limit: int,
    page_size: int = SUBSCRIPTION_PAGE_SIZE,
    token_latency_seconds: float = 0.0,
) -> IdealSync:
    """The ideal for a customer whose accounts hold `accounts[i]` subscriptions each."""
    if not accounts:
        raise ValueError("a customer to sync has at least one Zuora account")
    if concurrency_limit < 1:
        raise ValueError("the concurrency limit must be at least 1")
    if latency_seconds < 0 or token_latency_seconds < 0:
        raise ValueError("latency cannot be negative")
    lookup_pages = math.ceil(len(accounts) / ACCOUNT_QUERY_PAGE_SIZE)
    pages = sum(list_pages(n, page_size) for n in accounts)
    previews = sum(1 for n in accounts if n)
    per_account_calls = sum(account_calls(n, page_size) for n in accounts)
    account_steps = max(max(account_chain(n, page_size) for n in accounts), math.ceil(per_account_calls / concurrency_limit))
    steps = lookup_pages + account_steps
    calls = {
        "token": 1,
        "query_accounts": lookup_pages,
        "get_account": len(accounts),
        "list_subscriptions": pages,
        "billing_preview": previews,
    }
    return IdealSync(
        seconds=token_latency_seconds + steps * latency_seconds,
        steps=steps,
        calls=calls,
        token_seconds=token_latency_seconds,
    )


def naive_calls(subscriptions: int, accounts: Sequence[int], page_size: int = SUBSCRIPTION_PAGE_SIZE) -> int:
    """Calls of the naive per-subscription loop: token, lookup, listing pages, then two per subscription."""
    lookup_pages = math.ceil(len(accounts) / ACCOUNT_QUERY_PAGE_SIZE)
    return 1 + lookup_pages + sum(list_pages(n, page_size) for n in accounts) + 2 * subscriptions
