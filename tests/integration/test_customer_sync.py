"""End to end, as LFS uses it: POST /syncs over HTTP, the real state machine on moto runs the real handlers
against the Zuora emulator, and GET /syncs/{id} reports every subscription's outcome."""

from __future__ import annotations

import pytest
import requests

from limio_sync.batching import INLINE_STATE_BUDGET_BYTES
from local.auth import SigV4RequestAuth
from local.lfs_client import poll_until_done, start_sync
from local.service import LocalSyncService
from tests import zuora_fixtures as z

HAPPY = z.salesforce_id("HAPPY1")  # two Zuora accounts, all subscriptions fine
MIXED = z.salesforce_id("MIXED1")  # one broken subscription among good ones
BROKEN = z.salesforce_id("BROKEN1")  # every subscription broken
LARGE = z.salesforce_id("LARGE1")  # more than one page of 40
UNKNOWN = z.salesforce_id("NOBODY1")  # no Zuora account


def scenario_tenant() -> dict:
    accounts = [
        z.account("A00000101", HAPPY),
        z.account("A00000102", HAPPY),
        z.account("A00000201", MIXED),
        z.account("A00000301", BROKEN),
        z.account("A00000401", LARGE),
        z.account("A00000501", None),
    ]
    subscriptions = [
        z.subscription("A-S00000101", "A00000101"),
        z.subscription("A-S00000102", "A00000101", status="Cancelled", auto_renew=False),
        z.subscription("A-S00000103", "A00000102", version=3, term_start="2026-06-01", term_end="2027-06-01"),
        z.subscription("A-S00000104", "A00000102", status="Suspended"),
        z.subscription("A-S00000201", "A00000201"),
        z.subscription("A-S00000202", "A00000201", broken=True),
        z.subscription("A-S00000203", "A00000201", term_end=None),
        z.subscription("A-S00000301", "A00000301", broken=True),
        z.subscription("A-S00000302", "A00000301", broken=True),
        *[z.subscription(f"A-S0000{4000 + i}", "A00000401", updated=f"2026-10-{1 + i % 28:02d}") for i in range(45)],
        z.subscription("A-S00000501", "A00000501"),
    ]
    return z.tenant(accounts, subscriptions)


@pytest.fixture(scope="module")
def service():
    with LocalSyncService(scenario_tenant()) as running:
        yield running


def sync(service: LocalSyncService, customer: dict) -> dict:
    started = start_sync(service.api_url, customer, credentials=service.credentials)
    assert started["status"] == "RUNNING"
    return poll_until_done(started["statusUrl"], timeout=90, credentials=service.credentials)


def outcomes(job: dict) -> dict[str, str]:
    return {r["subscriptionNumber"]: r["outcome"] for r in job["subscriptions"]}


def test_a_customer_with_two_zuora_accounts_syncs_every_subscription(service):
    job = sync(service, {"salesforceAccountId": HAPPY})

    assert job["status"] == "SUCCEEDED"
    assert outcomes(job) == dict.fromkeys(("A-S00000101", "A-S00000102", "A-S00000103", "A-S00000104"), "CREATED")
    assert job["total"] == 4 and job["failedSubscriptions"] == []
    assert job["notification"].startswith("All 4 subscriptions are in sync")
    assert job["finishedAt"] >= job["startedAt"]
    limio = {r["subscriptionNumber"]: r for r in service.limio_subscriptions()}
    assert limio["A-S00000102"]["status"] == "cancelled" and limio["A-S00000102"]["autoRenew"] is False
    assert limio["A-S00000103"]["termStartDate"] == "2026-06-01" and limio["A-S00000103"]["zuoraVersion"] == 3
    assert limio["A-S00000104"]["status"] == "suspended"
    assert {limio[n]["customerId"] for n in outcomes(job)} == {limio["A-S00000101"]["customerId"]}


def test_syncing_again_changes_nothing(service):
    sync(service, {"salesforceAccountId": HAPPY})

    job = sync(service, {"salesforceAccountId": HAPPY})

    assert job["status"] == "SUCCEEDED"
    assert set(outcomes(job).values()) == {"UNCHANGED"}


