"""Planning cuts each Zuora account into sync tasks on its own, with its share of the Map's concurrency, and
writes one snapshot per task holding exactly its subscriptions and their account. It finds every subscription
Zuora lists (while the listing moves under it, too), previews each invoice owner once, and gives everything it
cannot plan a FAILED receipt naming it instead of failing the customer."""

from __future__ import annotations

import datetime as dt

import pytest

from limio_sync import ids
from limio_sync.errors import ErrorCode, SyncError, TransientSyncError
from limio_sync.models import CustomerRef, Outcome
from limio_sync.planning import account_readers, plan_sync, preview_target_date
from limio_sync.zuora.errors import ZuoraNotFound, ZuoraRequestRejected, ZuoraServerError
from limio_sync.zuora.models import ZuoraAccountRef
from limio_sync.zuora.subscription import latest_billing_preview_date

CRM_ID = "0015g00000Ab3XQAAZ"
ACCOUNTS = {"A001": 25, "A002": 3, "A003": 1}
TODAY = dt.date(2026, 11, 25)


class FakeZuora:
    def find_accounts_by_crm_id(self, crm_id):
        return [ZuoraAccountRef(id=f"id-{n}", accountNumber=n, name=n, status="Active", crmId=crm_id) for n in ACCOUNTS]

    def get_account_detail(self, account_key):
        return {"basicInfo": {"accountNumber": account_key}}

    def iter_subscription_pages(self, account_key, page_size=40):
        numbers = [f"{account_key}-S{i:03d}" for i in range(ACCOUNTS[account_key])]
        for start in range(0, len(numbers), page_size):
            yield [{"subscriptionNumber": n, "termType": "EVERGREEN"} for n in numbers[start : start + page_size]]

    def preview_billing(self, account_key, target_date):
        return [{"subscriptionNumber": f"{account_key}-S000", "amount": 1}]


class Memory:
    def __init__(self):
        self.objects = {}

    def put(self, sync_id, name, content):
        key = f"syncs/{sync_id}/{name}.json"
        self.objects[key] = content
        return key if isinstance(content, dict) else {"bucket": "work", "key": key}


class Limio:
    """Limio's records: subscription numbers by customer id and by Zuora account."""

    def __init__(self, by_customer=None, by_account=None):
        self.by_customer = by_customer or {}
        self.by_account = by_account or {}

    def numbers_for_customer(self, customer_id):
        return self.by_customer.get(customer_id, [])

    def numbers_for_zuora_account(self, account_number):
        return self.by_account.get(account_number, [])


class JobRecords:
    def __init__(self):
        self.receipts = []
        self.total = None
        self.account_failures = None

    def record_receipts(self, sync_id, results, *, task, attempt=0):
        self.receipts += results

    def record_plan(self, sync_id, total, account_failures=()):
        self.total, self.account_failures = total, list(account_failures)


class Planned:
    """What a plan produced: its tasks, snapshots, and the receipts it recorded."""

    def __init__(self, zuora, customer=None, limio=None, concurrency=10, snapshots=None):
        self.snapshots, self.lists, self.jobs = snapshots or Memory(), Memory(), JobRecords()
        self.plan = plan_sync(
            "sync-" + "0" * 32,
            customer or CustomerRef(salesforceAccountId=CRM_ID),
            zuora,
            self.snapshots,
            limio or Limio(),
            self.lists,
            self.jobs,
            today=TODAY,
            concurrency=concurrency,
        )
        self.tasks = self.lists.objects[self.plan.items.key]

    @property
    def numbers(self) -> list[str]:
        return sorted(item["subscriptionNumber"] for task in self.tasks for item in task["items"])

    def snapshot_of(self, number: str) -> dict:
        [task] = [t for t in self.tasks if number in [i["subscriptionNumber"] for i in t["items"]]]
        return self.snapshots.objects[task["snapshotKey"]]["subscriptions"][number]

    def receipt(self, number: str):
        [receipt] = [r for r in self.jobs.receipts if r.subscriptionNumber == number]
        return receipt


