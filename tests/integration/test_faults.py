"""Zuora misbehaving, driven through the emulator, with the real state machine and handlers on moto.

Every fault gets its own customer in one tenant, so the tests do not depend on each other. Whatever the fault,
each test checks what LFS and Limio would see:

1. the job ends (SUCCEEDED, PARTIALLY_FAILED or FAILED), it never stays RUNNING;
2. every subscription of the customer has exactly one receipt, and `total` is their count;
3. no Limio record is lost or goes back to an older Zuora version (checked around every test by
   `limio_never_loses_or_regresses`);
4. a transient failure that clears is healed by the scheduled retry, in the same job.

A subscription moved to an account outside the customer (`ELSEWHERE`) is read from Zuora by number by its
sync task, because planning no longer lists it: that is how a fault reaches one subscription's task.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from limio_sync import syncing, zuora_access
from limio_sync.stores.jobs import JobStore
from limio_sync.stores.limio_subscriptions import LimioSubscriptionStore
from limio_sync.zuora.client import ZuoraClient
from limio_sync.zuora.token_cache import reset_token_cache
from local.lfs_client import TERMINAL, poll_until_done
from local.service import CREDENTIALS_SECRET, LocalSyncService
from tests import zuora_fixtures as z
from tests.lfs_calls import get_job, post, wait_for

MAP_MAX_CONCURRENCY = 4
PAGE_SIZE = 2  # so that listing a customer's subscriptions takes several pages
READ_TIMEOUT_SECONDS = 0.5
ZUORA_ATTEMPTS = 2  # per call, inside the Zuora client
TASK_ATTEMPTS = 2  # per subscription task: the first run and SubscriptionRetryMaxAttempts = 1
FAILS_A_TASK = ZUORA_ATTEMPTS * TASK_ATTEMPTS  # faults on one read that outlast every retry of its task
ELSEWHERE = "A00009999"

STORM = z.salesforce_id("STORM1")
PAGES = z.salesforce_id("PAGES1")
READS = z.salesforce_id("READS1")
SLOW = z.salesforce_id("SLOWZ1")
GARBLED = z.salesforce_id("GARBLED1")
TOKEN = z.salesforce_id("TOKEN1")
TOKEN_ENDPOINT = z.salesforce_id("TOKENEP1")
BAD_CREDENTIALS = z.salesforce_id("BADCREDS1")
VANISH = z.salesforce_id("VANISH1")
CRASH = z.salesforce_id("CRASH1")
CONFLICT = z.salesforce_id("CONFLICT1")
RACE = z.salesforce_id("RACE1")
WIDE = z.salesforce_id("WIDE1")
SHARED = z.salesforce_id("SHARED1")

CUSTOMERS = {
    STORM: ("A00001101", 3),
    PAGES: ("A00001201", 3),
    READS: ("A00001301", 4),
    SLOW: ("A00001401", 3),
    GARBLED: ("A00001501", 4),
    TOKEN: ("A00001601", 3),
    TOKEN_ENDPOINT: ("A00001701", 2),
    BAD_CREDENTIALS: ("A00001801", 1),
    VANISH: ("A00001901", 2),
    CRASH: ("A00002001", 3),
    CONFLICT: ("A00002101", 3),
    RACE: ("A00002201", 3),
    WIDE: ("A00002301", 8),
    SHARED: ("A00002401", 8),
}


def numbers_of(customer: str) -> list[str]:
    account, count = CUSTOMERS[customer]
    return [f"A-S{int(account[1:]) + i:08d}" for i in range(count)]


def fault_tenant() -> dict:
    accounts = [z.account(account, customer) for customer, (account, _) in CUSTOMERS.items()]
    accounts.append(z.account(ELSEWHERE, z.salesforce_id("ELSEWHERE9"), name="Another customer"))
    subscriptions = [z.subscription(number, account) for customer, (account, _) in CUSTOMERS.items() for number in numbers_of(customer)]
    return z.tenant(accounts, subscriptions)


def forget_cached_credentials() -> None:
    """A warm Lambda keeps the secret (five minutes) and its token; a rotation is seen once both are gone."""
    zuora_access.clear_cache()
    reset_token_cache()


@pytest.fixture(scope="module")
def service():
    fast = {
        "RETRY_INTERVAL_MINUTES": "0.002",  # 0.12 s: the test fires the schedule once the backoff has elapsed
        "RETRY_MAX_ATTEMPTS": "2",
        "ZUORA_MAX_ATTEMPTS": str(ZUORA_ATTEMPTS),
        "ZUORA_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT_SECONDS),
        "ZUORA_PAGE_SIZE": str(PAGE_SIZE),
    }
    # Both Maps (inline within the threshold, distributed past it) run at most MAP_MAX_CONCURRENCY tasks at once.
    concurrency = {"MapMaxConcurrency": str(MAP_MAX_CONCURRENCY), "InlineMapMaxConcurrency": str(MAP_MAX_CONCURRENCY)}
    parameters = {"SubscriptionRetryMaxAttempts": str(TASK_ATTEMPTS - 1), **concurrency}
    with LocalSyncService(fault_tenant(), parameter_overrides=parameters, environment_overrides=fast) as running:
        yield running


# ---------------------------------------------------------------- what LFS does


def wait_done(service, started: requests.Response) -> dict:
    assert started.status_code == 202, started.text
    job = poll_until_done(started.json()["statusUrl"], interval=0.1, timeout=90, credentials=service.credentials)
    wait_for(lambda: execution_status(service, job["syncId"]) != "RUNNING")  # gathering has also queued its retries
    return job


def sync(service, customer: str) -> dict:
    return wait_done(service, post(service, {"salesforceAccountId": customer}))


# ---------------------------------------------------------------- what the tests check


def assert_each_reported_once(job: dict, numbers: list[str]) -> None:
    """The job ended and names every subscription of the customer exactly once."""
    assert job["status"] in TERMINAL
    reported = [r["subscriptionNumber"] for r in job["subscriptions"]]
    assert sorted(reported) == sorted(numbers), f"duplicates or missing: {reported}"
    assert job["total"] == len(numbers) == sum(job["counts"].values())
    assert job["failedSubscriptions"] == sorted(r["subscriptionNumber"] for r in job["subscriptions"] if r["outcome"] == "FAILED")


def receipts(job: dict) -> dict[str, dict]:
    return {r["subscriptionNumber"]: r for r in job["subscriptions"]}


def outcomes(job: dict) -> dict[str, str]:
    return {r["subscriptionNumber"]: r["outcome"] for r in job["subscriptions"]}


def limio_versions(service) -> dict[str, int]:
    return {r["subscriptionNumber"]: int(r["zuoraVersion"]) for r in service.limio_subscriptions()}


def zuora_version(service, number: str) -> int:
    return service.emulator.subscription(number)["version"]


def execution_status(service, name: str) -> str:
    arn = f"{service.cloud.state_machine_arn().replace(':stateMachine:', ':execution:')}:{name}"
    return service.cloud.client("stepfunctions").describe_execution(executionArn=arn)["status"]


def running_executions(service) -> list[str]:
    sfn = service.cloud.client("stepfunctions")
    return [e["name"] for e in sfn.list_executions(stateMachineArn=service.cloud.state_machine_arn(), statusFilter="RUNNING")["executions"]]


def queued_retries(service, sync_id: str) -> list[str]:
    table = service.cloud.template.tables["SyncJobsTable"].name
    items = service.cloud.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="syncId = :sync AND begins_with(itemKey, :retry)",
        ExpressionAttributeValues={":sync": {"S": sync_id}, ":retry": {"S": "RETRY#"}},
    )["Items"]
    return sorted(item["subscriptionNumber"]["S"] for item in items)


def heal(service, job: dict, *, still_failing: tuple[str, ...] = ()) -> dict:
    """The transient failures of `job` were queued; once their backoff has elapsed the schedule re-syncs them
    and the same job, polled again, no longer reports them."""
    sync_id = job["syncId"]
    transient = sorted(set(job["failedSubscriptions"]) - set(still_failing))
    assert transient, "nothing to heal"
    assert queued_retries(service, sync_id) == transient

    def start_retry() -> list[str]:
        started = [name for run in service.events.fire_schedules("RetryFailedSyncsFunction") for name in run["started"]]
        return [name for name in started if name.startswith(f"{sync_id}-retry-")]

    [retry_run] = wait_for(start_retry, timeout=10)
    wait_for(lambda: execution_status(service, retry_run) != "RUNNING")
    healed = get_job(service, sync_id)
    assert healed["failedSubscriptions"] == sorted(still_failing)
    assert healed["status"] == ("PARTIALLY_FAILED" if still_failing else "SUCCEEDED")
    assert not any(number in healed["notification"] for number in transient)
    assert queued_retries(service, sync_id) == []
    return healed


def move_out(service, *numbers: str) -> None:
    """An owner transfer in Zuora: the customer's next sync reads these subscriptions by number."""
    for number in numbers:
        service.emulator.move_subscription(number, ELSEWHERE)


