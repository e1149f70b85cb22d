"""The sync rules held against Zuora's own definitions (zuora-sdk 3.21.0 models, Zuora's spec and docs).

Each test feeds the rules a payload shaped as Zuora sends it, with a comment naming the model that defines the
fields it relies on, and compares what Limio gets as a whole where the whole matters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest

from limio_sync.catalog import CatalogMapping, UnmappedRatePlan
from limio_sync.sync_rules import (
    LimioCharge,
    LimioOffer,
    LimioSubscription,
    ScheduleEntry,
    ScheduleStatus,
    ZuoraState,
    decide,
    desired_record,
    schedule_entry_id,
)
from limio_sync.zuora.subscription import ZuoraAccount, ZuoraBadRecord, parse_invoice_items, parse_subscription
from tests import scenario_fixtures as sf
from tests import zuora_fixtures as z

TODAY = dt.date(2026, 11, 25)
NUMBER = "A-S00012345"
ACCOUNT = "A00001234"
SALESFORCE_ID = z.salesforce_id("ZRULES1")
CATALOG = CatalogMapping.model_validate(sf.CATALOG)
TERM_START, TERM_END = dt.date(2026, 3, 1), dt.date(2027, 3, 1)
SEATS, ARCHIVE, SETUP, LEGACY = "C-00000001", "C-00000002", "C-00000003", "C-00000004"


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def segment(start: str, end: str | None, *, price: float | None, quantity: float | None = 1, currency: str | None = "GBP") -> dict:
    """One element of a charge's `chargeSegments` (zuora-sdk RatePlanChargeSegment)."""
    return {
        "id": z.zuora_id("segment", start, str(price)),
        "segment": None,
        "price": price,
        "quantity": quantity,
        "discountAmount": None,
        "discountPercentage": None,
        "currency": currency,
        "effectiveStartDate": start,
        "effectiveEndDate": end,
        "chargedThroughDate": None,
        "done": False,
    }


def segmented(charge: dict, *segments: dict) -> dict:
    """A charge as `charge-detail=all-segments` returns it (zuora-sdk GetSubscriptionRatePlanChargesWithAllSegments):
    every segment in `chargeSegments`; its own fields are those of its last segment, as with the default."""
    last = segments[-1]
    own = {key: last[key] for key in ("price", "quantity", "effectiveStartDate", "effectiveEndDate")}
    return {**charge, **own, "chargeSegments": list(segments)}


def seats(*, start: dt.date = TERM_START, end: dt.date | None = TERM_END, seats_: int = 5, price: float = 10.0, **options) -> dict:
    return sf.charge(SEATS, "Digital Seats", start=start, end=end, charged_through=None, price=price, quantity=seats_, **options)


def archive(*, start: dt.date = TERM_START, end: dt.date | None = TERM_END, price: float = 4.5) -> dict:
    return sf.charge(ARCHIVE, "Archive Access", start=start, end=end, charged_through=None, model="FlatFee", price=price)


def subscription(plans: list[dict], **changes) -> dict:
    """GET /v1/subscriptions/{key} (zuora-sdk GetSubscriptionResponse, rate plans SubscriptionRatePlan)."""
    raw = sf.subscription(NUMBER, ACCOUNT, rate_plans=plans, term_start=TERM_START, term_end=TERM_END)
    raw["subscriptionEndDate"] = TERM_END.isoformat()
    raw.update(changes)
    return raw


def account(currency: str = "GBP") -> dict:
    """GET /v1/accounts/{key} (zuora-sdk GetAccountResponse: basicInfo, billingAndPayment.currency)."""
    return sf.account(ACCOUNT, SALESFORCE_ID, name="Northwind Media", bill_to={}, currency=currency)


def invoice_item(start: str, end: str, amount: str, *, tax: str = "0", charge: str = SEATS, name: str = "Digital Seats", **fields) -> dict:
    """An account billing preview's invoice item (zuora-sdk CreateBillingPreviewInvoiceItem: `chargeAmount` and
    `taxAmount` are strings there, numbers in the docs' example; both parse)."""
    return {
        "id": z.zuora_id("invoice-item", start, charge, amount),
        "subscriptionId": z.zuora_id("subscription", NUMBER),
        "subscriptionName": NUMBER,
        "subscriptionNumber": NUMBER,
        "serviceStartDate": start,
        "serviceEndDate": end,
        "chargeAmount": amount,
        "taxAmount": tax,
        "chargeDate": "2026-11-25 10:00:00",
        "chargeId": z.zuora_id("charge", charge),
        "chargeName": name,
        "chargeNumber": charge,
        "chargeType": "Recurring",
        "processingType": "Charge",
        "quantity": "5",
        **fields,
    }


