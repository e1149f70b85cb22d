"""Repeat clicks, idempotency keys, scheduled retries that heal, dead letters and their replay, and jobs
that never stay RUNNING — through the real state machine, handlers and local EventBridge."""

from __future__ import annotations

import json
import time

import pytest

from local.lfs_client import poll_until_done, start_sync
from local.service import LocalSyncService
from tests import zuora_fixtures as z
from tests.lfs_calls import get_job, post, wait_for

SLOW = z.salesforce_id("SLOW1")
HEALS = z.salesforce_id("HEALS1")
EXHAUSTS = z.salesforce_id("EXHAUST1")
ELSEWHERE = z.salesforce_id("ELSEWHERE1")
REPLANS = z.salesforce_id("REPLANS1")
NEVER_PLANS = z.salesforce_id("NEVERPLANS1")


def reliability_tenant() -> dict:
    accounts = [
        z.account("A00000601", SLOW),
        z.account("A00000701", HEALS),
        z.account("A00000801", EXHAUSTS),
        z.account("A00000901", ELSEWHERE),
        z.account("A00001001", REPLANS),
        z.account("A00001101", NEVER_PLANS),
    ]
    subscriptions = [
        z.subscription("A-S00000601", "A00000601"),
        z.subscription("A-S00000701", "A00000701"),
        z.subscription("A-S00000702", "A00000701"),
        z.subscription("A-S00000801", "A00000801"),
        z.subscription("A-S00000802", "A00000801"),
        z.subscription("A-S00001001", "A00001001"),
    ]
    return z.tenant(accounts, subscriptions)


@pytest.fixture(scope="module")
def service():
    fast_retries = {
        "RETRY_INTERVAL_MINUTES": "0.005",  # 0.3 s: the schedule is fired by the test, the backoff must have elapsed
        "RETRY_MAX_ATTEMPTS": "2",
        "ZUORA_MAX_ATTEMPTS": "2",
    }
    with LocalSyncService(
        reliability_tenant(), parameter_overrides={"SubscriptionRetryMaxAttempts": "1"}, environment_overrides=fast_retries
    ) as running:
        yield running


def sync(service, customer: dict) -> dict:
    started = start_sync(service.api_url, customer, credentials=service.credentials)
    return poll_until_done(started["statusUrl"], timeout=90, credentials=service.credentials)








def move_out_of_customer(service, number: str) -> None:
    """Owner transfer in Zuora: the customer's next sync must re-read the subscription by number."""
    service.emulator.move_subscription(number, "A00000901")


def fail_reads_of(service, number: str, times: int | None) -> None:
    service.emulator.add_fault({"method": "GET", "path": f"/v1/subscriptions/{number}", "status": 503, "times": times})


def test_a_repeat_click_while_the_sync_runs_returns_the_same_sync(service):
    service.emulator.set_latency(400)
    try:
        first = post(service, {"salesforceAccountId": SLOW})
        second = post(service, {"salesforceAccountId": SLOW[:15]})  # the same account, by its 15-character id
    finally:
        service.emulator.set_latency(0)

    assert first.status_code == second.status_code == 202
    assert first.json()["syncId"] == second.json()["syncId"]
    done = poll_until_done(first.json()["statusUrl"], credentials=service.credentials)
    assert done["status"] == "SUCCEEDED"
    third = post(service, {"salesforceAccountId": SLOW})
    assert third.json()["syncId"] != first.json()["syncId"]
    poll_until_done(third.json()["statusUrl"], credentials=service.credentials)


def test_an_idempotency_key_replays_the_first_reply_and_rejects_another_body(service):
    first = post(service, {"salesforceAccountId": SLOW}, **{"Idempotency-Key": "lfs-click-42"})
    poll_until_done(first.json()["statusUrl"], credentials=service.credentials)

    again = post(service, {"salesforceAccountId": SLOW}, **{"Idempotency-Key": "lfs-click-42"})
    other = post(service, {"zuoraAccountNumber": "A00000601"}, **{"Idempotency-Key": "lfs-click-42"})

    assert again.status_code == 202 and again.json() == first.json()
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_transient_failure_is_healed_by_the_scheduled_retry(service):
    sync(service, {"salesforceAccountId": HEALS})
    move_out_of_customer(service, "A-S00000702")
    fail_reads_of(service, "A-S00000702", times=4)  # 2 client attempts x 2 state-machine attempts: the run fails

    job = sync(service, {"salesforceAccountId": HEALS})

    assert job["status"] == "PARTIALLY_FAILED" and job["failedSubscriptions"] == ["A-S00000702"]
    [failed] = [r for r in job["subscriptions"] if r["outcome"] == "FAILED"]
    assert failed["retryable"] is True and failed["errorCode"] == "ZUORA_UNAVAILABLE"

    time.sleep(0.5)
    [run] = [r for r in service.events.fire_schedules() if r["started"]]
    healed = wait_for(lambda: (j := get_job(service, job["syncId"]))["status"] == "SUCCEEDED" and j)

    assert run["started"][0].startswith(job["syncId"] + "-retry-")
    assert healed["failedSubscriptions"] == [] and healed["notification"].startswith("All 2 subscriptions")
    assert {r["subscriptionNumber"]: r["outcome"] for r in healed["subscriptions"]} == {"A-S00000701": "UNCHANGED", "A-S00000702": "UPDATED"}
    moved = [r for r in service.limio_subscriptions() if r["subscriptionNumber"] == "A-S00000702"][0]
    assert moved["zuoraAccountNumber"] == "A00000901"


