"""The emulator's billing preview over real HTTP: the invoice items Zuora would bill, and the Zuora client reading them."""

from __future__ import annotations

import copy
import datetime as dt
import re

import pytest
import requests

from limio_sync.zuora.client import ZuoraClient
from limio_sync.zuora.errors import ZuoraNotFound
from limio_sync.zuora.models import ZuoraCredentials
from local.zuora_emulator import DEMO_TENANT_PATH, ZuoraEmulator
from tests.zuora_fixtures import CLIENT_ID, CLIENT_SECRET, account, subscription, tenant, zuora_id

ACCOUNT = "A00009001"
PREVIEW = "/v1/operations/billing-preview"
MODERN = {"Zuora-Version": "2025-08-12"}
HEX32 = re.compile(r"[0-9a-f]{32}")


def charge(number: str, *, price: float | None = 10.0, **fields) -> dict:
    return {
        "id": zuora_id("charge", number),
        "number": number,
        "name": f"Charge {number}",
        "description": "",
        "type": "Recurring",
        "model": "FlatFee",
        "price": price,
        "quantity": 1,
        "uom": None,
        "billingPeriod": "Month",
        "specificBillingPeriod": None,
        "billingTiming": "IN_ADVANCE",
        "billingPeriodAlignment": "AlignToCharge",
        "endDateCondition": "Subscription_End",
        "effectiveStartDate": "2026-03-01",
        "effectiveEndDate": "2027-03-01",
        "chargedThroughDate": None,
        "triggerDate": None,
        **fields,
    }


def with_charges(record: dict, *charges: dict, product: str = "Digital Pack") -> dict:
    record["ratePlans"] = [{"id": zuora_id("rate plan", record["subscriptionNumber"]), "productName": product, "ratePlanCharges": list(charges)}]
    return record


def billing_tenant(*subscriptions: dict) -> dict:
    return tenant([account(ACCOUNT, crm_id=None)], list(subscriptions), seed=3)


def bearer(emu: ZuoraEmulator) -> dict[str, str]:
    form = {"client_id": emu.client_id, "client_secret": emu.client_secret, "grant_type": "client_credentials"}
    token = requests.post(f"{emu.base_url}/oauth/token", data=form, timeout=5).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def preview(emu: ZuoraEmulator, headers: dict | None = None, **body) -> requests.Response:
    payload = {"accountNumber": ACCOUNT, "targetDate": "2027-12-31", "includingEvergreenSubscription": True, **body}
    return requests.post(f"{emu.base_url}{PREVIEW}", json=payload, headers={**bearer(emu), **(headers or {})}, timeout=5)