def credit_memo_item(start: str, end: str, amount: float, without_tax: float, *, charge: str = ARCHIVE) -> dict:
    """An Invoice Settlement tenant's credit memo item (zuora-sdk CreateBillingPreviewCreditMemoItem): `amount`
    and `amountWithoutTax`, no `chargeAmount`, no `chargeName`."""
    return {
        "id": z.zuora_id("credit-memo-item", start, charge),
        "amount": amount,
        "amountWithoutTax": without_tax,
        "chargeDate": "2026-11-25 10:00:00",
        "chargeNumber": charge,
        "chargeType": "Recurring",
        "processingType": "Charge",
        "serviceStartDate": start,
        "serviceEndDate": end,
        "subscriptionId": z.zuora_id("subscription", NUMBER),
        "subscriptionNumber": NUMBER,
    }


def state(raw_subscription: dict, items: list[dict] = (), raw_account: dict | None = None) -> ZuoraState:
    return ZuoraState(
        subscription=parse_subscription(raw_subscription, NUMBER),
        account=ZuoraAccount.from_response(raw_account if raw_account is not None else account()),
        invoiceItems=tuple(parse_invoice_items(list(items), NUMBER)),
    )


def record(zuora: ZuoraState, existing: LimioSubscription | None = None, *, today: dt.date = TODAY) -> LimioSubscription:
    return desired_record(
        zuora,
        existing,
        catalog=CATALOG,
        salesforce_account_id=SALESFORCE_ID,
        sync_id="sync-" + "0" * 32,
        synced_at="2026-11-25T10:00:00Z",
        today=today,
    )


def seats_offer(*, start: str = "2026-03-01", end: str | None = "2027-03-01", quantity: int = 5, price: str = "10.0") -> LimioOffer:
    return LimioOffer(
        offerPath="/offers/digital-pack/monthly",
        type="offer",
        productName="Digital Pack",
        ratePlanName="Digital Pack - Monthly",
        productRatePlanId=sf.DIGITAL.product_rate_plan_id,
        start=start,
        end=end,
        quantity=Decimal(quantity),
        charges=(
            LimioCharge(
                number=SEATS,
                name="Digital Seats",
                type="Recurring",
                model="PerUnit",
                price=Decimal(price),
                quantity=Decimal(quantity),
                billingPeriod="Month",
            ),
        ),
    )


def entry(date: str, amount: str, description: str = "Digital Seats", currency: str | None = "GBP") -> ScheduleEntry:
    return ScheduleEntry(
        id=schedule_entry_id(NUMBER, date, Decimal(amount), description),
        date=date,
        amount=Decimal(amount),
        currency=currency,
        description=description,
    )


def legacy_entry_id(date: str, amount: str, currency: str | None, description: str) -> str:
    """The id entries were given before the currency left it (commit 379a831's schedule_entry_id)."""
    key = "\x1f".join([NUMBER, date, f"{Decimal(amount):.2f}", currency or "", description])
    return "schedule-" + hashlib.sha256(key.encode()).hexdigest()[:32]


# --- Row 1: rate plans as Zuora means them ------------------------------------------------------------------------


def test_a_rate_plan_whose_removal_has_taken_effect_is_not_an_offer():
    # Given a subscription whose archive add-on was removed on 1 October: Zuora keeps the plan, marked
    # `lastChangeType: Remove` (zuora-sdk SubscriptionRatePlan.last_change_type), its charge ending that day
    removed = sf.rate_plan(sf.ARCHIVE, [archive(end=day("2026-10-01"))], last_change_type="Remove")
    zuora = state(subscription([sf.rate_plan(sf.DIGITAL, [seats()]), removed]))

    # When Limio's record is worked out
    offers = record(zuora).offers

    # Then only the Digital Pack is an offer
    assert offers == (seats_offer(),)


