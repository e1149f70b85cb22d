"""Properties of the pure sync rules over generated Zuora states (rate plans removed or not, charges with segments,
in advance or in arrears, with or without a currency; preview items in each of Zuora's three shapes): syncing is
idempotent, schedule entries are never deleted, an entry still billed keeps the id Limio holds whatever rule made it,
merging a schedule twice changes nothing, an older Zuora version never wins, rate plan order is irrelevant."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from limio_sync.catalog import CatalogMapping
from limio_sync.models import Outcome
from limio_sync.sync_rules import (
    LimioSubscription,
    ScheduleEntry,
    ScheduleStatus,
    ZuoraState,
    decide,
    desired_record,
    desired_schedule,
    merge_schedule,
    schedule_entry_id,
)
from limio_sync.zuora.subscription import ZuoraAccount, ZuoraInvoiceItem, parse_subscription
from tests import scenario_fixtures as sf
from tests import zuora_fixtures as z

TODAY = dt.date(2026, 11, 25)
NUMBER = "A-S00012345"
ACCOUNT = "A00001234"
SALESFORCE_ID = z.salesforce_id("PROPS1")
CATALOG = CatalogMapping.model_validate(sf.CATALOG)
MAPPED = [product for product in sf.PRODUCTS if product.offer_path]
CHARGE_NAMES = ["Digital Seats", "Archive Access", "Team Setup", "Loyalty Discount", "Print Annual"]

PROPERTY = settings(max_examples=100, deadline=None)
TWO_STATES = settings(max_examples=50, deadline=None)  # each example builds two whole Zuora states

dates = st.dates(min_value=TODAY - dt.timedelta(days=3 * 365), max_value=TODAY + dt.timedelta(days=3 * 365))
money = st.integers(min_value=-50_000, max_value=1_000_000).map(lambda cents: cents / 100)
prices = st.integers(min_value=0, max_value=1_000_000).map(lambda cents: cents / 100)
ELEANOR = {
    "firstName": "Eleanor",
    "lastName": "Whitfield",
    "workEmail": "eleanor@example.com",
    "personalEmail": "eleanor@home.example",
    "mobilePhone": "+44 7700 900123",
    "address1": "14 Carlisle Lane",
    "address2": "Floor 3",
    "city": "London",
    "zipCode": "SE1 7LG",
}
# Zuora spells "nothing" as "" or null, inconsistently, sometimes with stray whitespace.
blanked_fields = st.dictionaries(st.sampled_from(sorted(ELEANOR)), st.sampled_from(["", None, "  "]), max_size=len(ELEANOR))
contacts = st.one_of(st.none(), blanked_fields.map(lambda blanks: {**ELEANOR, **blanks}))
# Charges often share a start date (a product added twice at once, a renewal's new segments).
charge_starts = st.one_of(st.sampled_from([TODAY - dt.timedelta(days=30), TODAY + dt.timedelta(days=6)]), dates)
lengths = st.integers(min_value=1, max_value=800).map(lambda days: dt.timedelta(days=days))
charge_types = st.sampled_from(["Recurring", "OneTime"])
recurring_models = st.sampled_from(["FlatFee", "PerUnit", "DiscountPercentage"])
one_time_models = st.sampled_from(["FlatFee", "PerUnit"])
quantities = st.one_of(st.none(), st.integers(min_value=1, max_value=50))
percentages = st.integers(min_value=1, max_value=100)
billing_periods = st.sampled_from(["Month", "Quarter", "Annual"])
optional_dates = st.one_of(st.none(), dates)
plan_products = st.lists(st.sampled_from(MAPPED), max_size=3)
charges_per_plan = st.integers(min_value=1, max_value=2)
change_types = st.sampled_from([None, "Add", "Update", "Remove", "remove"])
billing_timings = st.sampled_from(["IN_ADVANCE", "IN_ADVANCE", "IN_ARREARS", None])
charge_currencies = st.sampled_from(["GBP", "GBP", None])
charge_names = st.sampled_from(CHARGE_NAMES)
versions = st.integers(min_value=1, max_value=20)
subscription_currencies = st.sampled_from(["GBP", "EUR", "", None])
account_currencies = st.sampled_from(["GBP", "", None])
crm_ids = st.sampled_from(["", None, SALESFORCE_ID])
statuses = st.sampled_from(["Draft", "Pending Activation", "Pending Acceptance", "Active", "Suspended", "Cancelled", "Expired"])
charge_numbers = st.sampled_from(["C-00000001", "C-00000002", "C-00000003", "", None])
service_periods = st.tuples(dates, st.integers(min_value=0, max_value=92)).map(
    lambda period: {"serviceStartDate": period[0].isoformat(), "serviceEndDate": (period[0] + dt.timedelta(days=period[1])).isoformat()}
)
# Billing preview items, in Zuora's three shapes: mostly this subscription's, some of another subscription on
# the same account.
billing_preview_invoice_items = st.fixed_dictionaries(  # zuora-sdk CreateBillingPreviewInvoiceItem
    {
        "subscriptionName": st.sampled_from([NUMBER, NUMBER, NUMBER, "A-S00099999"]),
        "chargeAmount": money,
        "taxAmount": st.one_of(st.none(), st.just(0), prices),
        "chargeName": st.sampled_from([*CHARGE_NAMES, "", None]),
        "chargeNumber": charge_numbers,
        "processingType": st.sampled_from(["Charge", "Charge", "Discount", "discount"]),
    }
)
credit_memo_items = st.fixed_dictionaries(  # zuora-sdk CreateBillingPreviewCreditMemoItem
    {
        "subscriptionNumber": st.sampled_from([NUMBER, NUMBER, "A-S00099999"]),
        "amount": prices,
        "amountWithoutTax": prices,
        "chargeNumber": charge_numbers,
        "processingType": st.just("Charge"),
    }
)
subscription_preview_items = st.fixed_dictionaries(  # PreviewExistingSubscriptionInvoiceItemResult, tagged by the client
    {
        "subscriptionNumber": st.just(NUMBER),
        "amountWithoutTax": money,
        "taxAmount": prices,
        "chargeName": st.sampled_from(CHARGE_NAMES),
        "processingType": st.sampled_from(["Charge", "Discount"]),
    }
)
item_shapes = st.one_of(billing_preview_invoice_items, billing_preview_invoice_items, credit_memo_items, subscription_preview_items)
invoice_items = st.lists(st.tuples(item_shapes, service_periods).map(lambda shape: {**shape[0], **shape[1]}), max_size=8)


@st.composite
def charges(draw: st.DrawFn, number: str) -> dict:
    charge_type = draw(charge_types)
    model = draw(recurring_models if charge_type == "Recurring" else one_time_models)
    start = draw(charge_starts)
    length = draw(st.one_of(st.none(), lengths))
    discount = model == "DiscountPercentage"
    charge = sf.charge(
        number,
        draw(charge_names),
        charge_type=charge_type,
        model=model,
        price=None if discount else draw(prices),
        quantity=None if discount else draw(quantities),
        discount_percentage=draw(percentages) if discount else None,
        billing_period=draw(billing_periods),
        billing_timing=draw(billing_timings),
        start=start,
        end=start + length if length else None,
        charged_through=draw(optional_dates),
        currency=draw(charge_currencies),
    )
    if draw(st.booleans()):
        # Read with charge-detail=all-segments: an amendment split the charge in two (zuora-sdk RatePlanChargeSegment)
        split = start + draw(lengths)
        charge["chargeSegments"] = [
            {**segment_fields(charge), "effectiveStartDate": start.isoformat(), "effectiveEndDate": split.isoformat()},
            {**segment_fields(charge), "price": None if discount else draw(prices), "effectiveStartDate": split.isoformat()},
        ]
    return charge


def segment_fields(charge: dict) -> dict:
    keys = ("price", "quantity", "discountPercentage", "discountAmount", "currency", "effectiveEndDate")
    return {key: charge[key] for key in keys}


@st.composite
def rate_plans(draw: st.DrawFn) -> list[dict]:
    """Up to three rate plans of mapped products (the same product may appear twice), each with one or two
    charges; charge numbers are unique within the subscription, as in Zuora."""
    plans, next_charge = [], 1
    for product in draw(plan_products):
        count = draw(charges_per_plan)
        plan_charges = [draw(charges(f"C-{next_charge + i:08d}")) for i in range(count)]
        next_charge += count
        plans.append(sf.rate_plan(product, plan_charges, last_change_type=draw(change_types)))
    return plans


@st.composite
def zuora_raw(draw: st.DrawFn, version: int | None = None) -> dict:
    """One subscription as Zuora answers for it: the subscription, its account, its billing preview items."""
    evergreen = draw(st.booleans())
    term_start = draw(dates)
    status = draw(statuses)
    subscription = sf.subscription(
        NUMBER,
        ACCOUNT,
        rate_plans=draw(rate_plans()),
        term_start=term_start,
        term_end=None if evergreen else term_start + draw(lengths),
        subscription_start=term_start - draw(lengths),
        status=status,
        version=version if version is not None else draw(versions),
        auto_renew=draw(st.booleans()),
        currency=draw(subscription_currencies),
    )
    if status == "Cancelled":
        subscription["subscriptionEndDate"] = draw(dates).isoformat()
    subscription["billToContact"] = draw(contacts)
    subscription["soldToContact"] = draw(contacts)
    account = sf.account(ACCOUNT, None, name="Northwind Media", bill_to=draw(contacts) or {}, sold_to=draw(contacts) or {})
    account["basicInfo"]["crmId"] = draw(crm_ids)
    account["billingAndPayment"]["currency"] = draw(account_currencies)
    return {"subscription": subscription, "account": account, "invoiceItems": draw(invoice_items)}


def state_of(raw: dict) -> ZuoraState:
    return ZuoraState(
        subscription=parse_subscription(raw["subscription"], NUMBER),
        account=ZuoraAccount.from_response(raw["account"]),
        invoiceItems=tuple(ZuoraInvoiceItem.model_validate(item) for item in raw["invoiceItems"]),
    )


def sync(state: ZuoraState, existing: LimioSubscription | None, *, sync_number: int = 1):
    """What one sync decides for this Zuora state, given what Limio holds."""
    desired = desired_record(
        state,
        existing,
        catalog=CATALOG,
        salesforce_account_id=SALESFORCE_ID,
        sync_id=f"sync-{sync_number:032x}",
        synced_at=f"2026-11-25T10:00:{sync_number % 60:02d}.000Z",
        today=TODAY,
    )
    return decide(desired, existing)


# (a) Idempotence


@TWO_STATES
@given(first=zuora_raw(version=1), second=zuora_raw(version=2))
def test_applying_the_same_zuora_state_twice_changes_nothing_the_second_time(first, second):
    held = sync(state_of(first), None).record
    applied = sync(state_of(second), held, sync_number=2)

    again = sync(state_of(second), applied.record, sync_number=3)

    assert again.outcome is Outcome.UNCHANGED and not again.write and again.changes == ()
    assert again.record == applied.record


@PROPERTY
@given(raw=zuora_raw())
def test_a_new_subscription_is_created_once_and_then_left_alone(raw):
    created = sync(state_of(raw), None)

    again = sync(state_of(raw), created.record, sync_number=2)

    assert created.outcome is Outcome.CREATED and created.write
    assert again.outcome is Outcome.UNCHANGED and not again.write


# (b) Schedule entries are never deleted


def content(entry: ScheduleEntry) -> tuple:
    """What makes an entry the same entry: what is billed on a day (not its currency)."""
    return entry.date, entry.amount, entry.description


def legacy_id(entry: ScheduleEntry, currency: str | None) -> str:
    """The id an entry got before the currency left it (commit 379a831)."""
    key = "\x1f".join([NUMBER, entry.date, f"{entry.amount:.2f}", currency or "", entry.description])
    return "schedule-" + hashlib.sha256(key.encode()).hexdigest()[:32]


@st.composite
def held_schedules(draw: st.DrawFn, subscription) -> tuple[ScheduleEntry, ...]:
    """What Limio may hold: an earlier sync's schedule, some of it since cancelled, some under the ids of the
    old rule (the currency in the id) or of Limio itself, in another currency or none."""
    items = tuple(ZuoraInvoiceItem.model_validate(item) for item in draw(invoice_items))
    earlier = merge_schedule((), desired_schedule(subscription, items, draw(dates)), TODAY)
    held = []
    for entry in earlier:
        if draw(st.booleans()):
            entry = entry.model_copy(update={"status": ScheduleStatus.CANCELLED})
        currency = draw(st.sampled_from([entry.currency, "GBP", None]))
        new_id = draw(st.sampled_from([entry.id, legacy_id(entry, currency), f"schedule-limio-{entry.date}-{entry.amount}"]))
        held.append(entry.model_copy(update={"id": new_id, "currency": currency}))
    return tuple({entry.id: entry for entry in held}.values())


@PROPERTY
@given(data=st.data(), raw=zuora_raw(), horizon=dates, today=dates)
def test_no_schedule_entry_is_ever_deleted_and_unchanged_entries_keep_their_ids(data, raw, horizon, today):
    subscription = state_of(raw).subscription
    held = data.draw(held_schedules(subscription))
    preview = desired_schedule(subscription, state_of(raw).invoiceItems, horizon)

    merged = merge_schedule(held, preview, today)

    merged_by_id = {entry.id: entry for entry in merged}
    assert len(merged_by_id) == len(merged), "an entry id appears twice"
    assert {entry.id for entry in held} <= set(merged_by_id)
    held_ids = {entry.id for entry in held}
    held_contents = {content(entry) for entry in held}
    for entry in preview:
        # Each desired entry is pending in Limio, with its currency, under a held id when Limio held its content
        [kept] = [e for e in merged if content(e) == content(entry) and e.status is ScheduleStatus.PENDING]
        assert kept.currency == entry.currency
        assert (kept.id in held_ids) == (content(entry) in held_contents or entry.id in held_ids)
    pending_contents = {content(entry) for entry in preview}
    for entry in held:
        kept = merged_by_id[entry.id]
        assert content(kept) == content(entry)
        if kept.status is ScheduleStatus.PENDING and content(entry) in pending_contents:
            continue
        if dt.date.fromisoformat(entry.date) > today and entry.status is not ScheduleStatus.CANCELLED:
            assert kept.status is ScheduleStatus.CANCELLED
        else:
            assert kept == entry, "an entry dated today or earlier is history and stays as it is"


# (c) merge_schedule is idempotent


entries = st.builds(
    lambda date, amount, description, status, foreign: ScheduleEntry(
        id=f"schedule-limio-{date}-{amount}" if foreign else schedule_entry_id(NUMBER, date.isoformat(), Decimal(str(amount)), description),
        date=date.isoformat(),
        amount=Decimal(str(amount)),
        currency="GBP",
        description=description,
        status=status,
    ),
    dates,
    money,
    charge_names,
    st.sampled_from(list(ScheduleStatus)),
    st.booleans(),
)
schedules = st.lists(entries, max_size=12, unique_by=lambda entry: entry.id).map(tuple)


@PROPERTY
@given(held=schedules, preview=schedules.map(list), today=dates)
def test_merging_a_schedule_twice_is_the_same_as_merging_it_once(held, preview, today):
    preview = [entry.model_copy(update={"status": ScheduleStatus.PENDING}) for entry in preview]

    once = merge_schedule(held, preview, today)

    assert merge_schedule(once, preview, today) == once


# (d) Older over newer never wins


@TWO_STATES
@given(data=st.data(), newer_version=st.integers(min_value=2, max_value=40))
def test_an_older_zuora_version_never_overwrites_a_newer_one(data, newer_version):
    newer = data.draw(zuora_raw(version=newer_version))
    older = data.draw(zuora_raw(version=data.draw(st.integers(min_value=1, max_value=newer_version - 1))))
    held = sync(state_of(newer), None).record

    decision = sync(state_of(older), held, sync_number=2)

    assert decision.outcome is Outcome.UNCHANGED and not decision.write
    assert decision.record is held


# (e) Rate plan order never matters


@PROPERTY
@given(data=st.data(), raw=zuora_raw())
def test_the_order_zuora_lists_rate_plans_and_charges_in_never_changes_the_record(data, raw):
    shuffled_plans = data.draw(st.permutations(raw["subscription"]["ratePlans"]))
    shuffled = {
        **raw,
        "subscription": {
            **raw["subscription"],
            "ratePlans": [{**plan, "ratePlanCharges": data.draw(st.permutations(plan["ratePlanCharges"]))} for plan in shuffled_plans],
        },
        "invoiceItems": data.draw(st.permutations(raw["invoiceItems"])),
    }

    assert sync(state_of(shuffled), None).record == sync(state_of(raw), None).record


def test_the_same_product_rate_plan_twice_with_the_same_start_maps_to_one_record_whichever_zuora_lists_first():
    start = TODAY - dt.timedelta(days=30)
    first = sf.rate_plan(sf.ARCHIVE, [sf.monthly_flat_fee("Archive Access", "C-00000001", price=4.5, start=start, end=None, charged_through=None)])
    second = sf.rate_plan(sf.ARCHIVE, [sf.monthly_flat_fee("Archive Access", "C-00000002", price=9.0, start=start, end=None, charged_through=None)])

    def record_for(plans: list[dict]) -> LimioSubscription:
        subscription = sf.subscription(NUMBER, ACCOUNT, rate_plans=plans, term_start=start, term_end=start + dt.timedelta(days=365))
        account = sf.account(ACCOUNT, SALESFORCE_ID, name="Northwind Media", bill_to={})
        return sync(state_of({"subscription": subscription, "account": account, "invoiceItems": []}), None).record

    assert record_for([first, second]) == record_for([second, first])