def amend(service, *numbers: str) -> None:
    """A new Zuora version with different content, so the next sync has something to write."""
    for number in numbers:
        current = service.emulator.subscription(number)
        service.emulator.update_subscription(number, autoRenew=not current["autoRenew"])


def route_count(service, method: str, route: str) -> int:
    return service.emulator.stats.count(method, route)


@pytest.fixture(autouse=True)
def limio_never_loses_or_regresses(service):
    """Around every test: no Limio record disappears and none goes back to an older Zuora version."""
    before = limio_versions(service)
    yield
    try:
        wait_for(lambda: not running_executions(service))
    finally:
        service.emulator.clear_faults()
        service.emulator.set_latency(0)
        service.emulator.set_concurrency_limit(None)
    after = limio_versions(service)
    assert sorted(set(before) - set(after)) == [], "Limio records lost"
    assert {n: (v, after[n]) for n, v in before.items() if after[n] < v} == {}, "Limio records regressed"


# ---------------------------------------------------------------- 429s


def test_a_short_429_storm_slows_the_sync_down_instead_of_failing_subscriptions(service):
    first, second, moved = numbers_of(STORM)
    sync(service, STORM)
    clock = time.monotonic()
    baseline = sync(service, STORM)
    baseline_seconds = time.monotonic() - clock
    amend(service, first, second)
    move_out(service, moved)
    throttled = service.emulator.stats.throttled
    account = CUSTOMERS[STORM][0]
    storm = f"/object-query/accounts|/v1/accounts/{account}|/v1/subscriptions/accounts/{account}|/v1/operations/billing-preview"
    service.emulator.add_fault({"path": storm, "times": 3, "status": 429, "retryAfter": 1})  # planning: client + state machine
    service.emulator.add_fault({"path": f"/v1/subscriptions/{moved}", "times": ZUORA_ATTEMPTS, "status": 429, "retryAfter": 1})

    clock = time.monotonic()
    job = sync(service, STORM)
    storm_seconds = time.monotonic() - clock

    assert_each_reported_once(job, numbers_of(STORM))
    assert baseline["status"] == "SUCCEEDED"
    assert job["status"] == "SUCCEEDED" and job["counts"]["FAILED"] == 0
    assert outcomes(job) == {first: "UPDATED", second: "UPDATED", moved: "UPDATED"}
    assert service.emulator.stats.throttled - throttled == 3 + ZUORA_ATTEMPTS
    # Three Retry-After waits of at least 1 s each lie on the sync's path (two in planning, one in the task).
    assert storm_seconds >= 3.0 and storm_seconds >= baseline_seconds + 1.5, (baseline_seconds, storm_seconds)