def test_an_unmapped_rate_plan_removed_long_ago_fails_nothing():
    # Given a legacy plan with no Limio mapping, removed in 2025 (SubscriptionRatePlan.last_change_type)
    legacy = sf.charge(LEGACY, "Legacy Bundle", start=day("2024-01-01"), end=day("2025-06-01"), charged_through=day("2025-06-01"), price=30.0)
    zuora = state(subscription([sf.rate_plan(sf.DIGITAL, [seats()]), sf.rate_plan(sf.UNMAPPED, [legacy], last_change_type="Remove")]))

    # When the subscription is synced, then it does not fail with UNMAPPED_RATE_PLAN
    assert record(zuora).offers == (seats_offer(),)


def test_an_unmapped_rate_plan_still_in_effect_still_fails():
    zuora = state(subscription([sf.rate_plan(sf.UNMAPPED, [seats()])]))

    with pytest.raises(UnmappedRatePlan, match="Legacy Bundle"):
        record(zuora)


def test_a_removal_dated_in_the_future_leaves_the_plan_current_until_then():
    # Given the archive add-on removed with effect from 1 January: its charge ends then
    removing = sf.rate_plan(sf.ARCHIVE, [archive(end=day("2027-01-01"))], last_change_type="Remove")
    zuora = state(subscription([sf.rate_plan(sf.DIGITAL, [seats()]), removing]))

    # When it is synced today, then the add-on is still an offer, ending on the removal date
    [_, addon] = record(zuora).offers
    assert (addon.offerPath, addon.start, addon.end) == ("/offers/add-ons/archive-access", "2026-03-01", "2027-01-01")
    # and on the removal date itself, it is not
    assert record(zuora, today=day("2027-01-01")).offers == (seats_offer(),)


def test_a_plan_switch_scheduled_for_the_future_keeps_the_current_offer_and_shows_the_next_one_from_its_start():
    # Given a switch from the monthly to the annual print plan on 1 January: the old plan removed from then
    # (its charge ends then), the new one added from then (SubscriptionRatePlan.last_change_type Remove / Add)
    switch = day("2027-01-01")
    old = sf.rate_plan(sf.DIGITAL, [seats(end=switch)], last_change_type="Remove")
    annual = sf.charge(
        "C-00000009", "Print Annual", start=switch, end=TERM_END, charged_through=None, model="FlatFee", price=120.0, billing_period="Annual"
    )
    new = sf.rate_plan(sf.PRINT_ANNUAL, [annual], last_change_type="Add")
    zuora = state(subscription([new, old]))

    # When it is synced before the switch
    before = record(zuora).offers

    # Then the current plan stays the offer until the switch, and the new one is shown with its future start
    upcoming = LimioOffer(
        offerPath="/offers/print/annual",
        type="offer",
        productName="Print Edition",
        ratePlanName="Print Edition - Annual",
        productRatePlanId=sf.PRINT_ANNUAL.product_rate_plan_id,
        start="2027-01-01",
        end="2027-03-01",
        quantity=Decimal(1),
        charges=(
            LimioCharge(
                number="C-00000009",
                name="Print Annual",
                type="Recurring",
                model="FlatFee",
                price=Decimal(120),
                quantity=Decimal(1),
                billingPeriod="Annual",
            ),
        ),
    )
    assert before == (seats_offer(end="2027-01-01"), upcoming)
    # and from the switch on, only the new plan is
    assert record(zuora, today=switch).offers == (upcoming,)


def test_an_unmapped_plan_scheduled_to_start_fails_as_any_unmapped_plan_does():
    # A plan the customer will have is part of what they bought: with no mapping Limio cannot show it.
    later = sf.rate_plan(sf.UNMAPPED, [seats(start=day("2027-01-01"))], last_change_type="Add")
    zuora = state(subscription([sf.rate_plan(sf.DIGITAL, [seats()]), later]))

    with pytest.raises(UnmappedRatePlan):
        record(zuora)