def test_a_sync_whose_planning_failed_for_a_transient_reason_is_planned_again_by_the_schedule(service):
    # Given Zuora's account lookup fails through every retry of the client and of the state machine
    service.emulator.add_fault({"method": "GET", "path": "/object-query/accounts", "status": 503})
    try:
        job = sync(service, {"salesforceAccountId": REPLANS})
    finally:
        service.emulator.clear_faults()
    assert job["status"] == "FAILED" and job["error"]["errorCode"] == "ZUORA_UNAVAILABLE"

    # When the retry schedule fires once the backoff has elapsed
    wait_for(lambda: any(run["started"] for run in service.events.fire_schedules()))
    healed = wait_for(lambda: (j := get_job(service, job["syncId"]))["status"] == "SUCCEEDED" and j)

    # Then the original job was planned again and shows the outcome
    assert healed["error"] is None and healed["total"] == 1
    assert {r["subscriptionNumber"]: r["outcome"] for r in healed["subscriptions"]} == {"A-S00001001": "CREATED"}
    assert healed["notification"].startswith("All 1 subscription is in sync")


def test_after_the_attempt_cap_the_failure_is_dead_lettered_and_an_operator_can_replay_it(service):
    sync(service, {"salesforceAccountId": EXHAUSTS})
    move_out_of_customer(service, "A-S00000802")
    fail_reads_of(service, "A-S00000802", times=None)
    job = sync(service, {"salesforceAccountId": EXHAUSTS})
    assert job["failedSubscriptions"] == ["A-S00000802"]

    for _ in range(2):  # RETRY_MAX_ATTEMPTS scheduled attempts, each failing; a tick before the backoff elapsed starts none
        wait_for(lambda: any(run["started"] for run in service.events.fire_schedules()))
        wait_for(lambda: not _retry_running(service, job["syncId"]))

    queue_url = service.cloud.client("sqs").get_queue_url(QueueName=service.cloud.template.queues["FailedSyncsDeadLetterQueue"].name)["QueueUrl"]
    attributes = service.cloud.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"
    assert get_job(service, job["syncId"])["failedSubscriptions"] == ["A-S00000802"]

    service.emulator.clear_faults()
    replayed = service.cloud.invoke("RetryFailedSyncsFunction", {"replayDeadLetters": True})
    service.events.fire_schedules()
    healed = wait_for(lambda: (j := get_job(service, job["syncId"]))["status"] == "SUCCEEDED" and j)

    assert replayed == {"replayed": 1}
    assert healed["failedSubscriptions"] == []


def _retry_running(service, sync_id: str) -> bool:
    sfn = service.cloud.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=service.cloud.state_machine_arn())["executions"]
    return any(e["name"].startswith(sync_id + "-retry-") and e["status"] == "RUNNING" for e in executions)


def test_an_aborted_execution_still_ends_its_job_failed_with_a_reason(service):
    service.emulator.set_latency(1500)
    try:
        started = start_sync(service.api_url, {"zuoraAccountNumber": "A00000601"}, credentials=service.credentials)
        sfn = service.cloud.client("stepfunctions")
        execution_arn = f"{service.cloud.state_machine_arn().replace(':stateMachine:', ':execution:')}:{started['syncId']}"
        wait_for(lambda: any(e["type"].endswith("Scheduled") for e in sfn.get_execution_history(executionArn=execution_arn)["events"]))
        sfn.stop_execution(executionArn=execution_arn, error="OperatorStopped", cause="stopped by an operator")
        job = poll_until_done(started["statusUrl"], timeout=30, credentials=service.credentials)
    finally:
        service.emulator.set_latency(0)

    assert job["status"] == "FAILED"
    assert job["error"]["errorCode"] == "EXECUTION_FAILED" and "was stopped" in job["error"]["message"]
    delivered = [event for target, event in service.events.delivered if target == "JobFailureFunction"]
    assert any(event["detail"]["name"] == started["syncId"] and event["detail"]["status"] == "ABORTED" for event in delivered)


def test_the_template_routes_failed_timed_out_and_aborted_executions_to_the_job_failure_function(service):
    [rule] = [r for r in service.cloud.template.event_rules if r.kind == "rule"]

    assert rule.targets == ("JobFailureFunction",)
    assert sorted(rule.pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert rule.pattern["detail"]["stateMachineArn"] == [service.cloud.state_machine_arn()]
    definition = service.cloud.template.state_machines["SyncStateMachine"].definition
    assert definition["TimeoutSeconds"] > 0
    assert json.dumps(definition).count('"States.ALL"') >= 3


def test_a_plan_that_keeps_failing_is_dead_lettered_after_the_attempt_cap(service):
    # Given Zuora's account lookup keeps failing (after the subscription dead-letter test has drained the queue)
    service.emulator.add_fault({"method": "GET", "path": "/object-query/accounts", "status": 503})
    try:
        job = sync(service, {"salesforceAccountId": NEVER_PLANS})
        # When the schedule plans it again RETRY_MAX_ATTEMPTS times, each attempt failing
        for _ in range(2):
            wait_for(lambda: any(run["started"] for run in service.events.fire_schedules()))
            wait_for(lambda: get_job(service, job["syncId"])["status"] == "FAILED" and not _retry_running(service, job["syncId"]))
    finally:
        service.emulator.clear_faults()

    # Then the job's failure goes to the dead-letter queue, and no further plan is started
    sqs = service.cloud.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=service.cloud.template.queues["FailedSyncsDeadLetterQueue"].name)["QueueUrl"]
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])]
    assert [(b["syncId"], b.get("subscriptionNumber"), b["attempts"]) for b in bodies] == [(job["syncId"], None, 2)]
    time.sleep(0.5)  # past any backoff: a tick would start a plan if one were still queued
    assert not any(run["started"] for run in service.events.fire_schedules())
    assert get_job(service, job["syncId"])["error"]["errorCode"] == "ZUORA_UNAVAILABLE"
