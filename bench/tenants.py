"""Synthetic Zuora tenants of N subscriptions for one Salesforce customer, with the catalog that maps every
rate plan they use.

Shapes come from tests/zuora_fixtures.py; each subscription gets one base plan and, by turns, an add-on, a
percentage discount and a one-time fee, with billing periods and charged-through dates that leave the
billing preview real work (months still to bill, prorations, discounts applied to items).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from tests import zuora_fixtures as z

ACCOUNT_CAPACITY = 100  # subscriptions per Zuora account: one account up to 100, then more accounts


@dataclass(frozen=True)
class Product:
    key: str
    product: str
    rate_plan: str
    offer_path: str
    offer_type: str
    charge: dict

    @property
    def rate_plan_id(self) -> str:
        return z.zuora_id("bench-product-rate-plan", self.key)


def _charge(name: str, charge_type: str, model: str, **fields) -> dict:
    return {
        "name": name,
        "type": charge_type,
        "model": model,
        "uom": None,
        "currency": "GBP",
        "price": None,
        "quantity": 1,
        "tiers": None,
        "discountAmount": None,
        "discountPercentage": None,
        "discountLevel": None,
        "applyDiscountTo": None,
        "billingDay": "DefaultFromCustomer",
        "billingPeriod": "Month",
        "specificBillingPeriod": None,
        "billingTiming": "IN_ADVANCE",
        "billingPeriodAlignment": "AlignToCharge",
        "triggerEvent": "ContractEffective",
        "triggerDate": None,
        "endDateCondition": "Subscription_End",
        **fields,
    }


PRODUCTS = {
    product.key: product
    for product in (
        Product(
            "digital",
            "Digital Pack",
            "Digital Pack - Monthly",
            "/offers/digital-pack/monthly",
            "offer",
            _charge("Digital Pack Monthly", "Recurring", "FlatFee", price=14.99),
        ),
        Product(
            "seats",
            "Team Digital",
            "Team Seats - Monthly",
            "/offers/digital-pack/team-monthly",
            "offer",
            _charge("Team Seats", "Recurring", "PerUnit", price=12.5, uom="Seat"),
        ),
        Product(
            "bundle",
            "Print + Digital Bundle",
            "Print + Digital - Quarterly",
            "/offers/print-digital/quarterly",
            "offer",
            _charge("Print + Digital Quarterly", "Recurring", "FlatFee", price=165.0, billingPeriod="Quarter"),
        ),
        Product(
            "archive",
            "Archive Access",
            "Archive Access - Monthly",
            "/offers/add-ons/archive-access",
            "addon",
            _charge("Archive Access", "Recurring", "FlatFee", price=17.5),
        ),
        Product(
            "loyalty",
            "Discounts",
            "Loyalty Discount 10%",
            "/offers/discounts/loyalty-10",
            "addon",
            _charge(
                "Loyalty Discount",
                "Recurring",
                "DiscountPercentage",
                price=None,
                quantity=None,
                discountPercentage=10.0,
                discountLevel="subscription",
                applyDiscountTo="RECURRING",
            ),
        ),
        Product(
            "setup",
            "Onboarding",
            "Onboarding Fee",
            "/offers/add-ons/onboarding",
            "addon",
            _charge("Onboarding Fee", "OneTime", "FlatFee", price=49.0, billingPeriod=None, endDateCondition="One_Time"),
        ),
    )
}
BASE_PLANS = ("digital", "seats", "bundle")


def catalog() -> dict:
    """The catalog mapping (LocalSyncService(catalog=...)) for every rate plan the tenants use."""
    return {"ratePlans": {p.rate_plan_id: {"offerPath": p.offer_path, "type": p.offer_type} for p in PRODUCTS.values()}}


def account_sizes(subscriptions: int, capacity: int = ACCOUNT_CAPACITY) -> list[int]:
    """How a customer's subscriptions spread over its Zuora accounts: one account up to `capacity`, then as
    few accounts as hold them, filled evenly (1000 → ten accounts of 100)."""
    if subscriptions < 1:
        raise ValueError("a customer has at least one subscription")
    accounts = math.ceil(subscriptions / capacity)
    base, extra = divmod(subscriptions, accounts)
    return [base + (1 if i < extra else 0) for i in range(accounts)]


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


def _rate_plan(subscription_number: str, product: Product, position: int, start: dt.date, end: dt.date | None, billed_through: dt.date) -> dict:
    charge = dict(product.charge)
    number = f"C-{subscription_number[-8:]}{position}"
    charge.update(
        id=z.zuora_id("charge", subscription_number, product.key),
        number=number,
        productRatePlanChargeId=z.zuora_id("bench-product-rate-plan-charge", product.key),
        effectiveStartDate=start.isoformat(),
        effectiveEndDate=(end or _add_months(start, 120)).isoformat() if product.key != "setup" else (start + dt.timedelta(days=1)).isoformat(),
        chargedThroughDate=None if product.key == "setup" else billed_through.isoformat(),
        processedThroughDate=None if product.key == "setup" else billed_through.isoformat(),
    )
    if product.key == "seats":
        charge["quantity"] = 5 + int(subscription_number[-3:]) % 26
    return {
        "id": z.zuora_id("rate-plan", subscription_number, product.key),
        "subscriptionRatePlanNumber": f"SRP-{subscription_number[-8:]}{position}",
        "productId": z.zuora_id("product", product.product),
        "productName": product.product,
        "productRatePlanId": product.rate_plan_id,
        "ratePlanName": product.rate_plan,
        "ratePlanCharges": [charge],
    }


def synthetic_subscription(number: str, account_number: str, index: int, today: dt.date) -> dict:
    """Mostly active termed subscriptions started over the past year; some evergreen, cancelled, suspended."""
    term_start = _add_months(today, -(index % 12))
    evergreen = index % 10 == 9
    term_end = None if evergreen else _add_months(term_start, 12)
    status = "Cancelled" if index % 20 == 7 else "Suspended" if index % 25 == 3 else "Active"
    record = z.subscription(
        number,
        account_number,
        status=status,
        version=1 + index % 4,
        term_start=term_start.isoformat(),
        term_end=term_end.isoformat() if term_end else None,
        auto_renew=index % 3 != 0,
        updated=(today - dt.timedelta(days=index % 300)).isoformat(),
    )
    record.update(subscriptionStartDate=term_start.isoformat(), contractEffectiveDate=term_start.isoformat())
    if status == "Cancelled":
        record["subscriptionEndDate"] = _add_months(today, 1).isoformat()
    billed_through = _add_months(today, 1)  # monthly charges billed in advance through this month
    keys = [BASE_PLANS[index % len(BASE_PLANS)]]
    keys += [key for key, every in (("archive", 4), ("loyalty", 5), ("setup", 7)) if index % every == 0]
    record["ratePlans"] = [_rate_plan(number, PRODUCTS[key], position, term_start, term_end, billed_through) for position, key in enumerate(keys)]
    return record


def _customer(size: int, key: str, today: dt.date) -> tuple[list[dict], list[dict], str]:
    crm_id = z.salesforce_id(f"{key}{size:06d}")
    accounts, subscriptions = [], []
    index = 0
    for position, count in enumerate(account_sizes(size)):
        number = f"{key[0]}{size:05d}{position:03d}"
        accounts.append(z.account(number, crm_id, name=f"{key.title()} customer {size} — account {position + 1}"))
        for _ in range(count):
            subscriptions.append(synthetic_subscription(f"{key[0]}-S{size:05d}{index:05d}", number, index, today))
            index += 1
    return accounts, subscriptions, crm_id


def bench_tenant(size: int, today: dt.date | None = None) -> tuple[dict, str, str]:
    """A tenant with the measured customer (`size` subscriptions) and a one-subscription warm-up customer;
    returns (tenant, the customer's crmId, the warm-up customer's crmId)."""
    today = today or dt.date.today()
    accounts, subscriptions, crm_id = _customer(size, "BENCH", today)
    warmup_accounts, warmup_subscriptions, warmup_crm_id = _customer(1, "WARMUP", today)
    return z.tenant(accounts + warmup_accounts, subscriptions + warmup_subscriptions, seed=size), crm_id, warmup_crm_id
