"""Charge segments, removed rate plans and the Zuora-side changes that make them, over real HTTP.

Zuora's oracle: zuora-sdk 3.21.0 `SubscriptionsApi.get_subscriptions_by_key` (`charge-detail`, `as-of-date`,
`exclude-rate-plans-with-no-charges`), `GetSubscriptionRatePlanChargesWithAllSegments`, `RatePlanChargeSegment` and
`GetSubscriptionRatePlan.lastChangeType`; https://developer.zuora.com/v1-api-reference/api/operation/GET_SubscriptionsByKey/
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from local.zuora_emulator import AdminError, TenantError, ZuoraEmulator
from tests.zuora_fixtures import account, subscription, tenant, zuora_id

ACCOUNT = "A00009001"
MODERN = {"Zuora-Version": "2025-08-12"}


class Calendar:
    """The emulator's today, moved by the test."""

    def __init__(self, day: str):
        self.day = dt.date.fromisoformat(day)

    def __call__(self) -> dt.date:
        return self.day


def monthly(number: str, price: float, **fields) -> dict:
    return {
        "id": zuora_id("charge", number),
        "number": number,
        "name": f"Charge {number}",
        "type": "Recurring",
        "model": "FlatFee",
        "price": price,
        "quantity": 1,
        "currency": "GBP",
        "billingPeriod": "Month",
        "billingTiming": "IN_ADVANCE",
        "endDateCondition": "Subscription_End",
        "effectiveStartDate": "2026-03-01",
        "effectiveEndDate": "2027-03-01",
        "chargedThroughDate": "2026-12-01",
        **fields,
    }


def rate_plan(key: str, *charges: dict) -> dict:
    return {
        "id": zuora_id("rate plan", key),
        "subscriptionRatePlanNumber": f"SRP-{key}",
        "productRatePlanId": zuora_id("product rate plan", key),
        "productName": f"Product {key}",
        "ratePlanName": f"Plan {key}",
        "lastChangeType": None,
        "ratePlanCharges": list(charges),
    }


def two_plan_tenant(**settings) -> dict:
    record = subscription("A-S1", ACCOUNT, version=2)
    record["ratePlans"] = [rate_plan("P1", monthly("C-1", 10.0)), rate_plan("P2", monthly("C-2", 5.0, chargedThroughDate="2027-01-01"))]
    return tenant([account(ACCOUNT, crm_id=None)], [record], seed=1, **settings)


class Client:
    def __init__(self, emu: ZuoraEmulator):
        form = {"client_id": emu.client_id, "client_secret": emu.client_secret, "grant_type": "client_credentials"}
        token = requests.post(f"{emu.base_url}/oauth/token", data=form, timeout=5).json()["access_token"]
        self.base_url, self.headers = emu.base_url, {"Authorization": f"Bearer {token}", **MODERN}

    def subscription(self, **params) -> dict:
        reply = requests.get(f"{self.base_url}/v1/subscriptions/A-S1", params=params, headers=self.headers, timeout=5)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def listed(self, **params) -> dict:
        reply = requests.get(f"{self.base_url}/v1/subscriptions/accounts/{ACCOUNT}", params=params, headers=self.headers, timeout=5)
        assert reply.status_code == 200, reply.text
        return reply.json()["subscriptions"][0]

    def preview(self, target: str = "2027-02-28") -> dict:
        body = {"accountNumber": ACCOUNT, "targetDate": target}
        reply = requests.post(f"{self.base_url}/v1/operations/billing-preview", json=body, headers=self.headers, timeout=5)
        assert reply.status_code == 200, reply.text
        return reply.json()


def charge_of(record: dict, number: str) -> dict:
    return next(charge for plan in record["ratePlans"] for charge in plan["ratePlanCharges"] if charge["number"] == number)


def plan_of(record: dict, key: str) -> dict | None:
    return next((plan for plan in record["ratePlans"] if plan["subscriptionRatePlanNumber"] == f"SRP-{key}"), None)


@pytest.fixture
def calendar() -> Calendar:
    return Calendar("2026-12-01")