def items_of(*subscriptions: dict, **body) -> list[dict]:
    with ZuoraEmulator(billing_tenant(*subscriptions)) as emu:
        reply = preview(emu, **body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["success"] is True
    return reply.json()["invoiceItems"]


def periods(items: list[dict]) -> list[tuple[str, str, float]]:
    return [(item["serviceStartDate"], item["serviceEndDate"], item["chargeAmount"]) for item in items]


# Recurring charges


def test_a_monthly_per_unit_charge_bills_each_unbilled_period_until_the_term_end():
    seats = charge("C-1", model="PerUnit", price=4.5, quantity=10, uom="Seat", chargedThroughDate="2026-12-01")

    items = items_of(with_charges(subscription("A-S1", ACCOUNT), seats))

    assert periods(items) == [("2026-12-01", "2026-12-31", 45.0), ("2027-01-01", "2027-01-31", 45.0), ("2027-02-01", "2027-02-28", 45.0)]
    first = items[0]
    assert HEX32.fullmatch(first["id"])
    assert first["chargeDate"] == "2026-12-01 00:00:00"
    assert (first["subscriptionName"], first["subscriptionNumber"]) == ("A-S1", "A-S1")
    assert first["subscriptionId"] == zuora_id("subscription", "A-S1", "1")
    assert (first["chargeNumber"], first["chargeId"], first["chargeName"], first["productName"]) == ("C-1", seats["id"], "Charge C-1", "Digital Pack")
    assert (first["quantity"], first["unitOfMeasure"], first["taxAmount"]) == (10, "Seat", 0)
    assert (first["chargeType"], first["processingType"], first["appliedToItemId"]) == ("Recurring", "Charge", None)


def test_an_annual_flat_fee_bills_once_a_year_from_its_start():
    annual = charge("C-1", price=1200, billingPeriod="Annual", effectiveEndDate="2028-03-01")

    items = items_of(with_charges(subscription("A-S1", ACCOUNT, term_end="2028-03-01"), annual))

    assert periods(items) == [("2026-03-01", "2027-02-28", 1200.0), ("2027-03-01", "2028-02-29", 1200.0)]


def test_an_in_arrears_charge_is_billed_the_day_after_its_period_ends():
    arrears = charge("C-1", billingTiming="IN_ARREARS", chargedThroughDate="2026-11-01")

    items = items_of(with_charges(subscription("A-S1", ACCOUNT), arrears), targetDate="2026-12-31")

    assert [(item["serviceStartDate"], item["serviceEndDate"], item["chargeDate"]) for item in items] == [
        ("2026-11-01", "2026-11-30", "2026-12-01 00:00:00")
    ]


def test_a_final_partial_period_is_prorated_by_days_rounding_half_up():
    # 10.50 × 3 days / 28 days of February = 1.125 → 1.13
    short = charge("C-1", price=10.5, effectiveStartDate="2026-02-01", effectiveEndDate="2026-02-04")

    items = items_of(with_charges(subscription("A-S1", ACCOUNT, term_start="2026-02-01", term_end="2026-02-04"), short))

    assert periods(items) == [("2026-02-01", "2026-02-03", 1.13)]


def test_month_ends_are_clamped_without_drifting():
    end_of_month = charge("C-1", effectiveStartDate="2027-01-31", effectiveEndDate="2027-05-31")

    items = items_of(with_charges(subscription("A-S1", ACCOUNT, term_start="2027-01-31", term_end="2027-05-31"), end_of_month))

    assert [item["serviceStartDate"] for item in items] == ["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"]
    assert items[0]["serviceEndDate"] == "2027-02-27"


@pytest.mark.parametrize(
    ("cadence", "target", "service_periods"),
    [
        ({"billingPeriod": "Week"}, "2026-03-15", [("2026-03-01", "2026-03-07"), ("2026-03-08", "2026-03-14"), ("2026-03-15", "2026-03-21")]),
        (
            {"billingPeriod": "Specific_Months", "specificBillingPeriod": 2},
            "2026-05-20",
            [("2026-03-01", "2026-04-30"), ("2026-05-01", "2026-06-30")],
        ),
        ({"billingPeriod": "Quarter"}, "2026-05-20", [("2026-03-01", "2026-05-31")]),
        ({"billingPeriod": "Two_Years"}, "2026-05-20", [("2026-03-01", "2027-02-28")]),  # cut at the term end
    ],
)
def test_other_billing_periods(cadence, target, service_periods):
    items = items_of(with_charges(subscription("A-S1", ACCOUNT), charge("C-1", **cadence)), targetDate=target)

    assert [(item["serviceStartDate"], item["serviceEndDate"]) for item in items] == service_periods


def test_volume_and_tiered_prices_come_from_the_tiers():
    tiers = [
        {"tier": 1, "startingUnit": 1, "endingUnit": 10, "price": 5, "priceFormat": "PerUnit"},
        {"tier": 2, "startingUnit": 11, "endingUnit": None, "price": 4, "priceFormat": "PerUnit"},
    ]
    volume = charge("C-1", model="Volume", quantity=12, tiers=tiers, price=None)
    tiered = charge("C-2", model="Tiered", quantity=12, tiers=tiers, price=None)

    items = items_of(with_charges(subscription("A-S1", ACCOUNT), volume, tiered), targetDate="2026-03-31")

    assert [(item["chargeNumber"], item["chargeAmount"]) for item in items] == [("C-1", 48.0), ("C-2", 58.0)]


def test_usage_charges_bill_nothing_as_usage_is_unknown():
    usage = charge("C-1", type="Usage", model="PerUnit", billingTiming="IN_ARREARS")

    assert items_of(with_charges(subscription("A-S1", ACCOUNT), usage), chargeTypeToExclude="") == []


# One-time charges


def test_a_one_time_charge_is_billed_once_until_it_has_been_billed():
    setup = charge("C-2", type="OneTime", price=49, billingPeriod=None, effectiveStartDate="2026-12-15", effectiveEndDate="2026-12-16")
    record = with_charges(subscription("A-S1", ACCOUNT, term_start="2026-12-15", term_end="2027-12-15"), setup)

    with ZuoraEmulator(billing_tenant(record)) as emu:
        before = preview(emu).json()["invoiceItems"]
        billed = copy.deepcopy(record)
        billed["ratePlans"][0]["ratePlanCharges"][0]["chargedThroughDate"] = "2026-12-16"
        emu.upsert_subscription(billed)
        after = preview(emu).json()["invoiceItems"]

    assert [(item["serviceStartDate"], item["serviceEndDate"], item["chargeDate"], item["chargeAmount"], item["chargeType"]) for item in before] == [
        ("2026-12-15", "2026-12-15", "2026-12-15 00:00:00", 49.0, "OneTime")
    ]
    assert after == []


# Discounts


def test_a_percentage_discount_is_a_negative_item_for_each_discounted_item():
    copies = charge("C-1", model="PerUnit", price=12.5, quantity=30, chargedThroughDate="2026-12-01")
    setup = charge("C-2", type="OneTime", price=150, billingPeriod=None, effectiveStartDate="2026-12-01")
    loyalty = charge("C-3", model="DiscountPercentage", price=None, quantity=None, chargedThroughDate="2026-12-01")
    loyalty.update(discountPercentage=10, applyDiscountTo="RECURRING", discountLevel="subscription")

    items = items_of(with_charges(subscription("A-S1", ACCOUNT), copies, setup, loyalty), targetDate="2027-01-31")

    charges = [item for item in items if item["processingType"] == "Charge" and item["chargeType"] == "Recurring"]
    discounts = [item for item in items if item["processingType"] == "Discount"]
    assert [item["chargeAmount"] for item in charges] == [375.0, 375.0]
    assert [(item["chargeNumber"], item["chargeAmount"], item["appliedToItemId"]) for item in discounts] == [
        ("C-3", -37.5, charges[0]["id"]),
        ("C-3", -37.5, charges[1]["id"]),
    ]
    assert periods(discounts) == [("2026-12-01", "2026-12-31", -37.5), ("2027-01-01", "2027-01-31", -37.5)]
    assert len({item["id"] for item in items}) == len(items)


def test_a_fixed_amount_discount_is_granted_once_per_period_and_never_exceeds_the_charges():
    small = charge("C-1", price=3, chargedThroughDate="2026-12-01")
    large = charge("C-2", price=20, chargedThroughDate="2026-12-01")
    voucher = charge("C-3", model="DiscountFixedAmount", price=None, discountAmount=5, chargedThroughDate="2026-12-01")

    items = items_of(with_charges(subscription("A-S1", ACCOUNT), small, large, voucher), targetDate="2026-12-31")

    discounts = {item["appliedToItemId"]: item["chargeAmount"] for item in items if item["processingType"] == "Discount"}
    by_charge = {item["chargeNumber"]: item["id"] for item in items if item["processingType"] == "Charge"}
    assert discounts == {by_charge["C-1"]: -3.0, by_charge["C-2"]: -2.0}


# Subscription states and renewal


def test_a_cancelled_subscription_stops_at_its_end_date():
    monthly = charge("C-1", chargedThroughDate="2026-12-01", effectiveEndDate="2027-02-15")
    cancelled = subscription("A-S1", ACCOUNT, status="Cancelled", term_end="2027-02-15")

    items = items_of(with_charges(cancelled, monthly))

    assert periods(items) == [("2026-12-01", "2026-12-31", 10.0), ("2027-01-01", "2027-01-31", 10.0), ("2027-02-01", "2027-02-14", 5.0)]


@pytest.mark.parametrize("status", ["Suspended", "Draft", "Expired"])
def test_suspended_draft_and_expired_subscriptions_bill_nothing(status):
    assert items_of(with_charges(subscription("A-S1", ACCOUNT, status=status), charge("C-1"))) == []


def test_a_pending_subscription_bills_from_its_start():
    pending = subscription("A-S1", ACCOUNT, status="Pending Activation", term_start="2027-11-15", term_end="2028-11-15")

    items = items_of(with_charges(pending, charge("C-1", effectiveStartDate="2027-11-15", effectiveEndDate="2028-11-15")))

    assert [item["serviceStartDate"] for item in items] == ["2027-11-15", "2027-12-15"]


def test_evergreen_subscriptions_only_when_asked_for():
    evergreen = with_charges(subscription("A-S1", ACCOUNT, term_end=None), charge("C-1", effectiveEndDate=None, chargedThroughDate="2027-10-01"))

    assert [item["serviceStartDate"] for item in items_of(evergreen)] == ["2027-10-01", "2027-11-01", "2027-12-01"]
    assert items_of(evergreen, includingEvergreenSubscription=False) == []
    assert items_of(evergreen, includingEvergreenSubscription="false") == []  # Zuora's own examples send strings


def test_assume_renewal_extends_termed_subscriptions_by_their_renewal_term():
    renewing = with_charges(subscription("A-S1", ACCOUNT, auto_renew=True), charge("C-1", chargedThroughDate="2027-02-01"))
    lapsing = with_charges(subscription("A-S2", ACCOUNT, auto_renew=False), charge("C-2", chargedThroughDate="2027-02-01"))

    def months_billed(assume_renewal: str) -> dict[str, int]:
        items = items_of(copy.deepcopy(renewing), copy.deepcopy(lapsing), assumeRenewal=assume_renewal, targetDate="2028-02-29")
        return {number: sum(item["subscriptionNumber"] == number for item in items) for number in ("A-S1", "A-S2")}

    assert months_billed("None") == {"A-S1": 1, "A-S2": 1}
    assert months_billed("Autorenew") == {"A-S1": 13, "A-S2": 1}
    assert months_billed("All") == {"A-S1": 13, "A-S2": 13}


def test_charge_types_can_be_excluded():
    record = with_charges(
        subscription("A-S1", ACCOUNT),
        charge("C-1", chargedThroughDate="2027-02-01"),
        charge("C-2", type="OneTime", price=99, billingPeriod=None, effectiveStartDate="2027-02-01"),
    )

    assert {item["chargeType"] for item in items_of(copy.deepcopy(record))} == {"Recurring", "OneTime"}
    assert {item["chargeType"] for item in items_of(copy.deepcopy(record), chargeTypeToExclude="OneTime")} == {"Recurring"}
    assert {item["chargeType"] for item in items_of(copy.deepcopy(record), chargeTypeToExclude="Recurring, Usage")} == {"OneTime"}


# Stability, shape, errors


def test_the_same_state_gives_the_same_items_and_ids_and_a_new_version_keeps_them():
    monthly = [charge(number, chargedThroughDate="2026-12-01") for number in ("C-2", "C-1")]
    record = with_charges(subscription("A-S1", ACCOUNT), *monthly)

    with ZuoraEmulator(billing_tenant(record)) as emu:
        first, second = preview(emu).json(), preview(emu).json()
        emu.update_subscription("A-S1", notes="renegotiated")
        after_amendment = preview(emu).json()["invoiceItems"]

    assert first == second
    items = first["invoiceItems"]
    order = [(item["chargeDate"], item["chargeNumber"]) for item in items]
    assert order == sorted(order) and order[:2] == [("2026-12-01 00:00:00", "C-1"), ("2026-12-01 00:00:00", "C-2")]
    assert [item["id"] for item in after_amendment] == [item["id"] for item in items]
    assert first["accountId"] == zuora_id("account", ACCOUNT) and "creditMemoItems" not in first  # no Invoice Settlement


def test_the_account_may_be_given_by_id_and_other_accounts_subscriptions_are_left_out():
    mine = with_charges(subscription("A-S1", ACCOUNT), charge("C-1", chargedThroughDate="2027-02-01"))
    theirs = with_charges(subscription("A-S2", "A00009002"), charge("C-2", chargedThroughDate="2027-02-01"))
    two_accounts = tenant([account(ACCOUNT, crm_id=None), account("A00009002", crm_id=None)], [mine, theirs])

    with ZuoraEmulator(two_accounts) as emu:
        reply = preview(emu, accountNumber=None, accountId=zuora_id("account", ACCOUNT))

    assert [item["subscriptionNumber"] for item in reply.json()["invoiceItems"]] == ["A-S1"]


@pytest.mark.parametrize(("headers", "status"), [(None, 200), (MODERN, 404)])
def test_an_unknown_account_is_not_found_in_both_error_styles(headers, status):
    with ZuoraEmulator(billing_tenant()) as emu:
        reply = preview(emu, headers=headers, accountNumber="A09999999")

    assert reply.status_code == status
    body = reply.json()
    assert body["success"] is False
    assert body["reasons"] == [{"code": 50000040, "message": "Cannot find entity by key: 'A09999999'."}]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"targetDate": None}, 50000022),
        ({"targetDate": "2027-13-01"}, 50000020),
        ({"assumeRenewal": "Sometimes"}, 50000020),
        ({"chargeTypeToExclude": "Discount"}, 50000020),
        ({"targetDate": "2099-01-01"}, 50000020),
        ({"accountNumber": None}, 50000022),
    ],
)
def test_invalid_requests_are_rejected_in_both_error_styles(body, code):
    with ZuoraEmulator(billing_tenant()) as emu:
        legacy, modern = preview(emu, **body), preview(emu, headers=MODERN, **body)

    assert (legacy.status_code, legacy.json()["success"], legacy.json()["reasons"][0]["code"]) == (200, False, code)
    assert (modern.status_code, modern.json()["reasons"][0]["code"]) == (400, code)