def test_a_charge_outside_its_effective_dates_is_not_a_current_charge():
    # Given a plan with a one-time setup fee billed in March (effective 1 to 2 March) beside its seats
    # (GetSubscriptionRatePlanChargesWithAllSegments.effective_start_date / effective_end_date)
    setup = sf.one_time_fee("Team Setup Fee", SETUP, price=99.0, on=TERM_START, charged_through=day("2026-03-02"))
    zuora = state(subscription([sf.rate_plan(sf.DIGITAL, [seats(), setup])]))

    # When it is synced in November, then the offer lists the seats only, and still starts on 1 March
    assert record(zuora).offers == (seats_offer(),)


def test_price_and_quantity_are_those_of_the_segment_in_effect_today_and_the_offer_starts_at_its_first_segment():
    # Given seats at 8.00 x 3 from March, 10.00 x 5 since August, and a price rise to 12.00 from January:
    # three segments (zuora-sdk RatePlanChargeSegment), the charge's own fields those of the last one
    charge = segmented(
        seats(),
        segment("2026-03-01", "2026-08-01", price=8.0, quantity=3),
        segment("2026-08-01", "2027-01-01", price=10.0, quantity=5),
        segment("2027-01-01", "2027-03-01", price=12.0, quantity=5),
    )
    zuora = state(subscription([sf.rate_plan(sf.DIGITAL, [charge])]))

    # When it is synced in November
    offers = record(zuora).offers

    # Then Limio shows today's price, not January's, and the offer's real start
    assert offers == (seats_offer(start="2026-03-01", end="2027-03-01", quantity=5, price="10.0"),)
    # and once January comes, the new price
    assert record(zuora, today=day("2027-01-15")).offers == (seats_offer(price="12.0"),)


def test_a_cancelled_subscription_shows_what_it_had_on_its_last_day():
    # Given a subscription cancelled from 1 October: its charges end then (GetSubscriptionResponse.status,
    # subscription_end_date), and an add-on removed back in June
    removed = sf.rate_plan(sf.ARCHIVE, [archive(end=day("2026-06-01"))], last_change_type="Remove")
    raw = subscription([sf.rate_plan(sf.DIGITAL, [seats(end=day("2026-10-01"))]), removed], status="Cancelled", subscriptionEndDate="2026-10-01")

    # When it is synced in November, then it shows the plan it had until the end, not the removed add-on
    assert record(state(raw)).offers == (seats_offer(end="2026-10-01"),)


# --- Rows 3, 4, 14: what Zuora will bill --------------------------------------------------------------------------


def test_schedule_amounts_include_the_tax_of_tax_inclusive_charges():
    # Given a Zuora Tax, tax-inclusive tenant: `chargeAmount` "doesn't include taxes", `taxAmount` is the tax of a
    # tax-inclusive charge (zuora-sdk CreateBillingPreviewInvoiceItem)
    items = [invoice_item("2026-12-01", "2026-12-31", "41.67", tax="8.33"), invoice_item("2027-01-01", "2027-01-31", "41.67", tax="8.33")]
    zuora = state(subscription([sf.rate_plan(sf.DIGITAL, [seats()])]), items)

    # When the schedule is worked out, then each entry is what the customer pays
    assert record(zuora).schedule == (entry("2026-12-01", "50.00"), entry("2027-01-01", "50.00"))


def test_credit_memo_items_reduce_the_schedule():
    # Given an Invoice Settlement tenant: the archive add-on removed from 15 December after being billed in advance
    # to 31 December, so Zuora previews a credit memo item for the rest of December, and the seats' invoice item
    # (zuora-sdk CreateBillingPreviewResponse.credit_memo_items, CreateBillingPreviewCreditMemoItem)
    items = [
        invoice_item("2026-12-15", "2026-12-31", "25.00", tax="5.00"),
        credit_memo_item("2026-12-15", "2026-12-31", 2.4, 2.0),
        credit_memo_item("2027-01-20", "2027-01-31", 1.2, 1.0),
    ]

    # When the schedule is worked out, then the credit reduces what is billed that day, and stands alone on its own
    # day, named after the charge it credits
    zuora_with_archive = state(subscription([sf.rate_plan(sf.DIGITAL, [seats()]), sf.rate_plan(sf.ARCHIVE, [archive()])]), items)
    assert record(zuora_with_archive).schedule == (
        entry("2026-12-15", "27.60", "Archive Access, Digital Seats"),
        entry("2027-01-20", "-1.20", "Archive Access"),
    )