@pytest.fixture
def emu(calendar):
    with ZuoraEmulator(two_plan_tenant(), today=calendar) as running:
        yield running


# A future-dated price change makes a second charge segment


@pytest.fixture
def price_rise(emu) -> dict:
    return emu.amend("A-S1", chargeNumber="C-1", price=12.0, effectiveDate="2027-01-01")


def test_a_future_price_change_is_a_new_version_with_a_second_segment(emu, price_rise):
    assert price_rise["version"] == 3 and price_rise["id"] != zuora_id("subscription", "A-S1", "2")
    assert plan_of(Client(emu).subscription(), "P1")["lastChangeType"] == "Update"


def test_by_default_zuora_serves_the_last_segment(emu, price_rise):
    charge = charge_of(Client(emu).subscription(), "C-1")

    assert (charge["price"], charge["effectiveStartDate"], charge["effectiveEndDate"]) == (12.0, "2027-01-01", "2027-03-01")
    assert (charge["segment"], charge["isLastSegment"]) == (2, True)
    assert "chargeSegments" not in charge


def test_current_segment_is_the_one_in_effect_today(emu, price_rise):
    charge = charge_of(Client(emu).subscription(**{"charge-detail": "current-segment"}), "C-1")

    assert (charge["price"], charge["effectiveStartDate"], charge["effectiveEndDate"], charge["segment"]) == (10.0, "2026-03-01", "2027-01-01", 1)


@pytest.mark.parametrize(("as_of", "price"), [("2026-12-31", 10.0), ("2027-01-01", 12.0), ("2027-02-15", 12.0)])
def test_specific_segment_is_the_one_in_effect_on_the_as_of_date(emu, price_rise, as_of, price):
    charge = charge_of(Client(emu).subscription(**{"charge-detail": "specific-segment", "as-of-date": as_of}), "C-1")

    assert charge["price"] == price


def test_all_segments_lists_every_segment_in_chargesegments(emu, price_rise):
    charge = charge_of(Client(emu).subscription(**{"charge-detail": "all-segments"}), "C-1")

    segments = charge["chargeSegments"]
    assert [(s["segment"], s["price"], s["effectiveStartDate"], s["effectiveEndDate"], s["isLastSegment"]) for s in segments] == [
        (1, 10.0, "2026-03-01", "2027-01-01", False),
        (2, 12.0, "2027-01-01", "2027-03-01", True),
    ]
    assert segments[0]["id"] != segments[1]["id"]
    assert not {"name", "number", "model", "billingPeriod"} & set(segments[0])  # charge fields, not RatePlanChargeSegment's
    unsegmented = charge_of(Client(emu).subscription(**{"charge-detail": "all-segments"}), "C-2")
    assert [s["price"] for s in unsegmented["chargeSegments"]] == [5.0]


def test_the_listing_takes_the_same_parameters(emu, price_rise):
    charge = charge_of(Client(emu).listed(**{"charge-detail": "current-segment"}), "C-1")

    assert charge["price"] == 10.0


def test_the_preview_bills_each_segment_at_its_own_price(emu, price_rise):
    items = Client(emu).preview()["invoiceItems"]

    assert [(i["serviceStartDate"], i["chargeAmount"]) for i in items if i["chargeNumber"] == "C-1"] == [
        ("2026-12-01", 10.0),
        ("2027-01-01", 12.0),
        ("2027-02-01", 12.0),
    ]


def test_a_mid_period_quantity_change_prorates_both_parts(emu):
    emu.amend("A-S1", chargeNumber="C-1", quantity=3, effectiveDate="2026-12-16")

    items = [i for i in Client(emu).preview("2026-12-31")["invoiceItems"] if i["chargeNumber"] == "C-1"]

    assert [(i["serviceStartDate"], i["serviceEndDate"], i["quantity"], i["chargeAmount"]) for i in items] == [
        ("2026-12-01", "2026-12-15", 1, 4.84),  # 10.00 x 15/31
        ("2026-12-16", "2026-12-31", 3, 5.16),  # FlatFee: the quantity does not change the price, 10.00 x 16/31
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"charge-detail": "newest"},
        {"charge-detail": "specific-segment"},
        {"charge-detail": "specific-segment", "as-of-date": "1/1/2027"},
        {"exclude-rate-plans-with-no-charges": "yes"},
    ],
)
def test_bad_charge_detail_parameters_are_invalid_values(emu, params):
    client = Client(emu)
    reply = requests.get(f"{client.base_url}/v1/subscriptions/A-S1", params=params, headers=client.headers, timeout=5)

    assert reply.status_code == 400
    assert reply.json()["success"] is False and reply.json()["reasons"][0]["code"] == 50000020