# ---------------------------------------------------------------- 5xx


def test_5xx_on_a_later_list_page_is_retried_by_the_client_and_the_state_machine(service, monkeypatch):
    account = CUSTOMERS[PAGES][0]
    armed = threading.Event()
    list_pages = ZuoraClient.iter_subscription_pages

    def fail_after_the_first_page(client, account_key, page_size=40):
        for index, page in enumerate(list_pages(client, account_key, page_size)):
            yield page
            if account_key == account and index == 0 and not armed.is_set():
                armed.set()
                for status in (500, 502, 503):
                    service.emulator.add_fault({"method": "GET", "path": f"/v1/subscriptions/accounts/{account}", "times": 1, "status": status})

    monkeypatch.setattr(ZuoraClient, "iter_subscription_pages", fail_after_the_first_page)
    lists = route_count(service, "GET", "list_subscriptions")

    job = sync(service, PAGES)

    assert armed.is_set()
    assert_each_reported_once(job, numbers_of(PAGES))
    assert job["status"] == "SUCCEEDED" and set(outcomes(job).values()) == {"CREATED"}
    assert route_count(service, "GET", "list_subscriptions") - lists >= 2 + 3  # both pages, and each fault answered once


def test_5xx_on_a_subscription_read_fails_it_transiently_then_the_scheduled_retry_heals_it(service):
    listed, *moved = numbers_of(READS)
    sync(service, READS)
    move_out(service, *moved)
    for number, status in zip(moved, (500, 502, 503), strict=True):
        service.emulator.add_fault({"method": "GET", "path": f"/v1/subscriptions/{number}", "times": FAILS_A_TASK, "status": status})

    job = sync(service, READS)

    assert_each_reported_once(job, numbers_of(READS))
    assert job["status"] == "PARTIALLY_FAILED" and job["failedSubscriptions"] == moved
    for number in moved:
        assert receipts(job)[number]["errorCode"] == "ZUORA_UNAVAILABLE" and receipts(job)[number]["retryable"] is True
        assert number in receipts(job)[number]["message"]
    assert outcomes(job)[listed] == "UNCHANGED"

    healed = heal(service, job)

    assert_each_reported_once(healed, numbers_of(READS))
    assert all(outcomes(healed)[number] == "UPDATED" for number in moved)
    assert all(limio_versions(service)[number] == zuora_version(service, number) for number in moved)