def test_a_zuora_side_change_reaches_limio_on_the_next_sync(service):
    sync(service, {"zuoraAccountNumber": "A00000501"})
    service.emulator.update_subscription("A-S00000501", termStartDate="2027-03-01", termEndDate="2028-03-01", autoRenew=False)

    job = sync(service, {"zuoraAccountNumber": "A00000501"})

    assert outcomes(job) == {"A-S00000501": "UPDATED"}
    [record] = [r for r in service.limio_subscriptions() if r["subscriptionNumber"] == "A-S00000501"]
    assert (record["termEndDate"], record["autoRenew"], record["zuoraVersion"]) == ("2028-03-01", False, 2)


def test_a_failing_subscription_is_named_and_the_others_still_sync(service):
    job = sync(service, {"salesforceAccountId": MIXED})

    assert job["status"] == "PARTIALLY_FAILED"
    assert outcomes(job) == {"A-S00000201": "CREATED", "A-S00000202": "FAILED", "A-S00000203": "CREATED"}
    assert job["failedSubscriptions"] == ["A-S00000202"]
    assert "A-S00000202" in job["notification"] and "2 of 3" in job["notification"]
    [failed] = [r for r in job["subscriptions"] if r["outcome"] == "FAILED"]
    assert failed["errorCode"] == "ZUORA_BAD_RESPONSE" and failed["retryable"] is False
    assert "A-S00000202" in failed["message"]


def test_when_every_subscription_fails_the_job_fails_and_names_them_all(service):
    job = sync(service, {"salesforceAccountId": BROKEN})

    assert job["status"] == "FAILED"
    assert job["failedSubscriptions"] == ["A-S00000301", "A-S00000302"]
    assert "A-S00000301, A-S00000302" in job["notification"]


def test_a_customer_with_no_zuora_account_ends_failed_with_a_clear_reason(service):
    job = sync(service, {"salesforceAccountId": UNKNOWN})

    assert job["status"] == "FAILED"
    assert job["error"]["errorCode"] == "CUSTOMER_NOT_FOUND"
    assert UNKNOWN in job["error"]["message"] and UNKNOWN in job["notification"]
    assert job["subscriptions"] == [] and job["finishedAt"]


def test_an_unknown_zuora_account_number_ends_failed_with_a_clear_reason(service):
    job = sync(service, {"zuoraAccountNumber": "A99999999"})

    assert job["status"] == "FAILED" and job["error"]["errorCode"] == "CUSTOMER_NOT_FOUND"
    assert "A99999999" in job["notification"]


def test_more_than_one_page_of_subscriptions_is_synced_completely(service):
    service.emulator.reset_stats()

    job = sync(service, {"salesforceAccountId": LARGE})

    assert job["status"] == "SUCCEEDED" and job["total"] == 45
    assert len(outcomes(job)) == 45 and set(outcomes(job).values()) == {"CREATED"}


def test_while_the_sync_runs_a_poll_reads_only_the_job_header_and_then_every_outcome(service):
    started = start_sync(service.api_url, {"salesforceAccountId": LARGE}, credentials=service.credentials)
    seen = []
    while not seen or seen[-1]["status"] == "RUNNING":
        reply = requests.get(started["statusUrl"], auth=SigV4RequestAuth(service.credentials), timeout=10)
        seen.append(reply.json())

    running, done = seen[:-1], seen[-1]
    assert running, "the first poll comes while planning runs"
    # While it runs, a poll is one read of the job header, whatever the customer's size: no receipts.
    assert all(job["subscriptions"] == [] and job["counts"] == {} for job in running)
    assert {job["total"] for job in running} <= {0, 45}  # 45 once planned: LFS can say how many are being synced
    assert done["status"] == "SUCCEEDED" and done["total"] == 45 == len(done["subscriptions"]) == sum(done["counts"].values())
    # A created subscription's changes are its whole record: they are in its events, not in every poll's job.
    assert all(receipt["changes"] is None for receipt in done["subscriptions"])


def test_unknown_sync_id_is_404_with_a_json_error(service):
    reply = requests.get(f"{service.api_url}/syncs/sync-{'0' * 32}", auth=SigV4RequestAuth(service.credentials), timeout=5)

    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "SYNC_NOT_FOUND"