# A removed rate plan stays, Remove-marked, its charges ended on the removal date


def test_a_removed_plan_stays_on_the_subscription_marked_remove(emu):
    emu.amend("A-S1", removeRatePlan="SRP-P2", effectiveDate="2026-12-15")

    removed = plan_of(Client(emu).subscription(), "P2")

    assert removed["lastChangeType"] == "Remove"
    assert charge_of({"ratePlans": [removed]}, "C-2")["effectiveEndDate"] == "2026-12-15"


def test_once_the_removal_has_taken_effect_current_segment_has_no_charge_and_exclude_drops_the_plan(emu, calendar):
    emu.amend("A-S1", removeRatePlan="SRP-P2", effectiveDate="2026-12-15")
    calendar.day = dt.date(2026, 12, 20)
    client = Client(emu)

    current = client.subscription(**{"charge-detail": "current-segment"})
    excluded = client.subscription(**{"charge-detail": "current-segment", "exclude-rate-plans-with-no-charges": "true"})

    assert plan_of(current, "P2")["ratePlanCharges"] == []
    assert plan_of(excluded, "P2") is None and plan_of(excluded, "P1") is not None


def test_a_charge_removed_before_its_last_segment_starts_is_excluded_with_the_flag(emu):
    emu.amend("A-S1", chargeNumber="C-1", price=12.0, effectiveDate="2027-01-01")
    emu.amend("A-S1", removeRatePlan="SRP-P1", effectiveDate="2026-12-15")
    client = Client(emu)

    kept = charge_of(client.subscription(), "C-1")
    excluded = client.subscription(**{"exclude-rate-plans-with-no-charges": "true"})

    assert (kept["effectiveStartDate"], kept["effectiveEndDate"]) == ("2027-01-01", "2027-01-01")  # never took effect
    assert plan_of(excluded, "P1") is None and plan_of(excluded, "P2") is not None


def test_a_removal_credits_back_what_was_billed_in_advance_as_a_negative_invoice_item(emu):
    emu.amend("A-S1", removeRatePlan="SRP-P2", effectiveDate="2026-12-15")

    body = Client(emu).preview()

    credit = [i for i in body["invoiceItems"] if i["chargeNumber"] == "C-2"]
    assert [(i["serviceStartDate"], i["serviceEndDate"], i["chargeAmount"]) for i in credit] == [("2026-12-15", "2026-12-31", -2.74)]  # 5 x 17/31
    assert "creditMemoItems" not in body  # only with Invoice Settlement


def test_with_invoice_settlement_the_credit_back_is_a_credit_memo_item(calendar):
    with ZuoraEmulator(two_plan_tenant(invoiceSettlement=True), today=calendar) as emu:
        emu.amend("A-S1", removeRatePlan="SRP-P2", effectiveDate="2026-12-15")
        body = Client(emu).preview()

    assert [i for i in body["invoiceItems"] if i["chargeNumber"] == "C-2"] == []
    (credit,) = body["creditMemoItems"]
    assert credit == {
        "id": credit["id"],
        "amount": 2.74,
        "amountWithoutTax": 2.74,
        "appliedToItemId": None,
        "chargeDate": "2026-12-15 00:00:00",
        "chargeNumber": "C-2",
        "chargeType": "Recurring",
        "comment": "",
        "processingType": "Charge",
        "quantity": 1,
        "ratePlanChargeId": zuora_id("charge", "C-2"),
        "serviceStartDate": "2026-12-15",
        "serviceEndDate": "2026-12-31",
        "sku": None,
        "skuName": "Product P2",
        "subscriptionId": credit["subscriptionId"],
        "subscriptionNumber": "A-S1",
        "unitOfMeasure": "",
    }
    assert "chargeAmount" not in credit