def test_each_task_holds_one_accounts_subscriptions_and_their_snapshot():
    planned = Planned(FakeZuora())

    tasks, snapshots = planned.tasks, planned.snapshots
    assert planned.plan.total == 29 and sum(len(task["items"]) for task in tasks) == 29
    # 10 tasks shared by 3 accounts: 3 each; 25 subscriptions make tasks of 9, 9 and 7.
    by_account = {n: [len(t["items"]) for t in tasks if t["items"][0]["accountNumber"] == n] for n in ACCOUNTS}
    assert by_account == {"A001": [9, 9, 7], "A002": [1, 1, 1], "A003": [1]}
    for task in tasks:
        [account] = {item["accountNumber"] for item in task["items"]}
        snapshot = snapshots.objects[task["snapshotKey"]]
        assert list(snapshot["accounts"]) == [account]
        assert sorted(snapshot["subscriptions"]) == sorted(item["subscriptionNumber"] for item in task["items"])
    assert planned.snapshot_of("A001-S000")["invoiceItems"] == [{"subscriptionNumber": "A001-S000", "amount": 1}]
    assert planned.jobs.total == 29 and planned.jobs.receipts == [] and planned.jobs.account_failures == []


class ListingZuora(FakeZuora):
    """One account whose subscriptions are given as raw records, listed newest first, `page_size` at a time;
    `between_pages` runs after each page is served (Zuora changing while planning reads)."""

    def __init__(self, subscriptions, *, between_pages=None, crm_id=CRM_ID, account="A001"):
        self.subscriptions = list(subscriptions)
        self.between_pages = between_pages
        self.crm_id, self.account = crm_id, account
        self.pages_served = 0
        self.previewed: list[str] = []

    def find_accounts_by_crm_id(self, crm_id):
        return [ZuoraAccountRef(id="id-1", accountNumber=self.account, name="One", status="Active", crmId=self.crm_id)]

    def iter_subscription_pages(self, account_key, page_size=40):
        page = 1
        while True:
            start = (page - 1) * page_size
            chunk = [dict(raw) for raw in self.subscriptions[start : start + page_size]]
            more = start + page_size < len(self.subscriptions)
            self.pages_served += 1
            yield chunk
            if self.between_pages:
                self.between_pages(self, page)
            if not more:
                return
            page += 1

    def preview_billing(self, account_key, target_date):
        self.previewed.append(account_key)
        return [{"subscriptionNumber": raw.get("subscriptionNumber"), "amount": 1} for raw in self.subscriptions]

    def amend(self, number):
        """Zuora stores a new version and lists it first (newest updatedDate first)."""
        [raw] = [r for r in self.subscriptions if r["subscriptionNumber"] == number]
        self.subscriptions.remove(raw)
        self.subscriptions.insert(0, {**raw, "version": raw["version"] + 1})


def subs(count: int, prefix="A-S") -> list[dict]:
    return [{"subscriptionNumber": f"{prefix}{i:03d}", "version": 1, "termType": "EVERGREEN"} for i in range(count)]


def test_a_subscription_amended_while_the_pages_are_read_is_still_planned_at_its_new_version():
    # Given 100 subscriptions over 3 pages of 40, and the last one amended in Zuora right after page 1 is read
    def amend_after_page_one(zuora, page):
        if page == 1 and zuora.pages_served == 1:
            zuora.amend("A-S099")

    zuora = ListingZuora(subs(100), between_pages=amend_after_page_one)
    # When planning reads the account
    planned = Planned(zuora)
    # Then every subscription is planned once (A-S099 moved to page 1, already read, and A-S039 came twice)
    assert planned.numbers == [f"A-S{i:03d}" for i in range(100)] and planned.plan.total == 100
    assert planned.snapshot_of("A-S099")["subscription"]["version"] == 2
    assert zuora.pages_served == 6  # the shifted listing was read a second time, which did not shift


def test_a_listing_that_keeps_moving_is_read_three_times_and_keeps_every_subscription_any_pass_found():
    # Given Zuora amends the subscription it lists last after every first page (a very busy account)
    def amend_the_last_after_each_first_page(zuora, page):
        if page == 1:
            zuora.amend(zuora.subscriptions[-1]["subscriptionNumber"])

    zuora = ListingZuora(subs(100), between_pages=amend_the_last_after_each_first_page)

    planned = Planned(zuora)

    assert zuora.pages_served == 9  # three passes of three pages, then planning stops reading
    assert planned.numbers == [f"A-S{i:03d}" for i in range(100)]


def test_a_subscription_listed_twice_is_synced_from_its_highest_version():
    zuora = ListingZuora([{**subs(1)[0], "version": 3}, *subs(2)])  # A-S000 at version 3, then again at version 1

    planned = Planned(zuora)

    assert planned.numbers == ["A-S000", "A-S001"]
    assert planned.snapshot_of("A-S000")["subscription"]["version"] == 3