def test_a_retried_task_redoes_only_its_unsettled_subscriptions(service):
    numbers = numbers_of(SHARED)
    flaky, steady = numbers[-2:]  # 8 subscriptions over a concurrency of 4: these two share one task
    sync(service, SHARED)
    move_out(service, flaky, steady)
    service.emulator.add_fault({"method": "GET", "path": f"/v1/subscriptions/{flaky}", "times": ZUORA_ATTEMPTS, "status": 503})
    reads = route_count(service, "GET", "get_subscription")

    job = sync(service, SHARED)

    assert_each_reported_once(job, numbers)
    assert job["status"] == "SUCCEEDED"
    # The task's first attempt synced `steady` and recorded it; its retry synced `flaky` only, so `steady` keeps
    # its UPDATED receipt (a second sync of it would have said UNCHANGED) and Zuora was not asked for it twice.
    assert (outcomes(job)[flaky], outcomes(job)[steady]) == ("UPDATED", "UPDATED")
    assert route_count(service, "GET", "get_subscription") - reads == ZUORA_ATTEMPTS + 2
    assert limio_versions(service)[flaky] == zuora_version(service, flaky)


# ---------------------------------------------------------------- timeouts and resets


def test_read_timeouts_and_connection_resets_are_retried_and_healed(service):
    listed, slow, cut = numbers_of(SLOW)
    account = CUSTOMERS[SLOW][0]
    sync(service, SLOW)
    move_out(service, slow, cut)
    delay = READ_TIMEOUT_SECONDS * 2
    service.emulator.add_fault({"method": "GET", "path": f"/v1/accounts/{account}", "times": 1, "delaySeconds": delay})
    service.emulator.add_fault({"method": "GET", "path": f"/v1/subscriptions/accounts/{account}", "times": 1, "reset": True})
    service.emulator.add_fault({"method": "GET", "path": f"/v1/subscriptions/{slow}", "times": ZUORA_ATTEMPTS, "delaySeconds": delay})
    service.emulator.add_fault({"method": "GET", "path": f"/v1/subscriptions/{cut}", "times": FAILS_A_TASK, "reset": True})
    reads = route_count(service, "GET", "get_subscription")

    job = sync(service, SLOW)

    assert_each_reported_once(job, numbers_of(SLOW))
    assert job["status"] == "PARTIALLY_FAILED" and job["failedSubscriptions"] == [cut]
    assert outcomes(job) == {listed: "UNCHANGED", slow: "UPDATED", cut: "FAILED"}
    assert receipts(job)[cut]["errorCode"] == "ZUORA_TIMEOUT" and receipts(job)[cut]["retryable"] is True
    assert route_count(service, "GET", "get_subscription") - reads >= ZUORA_ATTEMPTS + 1 + FAILS_A_TASK  # every fault answered

    healed = heal(service, job)

    assert_each_reported_once(healed, numbers_of(SLOW))
    assert outcomes(healed) == {listed: "UNCHANGED", slow: "UPDATED", cut: "UPDATED"}