def test_items_of_the_subscription_preview_bill_their_amount_with_tax():
    # Given items of POST /v1/subscriptions/{key}/preview as ZuoraClient.preview_subscription returns them
    # (zuora-sdk PreviewExistingSubscriptionInvoiceItemResult: amountWithoutTax, taxAmount; the credit memo
    # item given `amount`)
    items = [
        {"subscriptionNumber": NUMBER, "serviceStartDate": "2026-12-01", "serviceEndDate": "2026-12-31", "amountWithoutTax": 45.0, "taxAmount": 9.0,
         "chargeName": "Digital Seats", "chargeNumber": SEATS, "processingType": "Charge"},
        {"subscriptionNumber": NUMBER, "serviceStartDate": "2026-12-01", "serviceEndDate": "2026-12-31", "amountWithoutTax": 10.0, "taxAmount": 2.0,
         "amount": 12.0, "chargeName": "Archive Access"},
    ]  # fmt: skip
    zuora = state(subscription([sf.rate_plan(sf.DIGITAL, [seats()])]), items)

    assert record(zuora).schedule == (entry("2026-12-01", "42.00", "Archive Access, Digital Seats"),)


@pytest.mark.parametrize("processing_type", ["Discount", "discount", "DISCOUNT"])
def test_discounts_reduce_the_schedule_whatever_the_case_of_their_processing_type(processing_type):
    # Given a discount item in the spec's lower case ("charge, discount, prepayment, tax",
    # CreateBillingPreviewInvoiceItem.processing_type) or as real payloads spell it, with a positive amount
    items = [
        invoice_item("2026-12-01", "2026-12-31", "50.00"),
        invoice_item("2026-12-01", "2026-12-31", "5.00", charge="C-00000005", name="Loyalty Discount", processingType=processing_type),
    ]
    zuora = state(subscription([sf.rate_plan(sf.DIGITAL, [seats()])]), items)

    assert record(zuora).schedule == (entry("2026-12-01", "45.00", "Digital Seats, Loyalty Discount"),)


def test_an_item_without_any_amount_is_a_bad_record_naming_the_subscription():
    with pytest.raises(ZuoraBadRecord, match=NUMBER):
        parse_invoice_items([{"subscriptionNumber": NUMBER, "serviceStartDate": "2026-12-01"}], NUMBER)


# --- Row 5: currency ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subscription_currency", "charge_currency", "account_currency", "expected"),
    [
        ("EUR", "GBP", "USD", "EUR"),  # Multiple Currencies: the subscription says
        (None, "GBP", "USD", "GBP"),  # no Multiple Currencies: the charges' "Currency used by the account"
        (None, None, "USD", "USD"),  # nothing on the charges: the account's billingAndPayment.currency
    ],
)
def test_the_record_and_every_schedule_entry_take_their_currency_by_one_rule(subscription_currency, charge_currency, account_currency, expected):
    # Given a tenant whose subscription may lack `currency` (GetSubscriptionResponse.currency exists only with
    # Multiple Currencies), charges with `currency` (GetSubscriptionRatePlanChargesWithAllSegments.currency) and
    # an account with billingAndPayment.currency (GetAccountResponse)
    charge = {**seats(), "currency": charge_currency}
    raw = subscription([sf.rate_plan(sf.DIGITAL, [charge])], currency=subscription_currency)
    items = [invoice_item("2026-12-01", "2026-12-31", "50.00"), invoice_item("2027-01-01", "2027-01-31", "50.00")]

    synced = record(state(raw, items, account(account_currency)))

    assert synced.currency == expected
    assert synced.schedule == (entry("2026-12-01", "50.00", currency=expected), entry("2027-01-01", "50.00", currency=expected))


def test_a_schedule_entry_keeps_its_id_when_a_currency_appears_later():
    # Given entries written while Zuora gave no currency anywhere
    items = [invoice_item("2026-12-01", "2026-12-31", "50.00"), invoice_item("2027-01-01", "2027-01-31", "50.00")]
    no_currency = {**seats(), "currency": None}
    held = record(state(subscription([sf.rate_plan(sf.DIGITAL, [no_currency])], currency=None), items, account(None)))
    assert [e.currency for e in held.schedule] == [None, None]

    # When the tenant turns on Multiple Currencies and the subscription says GBP
    again = record(state(subscription([sf.rate_plan(sf.DIGITAL, [seats()])], currency="GBP"), items), held)

    # Then the same entries carry the currency, under the same ids, and nothing is cancelled
    assert again.schedule == tuple(e.model_copy(update={"currency": "GBP"}) for e in held.schedule)


