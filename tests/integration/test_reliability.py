"""Repeat clicks, idempotency keys, scheduled retries that heal, dead letters and their replay, jobs that never
stay RUNNING (not even when the API dies before starting their execution), a busy job store answered 503, a task
that dies after writing, and a bound on Zuora requests across customers — through the real state machine,
handlers and local EventBridge."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from limio_sync import ids
from limio_sync.stores import aws
from limio_sync.stores.limio_customers import LimioCustomerStore
from local.auth import SigV4RequestAuth
from local.lfs_client import poll_until_done, start_sync
from local.service import LocalSyncService
from tests import zuora_fixtures as z
from tests.lfs_calls import get_job, post, wait_for

SLOW = z.salesforce_id("SLOW1")
HEALS = z.salesforce_id("HEALS1")
EXHAUSTS = z.salesforce_id("EXHAUST1")
ELSEWHERE = z.salesforce_id("ELSEWHERE1")
RETRY_SCHEDULE = "RetryFailedSyncsFunction"
SWEEP_SCHEDULE = "SweepUnstartedJobsFunction"
ORPHANED = z.salesforce_id("ORPHAN1")
UNENDED = z.salesforce_id("UNENDED1")
STORMED = z.salesforce_id("STORM1")
DIES = z.salesforce_id("DIES1")
REFUSED_START = z.salesforce_id("NOSTART1")
ZUORA_BOUND = 3
BUSY = [z.salesforce_id(f"BUSY{i}") for i in range(8)]
REPLANS = z.salesforce_id("REPLANS1")
NEVER_PLANS = z.salesforce_id("NEVERPLANS1")


def reliability_tenant() -> dict:
    accounts = [
        z.account("A00000601", SLOW),
        z.account("A00000701", HEALS),
        z.account("A00000801", EXHAUSTS),
        z.account("A00000901", ELSEWHERE),
        z.account("A00001001", ORPHANED),
        z.account("A00001101", UNENDED),
        z.account("A00001201", STORMED),
        z.account("A00001301", DIES),
        z.account("A00001501", REFUSED_START),
        *[z.account(f"A0000140{i}", crm_id) for i, crm_id in enumerate(BUSY)],
        z.account("A00001601", REPLANS),
        z.account("A00001701", NEVER_PLANS),
    ]
    subscriptions = [
        z.subscription("A-S00000601", "A00000601"),
        z.subscription("A-S00000701", "A00000701"),
        z.subscription("A-S00000702", "A00000701"),
        z.subscription("A-S00000801", "A00000801"),
        z.subscription("A-S00000802", "A00000801"),
        z.subscription("A-S00001001", "A00001001"),
        z.subscription("A-S00001601", "A00001601"),
        z.subscription("A-S00001101", "A00001101"),
        z.subscription("A-S00001201", "A00001201"),
        z.subscription("A-S00001301", "A00001301"),
        z.subscription("A-S00001501", "A00001501"),
        *[z.subscription(f"A-S0000140{i}", f"A0000140{i}") for i in range(len(BUSY))],
    ]
    return z.tenant(accounts, subscriptions)


@pytest.fixture(scope="module")
def service():
    fast_retries = {
        "RETRY_INTERVAL_MINUTES": "0.005",  # 0.3 s: the schedule is fired by the test, the backoff must have elapsed
        "RETRY_MAX_ATTEMPTS": "2",
        "ZUORA_MAX_ATTEMPTS": "2",
        "UNSTARTED_JOB_GRACE_SECONDS": "0",  # the sweep is fired by the tests, after the API has died
    }
    parameters = {"SubscriptionRetryMaxAttempts": "1", "ZuoraMaxConcurrentRequests": str(ZUORA_BOUND)}
    with LocalSyncService(reliability_tenant(), parameter_overrides=parameters, environment_overrides=fast_retries) as running:
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
    [run] = [r for r in service.events.fire_schedules(RETRY_SCHEDULE) if r["started"]]
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
    wait_for(lambda: any(run["started"] for run in service.events.fire_schedules(RETRY_SCHEDULE)))
    healed = wait_for(lambda: (j := get_job(service, job["syncId"]))["status"] == "SUCCEEDED" and j)

    # Then the original job was planned again and shows the outcome
    assert healed["error"] is None and healed["total"] == 1
    assert {r["subscriptionNumber"]: r["outcome"] for r in healed["subscriptions"]} == {"A-S00001601": "CREATED"}
    assert healed["notification"].startswith("All 1 subscription is in sync")


def test_after_the_attempt_cap_the_failure_is_dead_lettered_and_an_operator_can_replay_it(service):
    sync(service, {"salesforceAccountId": EXHAUSTS})
    move_out_of_customer(service, "A-S00000802")
    fail_reads_of(service, "A-S00000802", times=None)
    job = sync(service, {"salesforceAccountId": EXHAUSTS})
    assert job["failedSubscriptions"] == ["A-S00000802"]

    for _ in range(2):  # RETRY_MAX_ATTEMPTS scheduled attempts, each failing; a tick before the backoff elapsed starts none
        wait_for(lambda: any(run["started"] for run in service.events.fire_schedules(RETRY_SCHEDULE)))
        wait_for(lambda: not _retry_running(service, job["syncId"]))

    queue_url = service.cloud.client("sqs").get_queue_url(QueueName=service.cloud.template.queues["FailedSyncsDeadLetterQueue"].name)["QueueUrl"]
    attributes = service.cloud.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"
    assert get_job(service, job["syncId"])["failedSubscriptions"] == ["A-S00000802"]

    service.emulator.clear_faults()
    replayed = service.cloud.invoke("RetryFailedSyncsFunction", {"replayDeadLetters": True})
    service.events.fire_schedules(RETRY_SCHEDULE)
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


# ------------------------------------------------------------------ no job without an end


class ApiFunctionDied(BaseException):
    """The API function's process ending mid-request (a timeout, running out of memory): no except block runs."""