def test_a_record_planning_cannot_key_fails_alone_with_a_receipt_naming_it():
    # Given a listing with a record without subscriptionNumber and one whose number Limio cannot key on
    numberless = {"id": "8ad0887e8f1b2a3c4d5e6f708192a3b4", "version": 1, "termType": "EVERGREEN"}
    bad_number = {"subscriptionNumber": "A-S 1; DROP", "version": 1, "termType": "EVERGREEN"}
    zuora = ListingZuora([*subs(2), numberless, bad_number])
    # When planning reads it
    planned = Planned(zuora)
    # Then the good ones are planned and each broken one has a FAILED receipt naming it: nothing Zuora listed is lost
    assert planned.numbers == ["A-S000", "A-S001"]
    by_id = planned.receipt("8ad0887e8f1b2a3c4d5e6f708192a3b4")
    assert by_id.outcome is Outcome.FAILED and by_id.errorCode is ErrorCode.ZUORA_BAD_RESPONSE and not by_id.retryable
    assert "without a subscriptionNumber" in by_id.message and "A001" in by_id.message
    assert "A-S 1; DROP" in planned.receipt("A-S 1; DROP").message
    assert planned.plan.total == planned.jobs.total == 4 == len(planned.numbers) + len(planned.jobs.receipts)


class RefusingZuora(ListingZuora):
    """Zuora refuses the account's billing preview because of one subscription's charge."""

    refused = "A-S001"

    def preview_billing(self, account_key, target_date):
        self.previewed.append(account_key)
        raise ZuoraRequestRejected(f"Zuora rejected the request for account {account_key} (billing preview)")

    def preview_subscription(self, subscription_key, through_date):
        if subscription_key == self.refused:
            raise ZuoraRequestRejected(f"Zuora rejected the request for subscription {subscription_key} (preview)")
        return [{"subscriptionNumber": subscription_key, "amount": 2, "through": through_date.isoformat()}]


def test_a_billing_preview_refused_because_of_one_subscription_fails_only_that_subscription():
    zuora = RefusingZuora(subs(3))

    planned = Planned(zuora)

    assert planned.numbers == ["A-S000", "A-S002"]
    assert planned.snapshot_of("A-S002")["invoiceItems"][0]["amount"] == 2
    refused = planned.receipt("A-S001")
    assert refused.errorCode is ErrorCode.ZUORA_REJECTED and not refused.retryable and "A-S001" in refused.message
    assert planned.plan.total == 3


def test_a_billing_preview_zuora_cannot_give_fails_its_subscriptions_and_names_the_invoice_owner():
    class PreviewDown(ListingZuora):
        def preview_billing(self, account_key, target_date):
            raise ZuoraServerError(f"Zuora failed on account {account_key} (billing preview) (HTTP 503)")

    planned = Planned(PreviewDown(subs(2)))

    assert planned.numbers == [] and planned.plan.total == 2
    assert all(r.retryable and r.errorCode is ErrorCode.ZUORA_UNAVAILABLE and "invoice owner A001" in r.message for r in planned.jobs.receipts)
    [failure] = planned.jobs.account_failures
    assert failure.accountNumber == "A001" and "billing preview" in failure.message


class BilledElsewhereZuora(FakeZuora):
    """Two accounts of the customer: A1's A-S1 is billed to A2 (its invoice owner), and A2 has its own A-S2."""

    def __init__(self):
        self.previewed = []

    def find_accounts_by_crm_id(self, crm_id):
        return [ZuoraAccountRef(id=f"id-{n}", accountNumber=n, name=n, status="Active", crmId=crm_id) for n in ("A1", "A2")]

    def iter_subscription_pages(self, account_key, page_size=40):
        owner = {"A1": "A2", "A2": "A2"}[account_key]
        yield [
            {"subscriptionNumber": f"A-S{account_key[1]}", "accountNumber": account_key, "invoiceOwnerAccountNumber": owner, "termType": "EVERGREEN"}
        ]

    def preview_billing(self, account_key, target_date):
        self.previewed.append(account_key)
        return {"A2": [{"subscriptionNumber": "A-S1", "amount": 1}, {"subscriptionNumber": "A-S2", "amount": 2}]}.get(account_key, [])


def test_the_billing_preview_is_run_for_each_invoice_owner_once():
    zuora = BilledElsewhereZuora()

    planned = Planned(zuora)

    assert zuora.previewed == ["A2"]  # A1 bills nothing: it is not previewed; A2 bills both, once
    assert planned.snapshot_of("A-S1")["invoiceItems"] == [{"subscriptionNumber": "A-S1", "amount": 1}]
    assert planned.snapshot_of("A-S2")["invoiceItems"] == [{"subscriptionNumber": "A-S2", "amount": 2}]
    [task_of_s1] = [t for t in planned.tasks if t["items"][0]["subscriptionNumber"] == "A-S1"]
    assert list(planned.snapshots.objects[task_of_s1["snapshotKey"]]["accounts"]) == ["A1"]  # its own account's details