def test_entries_held_under_the_ids_of_the_old_rule_keep_them_and_nothing_churns():
    # Given Limio holding entries whose ids included the currency (written before this rule)
    items = [invoice_item("2026-12-01", "2026-12-31", "50.00"), invoice_item("2027-01-01", "2027-01-31", "50.00")]
    zuora = state(subscription([sf.rate_plan(sf.DIGITAL, [seats()])]), items)
    first = record(zuora)
    held = first.model_copy(
        update={"schedule": tuple(e.model_copy(update={"id": legacy_entry_id(e.date, str(e.amount), "GBP", e.description)}) for e in first.schedule)}
    )

    # When the same Zuora state is synced
    decision = decide(record(zuora, held), held)

    # Then no entry is cancelled or added, each keeps the id Limio holds, and nothing is written
    assert decision.record.schedule == held.schedule
    assert not decision.write


def test_a_held_entry_that_is_no_longer_billed_is_still_cancelled_whatever_its_id():
    items = [invoice_item("2026-12-01", "2026-12-31", "50.00")]
    zuora = state(subscription([sf.rate_plan(sf.DIGITAL, [seats()])]), items)
    gone = ScheduleEntry(id=legacy_entry_id("2027-01-01", "50.00", "GBP", "Digital Seats"), date="2027-01-01", amount=Decimal(50), currency="GBP",
                         description="Digital Seats")  # fmt: skip
    held = record(zuora).model_copy(update={"schedule": (gone,)})

    assert record(zuora, held).schedule == (entry("2026-12-01", "50.00"), gone.model_copy(update={"status": ScheduleStatus.CANCELLED}))


# --- Row 6: in-arrears charges ---------------------------------------------------------------------------------------


def test_an_in_arrears_charge_is_scheduled_the_day_after_its_period_not_at_its_start():
    # Given seats billed in arrears (GetSubscriptionRatePlanChargesWithAllSegments.billing_timing IN_ARREARS),
    # previewed per service period (CreateBillingPreviewInvoiceItem.service_start_date / service_end_date),
    # joined to the charge by `chargeNumber`; the archive add-on billed in advance
    charges = [seats(billing_timing="IN_ARREARS"), archive()]
    items = [
        invoice_item("2026-12-01", "2026-12-31", "50.00"),
        invoice_item("2026-12-01", "2026-12-31", "4.50", charge=ARCHIVE, name="Archive Access"),
        invoice_item("2027-02-01", "2027-02-28", "50.00"),
    ]
    zuora = state(subscription([sf.rate_plan(sf.DIGITAL, charges[:1]), sf.rate_plan(sf.ARCHIVE, charges[1:])]), items)

    # When the schedule is worked out
    schedule = record(zuora).schedule

    # Then the seats are billed when their month is over, the add-on when its month starts, and the term's last
    # month, billed on the term end, is still in the term's schedule
    assert schedule == (entry("2026-12-01", "4.50", "Archive Access"), entry("2027-01-01", "50.00"), entry("2027-03-01", "50.00"))


def test_an_in_arrears_item_of_the_subscription_preview_is_joined_by_its_product_charge_when_it_has_no_number():
    # Given the subscription preview's item, which carries `productRatePlanChargeId` but no `chargeNumber` unless
    # an order amended the charge (zuora-sdk PreviewExistingSubscriptionInvoiceItemResult)
    charge = seats(billing_timing="IN_ARREARS")
    item = {"subscriptionNumber": NUMBER, "serviceStartDate": "2026-12-01", "serviceEndDate": "2026-12-31", "amountWithoutTax": 50.0,
            "taxAmount": 0.0, "chargeName": "Digital Seats", "productRatePlanChargeId": charge["productRatePlanChargeId"]}  # fmt: skip
    zuora = state(subscription([sf.rate_plan(sf.DIGITAL, [charge])]), [item])

    assert record(zuora).schedule == (entry("2027-01-01", "50.00"),)