def test_a_malformed_sync_id_is_400_naming_the_field(service):
    reply = requests.get(f"{service.api_url}/syncs/not-a-sync-id", auth=SigV4RequestAuth(service.credentials), timeout=5)

    assert reply.status_code == 400
    assert reply.json()["error"]["details"][0]["field"] == "syncId"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"salesforceAccountId": "001"}, "salesforceAccountId"),
        ({"zuoraAccountNumber": "A1", "colour": "red"}, "colour"),
    ],
)
def test_bad_start_requests_are_400_and_start_nothing(service, body, field):
    reply = requests.post(f"{service.api_url}/syncs", json=body, auth=SigV4RequestAuth(service.credentials), timeout=5)

    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in error["message"] or any(d["field"] == field for d in error["details"])


def test_a_body_that_is_not_json_is_a_400(service):
    reply = requests.post(
        f"{service.api_url}/syncs",
        data="{not json",
        headers={"Content-Type": "application/json"},
        auth=SigV4RequestAuth(service.credentials),
        timeout=5,
    )

    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "VALIDATION_ERROR"


def test_start_answers_202_with_location_and_retry_after(service):
    reply = requests.post(f"{service.api_url}/syncs", json={"zuoraAccountNumber": "A00000501"}, auth=SigV4RequestAuth(service.credentials), timeout=5)

    assert reply.status_code == 202
    body = reply.json()
    assert body["status"] == "RUNNING" and body["syncId"].startswith("sync-")
    assert reply.headers["Location"] == body["statusUrl"] and body["statusUrl"].endswith(f"/v1/syncs/{body['syncId']}")
    assert int(reply.headers["Retry-After"]) >= 1
    poll_until_done(body["statusUrl"], credentials=service.credentials)


def largest_state_payload(service: LocalSyncService, sync_id: str) -> int:
    """The largest input or output any state of the sync's execution carried, in bytes."""
    sfn = service.cloud.client("stepfunctions")
    execution_arn = f"{service.cloud.state_machine_arn().replace(':stateMachine:', ':execution:')}:{sync_id}"
    sizes = [0]
    for event in sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]:
        for details in event.values():
            if isinstance(details, dict):
                sizes += [len(str(details[key]).encode()) for key in ("input", "output") if details.get(key)]
    return max(sizes)


def test_state_payloads_do_not_grow_with_the_customer(service):
    small = sync(service, {"salesforceAccountId": MIXED})
    large = sync(service, {"salesforceAccountId": LARGE})

    small_payload, large_payload = largest_state_payload(service, small["syncId"]), largest_state_payload(service, large["syncId"])

    # 3 and 45 subscriptions: the receipts live in DynamoDB and the snapshots in S3; within InlineMapThreshold the
    # inline Map's task list is in the state (a subscription's number and keys, ~110 bytes), bounded by
    # INLINE_STATE_BUDGET_BYTES, past it only the S3 key of the list: far below Step Functions' 256 KiB either way.
    assert large["total"] == 15 * small["total"]
    assert small_payload < large_payload < small_payload + 45 * 200 and large_payload < INLINE_STATE_BUDGET_BYTES


def job_items(service: LocalSyncService, sync_id: str) -> list[str]:
    table = service.cloud.template.tables["SyncJobsTable"].name
    query = {"TableName": table, "KeyConditionExpression": "syncId = :s", "ExpressionAttributeValues": {":s": {"S": sync_id}}}
    return [item["itemKey"]["S"] for item in service.cloud.client("dynamodb").query(**query)["Items"]]


def test_unchanged_subscriptions_cost_no_write_each(service):
    sync(service, {"salesforceAccountId": LARGE})  # after the tests that need LARGE's first sync

    job = sync(service, {"salesforceAccountId": LARGE})

    assert set(outcomes(job).values()) == {"UNCHANGED"} and len(outcomes(job)) == 45
    items = job_items(service, job["syncId"])
    # The job's header and one summary per sync task (45 subscriptions over one inline wave of at most
    # InlineMapMaxConcurrency, 20, tasks), no receipt of their own.
    assert not [key for key in items if key.startswith("SUB#")]
    assert len([key for key in items if key.startswith("UNCHANGED#")]) <= 20 and "JOB" in items