class OneAccountDownZuora(FakeZuora):
    def get_account_detail(self, account_key):
        if account_key == "A002":
            raise ZuoraServerError("Zuora failed on account A002 (HTTP 503)")
        return super().get_account_detail(account_key)


def test_an_account_zuora_cannot_read_fails_only_its_own_known_subscriptions():
    limio = Limio(by_account={"A002": ["A002-S000", "A002-S001"]})

    planned = Planned(OneAccountDownZuora(), limio=limio)

    assert [n for n in planned.numbers if n.startswith("A002")] == []
    assert len(planned.numbers) == 26  # A001 and A003 planned as ever
    for number in ("A002-S000", "A002-S001", "A002-S002"):  # what Limio holds, and what the listing gave
        receipt = planned.receipt(number)
        assert receipt.retryable and receipt.errorCode is ErrorCode.ZUORA_UNAVAILABLE
        assert "Zuora account A002 could not be read" in receipt.message
    [failure] = planned.jobs.account_failures
    assert failure.accountNumber == "A002" and failure.retryable and "503" in failure.message
    assert planned.plan.total == 29


def test_when_no_account_can_be_read_the_plan_fails_as_the_cause_does():
    class AllDown(FakeZuora):
        def get_account_detail(self, account_key):
            raise ZuoraServerError(f"Zuora failed on account {account_key} (HTTP 503)")

    with pytest.raises(SyncError) as caught:
        Planned(AllDown())

    assert caught.value.retryable and caught.value.code is ErrorCode.ZUORA_UNAVAILABLE
    assert all(f"Zuora account {n} could not be read" in caught.value.message for n in ACCOUNTS)


def test_an_unknown_account_of_the_customer_is_a_permanent_account_failure():
    class Gone(FakeZuora):
        def iter_subscription_pages(self, account_key, page_size=40):
            if account_key == "A003":
                raise ZuoraNotFound("Zuora failed on subscriptions of account A003 (HTTP 404)")
            yield from super().iter_subscription_pages(account_key, page_size)

    planned = Planned(Gone())

    [failure] = planned.jobs.account_failures
    assert failure.accountNumber == "A003" and not failure.retryable and failure.errorCode is ErrorCode.NOT_FOUND_IN_ZUORA


def test_a_listing_that_fails_half_way_fails_the_subscriptions_it_had_given():
    class SecondPageDown(FakeZuora):
        def iter_subscription_pages(self, account_key, page_size=40):
            pages = super().iter_subscription_pages(account_key, page_size=10)
            yield next(pages)
            if account_key == "A001":
                raise ZuoraServerError(f"Zuora failed on subscriptions of account {account_key} (HTTP 503)")
            yield from pages

    planned = Planned(SecondPageDown(), limio=Limio(by_account={"A001": ["A001-S999"]}))

    failed = sorted(r.subscriptionNumber for r in planned.jobs.receipts)
    assert failed == sorted([f"A001-S{i:03d}" for i in range(10)] + ["A001-S999"])  # page 1's, and what Limio holds
    assert all(r.retryable and "Zuora account A001 could not be read" in r.message for r in planned.jobs.receipts)
    assert planned.numbers == sorted([f"A002-S{i:03d}" for i in range(3)] + ["A003-S000"]) and planned.plan.total == 4 + 11


def test_a_task_whose_snapshot_cannot_be_stored_reads_its_subscriptions_from_zuora_instead():
    class SnapshotsDown(Memory):
        def put(self, sync_id, name, content):
            if isinstance(content, dict):
                raise TransientSyncError("The snapshot store is unavailable", code=ErrorCode.STORE_UNAVAILABLE)
            return super().put(sync_id, name, content)

    planned = Planned(ListingZuora(subs(30)), concurrency=1)
    down = Planned(ListingZuora(subs(30)), concurrency=1, snapshots=SnapshotsDown())

    assert down.numbers == planned.numbers and down.plan.total == 30
    assert all("snapshotKey" not in task and len(task["items"]) <= 10 for task in down.tasks)