def test_a_missing_target_date_or_a_body_that_is_not_json_is_rejected():
    with ZuoraEmulator(billing_tenant()) as emu:
        headers = {**bearer(emu), **MODERN}
        missing = requests.post(f"{emu.base_url}{PREVIEW}", json={"accountNumber": ACCOUNT}, headers=headers, timeout=5)
        garbled = requests.post(f"{emu.base_url}{PREVIEW}", data=b"{not json", headers=headers, timeout=5)

    assert (missing.status_code, missing.json()["reasons"][0]["code"]) == (400, 50000022)
    assert "targetDate" in missing.json()["reasons"][0]["message"]
    assert (garbled.status_code, garbled.json()["reasons"][0]["code"]) == (400, 50000090)


def test_a_charge_the_emulator_cannot_price_is_a_business_rule_error_naming_it():
    odd = charge("C-7", model="MultiAttributePricing")

    with ZuoraEmulator(billing_tenant(with_charges(subscription("A-S1", ACCOUNT), odd))) as emu:
        reply = preview(emu, headers=MODERN)

    assert reply.status_code == 400
    assert reply.json()["reasons"][0]["code"] == 50000030
    assert "C-7" in reply.json()["reasons"][0]["message"] and "A-S1" in reply.json()["reasons"][0]["message"]


