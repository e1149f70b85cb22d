"""Zuora as it really is, synced through the local stack: for each tenant set-up of the Zuora audit
(`reference/zuora-audit.md`, rows 1-6 and 11), what LFS lists after the agent presses Sync is what a person
reading the Zuora subscription and its invoices would expect.

Each scenario has its own customer. Zuora changes between two syncs through the emulator's admin endpoint
over HTTP (`POST /_emulator/...`, docs/zuora-emulator.md "Changing Zuora"), as Zuora changes itself. Every
expected record is written out by hand from Zuora's semantics: the dates are relative to today, the amounts
are prices × quantities (with tax, credits and timing as Zuora bills them). Schedule entry ids are the
sync's own: they are checked to be distinct and to stay put, not recomputed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
import requests
from boto3.dynamodb.types import TypeDeserializer

from limio_sync import ids
from local.auth import SigV4RequestAuth
from local.lfs_client import poll_until_done, start_sync
from local.service import LocalSyncService
from tests import scenario_fixtures as sf
from tests import zuora_fixtures as z

TODAY = dt.date.today()
# Billing periods start on the 1st (the 2nd when today is the 1st), so no charge ever falls on today itself.
PERIOD_DAY = 2 if TODAY.day == 1 else 1
CURRENT_PERIOD = sf.add_months(TODAY.replace(day=PERIOD_DAY), 0 if TODAY.day > PERIOD_DAY else -1)
VAT_RATE = 20  # percent, the tenant's Zuora Tax rate for tax code UK-VAT


def month(offset: int) -> dt.date:
    """The start of the billing period `offset` months from the current one."""
    return sf.add_months(CURRENT_PERIOD, offset)


def iso(day: dt.date) -> str:
    return day.isoformat()


# Every subscription is in its second term, four months in; Zuora has billed the current period.
SUBSCRIPTION_START, TERM_START, TERM_END, BILLED_THROUGH = month(-16), month(-4), month(8), month(1)


@dataclass(frozen=True)
class Customer:
    salesforce_id: str
    account_number: str
    name: str
    subscription_number: str
    currency: str = "GBP"

    @property
    def key(self) -> dict:
        return {"salesforceAccountId": self.salesforce_id}


REMOVED = Customer(z.salesforce_id("FIDREMOVED"), "A20000001", "Removed Plans Ltd", "A-S20000001")
AMENDED = Customer(z.salesforce_id("FIDAMENDED"), "A20000007", "Amended Ltd", "A-S20000007")
GIFTED = Customer(z.salesforce_id("FIDGIFTED"), "A20000002", "Gift Recipient Ltd", "A-S20000002")
PAYER = Customer(z.salesforce_id("FIDPAYER"), "A20000012", "Group Holdings Ltd", "")
TAXED = Customer(z.salesforce_id("FIDTAXED"), "A20000003", "Taxed Ltd", "A-S20000003")
CREDITED = Customer(z.salesforce_id("FIDCREDITED"), "A20000004", "Credited Ltd", "A-S20000004")
ONE_CURRENCY = Customer(z.salesforce_id("FIDONECURRENCY"), "A20000005", "One Currency GmbH", "A-S20000005", currency="EUR")
ARREARS = Customer(z.salesforce_id("FIDARREARS"), "A20000006", "Arrears Ltd", "A-S20000006")
CENTURY = Customer(z.salesforce_id("FIDCENTURY"), "A20000011", "Century Ltd", "A-S20000011")
CUSTOMERS = (REMOVED, AMENDED, GIFTED, PAYER, TAXED, CREDITED, ONE_CURRENCY, ARREARS, CENTURY)

# Zuora-side data

SEATS, ARCHIVE_FEE, LEGACY_FEE = "C-00000001", "C-00000002", "C-00000003"
SEATS_AND_ARCHIVE = "Archive Access, Digital Seats"  # a schedule entry's description: the charges billed that day


def jane(customer: Customer) -> dict:
    return sf.contact("Jane", "Doe", work_email=f"jane@{customer.account_number.lower()}.example.com")


def seats(
    *,
    price: float = 10.0,
    charged_through: dt.date | None = BILLED_THROUGH,
    end: dt.date = TERM_END,
    currency: str = "GBP",
    billing_timing: str = "IN_ADVANCE",
    **zuora_tax: object,
) -> dict:
    """The Digital Pack's base charge: 5 seats × `price` a month from the term start."""
    charge = sf.charge(
        SEATS,
        "Digital Seats",
        start=TERM_START,
        end=end,
        charged_through=charged_through,
        price=price,
        quantity=5,
        currency=currency,
        billing_timing=billing_timing,
    )
    return {**charge, **zuora_tax}