# ---------------------------------------------------------------- unusable answers


def test_garbled_bodies_and_success_false_are_classified_transient_or_permanent(service):
    listed, garbled, temporary, invalid = numbers_of(GARBLED)
    sync(service, GARBLED)
    move_out(service, garbled, temporary, invalid)
    service.emulator.add_fault({"method": "GET", "path": f"/v1/subscriptions/{garbled}", "times": FAILS_A_TASK, "malformed": True})
    temporary_error = {"code": 50000061, "message": "Temporary error, retry later."}
    service.emulator.add_fault({"method": "GET", "path": f"/v1/subscriptions/{temporary}", "times": FAILS_A_TASK, "successFalse": temporary_error})
    invalid_value = {"code": 50000020, "message": "Invalid parameter value."}
    service.emulator.add_fault({"method": "GET", "path": f"/v1/subscriptions/{invalid}", "successFalse": invalid_value})

    job = sync(service, GARBLED)

    assert_each_reported_once(job, numbers_of(GARBLED))
    assert job["status"] == "PARTIALLY_FAILED" and job["failedSubscriptions"] == [garbled, temporary, invalid]
    got = receipts(job)
    assert (got[garbled]["errorCode"], got[garbled]["retryable"]) == ("ZUORA_BAD_RESPONSE", True)
    assert (got[temporary]["errorCode"], got[temporary]["retryable"]) == ("ZUORA_UNAVAILABLE", True)
    assert (got[invalid]["errorCode"], got[invalid]["retryable"]) == ("ZUORA_REJECTED", False)
    assert invalid in got[invalid]["message"] and "Invalid parameter value" in got[invalid]["message"]

    healed = heal(service, job, still_failing=(invalid,))  # the permanent failure is not queued, nor retried

    assert_each_reported_once(healed, numbers_of(GARBLED))
    assert outcomes(healed) == {listed: "UNCHANGED", garbled: "UPDATED", temporary: "UPDATED", invalid: "FAILED"}
    assert receipts(healed)[invalid] == got[invalid]


# ---------------------------------------------------------------- tokens and credentials


def test_a_token_revoked_between_planning_and_the_subscription_reads_is_refreshed(service, monkeypatch):
    listed, *moved = numbers_of(TOKEN)
    sync(service, TOKEN)
    move_out(service, *moved)
    read_state = syncing.read_zuora_state
    revoke_once = threading.Lock()
    issued_at_revocation: list[int] = []

    def revoke_before_the_first_read(item, snapshots, zuora, rules):
        with revoke_once:
            if item.subscriptionNumber in moved and not issued_at_revocation:
                service.emulator.revoke_tokens()
                issued_at_revocation.append(len(service.emulator.issued_tokens))
        return read_state(item, snapshots, zuora, rules)

    monkeypatch.setattr(syncing, "read_zuora_state", revoke_before_the_first_read)

    job = sync(service, TOKEN)

    assert issued_at_revocation, "the tokens were never revoked"
    assert len(service.emulator.issued_tokens) > issued_at_revocation[0]  # 401 → a new token → the read again
    assert_each_reported_once(job, numbers_of(TOKEN))
    assert job["status"] == "SUCCEEDED"
    assert outcomes(job) == {listed: "UNCHANGED", **dict.fromkeys(moved, "UPDATED")}


def test_a_token_endpoint_failing_once_after_expiry_is_retried(service):
    sync(service, TOKEN_ENDPOINT)
    amend(service, *numbers_of(TOKEN_ENDPOINT))
    service.emulator.revoke_tokens()
    service.emulator.add_fault({"method": "POST", "path": "/oauth/token", "times": 1, "reset": True})
    tokens = service.emulator.stats.token_requests

    job = sync(service, TOKEN_ENDPOINT)

    assert_each_reported_once(job, numbers_of(TOKEN_ENDPOINT))
    assert job["status"] == "SUCCEEDED" and set(outcomes(job).values()) == {"UPDATED"}
    assert service.emulator.stats.token_requests - tokens == 2  # the reset one, then the one that worked


