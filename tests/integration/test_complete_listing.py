"""Every subscription of the customer, and only the customer's, through the public API: POST /syncs, the real
state machine and handlers against the Zuora emulator, GET /syncs/{id} and GET /subscriptions. Where Zuora must
change between two page reads of a listing, the Zuora client's page iterator is wrapped in-process to make the
change right after a page has been served."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from limio_sync.zuora.client import ZuoraClient
from local.auth import SigV4RequestAuth
from local.lfs_client import poll_until_done, start_sync
from local.service import LocalSyncService
from tests import scenario_fixtures as sf
from tests import zuora_fixtures as z

TWO_FORMS = z.salesforce_id("TWOFORMS1")  # one account's crmId holds the 15-character form, the other's the 18
SCOPED = z.salesforce_id("SCOPED1")  # two accounts: a sync by one account number covers that account only
SHIFTING = z.salesforce_id("SHIFTING1")  # 45 subscriptions, one amended while planning reads the pages
BROKEN_RECORDS = z.salesforce_id("BROKENREC1")  # a listing with records planning cannot key a sync on
ONE_DOWN = z.salesforce_id("ONEDOWN1")  # two accounts, one that Zuora will not let planning read
ENDLESS = z.salesforce_id("ENDLESS1")  # two accounts, one whose nextPage never ends
TWICE = z.salesforce_id("TWICE1")  # a subscription Zuora lists twice, at two versions
BILLED_ELSEWHERE = z.salesforce_id("BILLEDBY1")  # a subscription invoiced to another company's account

TERM_START = sf.add_months(sf.first_of_month(dt.date.today()), 1)  # every charge of the term lies ahead

FIRST_UPDATE = dt.date(2026, 9, 1)


def shifting_subscriptions() -> list[dict]:
    """Oldest first: A-S00003000 was updated least recently, so Zuora lists it last (newest updatedDate first)."""
    return [z.subscription(f"A-S0000{3000 + i}", "A00003001", updated=(FIRST_UPDATE + dt.timedelta(days=i)).isoformat()) for i in range(45)]


def listing_tenant() -> dict:
    accounts = [
        z.account("A00001001", TWO_FORMS[:15]),
        z.account("A00001002", TWO_FORMS),
        z.account("A00002001", SCOPED),
        z.account("A00002002", SCOPED),
        z.account("A00003001", SHIFTING),
        z.account("A00004001", BROKEN_RECORDS),
        z.account("A00005001", ONE_DOWN),
        z.account("A00005002", ONE_DOWN),
        z.account("A00006001", ENDLESS),
        z.account("A00006002", ENDLESS),
        z.account("A00008001", TWICE),
    ]
    subscriptions = [
        z.subscription("A-S00001001", "A00001001"),
        z.subscription("A-S00001002", "A00001002"),
        z.subscription("A-S00002001", "A00002001"),
        z.subscription("A-S00002002", "A00002001"),
        z.subscription("A-S00002003", "A00002002"),
        z.subscription("A-S00002004", "A00002002"),
        *shifting_subscriptions(),
        z.subscription("A-S00004001", "A00004001"),
        z.subscription("A-S00004002", "A00004001"),
        z.subscription("A-S00005001", "A00005001"),
        z.subscription("A-S00005002", "A00005002"),
        z.subscription("A-S00005003", "A00005002"),
        z.subscription("A-S00006001", "A00006001"),
        z.subscription("A-S00006002", "A00006002"),
        z.subscription("A-S00008001", "A00008001", version=3, auto_renew=False),
        z.subscription("A-S00008002", "A00008001"),
    ]
    return z.tenant([*accounts, *billed_elsewhere_accounts()], [*subscriptions, billed_elsewhere_subscription()])


def billed_elsewhere_accounts() -> list[dict]:
    return [z.account("A00007001", BILLED_ELSEWHERE), z.account("A00007002", None, name="Northwind Holdings")]


def billed_elsewhere_subscription() -> dict:
    """Owned by the customer's account A00007001, invoiced to the parent company's account A00007002."""
    seats = sf.monthly_seats("C-00007001", start=TERM_START, end=sf.add_months(TERM_START, 12), charged_through=None, seats=2, price=10.0)
    record = sf.subscription(
        "A-S00007001", "A00007001", rate_plans=[sf.rate_plan(sf.DIGITAL, [seats])], term_start=TERM_START, term_end=sf.add_months(TERM_START, 12)
    )
    owner = z.account("A00007002", None, name="Northwind Holdings")["basicInfo"]
    return {
        **record,
        "invoiceOwnerAccountNumber": owner["accountNumber"],
        "invoiceOwnerAccountId": owner["id"],
        "invoiceOwnerAccountName": owner["name"],
    }


@pytest.fixture(scope="module")
def service():
    with LocalSyncService(listing_tenant(), catalog=sf.CATALOG) as running:
        yield running


def sync(service: LocalSyncService, customer: dict) -> dict:
    started = start_sync(service.api_url, customer, credentials=service.credentials)
    return poll_until_done(started["statusUrl"], timeout=90, credentials=service.credentials)


def outcomes(job: dict) -> dict[str, str]:
    return {r["subscriptionNumber"]: r["outcome"] for r in job["subscriptions"]}


def listed_by_lfs(service: LocalSyncService, **query: str) -> list[str]:
    reply = requests.get(f"{service.api_url}/subscriptions", params=query, auth=SigV4RequestAuth(service.credentials), timeout=10)
    reply.raise_for_status()
    return [s["name"] for s in reply.json()["subscriptions"]]


def route_count(service: LocalSyncService, method: str, route: str) -> int:
    return service.emulator.stats.count(method, route)


def test_a_15_character_id_syncs_the_accounts_holding_either_form_as_one_18_character_customer(service):
    # Given one Zuora account whose crmId is the 15-character form of the id and one holding the 18-character form
    # When LFS syncs with the 15-character id (as URLs and reports show it)
    job = sync(service, {"salesforceAccountId": TWO_FORMS[:15]})
    # Then both accounts' subscriptions are synced, and the job's customer is the 18-character id
    assert job["status"] == "SUCCEEDED" and outcomes(job) == {"A-S00001001": "CREATED", "A-S00001002": "CREATED"}
    assert job["customer"]["salesforceAccountId"] == TWO_FORMS
    # And LFS finds them under any form of the id, the checksum suffix in any case
    for form in (TWO_FORMS[:15], TWO_FORMS, TWO_FORMS[:15] + TWO_FORMS[15:].lower()):
        assert listed_by_lfs(service, salesforceAccountId=form) == ["A-S00001001", "A-S00001002"]
    again = sync(service, {"salesforceAccountId": TWO_FORMS[:15] + TWO_FORMS[15:].lower()})
    assert again["status"] == "SUCCEEDED" and set(outcomes(again).values()) == {"UNCHANGED"} and len(outcomes(again)) == 2


def test_a_sync_by_zuora_account_number_covers_that_account_only(service):
    sync(service, {"salesforceAccountId": SCOPED})  # Limio now holds the customer's four subscriptions
    reads = route_count(service, "GET", "get_subscription")

    job = sync(service, {"zuoraAccountNumber": "A00002001"})

    assert outcomes(job) == {"A-S00002001": "UNCHANGED", "A-S00002002": "UNCHANGED"} and job["total"] == 2
    assert route_count(service, "GET", "get_subscription") == reads  # nothing of the other account is read one by one


def test_a_subscription_amended_while_planning_reads_the_pages_is_still_synced(service, monkeypatch):
    # Given 45 subscriptions (two pages of 40), and the one Zuora lists last is amended right after page 1 is read
    list_pages = ZuoraClient.iter_subscription_pages
    amended: list[int] = []

    def amend_after_the_first_page(client, account_key, page_size=40):
        for index, page in enumerate(list_pages(client, account_key, page_size)):
            yield page
            if account_key == "A00003001" and index == 0 and not amended:
                amended.append(service.emulator.update_subscription("A-S00003000", autoRenew=False)["version"])

    monkeypatch.setattr(ZuoraClient, "iter_subscription_pages", amend_after_the_first_page)
    # When the customer is synced
    job = sync(service, {"salesforceAccountId": SHIFTING})
    # Then every subscription has its receipt, the amended one at its new version
    assert amended == [2]
    assert job["status"] == "SUCCEEDED" and job["total"] == 45 and len(outcomes(job)) == 45
    [record] = [r for r in service.limio_subscriptions() if r["subscriptionNumber"] == "A-S00003000"]
    assert (record["zuoraVersion"], record["autoRenew"]) == (2, False)


def test_records_planning_cannot_key_fail_alone_with_receipts_naming_them(service, monkeypatch):
    # Given Zuora lists, beside two good subscriptions, one without a subscriptionNumber and one whose number is unusable
    list_pages = ZuoraClient.iter_subscription_pages
    numberless = {**z.subscription("unused", "A00004001"), "id": "8ad0887e8f1b2a3c4d5e6f708192a3b4"}
    del numberless["subscriptionNumber"]
    bad_number = z.subscription("A-S 4003/x", "A00004001")

    def with_broken_records(client, account_key, page_size=40):
        for page in list_pages(client, account_key, page_size):
            yield [*page, numberless, bad_number] if account_key == "A00004001" else page

    monkeypatch.setattr(ZuoraClient, "iter_subscription_pages", with_broken_records)
    # When the customer is synced
    job = sync(service, {"salesforceAccountId": BROKEN_RECORDS})
    # Then the good ones sync and each broken record has a FAILED receipt naming it: as many receipts as Zuora listed
    assert job["status"] == "PARTIALLY_FAILED" and job["total"] == 4
    assert outcomes(job) == {"A-S00004001": "CREATED", "A-S00004002": "CREATED", "8ad0887e8f1b2a3c4d5e6f708192a3b4": "FAILED", "A-S 4003/x": "FAILED"}
    failed = {r["subscriptionNumber"]: r for r in job["subscriptions"] if r["outcome"] == "FAILED"}
    assert "without a subscriptionNumber" in failed["8ad0887e8f1b2a3c4d5e6f708192a3b4"]["message"]
    assert all(r["errorCode"] == "ZUORA_BAD_RESPONSE" and r["retryable"] is False for r in failed.values())
    assert "8ad0887e8f1b2a3c4d5e6f708192a3b4" in job["notification"] and "A-S 4003/x" in job["notification"]


def test_a_subscription_listed_twice_is_synced_from_its_highest_version(service, monkeypatch):
    # Given Zuora's listing holds A-S00008001 at version 3 and, further on, an older copy at version 2
    list_pages = ZuoraClient.iter_subscription_pages
    older = z.subscription("A-S00008001", "A00008001", version=2, auto_renew=True)

    def with_an_older_copy_last(client, account_key, page_size=40):
        for page in list_pages(client, account_key, page_size):
            yield [*page, older] if account_key == "A00008001" else page

    monkeypatch.setattr(ZuoraClient, "iter_subscription_pages", with_an_older_copy_last)
    # When the customer is synced
    job = sync(service, {"salesforceAccountId": TWICE})
    # Then it is synced once, from version 3
    assert job["status"] == "SUCCEEDED" and outcomes(job) == {"A-S00008001": "CREATED", "A-S00008002": "CREATED"}
    [record] = [r for r in service.limio_subscriptions() if r["subscriptionNumber"] == "A-S00008001"]
    assert (record["zuoraVersion"], record["autoRenew"]) == (3, False)


def test_an_account_zuora_will_not_let_planning_read_fails_only_its_own_subscriptions(service):
    sync(service, {"salesforceAccountId": ONE_DOWN})  # Limio now holds both accounts' subscriptions
    service.emulator.add_fault({"method": "GET", "path": "/v1/accounts/A00005002", "status": 503})
    try:
        job = sync(service, {"salesforceAccountId": ONE_DOWN})
    finally:
        service.emulator.clear_faults()

    assert job["status"] == "PARTIALLY_FAILED"
    assert outcomes(job) == {"A-S00005001": "UNCHANGED", "A-S00005002": "FAILED", "A-S00005003": "FAILED"}
    failed = [r for r in job["subscriptions"] if r["outcome"] == "FAILED"]
    assert all(r["retryable"] and r["errorCode"] == "ZUORA_UNAVAILABLE" and "A00005002" in r["message"] for r in failed)
    # The job says which account could not be read, and why
    assert job["error"]["errorCode"] == "ZUORA_UNAVAILABLE" and "Zuora account A00005002 could not be read" in job["error"]["message"]
    assert "A00005002" in job["notification"]


def test_an_account_whose_pages_never_end_fails_alone_with_a_bad_response_naming_it(service):
    endless = {"success": True, "subscriptions": [], "nextPage": "https://rest.zuora.com/v1/subscriptions/accounts/A00006002?page=2&pageSize=40"}
    service.emulator.add_fault({"method": "GET", "path": "/v1/subscriptions/accounts/A00006002", "status": 200, "body": endless})
    try:
        job = sync(service, {"salesforceAccountId": ENDLESS})
    finally:
        service.emulator.clear_faults()

    assert job["status"] == "PARTIALLY_FAILED" and outcomes(job) == {"A-S00006001": "CREATED"}
    assert job["error"]["errorCode"] == "ZUORA_BAD_RESPONSE" and "A00006002" in job["error"]["message"]


def test_a_subscription_invoiced_to_another_account_gets_the_schedule_its_invoice_owner_is_billed(service):
    # Given a subscription of the customer's account whose invoice owner is the parent company's account
    # When the customer is synced
    job = sync(service, {"salesforceAccountId": BILLED_ELSEWHERE})
    # Then its schedule is what Zuora will bill the invoice owner for it: 12 monthly charges of 2 seats at 10.00
    assert job["status"] == "SUCCEEDED" and outcomes(job) == {"A-S00007001": "CREATED"}
    [record] = [r for r in service.limio_subscriptions() if r["subscriptionNumber"] == "A-S00007001"]
    charges = [(entry["date"], entry["amount"]) for entry in record["schedule"] if entry["status"] == "pending"]
    assert charges == [(sf.add_months(TERM_START, month).isoformat(), "20.00") for month in range(12)]