def digital_pack(customer: Customer, charge: dict, *extra_plans: dict, term_end: dt.date = TERM_END) -> dict:
    return sf.subscription(
        customer.subscription_number,
        customer.account_number,
        rate_plans=[sf.rate_plan(sf.DIGITAL, [charge]), *extra_plans],
        term_start=TERM_START,
        term_end=term_end,
        subscription_start=SUBSCRIPTION_START,
        version=2,
        currency=customer.currency,
        account_name=customer.name,
    )


def archive_plan() -> dict:
    fee = sf.monthly_flat_fee("Archive Access", ARCHIVE_FEE, price=4.5, start=TERM_START, end=TERM_END, charged_through=BILLED_THROUGH)
    return sf.rate_plan(sf.ARCHIVE, [fee])


def removed_legacy_plan() -> dict:
    """A legacy bundle of the first term, removed when the term renewed: Zuora keeps it on the subscription with
    `lastChangeType: Remove`, its charge ended on the removal date. The catalog has no mapping for it."""
    fee = sf.monthly_flat_fee("Legacy Bundle", LEGACY_FEE, price=30.0, start=SUBSCRIPTION_START, end=TERM_START, charged_through=TERM_START)
    return sf.rate_plan(sf.UNMAPPED, [fee], last_change_type="Remove")


def billed_by(subscription: dict, payer: Customer) -> dict:
    """The subscription is invoiced to another account (Knowledge Center, "Invoice Subscriptions to Different
    Accounts"): that account's bill run bills it."""
    return {
        **subscription,
        "invoiceOwnerAccountId": z.zuora_id("account", payer.account_number),
        "invoiceOwnerAccountNumber": payer.account_number,
        "invoiceOwnerAccountName": payer.name,
    }


def fidelity_tenant() -> dict:
    """An Invoice Settlement tenant with Zuora Tax (UK VAT at 20 %) and Multiple Currencies."""
    accounts = [sf.account(c.account_number, c.salesforce_id, name=c.name, bill_to=jane(c), currency=c.currency) for c in CUSTOMERS]
    subscriptions = [
        digital_pack(REMOVED, seats(), archive_plan(), removed_legacy_plan()),
        digital_pack(AMENDED, seats(), archive_plan()),
        billed_by(digital_pack(GIFTED, seats()), PAYER),
        digital_pack(TAXED, seats(price=12.0, taxable=True, taxCode="UK-VAT", taxMode="TaxInclusive")),
        digital_pack(CREDITED, seats(charged_through=month(2))),
        digital_pack(ONE_CURRENCY, seats(currency="EUR")),
        digital_pack(ARREARS, seats(charged_through=month(0), billing_timing="IN_ARREARS")),
        digital_pack(CENTURY, seats(end=sf.add_months(TERM_START, 99 * 12)), term_end=sf.add_months(TERM_START, 99 * 12)),
    ]
    return z.tenant(accounts, subscriptions, invoiceSettlement=True, taxRates={"UK-VAT": VAT_RATE}, multipleCurrencies=True)


@pytest.fixture(scope="module")
def service():
    with LocalSyncService(fidelity_tenant(), catalog=sf.CATALOG) as running:
        yield running


# Zuora changes, through the emulator's admin endpoint


