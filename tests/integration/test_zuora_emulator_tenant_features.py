"""Tenant set-ups the emulator models, over real HTTP: Zuora Tax, Multiple Currencies off, invoice owners, in-arrears
charges, Pending Activation, and the per-subscription preview (PreviewExistingSubscription).

Oracles: zuora-sdk 3.21.0 `CreateBillingPreviewInvoiceItem` (chargeAmount without tax; taxAmount for tax-inclusive
charges, otherwise 0), `GetSubscriptionResponse.currency` (Multiple Currencies only), `PreviewExistingSubscriptionRequest`
/ `...Response` and https://developer.zuora.com/v1-api-reference/api/operation/PreviewExistingSubscription/.
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from local.zuora_emulator import ZuoraEmulator
from tests.zuora_fixtures import account, subscription, tenant, zuora_id

ACCOUNT, GIVER = "A00009001", "A00009002"
MODERN = {"Zuora-Version": "2025-08-12"}
TODAY = dt.date(2026, 12, 1)


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
        "uom": None,
        "productRatePlanChargeId": zuora_id("product rate plan charge", number),
        "billingPeriod": "Month",
        "billingTiming": "IN_ADVANCE",
        "endDateCondition": "Subscription_End",
        "effectiveStartDate": "2026-03-01",
        "effectiveEndDate": "2027-03-01",
        "chargedThroughDate": "2026-12-01",
        **fields,
    }


def with_plan(record: dict, *charges: dict) -> dict:
    plan_id = zuora_id("rate plan", record["subscriptionNumber"])
    record["ratePlans"] = [{"id": plan_id, "productName": "Digital Pack", "ratePlanCharges": list(charges)}]
    return record


def emulator(*subscriptions: dict, **settings) -> ZuoraEmulator:
    accounts = [account(ACCOUNT, crm_id=None), account(GIVER, crm_id=None, name="Gift Giver")]
    return ZuoraEmulator(tenant(accounts, list(subscriptions), seed=1, **settings), today=lambda: TODAY)


def headers(emu: ZuoraEmulator) -> dict:
    form = {"client_id": emu.client_id, "client_secret": emu.client_secret, "grant_type": "client_credentials"}
    token = requests.post(f"{emu.base_url}/oauth/token", data=form, timeout=5).json()["access_token"]
    return {"Authorization": f"Bearer {token}", **MODERN}


def preview(emu: ZuoraEmulator, account_number: str = ACCOUNT, target: str = "2027-01-31") -> dict:
    body = {"accountNumber": account_number, "targetDate": target}
    reply = requests.post(f"{emu.base_url}/v1/operations/billing-preview", json=body, headers=headers(emu), timeout=5)
    assert reply.status_code == 200, reply.text
    return reply.json()


def preview_subscription(emu: ZuoraEmulator, body: dict, key: str = "A-S1", extra_headers: dict | None = None) -> requests.Response:
    return requests.post(f"{emu.base_url}/v1/subscriptions/{key}/preview", json=body, headers={**headers(emu), **(extra_headers or {})}, timeout=5)


# Zuora Tax


def test_a_tax_inclusive_charge_splits_its_price_into_charge_amount_and_tax_amount():
    vat_inclusive = monthly("C-1", 12.0, taxable=True, taxCode="UK-VAT", taxMode="TaxInclusive")
    with emulator(with_plan(subscription("A-S1", ACCOUNT), vat_inclusive), taxRates={"UK-VAT": 20}) as emu:
        items = preview(emu)["invoiceItems"]

    assert [(i["chargeAmount"], i["taxAmount"]) for i in items] == [(10.0, 2.0), (10.0, 2.0)]


def test_a_tax_exclusive_charge_previews_without_tax_as_zuora_documents():
    vat_exclusive = monthly("C-1", 10.0, taxable=True, taxCode="UK-VAT", taxMode="TaxExclusive")
    with emulator(with_plan(subscription("A-S1", ACCOUNT), vat_exclusive), taxRates={"UK-VAT": 20}) as emu:
        items = preview(emu)["invoiceItems"]

    assert [(i["chargeAmount"], i["taxAmount"]) for i in items] == [(10.0, 0), (10.0, 0)]


def test_a_taxed_charge_without_a_rate_for_its_code_is_a_business_rule_error():
    vat_inclusive = monthly("C-1", 12.0, taxable=True, taxCode="FR-TVA", taxMode="TaxInclusive")
    with emulator(with_plan(subscription("A-S1", ACCOUNT), vat_inclusive)) as emu:
        reply = requests.post(
            f"{emu.base_url}/v1/operations/billing-preview",
            json={"accountNumber": ACCOUNT, "targetDate": "2027-01-31"},
            headers=headers(emu),
            timeout=5,
        )

    assert reply.status_code == 400 and reply.json()["reasons"][0]["code"] == 50000030
    assert "FR-TVA" in reply.json()["reasons"][0]["message"]


# Multiple Currencies


def test_without_multiple_currencies_a_subscription_has_no_currency_but_its_charges_and_account_do():
    with emulator(with_plan(subscription("A-S1", ACCOUNT), monthly("C-1", 10.0)), multipleCurrencies=False) as emu:
        auth = headers(emu)
        single = requests.get(f"{emu.base_url}/v1/subscriptions/A-S1", headers=auth, timeout=5).json()
        listed = requests.get(f"{emu.base_url}/v1/subscriptions/accounts/{ACCOUNT}", headers=auth, timeout=5).json()["subscriptions"][0]
        owner = requests.get(f"{emu.base_url}/v1/accounts/{ACCOUNT}", headers=auth, timeout=5).json()

    assert "currency" not in single and "currency" not in listed
    assert single["ratePlans"][0]["ratePlanCharges"][0]["currency"] == "GBP"
    assert owner["billingAndPayment"]["currency"] == "GBP"


def test_a_tenant_turning_multiple_currencies_on_serves_the_currency_from_then_on_without_a_new_version():
    with emulator(with_plan(subscription("A-S1", ACCOUNT), monthly("C-1", 10.0)), multipleCurrencies=False) as emu:
        auth = headers(emu)
        before = requests.get(f"{emu.base_url}/v1/subscriptions/A-S1", headers=auth, timeout=5).json()
        turned_on = requests.post(f"{emu.base_url}/_emulator/features", json={"multipleCurrencies": True}, timeout=5)
        after = requests.get(f"{emu.base_url}/v1/subscriptions/A-S1", headers=auth, timeout=5).json()
        unknown = requests.post(f"{emu.base_url}/_emulator/features", json={"latencyMs": 5}, timeout=5)
        invalid = requests.post(f"{emu.base_url}/_emulator/features", json={"invoiceSettlement": "sometimes"}, timeout=5)

    assert "currency" not in before
    assert turned_on.status_code == 200
    assert turned_on.json() == {"multipleCurrencies": True, "invoiceSettlement": False, "taxRates": {}}
    assert (after["currency"], after["version"], after["id"]) == ("GBP", before["version"], before["id"])
    assert unknown.status_code == 400
    assert unknown.json()["message"] == "not a tenant feature: latencyMs (features are multipleCurrencies, invoiceSettlement, taxRates)"
    assert invalid.status_code == 400 and "invoiceSettlement" in invalid.json()["message"]


# Invoice owner


def test_the_billing_preview_previews_by_invoice_owner():
    gift = with_plan(subscription("A-S1", ACCOUNT), monthly("C-1", 10.0))
    gift.update(invoiceOwnerAccountNumber=GIVER, invoiceOwnerAccountId=zuora_id("account", GIVER), invoiceOwnerAccountName="Gift Giver")
    with emulator(gift) as emu:
        owner, payer = preview(emu, ACCOUNT), preview(emu, GIVER)

    assert owner["invoiceItems"] == []
    assert [i["subscriptionNumber"] for i in payer["invoiceItems"]] == ["A-S1", "A-S1"]
    assert payer["accountId"] == zuora_id("account", GIVER)


# In arrears and trigger events


def test_an_in_arrears_charge_is_billed_after_its_period():
    arrears = monthly("C-1", 10.0, billingTiming="IN_ARREARS", chargedThroughDate="2026-11-01")
    with emulator(with_plan(subscription("A-S1", ACCOUNT), arrears)) as emu:
        items = preview(emu, target="2027-01-01")["invoiceItems"]

    assert [(i["serviceStartDate"], i["serviceEndDate"], i["chargeDate"]) for i in items] == [
        ("2026-11-01", "2026-11-30", "2026-12-01 00:00:00"),
        ("2026-12-01", "2026-12-31", "2027-01-01 00:00:00"),
    ]


@pytest.mark.parametrize(("event", "date_field"), [("ServiceActivation", "serviceActivationDate"), ("CustomerAcceptance", "customerAcceptanceDate")])
def test_a_charge_waiting_for_its_trigger_event_bills_nothing_until_the_event_is_recorded(event, date_field):
    pending = subscription("A-S1", ACCOUNT, status="Pending Activation" if event == "ServiceActivation" else "Pending Acceptance")
    waiting = with_plan(pending, monthly("C-1", 10.0, triggerEvent=event, chargedThroughDate=None, effectiveStartDate="2026-12-01"))
    with emulator(waiting) as emu:
        before = preview(emu)["invoiceItems"]
        emu.update_subscription("A-S1", status="Active", **{date_field: "2026-12-01"})
        after = preview(emu)["invoiceItems"]

    assert before == []
    assert [i["serviceStartDate"] for i in after] == ["2026-12-01", "2027-01-01"]


# PreviewExistingSubscription


def test_a_subscription_preview_has_one_invoice_per_bill_date_in_zuoras_shape():
    vat = monthly("C-1", 12.0, taxable=True, taxCode="UK-VAT", taxMode="TaxInclusive")
    exclusive = monthly("C-2", 5.0, taxable=True, taxCode="UK-VAT", taxMode="TaxExclusive", uom="Seat", quantity=1)
    with emulator(with_plan(subscription("A-S1", ACCOUNT), vat, exclusive), taxRates={"UK-VAT": 20}) as emu:
        reply = preview_subscription(
            emu,
            {
                "previewStartDate": {"previewStartDatePolicy": "today"},
                "previewThroughDate": {"previewThruDatePolicy": "specificDate", "specificDate": "2027-01-15"},
            },
        )

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert set(body) == {"invoices", "success"}  # no creditMemos without Invoice Settlement
    assert [(inv["targetDate"], inv["amount"], inv["amountWithoutTax"], inv["taxAmount"]) for inv in body["invoices"]] == [
        ("2026-12-01", 18.0, 15.0, 3.0),  # 10 + 2 VAT included; 5 + 1 VAT added
        ("2027-01-01", 18.0, 15.0, 3.0),
    ]
    first = body["invoices"][0]
    assert (first["invoiceNumber"], first["status"], first["isFromExistingInvoice"]) == ("Preview Invoice", None, False)
    assert first["invoiceItems"][1] == {
        "serviceStartDate": "2026-12-01",
        "serviceEndDate": "2026-12-31",
        "amountWithoutTax": 5.0,
        "taxAmount": 1.0,
        "chargeDescription": "",
        "chargeName": "Charge C-2",
        "chargeNumber": "C-2",
        "productName": "Digital Pack",
        "productRatePlanChargeId": zuora_id("product rate plan charge", "C-2"),
        "processingType": "Charge",
        "unitPrice": 5.0,
        "quantity": 1,
        "unitOfMeasure": "Seat",
    }


def test_a_subscription_preview_can_run_to_the_end_of_term_or_for_a_number_of_periods():
    with emulator(with_plan(subscription("A-S1", ACCOUNT), monthly("C-1", 10.0))) as emu:
        to_term_end = preview_subscription(emu, {"previewThroughDate": {"previewThruDatePolicy": "endOfTerm"}}).json()
        next_two = {"previewThroughDate": {"previewThruDatePolicy": "nextBillingPeriods", "nextBillingPeriods": 2}}
        two_periods = preview_subscription(emu, next_two).json()

    assert [inv["targetDate"] for inv in to_term_end["invoices"]] == ["2026-12-01", "2027-01-01", "2027-02-01"]
    assert [inv["targetDate"] for inv in two_periods["invoices"]] == ["2026-12-01", "2027-01-01"]


def test_with_invoice_settlement_a_subscription_preview_puts_credit_backs_in_credit_memos():
    billed_ahead = monthly("C-1", 10.0, chargedThroughDate="2027-01-01")
    with emulator(with_plan(subscription("A-S1", ACCOUNT), billed_ahead), invoiceSettlement=True) as emu:
        emu.cancel("A-S1", effectiveDate="2026-12-16")
        body = preview_subscription(emu, {"previewThroughDate": {"previewThruDatePolicy": "specificDate", "specificDate": "2027-01-31"}}).json()

    assert body["invoices"] == []
    (memo,) = body["creditMemos"]
    assert (memo["creditMemoNumber"], memo["targetDate"], memo["amount"]) == ("Preview Credit Memo", "2026-12-16", 5.16)
    assert memo["isFromExistingCreditMemo"] is False
    lines = [(i["serviceStartDate"], i["serviceEndDate"], i["amountWithoutTax"]) for i in memo["creditMemoItems"]]
    assert lines == [("2026-12-16", "2026-12-31", 5.16)]


@pytest.mark.parametrize(
    ("body", "extra_headers", "code"),
    [
        ({}, None, 50000022),
        ({"previewThroughDate": {"previewThruDatePolicy": "specificDate"}}, None, 50000022),
        ({"previewThroughDate": {"previewThruDatePolicy": "someday"}}, None, 50000020),
        ({"previewThroughDate": {"previewThruDatePolicy": "endOfTerm"}}, {"Zuora-Version": "196.0"}, 50000020),
    ],
)
def test_a_bad_subscription_preview_request_is_refused(body, extra_headers, code):
    with emulator(with_plan(subscription("A-S1", ACCOUNT), monthly("C-1", 10.0))) as emu:
        reply = preview_subscription(emu, body, extra_headers=extra_headers)
        missing = preview_subscription(emu, {"previewThroughDate": {"previewThruDatePolicy": "endOfTerm"}}, key="A-S9")

    assert reply.json()["success"] is False and reply.json()["reasons"][0]["code"] == code
    assert missing.status_code == 404
