"""Zuora-side changes, each synced through the real state machine: the first sync creates the Limio record, the
change is made in Zuora (a new subscription version, as Zuora stores it), the next sync brings it to Limio.

Every scenario has its own customer (Salesforce account + Zuora account) so scenarios never interfere, and each
compares the whole Limio record after the sync with the record before plus exactly the fields that had to change:
the right fields changed to the right values, and nothing else did. Dates are relative to today.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
import requests
from boto3.dynamodb.types import TypeDeserializer

from limio_sync import ids
from limio_sync.sync_rules import schedule_entry_id
from local.auth import SigV4RequestAuth
from local.lfs_client import poll_until_done, start_sync
from local.service import LocalSyncService
from tests import scenario_fixtures as sf
from tests import zuora_fixtures as z

TODAY = dt.date.today()
# Billing periods start on the 1st (the 2nd when today is the 1st), so no charge ever falls on today itself:
# CURRENT_PERIOD started before today, the next one starts after it.
PERIOD_DAY = 2 if TODAY.day == 1 else 1
CURRENT_PERIOD = sf.add_months(TODAY.replace(day=PERIOD_DAY), 0 if TODAY.day > PERIOD_DAY else -1)
EVERGREEN_HORIZON_DAYS = 365  # the template's default EvergreenHorizonDays


def month(offset: int) -> dt.date:
    """The start of the billing period `offset` months from the current one."""
    return sf.add_months(CURRENT_PERIOD, offset)


def iso(day: dt.date) -> str:
    return day.isoformat()


# The usual subscription: in its second term, four months in, billed through the current period.
TERM_START, TERM_END, BILLED_THROUGH = month(-4), month(8), month(1)

SEATS, ARCHIVE_FEE, SETUP_FEE, LOYALTY_DISCOUNT, LEGACY_FEE = "C-00000001", "C-00000002", "C-00000003", "C-00000004", "C-00000005"
# Which sync wrote a record, when, and the digest of its content (the unchanged fast path): never the content itself.
BOOKKEEPING = ("lastSyncId", "lastSyncedAt", "contentHash")


@dataclass(frozen=True)
class Customer:
    salesforce_id: str
    account_number: str
    name: str

    @property
    def key(self) -> dict:
        return {"salesforceAccountId": self.salesforce_id}


RENEWAL = Customer(z.salesforce_id("SCNRENEWAL"), "A10000001", "Renewal Ltd")
CANCEL = Customer(z.salesforce_id("SCNCANCEL"), "A10000002", "Cancel Ltd")
SUSPEND = Customer(z.salesforce_id("SCNSUSPEND"), "A10000003", "Suspend Ltd")
TRANSFER_FROM = Customer(z.salesforce_id("SCNXFERFROM"), "A10000004", "Transfer From Ltd")
TRANSFER_TO = Customer(z.salesforce_id("SCNXFERTO"), "A10000024", "Transfer To Ltd")
QUANTITY = Customer(z.salesforce_id("SCNQUANTITY"), "A10000005", "Quantity Ltd")
PRICE = Customer(z.salesforce_id("SCNPRICE"), "A10000006", "Price Ltd")
ADD_PRODUCT = Customer(z.salesforce_id("SCNADDPROD"), "A10000007", "Add Product Ltd")
REMOVE_PRODUCT = Customer(z.salesforce_id("SCNREMOVEPROD"), "A10000008", "Remove Product Ltd")
EVERGREEN = Customer(z.salesforce_id("SCNEVERGREEN"), "A10000009", "Evergreen Ltd")
ONE_TIME = Customer(z.salesforce_id("SCNONETIME"), "A10000010", "One Time Ltd")
DISCOUNT = Customer(z.salesforce_id("SCNDISCOUNT"), "A10000011", "Discount Ltd")
CONTACTS = Customer(z.salesforce_id("SCNCONTACTS"), "A10000012", "Contacts Ltd")
AUTO_RENEW = Customer(z.salesforce_id("SCNAUTORENEW"), "A10000013", "Auto Renew Ltd")
NEW_IN_ZUORA = Customer(z.salesforce_id("SCNNEWINZUORA"), "A10000014", "New In Zuora Ltd")
UNMAPPED = Customer(z.salesforce_id("SCNUNMAPPED"), "A10000015", "Unmapped Ltd")
GONE = Customer(z.salesforce_id("SCNGONE"), "A10000016", "Gone Ltd")


# Zuora-side data


def person(first: str, last: str, **fields) -> dict:
    return sf.contact(first, last, work_email=f"{first}.{last}@example.com".lower(), **fields)


ELEANOR = person(
    "Eleanor",
    "Whitfield",
    personal_email="",
    mobile=None,
    work_phone="+44 20 7946 0321",
    address2="Floor 3",
    state="",
    county=None,
    zip_code="SE1 7LG",
)
MARCUS = person(
    "Marcus",
    "Adeyemi",
    personal_email=None,
    mobile="+44 7700 900123",
    work_phone="",
    address1="Unit 4, Riverside Works",
    address2=None,
    zip_code="SE1 9PH",
)
PRIYA = person("Priya", "Shah", address1="8 Temple Row", city="Birmingham", zip_code="B2 5HG")


def account_of(customer: Customer, bill_to: dict | None = None, sold_to: dict | None = None) -> dict:
    return sf.account(customer.account_number, customer.salesforce_id, name=customer.name, bill_to=bill_to or person("Jane", "Doe"), sold_to=sold_to)


def seats_plan(
    *,
    seats: int = 5,
    price: float = 10.0,
    term_start: dt.date = TERM_START,
    term_end: dt.date | None = TERM_END,
    charged_through: dt.date = BILLED_THROUGH,
) -> dict:
    return sf.rate_plan(
        sf.DIGITAL, [sf.monthly_seats(SEATS, start=term_start, end=term_end, charged_through=charged_through, seats=seats, price=price)]
    )


def archive_plan(*, start: dt.date, end: dt.date | None, charged_through: dt.date | None, last_change_type: str | None = None) -> dict:
    fee = sf.monthly_flat_fee("Archive Access", ARCHIVE_FEE, price=4.5, start=start, end=end, charged_through=charged_through)
    return sf.rate_plan(sf.ARCHIVE, [fee], last_change_type=last_change_type)


def digital_pack(
    number: str,
    customer: Customer,
    *,
    seats: int = 5,
    price: float = 10.0,
    term_start: dt.date = TERM_START,
    term_end: dt.date | None = TERM_END,
    charged_through: dt.date = BILLED_THROUGH,
    extra_plans: tuple[dict, ...] = (),
    version: int = 2,
    subscription_start: dt.date | None = None,
) -> dict:
    """A Digital Pack subscription (by default in its second term): `seats` × `price` a month, billed through
    `charged_through`."""
    plan = seats_plan(seats=seats, price=price, term_start=term_start, term_end=term_end, charged_through=charged_through)
    return sf.subscription(
        number,
        customer.account_number,
        rate_plans=[plan, *extra_plans],
        term_start=term_start,
        term_end=term_end,
        subscription_start=subscription_start or sf.add_months(term_start, -12),
        version=version,
        account_name=customer.name,
    )


SETUP_DAY = month(1) + dt.timedelta(days=14)


def setup_plan(*, charged_through: dt.date | None) -> dict:
    return sf.rate_plan(sf.SETUP, [sf.one_time_fee("Team Setup Fee", SETUP_FEE, price=99.0, on=SETUP_DAY, charged_through=charged_through)])


CUSTOMERS = (
    RENEWAL,
    CANCEL,
    SUSPEND,
    TRANSFER_FROM,
    TRANSFER_TO,
    QUANTITY,
    PRICE,
    ADD_PRODUCT,
    REMOVE_PRODUCT,
    EVERGREEN,
    ONE_TIME,
    DISCOUNT,
    CONTACTS,
    AUTO_RENEW,
    NEW_IN_ZUORA,
    UNMAPPED,
    GONE,
)
CONTACTS_OF = {CONTACTS: (ELEANOR, MARCUS), TRANSFER_TO: (PRIYA, None)}


def scenario_tenant() -> dict:
    accounts = [account_of(c, *CONTACTS_OF.get(c, (None, None))) for c in CUSTOMERS]
    subscriptions = [
        digital_pack("A-S10000001", RENEWAL, term_start=month(-10), term_end=month(2)),
        digital_pack("A-S10000002", CANCEL),
        digital_pack("A-S10000003", SUSPEND),
        digital_pack("A-S10000004", TRANSFER_FROM),
        digital_pack("A-S10000005", QUANTITY),
        digital_pack("A-S10000006", PRICE, charged_through=month(0)),
        digital_pack("A-S10000007", ADD_PRODUCT),
        digital_pack("A-S10000008", REMOVE_PRODUCT, extra_plans=(archive_plan(start=month(-4), end=month(8), charged_through=month(1)),)),
        digital_pack("A-S10000009", EVERGREEN),
        digital_pack("A-S10000010", ONE_TIME, extra_plans=(setup_plan(charged_through=None),)),
        digital_pack("A-S10000011", DISCOUNT),
        digital_pack("A-S10000012", CONTACTS),
        digital_pack("A-S10000013", AUTO_RENEW),
        digital_pack("A-S10000014", NEW_IN_ZUORA),
        digital_pack("A-S10000016", UNMAPPED),
        digital_pack("A-S10000017", UNMAPPED),
        digital_pack("A-S10000018", GONE),
        digital_pack("A-S10000019", GONE),
    ]
    return z.tenant(accounts, subscriptions)


@pytest.fixture(scope="module")
def service():
    with LocalSyncService(scenario_tenant(), catalog=sf.CATALOG) as running:
        yield running


# Syncing and reading Limio


def sync(service: LocalSyncService, customer: Customer) -> dict:
    started = start_sync(service.api_url, customer.key, credentials=service.credentials)
    assert started["status"] == "RUNNING"
    return poll_until_done(started["statusUrl"], timeout=90, credentials=service.credentials)


def outcomes(job: dict) -> dict[str, str]:
    return {r["subscriptionNumber"]: r["outcome"] for r in job["subscriptions"]}


def receipt(job: dict, number: str) -> dict:
    [found] = [r for r in job["subscriptions"] if r["subscriptionNumber"] == number]
    return found


def stored_item(service: LocalSyncService, table: str, key: dict[str, str]) -> dict:
    """One item of a table of the template, as stored."""
    name = service.cloud.template.tables[table].name
    typed_key = {field: {"S": value} for field, value in key.items()}
    item = service.cloud.client("dynamodb").get_item(TableName=name, Key=typed_key, ConsistentRead=True)["Item"]
    return {field: TypeDeserializer().deserialize(value) for field, value in item.items()}


def limio_record(service: LocalSyncService, number: str) -> dict:
    """The Limio subscription record as stored (what service.limio_subscriptions() lists, read by its key)."""
    return stored_item(service, "LimioSubscriptionsTable", {"subscriptionNumber": number})


def synced_once(service: LocalSyncService, customer: Customer) -> dict[str, dict]:
    """The first sync: every subscription of the customer is CREATED in Limio. Returns the records by number."""
    job = sync(service, customer)
    assert job["status"] == "SUCCEEDED", job
    assert set(outcomes(job).values()) == {"CREATED"}
    return {number: limio_record(service, number) for number in outcomes(job)}


def content(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in BOOKKEEPING}


def expected_after(before: dict, **changed) -> dict:
    """The record before, with exactly these fields changed (a field changed to None is not stored at all)."""
    return {k: v for k, v in {**content(before), **changed}.items() if v is not None}


def api_get(service: LocalSyncService, path: str, **params) -> dict:
    reply = requests.get(f"{service.api_url}{path}", params=params, auth=SigV4RequestAuth(service.credentials), timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def entry(number: str, day: dt.date, amount: str, description: str = "Digital Seats") -> dict:
    """A pending schedule entry as Limio stores it: its id derives from what it charges, so equal charges keep their id."""
    entry_id = schedule_entry_id(number, iso(day), Decimal(amount), description)
    return {"id": entry_id, "date": iso(day), "amount": amount, "currency": "GBP", "description": description, "type": "payment", "status": "pending"}


def monthly(number: str, months: range, amount: str, description: str = "Digital Seats") -> list[dict]:
    return [entry(number, month(m), amount, description) for m in months]


def cancelled(entries: list[dict]) -> list[dict]:
    return [{**e, "status": "cancelled"} for e in entries]


def in_order(entries: list[dict]) -> list[dict]:
    return sorted(entries, key=lambda e: (e["date"], e["id"]))


def new_version(before: dict, zuora: dict) -> dict:
    """The fields every new Zuora version changes."""
    assert zuora["version"] == before["zuoraVersion"] + 1
    return {"zuoraVersion": before["zuoraVersion"] + 1, "zuoraSubscriptionId": zuora["id"]}


def with_fields(item: dict, **fields) -> dict:
    return {**item, **fields}


# Scenarios


def test_renewal_moves_the_term_by_a_year_and_the_schedule_gains_the_new_terms_charges(service):
    number = "A-S10000001"
    first_job = sync(service, RENEWAL)
    before = limio_record(service, number)
    assert before["schedule"] == monthly(number, range(1, 2), "50.00")
    renewed_plan = seats_plan(term_start=month(-10), term_end=month(14))
    renewed = service.emulator.update_subscription(
        number, termStartDate=iso(month(2)), termEndDate=iso(month(14)), subscriptionEndDate=iso(month(14)), ratePlans=[renewed_plan]
    )

    job = sync(service, RENEWAL)

    assert outcomes(job) == {number: "UPDATED"}
    [offer] = before["offers"]
    assert content(limio_record(service, number)) == expected_after(
        before,
        termStartDate=iso(month(2)),
        termEndDate=iso(month(14)),
        subscriptionEndDate=iso(month(14)),
        offers=[with_fields(offer, end=iso(month(14)))],
        schedule=monthly(number, range(1, 14), "50.00"),
        **new_version(before, renewed),
    )
    events = api_get(service, f"/subscriptions/{number}/events")["events"]
    assert [(e["syncId"], e["outcome"], e["zuoraVersion"]) for e in events] == [(job["syncId"], "UPDATED", 3), (first_job["syncId"], "CREATED", 2)]
    assert events[0]["changes"] == [
        {"field": "offers", "before": ["/offers/digital-pack/monthly"], "after": ["/offers/digital-pack/monthly"]},
        {"field": "schedule", "before": "1 entries", "after": "12 added, 0 cancelled"},
        {"field": "subscriptionEndDate", "before": iso(month(2)), "after": iso(month(14))},
        {"field": "termEndDate", "before": iso(month(2)), "after": iso(month(14))},
        {"field": "termStartDate", "before": iso(month(-10)), "after": iso(month(2))},
        {"field": "zuoraSubscriptionId", "before": before["zuoraSubscriptionId"], "after": renewed["id"]},
        {"field": "zuoraVersion", "before": 2, "after": 3},
    ]
    assert events[1]["changes"] == []


def test_a_cancellation_in_zuora_cancels_the_limio_subscription_and_its_future_charges_without_deleting_any(service):
    number = "A-S10000002"
    before = synced_once(service, CANCEL)[number]
    assert before["schedule"] == monthly(number, range(1, 8), "50.00")
    plan = seats_plan(term_end=month(1))
    cancelled_version = service.emulator.update_subscription(number, status="Cancelled", subscriptionEndDate=iso(month(1)), ratePlans=[plan])

    job = sync(service, CANCEL)

    assert outcomes(job) == {number: "UPDATED"}
    [offer] = before["offers"]
    assert content(limio_record(service, number)) == expected_after(
        before,
        status="cancelled",
        zuoraStatus="Cancelled",
        subscriptionEndDate=iso(month(1)),
        offers=[with_fields(offer, end=iso(month(1)))],
        schedule=cancelled(before["schedule"]),
        **new_version(before, cancelled_version),
    )


def test_a_suspension_cancels_future_charges_and_the_resumption_restores_them_with_their_original_ids(service):
    number = "A-S10000003"
    before = synced_once(service, SUSPEND)[number]

    suspended = service.emulator.update_subscription(number, status="Suspended")
    suspended_job = sync(service, SUSPEND)
    while_suspended = limio_record(service, number)
    resumed = service.emulator.update_subscription(number, status="Active")
    resumed_job = sync(service, SUSPEND)

    assert outcomes(suspended_job) == {number: "UPDATED"}
    assert content(while_suspended) == expected_after(
        before, status="suspended", zuoraStatus="Suspended", schedule=cancelled(before["schedule"]), **new_version(before, suspended)
    )
    assert outcomes(resumed_job) == {number: "UPDATED"}
    assert content(limio_record(service, number)) == expected_after(
        before, zuoraVersion=before["zuoraVersion"] + 2, zuoraSubscriptionId=resumed["id"]
    )


def test_an_owner_transfer_to_another_customer_moves_the_subscription_when_the_original_customer_syncs(service):
    number = "A-S10000004"
    before = synced_once(service, TRANSFER_FROM)[number]
    moved = service.emulator.move_subscription(number, TRANSFER_TO.account_number)
    service.emulator.reset_stats()

    job = sync(service, TRANSFER_FROM)

    assert outcomes(job) == {number: "UPDATED"}
    assert service.emulator.stats.count("GET", "get_subscription") == 1, "no longer listed under the account: re-read by number"
    priya = {
        "firstName": "Priya",
        "lastName": "Shah",
        "email": None,
        "workEmail": "priya.shah@example.com",
        "phone": None,
        "workPhone": None,
        "otherPhone": None,
        "address1": "8 Temple Row",
        "address2": None,
        "city": "Birmingham",
        "state": None,
        "county": None,
        "postalCode": "B2 5HG",
        "country": "United Kingdom",
    }
    assert content(limio_record(service, number)) == expected_after(
        before,
        zuoraAccountNumber=TRANSFER_TO.account_number,
        customerId=ids.customer_id(TRANSFER_TO.salesforce_id),
        owner=ids.owner_id(TRANSFER_TO.salesforce_id),
        salesforceAccountId=TRANSFER_TO.salesforce_id,
        billingContact=priya,
        deliveryContact=priya,
        customerName="Priya Shah",
        customerEmail="priya.shah@example.com",
        **new_version(before, moved),
    )
    assert api_get(service, "/subscriptions", salesforceAccountId=TRANSFER_FROM.salesforce_id)["subscriptions"] == []
    assert [s["name"] for s in api_get(service, "/subscriptions", salesforceAccountId=TRANSFER_TO.salesforce_id)["subscriptions"]] == [number]


def test_a_quantity_change_updates_the_offer_and_replaces_the_future_charges(service):
    number = "A-S10000005"
    before = synced_once(service, QUANTITY)[number]
    changed = service.emulator.update_subscription(number, ratePlans=[seats_plan(seats=8)])

    job = sync(service, QUANTITY)

    assert outcomes(job) == {number: "UPDATED"}
    [offer] = before["offers"]
    [seats] = offer["charges"]
    assert content(limio_record(service, number)) == expected_after(
        before,
        offers=[with_fields(offer, quantity="8", charges=[with_fields(seats, quantity="8")])],
        schedule=in_order(cancelled(before["schedule"]) + monthly(number, range(1, 8), "80.00")),
        **new_version(before, changed),
    )


def test_a_price_change_updates_the_charge_and_the_schedule_amounts_and_lfs_shows_both(service):
    number = "A-S10000006"
    before = synced_once(service, PRICE)[number]
    assert before["schedule"] == monthly(number, range(0, 8), "50.00"), "this period was not billed yet"
    # Zuora bills this period, and the price goes up from the next one.
    plan = seats_plan(price=12.5)
    changed = service.emulator.update_subscription(number, ratePlans=[plan])

    job = sync(service, PRICE)

    assert outcomes(job) == {number: "UPDATED"}
    [offer] = before["offers"]
    [seats] = offer["charges"]
    after = limio_record(service, number)
    assert content(after) == expected_after(
        before,
        offers=[with_fields(offer, charges=[with_fields(seats, price="12.5")])],
        schedule=in_order(
            monthly(number, range(0, 1), "50.00") + cancelled(monthly(number, range(1, 8), "50.00")) + monthly(number, range(1, 8), "62.50")
        ),
        **new_version(before, changed),
    )
    listed = api_get(service, "/subscriptions", salesforceAccountId=PRICE.salesforce_id)
    assert listed["subscriptions"] == [
        {
            "id": before["id"],
            "name": number,
            "status": "active",
            "outOfTerm": False,
            "zuoraStatus": "Active",
            "startDate": iso(month(-16)),
            "termStartDate": iso(month(-4)),
            "termEndDate": iso(month(8)),
            "autoRenew": True,
            "currentOffer": {
                "offerPath": "/offers/digital-pack/monthly",
                "productName": "Digital Pack",
                "ratePlanName": "Digital Pack - Monthly",
                "quantity": "5",
            },
            "addOns": [],
            "latestCharge": {"date": iso(month(0)), "amount": "50.00", "currency": "GBP", "description": "Digital Seats"},
            "nextCharge": {"date": iso(month(1)), "amount": "62.50", "currency": "GBP", "description": "Digital Seats"},
            "customerName": "Jane Doe",
            "zuoraAccountNumber": PRICE.account_number,
            "zuoraVersion": 3,
            "lastSyncedAt": after["lastSyncedAt"],
        }
    ]


ARCHIVE_CHARGE = {
    "number": ARCHIVE_FEE,
    "name": "Archive Access",
    "type": "Recurring",
    "model": "FlatFee",
    "price": "4.5",
    "quantity": "1",
    "discountPercentage": None,
    "discountAmount": None,
    "billingPeriod": "Month",
}


def archive_offer(*, start: dt.date, end: dt.date) -> dict:
    return {
        "offerPath": "/offers/add-ons/archive-access",
        "type": "addon",
        "productName": "Digital Pack",
        "ratePlanName": "Archive Access",
        "productRatePlanId": sf.ARCHIVE.product_rate_plan_id,
        "start": iso(start),
        "end": iso(end),
        "quantity": "1",
        "charges": [ARCHIVE_CHARGE],
    }


def test_a_product_added_in_zuora_becomes_an_add_on_and_its_charges_join_the_schedule(service):
    number = "A-S10000007"
    before = synced_once(service, ADD_PRODUCT)[number]
    plans = [
        seats_plan(),
        archive_plan(start=month(1), end=month(8), charged_through=None, last_change_type="Add"),
    ]
    changed = service.emulator.update_subscription(number, ratePlans=plans)

    job = sync(service, ADD_PRODUCT)

    assert outcomes(job) == {number: "UPDATED"}
    assert content(limio_record(service, number)) == expected_after(
        before,
        offers=[*before["offers"], archive_offer(start=month(1), end=month(8))],
        schedule=in_order(cancelled(before["schedule"]) + monthly(number, range(1, 8), "54.50", "Archive Access, Digital Seats")),
        **new_version(before, changed),
    )


def test_a_product_removed_in_zuora_ends_its_add_on_and_leaves_the_future_charges(service):
    number = "A-S10000008"
    before = synced_once(service, REMOVE_PRODUCT)[number]
    assert before["schedule"] == monthly(number, range(1, 8), "54.50", "Archive Access, Digital Seats")
    # Zuora keeps a removed rate plan, marked Remove, its charge ending on the removal date.
    plans = [
        seats_plan(),
        archive_plan(start=month(-4), end=month(1), charged_through=month(1), last_change_type="Remove"),
    ]
    changed = service.emulator.update_subscription(number, ratePlans=plans)

    job = sync(service, REMOVE_PRODUCT)

    assert outcomes(job) == {number: "UPDATED"}
    [seats_offer, archive] = before["offers"]
    assert archive == archive_offer(start=month(-4), end=month(8))
    assert content(limio_record(service, number)) == expected_after(
        before,
        offers=[seats_offer, with_fields(archive, end=iso(month(1)))],
        schedule=in_order(cancelled(before["schedule"]) + monthly(number, range(1, 8), "50.00")),
        **new_version(before, changed),
    )


def test_an_evergreen_subscription_has_no_term_end_and_its_schedule_reaches_the_evergreen_horizon(service):
    number = "A-S10000009"
    before = synced_once(service, EVERGREEN)[number]
    plan = seats_plan(term_end=None)
    changed = service.emulator.update_subscription(number, termType="EVERGREEN", termEndDate=None, subscriptionEndDate=None, ratePlans=[plan])

    job = sync(service, EVERGREEN)

    assert outcomes(job) == {number: "UPDATED"}
    horizon = TODAY + dt.timedelta(days=EVERGREEN_HORIZON_DAYS)
    months_within_horizon = range(1, next(m for m in range(1, 15) if month(m) >= horizon))
    [offer] = before["offers"]
    after = limio_record(service, number)
    assert content(after) == expected_after(
        before,
        termEndDate=None,
        subscriptionEndDate=None,
        offers=[with_fields(offer, end=None)],
        schedule=monthly(number, months_within_horizon, "50.00"),
        **new_version(before, changed),
    )
    assert after["schedule"][:7] == before["schedule"], "the entries that did not change keep their ids"


def test_a_one_time_charge_is_one_schedule_entry_and_leaves_the_future_once_billed(service):
    number = "A-S10000010"
    before = synced_once(service, ONE_TIME)[number]
    setup = entry(number, SETUP_DAY, "99.00", "Team Setup Fee")
    assert before["schedule"] == in_order([*monthly(number, range(1, 8), "50.00"), setup])
    plans = [seats_plan(), setup_plan(charged_through=SETUP_DAY + dt.timedelta(days=1))]
    billed = service.emulator.update_subscription(number, ratePlans=plans)

    job = sync(service, ONE_TIME)

    assert outcomes(job) == {number: "UPDATED"}
    after = limio_record(service, number)
    assert content(after) == expected_after(
        before, schedule=in_order([*monthly(number, range(1, 8), "50.00"), *cancelled([setup])]), **new_version(before, billed)
    )
    [view] = api_get(service, "/subscriptions", salesforceAccountId=ONE_TIME.salesforce_id)["subscriptions"]
    assert view["nextCharge"]["description"] == "Digital Seats"


def test_a_percentage_discount_makes_the_schedule_amounts_net_of_the_discount(service):
    number = "A-S10000011"
    before = synced_once(service, DISCOUNT)[number]
    discount = sf.percentage_discount("Loyalty Discount", LOYALTY_DISCOUNT, percentage=10.0, start=month(1), end=month(8), charged_through=None)
    plans = [seats_plan(), sf.rate_plan(sf.LOYALTY, [discount], last_change_type="Add")]
    changed = service.emulator.update_subscription(number, ratePlans=plans)

    job = sync(service, DISCOUNT)

    assert outcomes(job) == {number: "UPDATED"}
    loyalty_offer = {
        "offerPath": "/offers/discounts/loyalty-10",
        "type": "addon",
        "productName": "Discounts",
        "ratePlanName": "Loyalty Discount 10%",
        "productRatePlanId": sf.LOYALTY.product_rate_plan_id,
        "start": iso(month(1)),
        "end": iso(month(8)),
        "quantity": None,
        "charges": [
            {
                "number": LOYALTY_DISCOUNT,
                "name": "Loyalty Discount",
                "type": "Recurring",
                "model": "DiscountPercentage",
                "price": None,
                "quantity": None,
                "discountPercentage": "10.0",
                "discountAmount": None,
                "billingPeriod": "Month",
            }
        ],
    }
    assert content(limio_record(service, number)) == expected_after(
        before,
        offers=[*before["offers"], loyalty_offer],
        schedule=in_order(cancelled(before["schedule"]) + monthly(number, range(1, 8), "45.00", "Digital Seats, Loyalty Discount")),
        **new_version(before, changed),
    )


def replace_account_contacts(service: LocalSyncService, account_number: str, *, bill_to: dict, sold_to: dict) -> None:
    """A contact edit in Zuora. The emulator has no public call that changes an account, so this edits its store."""
    store = service.emulator._store
    with store._lock:
        store._accounts[account_number].update(billToContact=bill_to, soldToContact=sold_to)


def test_contact_and_address_changes_reach_limio_and_blank_turning_null_is_not_a_change(service):
    number = "A-S10000012"
    before = synced_once(service, CONTACTS)[number]
    assert before["billingContact"] == {
        "firstName": "Eleanor",
        "lastName": "Whitfield",
        "email": None,
        "workEmail": "eleanor.whitfield@example.com",
        "phone": None,
        "workPhone": "+44 20 7946 0321",
        "otherPhone": None,
        "address1": "14 Carlisle Lane",
        "address2": "Floor 3",
        "city": "London",
        "state": None,
        "county": None,
        "postalCode": "SE1 7LG",
        "country": "United Kingdom",
    }
    assert (before["customerName"], before["customerEmail"]) == ("Eleanor Whitfield", "eleanor.whitfield@example.com")

    # Zuora re-saves the contacts, spelling "nothing" differently: "" ↔ null, whitespace.
    bill_to = with_fields(ELEANOR, personalEmail=None, state="  ", county="", otherPhone=None, mobilePhone="")
    sold_to = with_fields(MARCUS, personalEmail="", address2="", county=None, workPhone=None, state="")
    replace_account_contacts(service, CONTACTS.account_number, bill_to=bill_to, sold_to=sold_to)
    respelled = sync(service, CONTACTS)

    assert outcomes(respelled) == {number: "UNCHANGED"}
    assert limio_record(service, number) == before

    # Then she moves, marries, and gives a personal email; the delivery address moves and loses its mobile.
    bill_to = with_fields(
        bill_to,
        lastName="Whitfield-Hart",
        personalEmail="eleanor@home.example",
        address1="2 Riverside Walk",
        address2="",
        city="Bristol",
        zipCode="BS1 5DB",
    )
    sold_to = with_fields(sold_to, address1="Unit 9, Riverside Works", mobilePhone=None)
    replace_account_contacts(service, CONTACTS.account_number, bill_to=bill_to, sold_to=sold_to)
    job = sync(service, CONTACTS)

    assert outcomes(job) == {number: "UPDATED"}
    assert content(limio_record(service, number)) == expected_after(
        before,
        billingContact=with_fields(
            before["billingContact"],
            lastName="Whitfield-Hart",
            email="eleanor@home.example",
            address1="2 Riverside Walk",
            address2=None,
            city="Bristol",
            postalCode="BS1 5DB",
        ),
        deliveryContact=with_fields(before["deliveryContact"], address1="Unit 9, Riverside Works", phone=None),
        customerName="Eleanor Whitfield-Hart",
        customerEmail="eleanor@home.example",
    )


def test_auto_renew_switched_off_in_zuora_is_switched_off_in_limio(service):
    number = "A-S10000013"
    before = synced_once(service, AUTO_RENEW)[number]
    changed = service.emulator.update_subscription(number, autoRenew=False)

    job = sync(service, AUTO_RENEW)

    assert outcomes(job) == {number: "UPDATED"}
    assert content(limio_record(service, number)) == expected_after(before, autoRenew=False, **new_version(before, changed))


def test_a_subscription_created_in_zuora_is_created_in_limio_with_its_customer_and_salesforce_identity(service):
    existing = "A-S10000014"
    number = "A-S10000015"
    synced_once(service, NEW_IN_ZUORA)
    created = service.emulator.upsert_subscription(
        digital_pack(number, NEW_IN_ZUORA, seats=3, term_start=month(0), term_end=month(12), subscription_start=month(0), version=1)
    )

    job = sync(service, NEW_IN_ZUORA)

    assert outcomes(job) == {existing: "UNCHANGED", number: "CREATED"}
    jane = {
        "firstName": "Jane",
        "lastName": "Doe",
        "email": None,
        "workEmail": "jane.doe@example.com",
        "phone": None,
        "workPhone": None,
        "otherPhone": None,
        "address1": "14 Carlisle Lane",
        "address2": None,
        "city": "London",
        "state": None,
        "county": None,
        "postalCode": "SE1 7LG",
        "country": "United Kingdom",
    }
    customer_id = ids.customer_id(NEW_IN_ZUORA.salesforce_id)
    assert content(limio_record(service, number)) == {
        "subscriptionNumber": number,
        "id": ids.subscription_id(number),
        "name": number,
        "customerId": customer_id,
        "owner": ids.owner_id(NEW_IN_ZUORA.salesforce_id),
        "status": "active",
        "zuoraStatus": "Active",
        "outOfTerm": False,
        "subscriptionStartDate": iso(month(0)),
        "subscriptionEndDate": iso(month(12)),
        "termStartDate": iso(month(0)),
        "termEndDate": iso(month(12)),
        "autoRenew": True,
        "currency": "GBP",
        "customerName": "Jane Doe",
        "customerEmail": "jane.doe@example.com",
        "billingContact": jane,
        "deliveryContact": jane,
        "offers": [
            {
                "offerPath": "/offers/digital-pack/monthly",
                "type": "offer",
                "productName": "Digital Pack",
                "ratePlanName": "Digital Pack - Monthly",
                "productRatePlanId": sf.DIGITAL.product_rate_plan_id,
                "start": iso(month(0)),
                "end": iso(month(12)),
                "quantity": "3",
                "charges": [
                    {
                        "number": SEATS,
                        "name": "Digital Seats",
                        "type": "Recurring",
                        "model": "PerUnit",
                        "price": "10.0",
                        "quantity": "3",
                        "discountPercentage": None,
                        "discountAmount": None,
                        "billingPeriod": "Month",
                    }
                ],
            }
        ],
        "schedule": monthly(number, range(1, 12), "30.00"),
        "zuoraAccountNumber": NEW_IN_ZUORA.account_number,
        "salesforceAccountId": NEW_IN_ZUORA.salesforce_id,
        "zuoraSubscriptionId": created["id"],
        "zuoraVersion": 1,
    }
    customer = stored_item(service, "LimioCustomersTable", {"customerId": customer_id})
    assert customer["salesforceIdentity"] == {
        "id": ids.owner_id(NEW_IN_ZUORA.salesforce_id),
        "service": "salesforce",
        "type": "account",
        "externalId": NEW_IN_ZUORA.salesforce_id,
    }
    assert (customer["owner"], customer["name"], customer["email"]) == (ids.owner_id(NEW_IN_ZUORA.salesforce_id), "Jane Doe", "jane.doe@example.com")
    assert customer["zuoraAccountNumbers"] == {NEW_IN_ZUORA.account_number}


def test_an_unmapped_rate_plan_fails_its_subscription_by_name_and_the_customers_others_still_sync(service):
    failing, fine = "A-S10000016", "A-S10000017"
    before = synced_once(service, UNMAPPED)
    legacy = sf.rate_plan(
        sf.UNMAPPED,
        [
            sf.charge(
                LEGACY_FEE,
                "Legacy Bundle Fee",
                model="FlatFee",
                price=30.0,
                billing_period="Quarter",
                start=month(1),
                end=month(8),
                charged_through=None,
            )
        ],
        last_change_type="Add",
    )
    service.emulator.update_subscription(failing, ratePlans=[*service.emulator.subscription(failing)["ratePlans"], legacy])
    changed = service.emulator.update_subscription(fine, autoRenew=False)

    job = sync(service, UNMAPPED)

    assert job["status"] == "PARTIALLY_FAILED"
    assert outcomes(job) == {failing: "FAILED", fine: "UPDATED"}
    failure = receipt(job, failing)
    assert (failure["errorCode"], failure["retryable"]) == ("UNMAPPED_RATE_PLAN", False)
    assert failing in failure["message"] and "'Legacy Bundle'" in failure["message"] and "'Legacy Bundle - Quarterly'" in failure["message"]
    assert job["failedSubscriptions"] == [failing] and failing in job["notification"]
    assert limio_record(service, failing) == before[failing], "a failed sync writes nothing"
    assert content(limio_record(service, fine)) == expected_after(before[fine], autoRenew=False, **new_version(before[fine], changed))


def test_a_subscription_limio_holds_but_zuora_does_not_know_fails_as_not_found(service):
    gone, kept = "A-S10000018", "A-S10000019"
    before = synced_once(service, GONE)
    service.emulator.remove_subscription(gone)

    job = sync(service, GONE)

    assert job["status"] == "PARTIALLY_FAILED"
    assert outcomes(job) == {gone: "FAILED", kept: "UNCHANGED"}
    failure = receipt(job, gone)
    assert (failure["errorCode"], failure["retryable"]) == ("NOT_FOUND_IN_ZUORA", False)
    assert gone in failure["message"]
    assert job["failedSubscriptions"] == [gone]
    assert limio_record(service, gone) == before[gone]