def zuora_change(service: LocalSyncService, customer: Customer, action: str, body: dict) -> dict:
    """A change made in Zuora (a new subscription version); returns the new version."""
    reply = requests.post(f"{service.emulator.base_url}/_emulator/subscriptions/{customer.subscription_number}/{action}", json=body, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def zuora_tenant_features(service: LocalSyncService, **features: object) -> None:
    reply = requests.post(f"{service.emulator.base_url}/_emulator/features", json=features, timeout=10)
    assert reply.status_code == 200, reply.text


# Syncing and reading Limio


def sync(service: LocalSyncService, customer: Customer) -> dict:
    started = start_sync(service.api_url, customer.key, credentials=service.credentials)
    assert started["status"] == "RUNNING"
    return poll_until_done(started["statusUrl"], timeout=90, credentials=service.credentials)


def outcomes(job: dict) -> dict[str, str]:
    return {r["subscriptionNumber"]: r["outcome"] for r in job["subscriptions"]}


def synced(service: LocalSyncService, customer: Customer, outcome: str) -> None:
    job = sync(service, customer)
    assert (job["status"], outcomes(job)) == ("SUCCEEDED", {customer.subscription_number: outcome}), job


def stored_record(service: LocalSyncService, customer: Customer) -> dict:
    """The Limio subscription record as stored, without its bookkeeping (when and by which sync it was written, and
    the digest of its content that lets the next sync skip it when nothing changed)."""
    table = service.cloud.template.tables["LimioSubscriptionsTable"].name
    key = {"subscriptionNumber": {"S": customer.subscription_number}}
    item = service.cloud.client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    record = {field: TypeDeserializer().deserialize(value) for field, value in item.items()}
    return {k: v for k, v in record.items() if k not in ("lastSyncId", "lastSyncedAt", "contentHash")}


def lfs_list(service: LocalSyncService, customer: Customer) -> list[dict]:
    """What LFS's subscription table shows for the customer (GET /subscriptions), without `lastSyncedAt`."""
    reply = requests.get(
        f"{service.api_url}/subscriptions",
        params={"salesforceAccountId": customer.salesforce_id},
        auth=SigV4RequestAuth(service.credentials),
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    return [{k: v for k, v in s.items() if k != "lastSyncedAt"} for s in reply.json()["subscriptions"]]


def schedule_ids(record: dict) -> list[str]:
    found = [entry["id"] for entry in record["schedule"]]
    assert all(re.fullmatch(r"schedule-[0-9a-f]{32}", i) for i in found), found
    assert len(set(found)) == len(found), "every schedule entry has an id of its own"
    return found


def in_order(entries: list[dict]) -> list[dict]:
    """Schedule entries by date; on one date a cancelled entry before the pending one that replaced it."""
    return sorted(entries, key=lambda e: (e["date"], e["status"], e["amount"]))


def without_ids(record: dict) -> dict:
    """The record with its schedule entries' ids left out."""
    return {**record, "schedule": in_order([{k: v for k, v in entry.items() if k != "id"} for entry in record["schedule"]])}


# Expected records, by hand


def entry(day: dt.date, amount: str, description: str = "Digital Seats", *, currency: str = "GBP", status: str = "pending") -> dict:
    return {"date": iso(day), "amount": amount, "currency": currency, "description": description, "type": "payment", "status": status}


def monthly(months: range, amount: str, description: str = "Digital Seats", **fields: str) -> list[dict]:
    return [entry(month(m), amount, description, **fields) for m in months]


def charge_of(number: str, name: str, model: str, price: str, quantity: str) -> dict:
    return {
        "number": number,
        "name": name,
        "type": "Recurring",
        "model": model,
        "price": price,
        "quantity": quantity,
        "discountPercentage": None,
        "discountAmount": None,
        "billingPeriod": "Month",
    }


def digital_offer(*, price: str = "10.0", end: dt.date = TERM_END) -> dict:
    return {
        "offerPath": "/offers/digital-pack/monthly",
        "type": "offer",
        "productName": "Digital Pack",
        "ratePlanName": "Digital Pack - Monthly",
        "productRatePlanId": sf.DIGITAL.product_rate_plan_id,
        "start": iso(TERM_START),
        "end": iso(end),
        "quantity": "5",
        "charges": [charge_of(SEATS, "Digital Seats", "PerUnit", price, "5")],
    }


def archive_addon(*, end: dt.date = TERM_END) -> dict:
    return {
        "offerPath": "/offers/add-ons/archive-access",
        "type": "addon",
        "productName": "Digital Pack",
        "ratePlanName": "Archive Access",
        "productRatePlanId": sf.ARCHIVE.product_rate_plan_id,
        "start": iso(TERM_START),
        "end": iso(end),
        "quantity": "1",
        "charges": [charge_of(ARCHIVE_FEE, "Archive Access", "FlatFee", "4.5", "1")],
    }


def limio_contact(customer: Customer) -> dict:
    return {
        "firstName": "Jane",
        "lastName": "Doe",
        "email": None,
        "workEmail": f"jane@{customer.account_number.lower()}.example.com",
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


def expected_record(
    service: LocalSyncService,
    customer: Customer,
    *,
    offers: list[dict],
    schedule: list[dict],
    status: tuple[str, str] = ("active", "Active"),
    subscription_end: dt.date = TERM_END,
    term_end: dt.date = TERM_END,
) -> dict:
    """The whole Limio record of the customer's subscription, as Zuora's latest version has it."""
    zuora = service.emulator.subscription(customer.subscription_number)
    return {
        "subscriptionNumber": customer.subscription_number,
        "id": ids.subscription_id(customer.subscription_number),
        "name": customer.subscription_number,
        "customerId": ids.customer_id(customer.salesforce_id),
        "owner": ids.owner_id(customer.salesforce_id),
        "status": status[0],
        "zuoraStatus": status[1],
        "outOfTerm": False,
        "subscriptionStartDate": iso(SUBSCRIPTION_START),
        "subscriptionEndDate": iso(subscription_end),
        "termStartDate": iso(TERM_START),
        "termEndDate": iso(term_end),
        "autoRenew": True,
        "currency": customer.currency,
        "customerName": "Jane Doe",
        "customerEmail": f"jane@{customer.account_number.lower()}.example.com",
        "billingContact": limio_contact(customer),
        "deliveryContact": limio_contact(customer),
        "offers": offers,
        "schedule": in_order(schedule),
        "zuoraAccountNumber": customer.account_number,
        "salesforceAccountId": customer.salesforce_id,
        "zuoraSubscriptionId": zuora["id"],
        "zuoraVersion": zuora["version"],
    }


# LFS's view of the offers (GET /subscriptions: offer path, product, rate plan, quantity)
DIGITAL_ROW = {"offerPath": "/offers/digital-pack/monthly", "productName": "Digital Pack", "ratePlanName": "Digital Pack - Monthly", "quantity": "5"}
ARCHIVE_ROW = {"offerPath": "/offers/add-ons/archive-access", "productName": "Digital Pack", "ratePlanName": "Archive Access", "quantity": "1"}


def lfs_row(
    service: LocalSyncService,
    customer: Customer,
    *,
    next_charge: dict,
    add_ons: tuple[dict, ...] | list[dict] = (),
    status: tuple[str, str] = ("active", "Active"),
    term_end: dt.date = TERM_END,
) -> dict:
    """The row LFS shows: the base offer, the add-ons, and the next charge (nothing is billed yet today)."""
    zuora = service.emulator.subscription(customer.subscription_number)
    return {
        "id": ids.subscription_id(customer.subscription_number),
        "name": customer.subscription_number,
        "status": status[0],
        "outOfTerm": False,
        "zuoraStatus": status[1],
        "startDate": iso(SUBSCRIPTION_START),
        "termStartDate": iso(TERM_START),
        "termEndDate": iso(term_end),
        "autoRenew": True,
        "currentOffer": DIGITAL_ROW,
        "addOns": list(add_ons),
        "latestCharge": None,
        "nextCharge": {k: next_charge[k] for k in ("date", "amount", "currency", "description")},
        "customerName": "Jane Doe",
        "zuoraAccountNumber": customer.account_number,
        "zuoraVersion": zuora["version"],
    }


# Scenarios


def test_row_1_a_removed_plan_is_not_an_offer_and_needs_no_mapping(service):
    # Given a subscription with seats, an archive add-on, and a legacy plan removed at the term's start that the
    # catalog does not map: Zuora keeps the removed plan, but the customer no longer has it
    customer = REMOVED

    # When the agent syncs the customer
    synced(service, customer, "CREATED")

    # Then Limio shows the seats and the add-on only, billed 5 × 10.00 + 4.50 a month
    record = stored_record(service, customer)
    schedule_ids(record)
    assert without_ids(record) == expected_record(
        service, customer, offers=[digital_offer(), archive_addon()], schedule=monthly(range(1, 8), "54.50", SEATS_AND_ARCHIVE)
    )
    assert lfs_list(service, customer) == [lfs_row(service, customer, add_ons=[ARCHIVE_ROW], next_charge=entry(month(1), "54.50", SEATS_AND_ARCHIVE))]


def test_row_1_a_future_price_rise_and_a_future_removal_wait_for_their_date(service):
    # Given a subscription with seats and an archive add-on, synced
    customer = AMENDED
    synced(service, customer, "CREATED")
    first_ids = schedule_ids(stored_record(service, customer))

    # When Zuora is amended: the seat price goes from 10.00 to 12.00 in two months, and the archive add-on is
    # removed in four (both future-dated), then the agent syncs again
    zuora_change(service, customer, "amend", {"chargeNumber": SEATS, "price": 12.0, "effectiveDate": iso(month(2))})
    zuora_change(service, customer, "amend", {"removeRatePlan": sf.ARCHIVE.product_rate_plan_id, "effectiveDate": iso(month(4))})
    synced(service, customer, "UPDATED")

    # Then today's price stays until the rise, the offer still starts when the customer took it, the add-on is
    # current until its removal, and the schedule bills 5 × 12.00 (+ 4.50 until the removal) from the rise
    after = stored_record(service, customer)
    assert without_ids(after) == expected_record(
        service,
        customer,
        offers=[digital_offer(price="10.0"), archive_addon(end=month(4))],
        schedule=[
            entry(month(1), "54.50", SEATS_AND_ARCHIVE),
            *monthly(range(2, 8), "54.50", SEATS_AND_ARCHIVE, status="cancelled"),
            *monthly(range(2, 4), "64.50", SEATS_AND_ARCHIVE),
            *monthly(range(4, 8), "60.00"),
        ],
    )
    assert first_ids[0] in schedule_ids(after), "the first month, billed as before, keeps its entry"
    assert lfs_list(service, customer) == [lfs_row(service, customer, add_ons=[ARCHIVE_ROW], next_charge=entry(month(1), "54.50", SEATS_AND_ARCHIVE))]


def test_row_2_a_subscription_invoiced_to_another_account_is_scheduled_from_that_accounts_bill(service):
    # Given a subscription of the customer's account that Zuora invoices to a group account (its invoice owner)
    customer = GIFTED

    # When the agent syncs the customer
    synced(service, customer, "CREATED")

    # Then the schedule is what the group account will be billed for this subscription: 5 × 10.00 a month
    first = stored_record(service, customer)
    first_ids = schedule_ids(first)
    assert without_ids(first) == expected_record(service, customer, offers=[digital_offer()], schedule=monthly(range(1, 8), "50.00"))
    assert lfs_list(service, customer) == [lfs_row(service, customer, next_charge=entry(month(1), "50.00"))]

    # When Zuora moves the invoicing to the customer's own account, and the agent syncs again
    zuora_change(service, customer, "transfer-invoice-owner", {"accountNumber": customer.account_number})
    synced(service, customer, "UPDATED")

    # Then the same months are billed, now by the customer's account: only the Zuora version changed
    after = stored_record(service, customer)
    assert without_ids(after) == expected_record(service, customer, offers=[digital_offer()], schedule=monthly(range(1, 8), "50.00"))
    assert schedule_ids(after) == first_ids


def test_row_3_a_tax_inclusive_price_is_scheduled_with_its_tax(service):
    # Given 5 seats at 12.00 a month, VAT (20 %) included: Zuora's preview says 50.00 charge + 10.00 tax
    customer = TAXED

    # When the agent syncs the customer
    synced(service, customer, "CREATED")

    # Then every month is scheduled at what the customer pays, 60.00
    record = stored_record(service, customer)
    schedule_ids(record)
    assert without_ids(record) == expected_record(service, customer, offers=[digital_offer(price="12.0")], schedule=monthly(range(1, 8), "60.00"))
    assert lfs_list(service, customer) == [lfs_row(service, customer, next_charge=entry(month(1), "60.00"))]


def test_row_4_a_cancellation_credits_back_the_period_billed_in_advance(service):
    # Given an Invoice Settlement tenant and 5 seats at 10.00 a month, billed a month ahead (through month 2)
    customer = CREDITED
    synced(service, customer, "CREATED")
    before = stored_record(service, customer)
    assert without_ids(before)["schedule"] == monthly(range(2, 8), "50.00")

    # When Zuora cancels the subscription at the start of next month, and the agent syncs again
    zuora_change(service, customer, "cancel", {"effectiveDate": iso(month(1)), "cancelReason": "Customer request"})
    synced(service, customer, "UPDATED")

    # Then the month already billed after the cancellation comes back as a 50.00 credit (Zuora's credit memo),
    # and nothing more is billed
    after = stored_record(service, customer)
    schedule_ids(after)
    assert without_ids(after) == expected_record(
        service,
        customer,
        offers=[digital_offer(end=month(1))],
        schedule=[entry(month(1), "-50.00"), *monthly(range(2, 8), "50.00", status="cancelled")],
        status=("cancelled", "Cancelled"),
        subscription_end=month(1),
    )
    assert lfs_list(service, customer) == [lfs_row(service, customer, next_charge=entry(month(1), "-50.00"), status=("cancelled", "Cancelled"))]


def test_row_5_without_multiple_currencies_the_currency_is_the_accounts_and_stays_when_the_feature_is_turned_on(service):
    # Given a euro tenant without Multiple Currencies: Zuora sends the subscription without `currency`, its
    # charges and its account in EUR
    customer = ONE_CURRENCY
    zuora_tenant_features(service, multipleCurrencies=False)
    try:
        # When the agent syncs the customer
        synced(service, customer, "CREATED")

        # Then the record and every entry are in euros
        first = stored_record(service, customer)
        first_ids = schedule_ids(first)
        assert without_ids(first) == expected_record(
            service, customer, offers=[digital_offer()], schedule=monthly(range(1, 8), "50.00", currency="EUR")
        )
        assert lfs_list(service, customer) == [lfs_row(service, customer, next_charge=entry(month(1), "50.00", currency="EUR"))]

        # When the tenant turns Multiple Currencies on (Zuora now sends the subscription's EUR), and the agent syncs
        zuora_tenant_features(service, multipleCurrencies=True)
        synced(service, customer, "UNCHANGED")
    finally:
        zuora_tenant_features(service, multipleCurrencies=True)

    # Then nothing changed in Limio: the same entries, under the same ids
    assert stored_record(service, customer)["schedule"] == first["schedule"]
    assert schedule_ids(stored_record(service, customer)) == first_ids


def test_row_6_an_in_arrears_charge_is_scheduled_when_its_period_is_billed(service):
    # Given 5 seats at 10.00 a month billed in arrears, billed through the end of last month
    customer = ARREARS

    # When the agent syncs the customer
    synced(service, customer, "CREATED")

    # Then each month is scheduled the day after it ends: the current one at the start of next month, the
    # term's last one on the term end
    record = stored_record(service, customer)
    schedule_ids(record)
    assert without_ids(record) == expected_record(service, customer, offers=[digital_offer()], schedule=monthly(range(1, 9), "50.00"))
    assert lfs_list(service, customer) == [lfs_row(service, customer, next_charge=entry(month(1), "50.00"))]


def test_row_11_a_99_year_term_syncs_with_a_schedule_of_the_20_years_zuora_previews(service):
    # Given a subscription whose term runs 99 years (a common way to say "until cancelled")
    customer = CENTURY
    term_end = sf.add_months(TERM_START, 99 * 12)

    # When the agent syncs the customer
    synced(service, customer, "CREATED")

    # Then it syncs, its schedule reaching as far as Zuora previews: 20 years from today, so every monthly
    # period from next month's to the one 20 years after the current one
    record = stored_record(service, customer)
    schedule_ids(record)
    assert month(240) < sf.add_months(TODAY, 240) <= month(241)
    assert without_ids(record) == expected_record(
        service,
        customer,
        offers=[digital_offer(end=term_end)],
        schedule=monthly(range(1, 241), "50.00"),
        subscription_end=term_end,
        term_end=term_end,
    )
    assert lfs_list(service, customer) == [lfs_row(service, customer, next_charge=entry(month(1), "50.00"), term_end=term_end)]