def test_bad_credentials_fail_the_job_with_a_clear_reason_and_no_secret(service):
    secrets = service.cloud.client("secretsmanager")
    secret_arn = service.cloud.template.secrets[CREDENTIALS_SECRET].arn
    wrong_secret = "Wr0ng-" + uuid.uuid4().hex
    right = secrets.get_secret_value(SecretId=secret_arn)["SecretString"]
    secrets.put_secret_value(SecretId=secret_arn, SecretString=json.dumps({"clientId": z.CLIENT_ID, "clientSecret": wrong_secret}))
    forget_cached_credentials()
    try:
        job = sync(service, BAD_CREDENTIALS)
    finally:
        secrets.put_secret_value(SecretId=secret_arn, SecretString=right)
        forget_cached_credentials()

    assert job["status"] == "FAILED"
    assert job["subscriptions"] == [] and job["total"] == 0  # nothing was planned, nothing half-reported
    assert job["error"]["errorCode"] == "ZUORA_AUTH_FAILED"
    assert "client id and secret" in job["error"]["message"]
    assert wrong_secret not in json.dumps(job) and z.CLIENT_SECRET not in json.dumps(job)

    fixed = sync(service, BAD_CREDENTIALS)  # once the secret is right again, the next click works

    assert_each_reported_once(fixed, numbers_of(BAD_CREDENTIALS))
    assert fixed["status"] == "SUCCEEDED"


# ---------------------------------------------------------------- data that changes under the sync


def test_a_subscription_gone_from_zuora_fails_permanently_and_its_limio_record_is_kept(service):
    kept, gone = numbers_of(VANISH)
    sync(service, VANISH)
    held = limio_versions(service)[gone]
    service.emulator.remove_subscription(gone)

    job = sync(service, VANISH)

    assert_each_reported_once(job, numbers_of(VANISH))
    assert job["status"] == "PARTIALLY_FAILED" and job["failedSubscriptions"] == [gone]
    assert (receipts(job)[gone]["errorCode"], receipts(job)[gone]["retryable"]) == ("NOT_FOUND_IN_ZUORA", False)
    assert gone in receipts(job)[gone]["message"]
    assert outcomes(job)[kept] == "UNCHANGED"
    assert queued_retries(service, job["syncId"]) == []
    assert limio_versions(service)[gone] == held


def test_a_crash_while_syncing_one_subscription_fails_only_that_one_naming_it(service, monkeypatch):
    # Three subscriptions over a Map concurrency of 4: each is its own task, so a task crashing while it records
    # its receipts fails only its own subscription.
    fine, crashes_deciding, crashes_recording = numbers_of(CRASH)
    decide = syncing.decide
    record_receipts = JobStore.record_receipts

    def decide_or_crash(desired, existing):
        if desired.subscriptionNumber == crashes_deciding:
            raise KeyError("a bug in the sync rules")
        return decide(desired, existing)

    def record_or_crash(store, sync_id, results, **task):
        if crashes_recording in {result.subscriptionNumber for result in results}:
            raise RuntimeError("a bug after the sync")
        return record_receipts(store, sync_id, results, **task)

    monkeypatch.setattr(syncing, "decide", decide_or_crash)
    monkeypatch.setattr(JobStore, "record_receipts", record_or_crash)

    job = sync(service, CRASH)

    assert_each_reported_once(job, numbers_of(CRASH))
    assert job["status"] == "PARTIALLY_FAILED" and job["failedSubscriptions"] == [crashes_deciding, crashes_recording]
    assert outcomes(job)[fine] == "CREATED"
    for number in (crashes_deciding, crashes_recording):
        assert receipts(job)[number]["errorCode"] == "INTERNAL_ERROR"
        assert number in receipts(job)[number]["message"]
    assert job["syncId"] in receipts(job)[crashes_deciding]["message"]  # for the logs
    assert "RuntimeError" in receipts(job)[crashes_recording]["message"]


