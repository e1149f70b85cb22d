"""Planning cuts each Zuora account into sync tasks on its own, with its share of the Map's concurrency, and
writes one snapshot per task holding exactly its subscriptions and their account."""

from __future__ import annotations

import datetime as dt

from limio_sync.models import CustomerRef
from limio_sync.planning import plan_sync, preview_target_date
from limio_sync.zuora.models import ZuoraAccountRef
from limio_sync.zuora.subscription import latest_billing_preview_date

CRM_ID = "0015g00000Ab3XQAAZ"
ACCOUNTS = {"A001": 25, "A002": 3, "A003": 1}


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


class NoLimioRecords:
    def numbers_for_customer(self, customer_id):
        return []


def test_each_task_holds_one_accounts_subscriptions_and_their_snapshot():
    snapshots, lists = Memory(), Memory()

    plan = plan_sync(
        "sync-" + "0" * 32,
        CustomerRef(salesforceAccountId=CRM_ID),
        FakeZuora(),
        snapshots,
        NoLimioRecords(),
        lists,
        today=dt.date(2026, 11, 25),
        concurrency=10,
    )

    tasks = lists.objects[plan.items.key]
    assert plan.total == 29 and sum(len(task["items"]) for task in tasks) == 29
    # 10 tasks shared by 3 accounts: 3 each; 25 subscriptions make tasks of 9, 9 and 7.
    by_account = {n: [len(t["items"]) for t in tasks if t["items"][0]["accountNumber"] == n] for n in ACCOUNTS}
    assert by_account == {"A001": [9, 9, 7], "A002": [1, 1, 1], "A003": [1]}
    for task in tasks:
        [account] = {item["accountNumber"] for item in task["items"]}
        snapshot = snapshots.objects[task["snapshotKey"]]
        assert list(snapshot["accounts"]) == [account]
        assert sorted(snapshot["subscriptions"]) == sorted(item["subscriptionNumber"] for item in task["items"])
    assert snapshots.objects[tasks[0]["snapshotKey"]]["subscriptions"]["A001-S000"]["invoiceItems"] == [
        {"subscriptionNumber": "A001-S000", "amount": 1}
    ]


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
            NoLimioRecords(),
            Discarding(),
            today=dt.date(2026, 11, 25),
            concurrency=10,
        )
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_planning_holds_a_few_accounts_at_a_time_however_many_the_customer_has():
    few, many = planning_peak_bytes(4), planning_peak_bytes(40)

    # 40 accounts are 40 MB of Zuora data; planning holds at most ACCOUNT_READERS (4) of them at once.
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