# The other changes


def test_cancel_ends_the_subscription_and_credits_what_was_billed_past_the_date(emu):
    cancelled = emu.cancel("A-S1", effectiveDate="2026-12-10", cancelReason="Customer request")

    items = Client(emu).preview()["invoiceItems"]

    assert (cancelled["status"], cancelled["subscriptionEndDate"], cancelled["cancelReason"]) == ("Cancelled", "2026-12-10", "Customer request")
    assert [(i["chargeNumber"], i["serviceStartDate"], i["chargeAmount"]) for i in items] == [
        ("C-1", "2026-12-01", 2.9),  # billed through 2026-12-01: the 9 days to the cancellation are still due, 10 x 9/31
        ("C-2", "2026-12-10", -3.55),  # billed through 2027-01-01: 5 x 22/31 is credited back
    ]


def test_renew_starts_the_next_term_and_moves_the_charges_with_it(emu):
    renewed = emu.renew("A-S1")

    assert (renewed["termStartDate"], renewed["termEndDate"], renewed["version"]) == ("2027-03-01", "2028-03-01", 3)
    assert charge_of(renewed, "C-1")["effectiveEndDate"] == "2028-03-01"


def test_suspend_today_and_resume_later(emu, calendar):
    suspended = emu.suspend("A-S1")
    scheduled = emu.resume("A-S1", resumeDate="2027-01-05")
    calendar.day = dt.date(2027, 1, 5)
    resumed = emu.resume("A-S1")

    assert suspended["status"] == "Suspended"
    assert (scheduled["status"], scheduled["scheduledResumeDate"]) == ("Suspended", "2027-01-05")
    assert resumed["status"] == "Active" and resumed["version"] == 5


def test_owner_and_invoice_owner_transfer_separately(calendar):
    accounts = [account(ACCOUNT, crm_id=None), account("A00009002", crm_id=None, name="Gift Giver")]
    with ZuoraEmulator(tenant(accounts, [subscription("A-S1", ACCOUNT)]), today=calendar) as emu:
        billed_elsewhere = emu.transfer_invoice_owner("A-S1", "A00009002")
        moved = emu.transfer_owner("A-S1", "A00009002")

    assert (billed_elsewhere["accountNumber"], billed_elsewhere["invoiceOwnerAccountNumber"]) == (ACCOUNT, "A00009002")
    assert billed_elsewhere["invoiceOwnerAccountName"] == "Gift Giver"
    assert (moved["accountNumber"], moved["accountId"], moved["accountName"]) == ("A00009002", zuora_id("account", "A00009002"), "Gift Giver")


def test_contacts_change_on_the_account_without_a_new_subscription_version(emu):
    account_after = emu.change_contacts("A-S1", billToContact={"workEmail": "new@example.com"})
    client = Client(emu)

    served = requests.get(f"{client.base_url}/v1/accounts/{ACCOUNT}", headers=client.headers, timeout=5).json()

    assert account_after["billToContact"]["workEmail"] == served["billToContact"]["workEmail"] == "new@example.com"
    assert served["billToContact"]["firstName"] == "Jane"  # merged, not replaced
    assert emu.subscription("A-S1")["version"] == 2


def test_adding_a_rate_plan_marks_it_add_and_starts_it_on_the_effective_date(emu):
    added = emu.amend(
        "A-S1",
        addRatePlan=rate_plan("P3", {"number": "C-3", "type": "Recurring", "model": "FlatFee", "price": 7.0, "billingPeriod": "Month"}),
        effectiveDate="2026-12-05",
    )

    plan = plan_of(added, "P3")
    assert plan["lastChangeType"] == "Add"
    assert (plan["ratePlanCharges"][0]["effectiveStartDate"], plan["ratePlanCharges"][0]["effectiveEndDate"]) == ("2026-12-05", "2027-03-01")