def test_an_older_version_never_overwrites_a_newer_one(service, monkeypatch):
    held_newer, raced, control = numbers_of(CONFLICT)
    sync(service, CONFLICT)
    store = LimioSubscriptionStore(service.cloud.template.tables["LimioSubscriptionsTable"].name)
    store.save(store.get(held_newer).model_copy(update={"zuoraVersion": 7}))  # a newer version, stored by someone else
    amend(service, held_newer, raced, control)
    decide = syncing.decide

    def decide_then_lose_the_race(desired, existing):
        decision = decide(desired, existing)
        if desired.subscriptionNumber == raced:  # a concurrent sync stores a newer version before this one writes
            store.save(desired.model_copy(update={"zuoraVersion": desired.zuoraVersion + 1}))
        return decision

    monkeypatch.setattr(syncing, "decide", decide_then_lose_the_race)

    job = sync(service, CONFLICT)

    assert_each_reported_once(job, numbers_of(CONFLICT))
    assert job["status"] == "SUCCEEDED"
    assert outcomes(job) == {held_newer: "UNCHANGED", raced: "UNCHANGED", control: "UPDATED"}
    assert "version 7" in receipts(job)[held_newer]["message"] and "newer" in receipts(job)[held_newer]["message"]
    assert "concurrent sync stored version 3" in receipts(job)[raced]["message"]
    versions = limio_versions(service)
    assert (versions[held_newer], versions[raced], versions[control]) == (7, 3, 2)


def test_racing_syncs_of_one_customer_each_end_with_one_receipt_per_subscription(service):
    numbers = numbers_of(RACE)
    account = CUSTOMERS[RACE][0]
    same = {"salesforceAccountId": RACE}
    sync(service, RACE)

    def race(*clicks: tuple[dict, dict]) -> list[str]:
        """POST every click at the same moment; the sync ids they were given."""
        barrier = threading.Barrier(len(clicks))

        def click(body: dict, headers: dict) -> requests.Response:
            barrier.wait()
            return post(service, body, **headers)

        with ThreadPoolExecutor(len(clicks)) as pool:
            replies = list(pool.map(lambda args: click(*args), clicks))
        assert [reply.status_code for reply in replies] == [202] * len(clicks), [reply.text for reply in replies]
        return [reply.json()["syncId"] for reply in replies]

    def ended(sync_id: str) -> dict:
        wait_for(lambda: get_job(service, sync_id)["status"] in TERMINAL)
        wait_for(lambda: execution_status(service, sync_id) != "RUNNING")
        return get_job(service, sync_id)

    amend(service, *numbers)
    [plain] = set(race((same, {}), (same, {})))  # a repeat click while the sync runs gets the same sync
    plain_job = ended(plain)

    amend(service, *numbers)
    key, other_key = uuid.uuid4().hex, uuid.uuid4().hex
    [keyed] = set(race((same, {"Idempotency-Key": key}), (same, {"Idempotency-Key": key}), (same, {"Idempotency-Key": other_key})))
    keyed_job = ended(keyed)
    # Retried after the sync ended, each key gets its first reply again, also the key whose click was coalesced.
    assert set(race((same, {"Idempotency-Key": key}), (same, {"Idempotency-Key": other_key}))) == {keyed}

    amend(service, *numbers)
    by_account, by_salesforce = race(({"zuoraAccountNumber": account}, {}), (same, {}))  # two names: two jobs
    account_job, salesforce_job = ended(by_account), ended(by_salesforce)

    assert len({plain, keyed, by_account, by_salesforce}) == 4
    for job in (plain_job, keyed_job, account_job, salesforce_job):
        assert_each_reported_once(job, numbers)
        assert job["status"] == "SUCCEEDED"
    assert set(outcomes(plain_job).values()) == set(outcomes(keyed_job).values()) == {"UPDATED"}
    for number in numbers:  # of two jobs writing the same version, the later one wrote it again or found it there
        assert "UPDATED" in (outcomes(account_job)[number], outcomes(salesforce_job)[number])
        assert limio_versions(service)[number] == zuora_version(service, number)


# ---------------------------------------------------------------- pressure on Zuora


def test_the_map_never_runs_more_zuora_reads_at_once_than_its_concurrency(service):
    numbers = numbers_of(WIDE)
    sync(service, WIDE)
    move_out(service, *numbers)  # every task reads its subscription, account and billing preview from Zuora
    service.emulator.set_concurrency_limit(6)
    service.emulator.set_latency(100)
    service.emulator.reset_stats()

    job = sync(service, WIDE)

    stats = service.emulator.stats
    assert_each_reported_once(job, numbers)
    assert job["status"] == "SUCCEEDED" and set(outcomes(job).values()) == {"UPDATED"}
    assert stats.count("GET", "get_subscription") >= len(numbers)
    assert 2 <= stats.peak_in_flight <= MAP_MAX_CONCURRENCY, stats.as_dict()