def test_a_sync_by_account_number_covers_only_that_account():
    # Given Limio holds the customer's subscriptions under two accounts, one of A001's transferred away in Zuora
    zuora = ListingZuora(subs(2))
    zuora.get_account_detail = lambda key: {"basicInfo": {"id": "id-1", "accountNumber": key, "name": "One", "status": "Active", "crmId": CRM_ID}}
    limio = Limio(
        by_customer={ids.customer_id(CRM_ID): ["A-S000", "A-S001", "A-S900", "B-S001"]}, by_account={"A001": ["A-S000", "A-S001", "A-S900"]}
    )
    # When the sync names account A001
    planned = Planned(zuora, customer=CustomerRef(zuoraAccountNumber="A001"), limio=limio)
    # Then it plans A001's listing and re-reads only what Limio holds under A001 that Zuora no longer lists there
    zuora_reads = [item["subscriptionNumber"] for task in planned.tasks if "snapshotKey" not in task for item in task["items"]]
    assert zuora_reads == ["A-S900"]
    assert planned.numbers == ["A-S000", "A-S001", "A-S900"]


def test_a_15_character_id_finds_limio_records_under_either_form_and_keys_tasks_on_the_18_character_form():
    id15 = CRM_ID[:15]
    zuora = ListingZuora(subs(1), crm_id=id15)  # Zuora's crmId holds the 15-character form
    limio = Limio(by_customer={ids.customer_id(CRM_ID): ["A-S500"], ids.customer_id(id15): ["A-S501"]})

    planned = Planned(zuora, customer=CustomerRef(salesforceAccountId=CRM_ID), limio=limio)

    assert planned.numbers == ["A-S000", "A-S500", "A-S501"]
    [listed] = [item for task in planned.tasks for item in task["items"] if item["subscriptionNumber"] == "A-S000"]
    assert listed["salesforceAccountId"] == CRM_ID


class BulkyZuora(FakeZuora):
    """Accounts of 50 subscriptions, each with a 20 KB billing preview: 1 MB of Zuora data per account."""

    def __init__(self, accounts: int):
        self.numbers = [f"B{i:05d}" for i in range(accounts)]

    def find_accounts_by_crm_id(self, crm_id):
        return [ZuoraAccountRef(id=f"id-{n}", accountNumber=n, name=n, status="Active", crmId=crm_id) for n in self.numbers]

    def iter_subscription_pages(self, account_key, page_size=40):
        yield [{"subscriptionNumber": f"{account_key}-S{i:03d}", "termType": "EVERGREEN"} for i in range(50)]

    def preview_billing(self, account_key, target_date):
        return [{"subscriptionNumber": f"{account_key}-S{i:03d}", "description": "x" * 20_000} for i in range(50)]


class Discarding:
    def put(self, sync_id, name, content):
        return f"syncs/{sync_id}/{name}.json" if isinstance(content, dict) else {"bucket": "work", "key": name}


def planning_peak_bytes(accounts: int) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        plan_sync(
            "sync-" + "0" * 32,
            CustomerRef(salesforceAccountId=CRM_ID),
            BulkyZuora(accounts),
            Discarding(),
            Limio(),
            Discarding(),
            JobRecords(),
            today=TODAY,
            concurrency=10,
        )
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_planning_holds_a_few_accounts_at_a_time_however_many_the_customer_has():
    few, many = planning_peak_bytes(4), planning_peak_bytes(40)

    # 40 accounts are 40 MB of Zuora data; planning holds at most account_readers(8), 4, of them at once.
    assert few > 2_000_000  # the measure sees the accounts' data at all
    assert many < 2 * few, (few, many)


def test_a_99_year_term_is_previewed_only_as_far_as_zuora_allows():
    # Given a subscription whose term ends 99 years from today (a common way to model "forever")
    today = dt.date(2026, 12, 1)
    far = [{"termType": "TERMED", "termEndDate": "2125-11-30"}]
    # When planning chooses the billing preview's target date
    target = preview_target_date(far, today, 365)
    # Then it stops the day before Zuora's 20-year limit, and the schedule stops with it
    assert target == dt.date(2046, 11, 30)
    assert latest_billing_preview_date(dt.date(2080, 2, 29)) == dt.date(2100, 2, 27)  # 2100 has no 29 February


def test_planning_reads_as_many_accounts_at_once_as_the_zuora_share_allows():
    # Each account reader has two Zuora calls in flight (details beside pages): the stack's default bound of 20
    # concurrent Zuora requests reads a 1,000-subscription customer's ten accounts in one go.
    assert [account_readers(share) for share in (1, 2, 8, 20, 40)] == [1, 1, 4, 10, 20]