def on_aws_call(event: str, answer):
    """Intercept one AWS operation of the functions' shared clients (botocore's before-call event)."""
    client = {"states": aws.client("stepfunctions"), "dynamodb": aws.resource("dynamodb").meta.client}[event.split(".")[1]]

    def intercept(**_):
        return answer()

    client.meta.events.register(event, intercept)
    return lambda: client.meta.events.unregister(event, intercept)


class _RefusedHttp:
    status_code = 400
    headers: dict = {}


def aws_error(code: str, **extra):
    """An answer AWS could give: botocore raises it as the ClientError `code`."""
    return lambda: (_RefusedHttp(), {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": 400}, **extra})


def die():
    raise ApiFunctionDied()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the function's death, on the gateway's thread
@pytest.mark.parametrize(
    ("customer", "breakage"),
    [
        pytest.param(ORPHANED, [("before-call.states.StartExecution", die)], id="the API dies between the job write and StartExecution"),
        pytest.param(
            UNENDED,
            [
                ("before-call.states.StartExecution", aws_error("ServiceUnavailable")),
                ("before-call.dynamodb.UpdateItem", aws_error("ThrottlingException")),
            ],
            id="the start fails and so does ending the job",
        ),
    ],
)
def test_a_job_whose_execution_never_started_is_ended_by_the_sweep_and_frees_its_customer(service, customer, breakage):
    restore = [on_aws_call(event, answer) for event, answer in breakage]
    try:
        try:
            first = post(service, {"salesforceAccountId": customer})
            assert first.status_code >= 500
        except requests.ConnectionError:
            pass  # the function died: the gateway's connection closed without an answer
        joined = post(service, {"salesforceAccountId": customer}).json()
    finally:
        for undo in restore:
            undo()
    assert get_job(service, joined["syncId"])["status"] == "RUNNING"  # no execution will ever end it

    [swept] = service.events.fire_schedules(SWEEP_SCHEDULE)

    job = get_job(service, joined["syncId"])
    assert swept["ended"] == [joined["syncId"]]
    assert job["status"] == "FAILED" and job["error"]["errorCode"] == "SYNC_NOT_STARTED"
    assert job["notification"] == "Sync failed: the sync could not be started; try again."
    again = post(service, {"salesforceAccountId": customer}).json()
    assert again["syncId"] != joined["syncId"]
    assert poll_until_done(again["statusUrl"], credentials=service.credentials)["status"] == "SUCCEEDED"


def test_a_start_step_functions_refuses_ends_its_job_at_once_and_is_503_with_retry_after(service):
    undo = on_aws_call("before-call.states.StartExecution", aws_error("ServiceUnavailable"))
    try:
        refused = post(service, {"salesforceAccountId": REFUSED_START})
    finally:
        undo()

    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "SYNC_NOT_STARTED"
    again = post(service, {"salesforceAccountId": REFUSED_START}).json()  # the job was ended and its lock freed
    assert poll_until_done(again["statusUrl"], credentials=service.credentials)["status"] == "SUCCEEDED"


def test_the_sweep_leaves_a_job_whose_execution_runs(service):
    started = start_sync(service.api_url, {"salesforceAccountId": SLOW}, credentials=service.credentials)

    [swept] = service.events.fire_schedules(SWEEP_SCHEDULE)

    assert started["syncId"] not in swept["ended"]
    assert poll_until_done(started["statusUrl"], credentials=service.credentials)["status"] == "SUCCEEDED"


# ------------------------------------------------------------------ a busy job store


def test_a_click_storm_that_keeps_conflicting_on_the_lock_is_503_store_unavailable_with_retry_after(service):
    conflicts = []

    def conflict():
        conflicts.append(time.monotonic())
        reasons = [{"Code": "None"}, {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
        return aws_error("TransactionCanceledException", CancellationReasons=reasons)()

    undo = on_aws_call("before-call.dynamodb.TransactWriteItems", conflict)
    try:
        reply = post(service, {"salesforceAccountId": STORMED})
    finally:
        undo()

    assert reply.status_code == 503 and int(reply.headers["Retry-After"]) >= 1
    assert reply.json() == {"error": {"code": "STORE_UNAVAILABLE", "message": "The service is busy right now; try again in a moment."}}
    assert len(conflicts) == aws.CONFLICT_ATTEMPTS  # tried again with backoff before giving up


def test_a_conflict_that_clears_is_absorbed_by_the_jittered_retry(service):
    conflicts = []

    def conflict_twice():
        if len(conflicts) < 2:
            conflicts.append(1)
            return aws_error("TransactionCanceledException", CancellationReasons=[{"Code": "TransactionConflict"}])()
        return None  # let the call through

    undo = on_aws_call("before-call.dynamodb.TransactWriteItems", conflict_twice)
    try:
        reply = post(service, {"salesforceAccountId": STORMED})
    finally:
        undo()

    assert reply.status_code == 202 and len(conflicts) == 2
    poll_until_done(reply.json()["statusUrl"], credentials=service.credentials)


def test_a_throttled_job_store_on_a_poll_is_503_store_unavailable_not_a_502(service):
    undo = on_aws_call("before-call.dynamodb.GetItem", aws_error("ProvisionedThroughputExceededException"))
    try:
        reply = requests.get(f"{service.api_url}/syncs/sync-{'3' * 32}", auth=SigV4RequestAuth(service.credentials), timeout=10)
    finally:
        undo()

    assert reply.status_code == 503 and reply.headers["Retry-After"] == "1"
    assert reply.json()["error"]["code"] == "STORE_UNAVAILABLE"


# ------------------------------------------------------------------ a task that dies after writing


class LambdaUnknown(Exception):
    """How Step Functions names a Lambda timeout or out-of-memory (Lambda.Unknown): the local runtime reports an
    error under its class name, so this one reaches the state machine with that name."""


LambdaUnknown.__name__ = "Lambda.Unknown"


def test_a_task_that_dies_after_writing_keeps_its_outcome_and_audit_entry(service, monkeypatch):
    upsert = LimioCustomerStore.upsert_from
    deaths = []

    def die_once_after_writing(store, records, **kwargs):
        if not deaths:
            deaths.append(records)
            raise LambdaUnknown("Task timed out after 60.00 seconds")
        return upsert(store, records, **kwargs)

    monkeypatch.setattr(LimioCustomerStore, "upsert_from", die_once_after_writing)

    job = sync(service, {"salesforceAccountId": DIES})

    assert deaths, "the task did not die"
    assert job["status"] == "SUCCEEDED" and [r["outcome"] for r in job["subscriptions"]] == ["CREATED"]
    events = requests.get(f"{service.api_url}/subscriptions/A-S00001301/events", auth=SigV4RequestAuth(service.credentials), timeout=10).json()[
        "events"
    ]
    assert [(e["syncId"], e["outcome"]) for e in events] == [(job["syncId"], "CREATED")]
    assert events[0]["zuoraVersion"] is not None
    customers = LimioCustomerStore(service.cloud.template.tables["LimioCustomersTable"].name)
    assert customers.get(ids.customer_id(DIES)) is not None  # the retry updated the customer the dead attempt did not


# ------------------------------------------------------------------ a bound on Zuora across customers


def test_many_customers_syncing_at_once_never_exceed_the_global_zuora_bound(service):
    service.emulator.set_latency(150)
    service.emulator.reset_stats()
    started: list[dict] = []
    try:
        clicks = [
            threading.Thread(
                target=lambda c=c: started.append(start_sync(service.api_url, {"salesforceAccountId": c}, credentials=service.credentials))
            )
            for c in BUSY
        ]  # noqa: E501
        for click in clicks:
            click.start()
        for click in clicks:
            click.join()
        jobs = [poll_until_done(s["statusUrl"], timeout=120, credentials=service.credentials) for s in started]
    finally:
        service.emulator.set_latency(0)

    stats = service.emulator.stats
    assert [job["status"] for job in jobs] == ["SUCCEEDED"] * len(BUSY)
    assert stats.total_requests >= 3 * len(BUSY)
    assert stats.peak_in_flight <= ZUORA_BOUND


def test_a_plan_that_keeps_failing_is_dead_lettered_after_the_attempt_cap(service):
    # Given Zuora's account lookup keeps failing (after the subscription dead-letter test has drained the queue)
    service.emulator.add_fault({"method": "GET", "path": "/object-query/accounts", "status": 503})
    try:
        job = sync(service, {"salesforceAccountId": NEVER_PLANS})
        # When the schedule plans it again RETRY_MAX_ATTEMPTS times, each attempt failing
        for _ in range(2):
            wait_for(lambda: any(run["started"] for run in service.events.fire_schedules(RETRY_SCHEDULE)))
            wait_for(lambda: get_job(service, job["syncId"])["status"] == "FAILED" and not _retry_running(service, job["syncId"]))
    finally:
        service.emulator.clear_faults()

    # Then the job's failure goes to the dead-letter queue, and no further plan is started
    sqs = service.cloud.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=service.cloud.template.queues["FailedSyncsDeadLetterQueue"].name)["QueueUrl"]
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])]
    assert [(b["syncId"], b.get("subscriptionNumber"), b["attempts"]) for b in bodies] == [(job["syncId"], None, 2)]
    time.sleep(0.5)  # past any backoff: a tick would start a plan if one were still queued
    assert not any(run["started"] for run in service.events.fire_schedules(RETRY_SCHEDULE))
    assert get_job(service, job["syncId"])["error"]["errorCode"] == "ZUORA_UNAVAILABLE"