def test_billing_preview_is_metered_authenticated_and_faultable_like_other_routes():
    with ZuoraEmulator(billing_tenant()) as emu:
        unauthenticated = requests.post(f"{emu.base_url}{PREVIEW}", json={"accountNumber": ACCOUNT, "targetDate": "2027-12-31"}, timeout=5)
        emu.add_fault({"method": "POST", "path": PREVIEW, "times": 1, "status": 503, "retryAfter": 1})
        faulted, normal = preview(emu), preview(emu)
        stats = emu.stats

    assert unauthenticated.status_code == 401
    assert (faulted.status_code, faulted.headers["Retry-After"]) == (503, "1")
    assert normal.status_code == 200 and normal.headers["Concurrency-Limit-Type"] == "Default"
    assert stats.count("POST", "billing_preview") == 3


# The demo tenant and the Zuora client


def test_the_demo_tenant_previews_sensibly_through_the_zuora_client():
    with ZuoraEmulator(DEMO_TENANT_PATH) as emu:
        client = ZuoraClient(emu.base_url, ZuoraCredentials(client_id=emu.client_id, client_secret=emu.client_secret))
        consumer = client.preview_billing("A00001001", dt.date(2027, 12, 31))
        print_items = client.preview_billing("A00001002", dt.date(2027, 12, 31), assume_renewal="Autorenew")
        with pytest.raises(ZuoraNotFound):
            client.preview_billing("A09999999", dt.date(2027, 12, 31))

    totals: dict[str, float] = {}
    for item in consumer + print_items:
        totals[item["subscriptionNumber"]] = round(totals.get(item["subscriptionNumber"], 0) + item["chargeAmount"], 2)
    assert totals == pytest.approx(
        {
            "A-S00002002": 13 * 9.99,  # evergreen monthly from its chargedThroughDate 2026-12-15
            # A-S00002004 is Pending Activation, its charges wait for ServiceActivation: nothing is billed before it.
            "A-S00002006": 13 * (375.0 - 37.5) + 9600.0 - 960.0,  # 10 % loyalty discount; renewal bills the annual fee
            "A-S00002009": 4920.0,  # renewed annual seats
            "A-S00002011": 13 * 240.0,
        }
    )


def test_the_client_sends_zuoras_request_shape():
    with ZuoraEmulator(tenant([account(ACCOUNT, crm_id=None)], [], defaultApiVersion="2025-08-12")) as emu:
        credentials = ZuoraCredentials(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        assert ZuoraClient(emu.base_url, credentials).preview_billing(ACCOUNT, dt.date(2027, 12, 31)) == []
        assert emu.stats.count("POST", "billing_preview") == 1