@pytest.mark.parametrize(
    ("action", "body", "message"),
    [
        ("amend", {"chargeNumber": "C-9", "price": 1}, "has no charge C-9"),
        ("amend", {"price": 1}, "exactly one of"),
        ("amend", {"chargeNumber": "C-1", "price": 1, "effectiveDate": "2028-01-01"}, "not in effect"),
        ("amend", {"removeRatePlan": "SRP-P9"}, "has no rate plan SRP-P9"),
        ("resume", {}, "only a Suspended subscription"),
        ("transfer-owner", {"accountNumber": "A09999999"}, "unknown account"),
        ("upgrade", {}, "Unknown action"),
    ],
)
def test_impossible_changes_are_refused_naming_the_problem(emu, action, body, message):
    with pytest.raises(AdminError, match=message):
        emu.change("A-S1", action, body)
    reply = requests.post(f"{emu.base_url}/_emulator/subscriptions/A-S1/{action}", json=body, timeout=5)
    assert reply.status_code == 400 and message in reply.json()["message"]


# The admin endpoint over HTTP, and changes armed to happen between two page reads


def test_the_admin_endpoint_makes_the_same_changes(emu):
    reply = requests.post(f"{emu.base_url}/_emulator/subscriptions/A-S1/amend", json={"chargeNumber": "C-1", "price": 11}, timeout=5)
    missing = requests.post(f"{emu.base_url}/_emulator/subscriptions/A-S9/renew", json={}, timeout=5)

    assert reply.status_code == 200 and reply.json()["version"] == 3
    assert charge_of(emu.subscription("A-S1"), "C-1")["price"] == 11
    assert missing.status_code == 404
    assert emu.stats.total_requests == 0  # not Zuora's traffic


def test_a_trigger_changes_zuora_after_the_nth_page_read(calendar):
    subscriptions = [subscription(f"A-S{n}", ACCOUNT, updated=f"2026-11-0{n}") for n in range(1, 5)]
    with ZuoraEmulator(tenant([account(ACCOUNT, crm_id=None)], subscriptions), today=calendar) as emu:
        trigger = {
            "method": "GET",
            "path": f"/v1/subscriptions/accounts/{ACCOUNT}",
            "afterRequests": 1,
            "then": {"subscription": "A-S1", "action": "renew"},
        }
        assert requests.post(f"{emu.base_url}/_emulator/triggers", json=trigger, timeout=5).status_code == 201
        client = Client(emu)
        first = requests.get(f"{client.base_url}/v1/subscriptions/accounts/{ACCOUNT}", params={"pageSize": 2}, headers=client.headers, timeout=5)
        second = requests.get(first.json()["nextPage"], headers=client.headers, timeout=5)

    assert [s["subscriptionNumber"] for s in first.json()["subscriptions"]] == ["A-S4", "A-S3"]
    # A-S1 was renewed after page 1, so it moved to the front: page 2 repeats A-S3 and A-S1 is never listed.
    assert [s["subscriptionNumber"] for s in second.json()["subscriptions"]] == ["A-S3", "A-S2"]


@pytest.mark.parametrize(
    ("then", "message"),
    [
        ({"subscription": "A-S1", "action": "amend", "body": {"price": 1}}, "exactly one of"),
        ({"subscription": "A-S1", "action": "upgrade"}, "Unknown action"),
        ({"subscription": "A-S9", "action": "renew"}, "not in the tenant"),
    ],
)
def test_a_trigger_that_could_not_make_its_change_is_refused_when_armed(emu, then, message):
    trigger = {"path": f"/v1/subscriptions/accounts/{ACCOUNT}", "then": then}

    reply = requests.post(f"{emu.base_url}/_emulator/triggers", json=trigger, timeout=5)

    assert reply.status_code == 400 and message in reply.json()["message"]
    with pytest.raises(ValueError, match=message):
        emu.add_trigger(trigger)


def test_a_tenant_file_trigger_with_a_bad_change_fails_the_tenant():
    broken = two_plan_tenant()
    broken["triggers"] = [{"path": "/v1/.*", "then": {"subscription": "A-S1", "action": "cancel", "body": {"when": "soon"}}}]

    with pytest.raises(TenantError, match="triggers.0.then"):
        ZuoraEmulator(broken)
