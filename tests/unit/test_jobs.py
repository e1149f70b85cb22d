"""Job status and the notification LFS shows."""

from __future__ import annotations

import datetime as dt
import json

from limio_sync.errors import CustomerNotFound, ErrorCode, TransientSyncError, for_state_machine
from limio_sync.jobs import AccountFailure, account_failures_error, failure_from_caught_error, reconcile, summarize
from limio_sync.models import CustomerRef, JobStatus, Outcome, SubscriptionResult
from limio_sync.retries import RetryEntry, RetryPolicy
from limio_sync.retrying import after_plan_failure, retry_execution_name, start_due_retries, sync_id_of_execution


def ok(number, outcome=Outcome.UPDATED):
    return SubscriptionResult(subscriptionNumber=number, outcome=outcome)


def failed(number):
    return SubscriptionResult(subscriptionNumber=number, outcome=Outcome.FAILED, errorCode=ErrorCode.ZUORA_BAD_RESPONSE, message="x")


def lambda_cause(error: Exception) -> str:
    return json.dumps({"errorMessage": str(error), "errorType": type(error).__name__, "stackTrace": ["..."]})


def test_all_synced_is_succeeded_with_counts():
    status, counts, failed_names, notification = summarize([ok("A-S1"), ok("A-S2", Outcome.UNCHANGED), ok("A-S3", Outcome.CREATED)])

    assert status is JobStatus.SUCCEEDED and failed_names == []
    assert counts == {"CREATED": 1, "UPDATED": 1, "UNCHANGED": 1, "FAILED": 0}
    assert notification.startswith("All 3 subscriptions are in sync")


def test_some_failed_names_every_failed_subscription():
    status, _, failed_names, notification = summarize([ok("A-S1"), failed("A-S3"), failed("A-S2")])

    assert status is JobStatus.PARTIALLY_FAILED
    assert failed_names == ["A-S2", "A-S3"]
    assert notification == "1 of 3 subscriptions synced. 2 failed: A-S2, A-S3."


def test_all_failed_is_failed_and_names_them():
    status, _, failed_names, notification = summarize([failed("A-S1"), failed("A-S2")])

    assert status is JobStatus.FAILED and failed_names == ["A-S1", "A-S2"]
    assert "A-S1, A-S2" in notification


def test_no_subscriptions_is_a_success_that_says_so():
    status, _, _, notification = summarize([])
    assert status is JobStatus.SUCCEEDED and "No subscriptions" in notification


def test_a_transient_error_caught_after_retries_keeps_its_code_and_is_retryable():
    raised = for_state_machine(TransientSyncError("Zuora throttled the request", code=ErrorCode.ZUORA_RATE_LIMITED))
    caught = {"Error": type(raised).__name__, "Cause": lambda_cause(raised)}

    [result], _ = reconcile([("plan-0000", ["A-S9"])], {}, {"plan-0000": {"caughtError": json.dumps(caught)}})

    assert result.outcome is Outcome.FAILED and result.retryable
    assert result.errorCode is ErrorCode.ZUORA_RATE_LIMITED
    assert "A-S9" in result.message and "throttled" in result.message


def test_a_lambda_timeout_becomes_a_failed_receipt_naming_the_subscription():
    caught = {"Error": "States.Timeout", "Cause": "timed out"}
    [result], _ = reconcile([("plan-0000", ["A-S7"])], {}, {"plan-0000": {"caughtError": json.dumps(caught)}})

    assert result.outcome is Outcome.FAILED and result.retryable
    assert "A-S7" in result.message


def test_a_failed_task_fails_only_its_subscriptions_without_a_receipt():
    caught = {"Error": "States.Timeout", "Cause": "timed out"}
    stored = {"A-S1": {"subscriptionNumber": "A-S1", "outcome": "CREATED", "zuoraVersion": 1}}
    planned = [("plan-0000", ["A-S1", "A-S2"]), ("plan-0001", ["A-S3"])]

    results, rewrites = reconcile(planned, stored, {"plan-0000": {"caughtError": json.dumps(caught)}})

    assert [(r.subscriptionNumber, r.outcome) for r in results] == [("A-S1", "CREATED"), ("A-S2", "FAILED"), ("A-S3", "FAILED")]
    assert [r.subscriptionNumber for r in rewrites] == ["A-S2", "A-S3"]
    assert "timed out" in rewrites[0].message and "No result was recorded" in rewrites[1].message


def test_plan_failures_keep_the_customer_not_found_code():
    from limio_sync.errors import CustomerNotFound

    raised = for_state_machine(CustomerNotFound("No Zuora account has CRM ID 001."))
    failure = failure_from_caught_error("plan", {"Error": type(raised).__name__, "Cause": lambda_cause(raised)})

    assert failure.errorCode is ErrorCode.CUSTOMER_NOT_FOUND
    assert failure.message == "No Zuora account has CRM ID 001."


def test_an_unexplained_gather_failure_still_gives_a_reason():
    failure = failure_from_caught_error("gather", {"Error": "Lambda.Unknown", "Cause": "boom"})
    assert failure.errorCode is ErrorCode.GATHERING_FAILED and "Lambda.Unknown" in failure.message


def test_every_planned_subscription_gets_exactly_one_receipt_even_when_none_was_recorded():
    stored = {
        "A-S1": {"subscriptionNumber": "A-S1", "outcome": "UPDATED", "zuoraVersion": 2, "recordedAt": "2026-11-25T10:00:00Z"},
        "A-S9": {"subscriptionNumber": "A-S9", "outcome": "CREATED"},
    }

    results, rewrites = reconcile([("plan-0000", ["A-S1"]), ("zuora-0000", ["A-S2"])], stored, {})

    assert [(r.subscriptionNumber, r.outcome) for r in results] == [("A-S1", "UPDATED"), ("A-S2", "FAILED")]
    [missing] = rewrites
    assert missing.subscriptionNumber == "A-S2" and missing.retryable and "A-S2" in missing.message


def test_a_subscription_reports_its_latest_receipt_whether_its_own_or_in_a_tasks_unchanged_summary():
    from limio_sync.jobs import latest_receipts

    failed_then_unchanged = {"subscriptionNumber": "A-S1", "outcome": "FAILED", "retryable": True, "recordedAt": "2026-11-25T10:00:00.000Z"}
    updated_after = {"subscriptionNumber": "A-S2", "outcome": "UPDATED", "zuoraVersion": 4, "recordedAt": "2026-11-25T10:05:00.000Z"}
    summary = {
        "unchanged": {"A-S1": {"zuoraVersion": 3}, "A-S2": {"zuoraVersion": 3}, "A-S3": {"zuoraVersion": 1}},
        "recordedAt": "2026-11-25T10:01:00.000Z",
    }

    latest = latest_receipts([failed_then_unchanged, updated_after], [summary])

    assert {number: (item["outcome"], item.get("zuoraVersion")) for number, item in latest.items()} == {
        "A-S1": ("UNCHANGED", 3),
        "A-S2": ("UPDATED", 4),
        "A-S3": ("UNCHANGED", 1),
    }


def unreadable(number="A00000102", retryable=True):
    return AccountFailure(
        accountNumber=number, errorCode=ErrorCode.ZUORA_UNAVAILABLE, message="Zuora failed on account (HTTP 503)", retryable=retryable
    )


def test_an_account_that_could_not_be_read_keeps_the_job_from_succeeded_and_is_named():
    status, _, failed_names, notification = summarize([ok("A-S1"), ok("A-S2")], [unreadable()])

    assert status is JobStatus.PARTIALLY_FAILED and failed_names == []
    assert notification == "2 of 2 subscriptions synced. Zuora account A00000102 could not be read: Zuora failed on account (HTTP 503)"
    assert account_failures_error([unreadable()]).errorCode is ErrorCode.ZUORA_UNAVAILABLE


def test_a_job_is_failed_only_when_nothing_could_be_synced():
    assert summarize([], [unreadable()])[0] is JobStatus.FAILED
    assert summarize([failed("A-S1")], [unreadable()])[0] is JobStatus.FAILED
    assert summarize([ok("A-S1"), failed("A-S2")], [unreadable()])[0] is JobStatus.PARTIALLY_FAILED
    assert account_failures_error([]) is None


class PlanQueue:
    def __init__(self, exhausted=None):
        self.queued, self.exhausted = [], exhausted

    def queue_replan(self, sync_id, failure, policy, now):
        self.queued.append((sync_id, failure.errorCode))
        return self.exhausted


class Sink:
    def __init__(self):
        self.sent = []

    def send(self, entry):
        self.sent.append(entry)


POLICY = RetryPolicy(interval=dt.timedelta(minutes=5), max_attempts=2)
NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
SYNC = "sync-" + "1" * 32


def caught_from(error: Exception) -> dict:
    raised = for_state_machine(error)
    return {"Error": type(raised).__name__, "Cause": lambda_cause(raised)}


def test_a_transient_planning_failure_is_queued_for_a_scheduled_plan_and_a_permanent_one_is_not():
    transient = caught_from(TransientSyncError("Zuora failed", code=ErrorCode.ZUORA_UNAVAILABLE))
    permanent = caught_from(CustomerNotFound("No Zuora account has CRM ID x"))
    queue, sink = PlanQueue(), Sink()

    assert after_plan_failure(SYNC, failure_from_caught_error("plan", transient), transient, queue=queue, dead_letters=sink, policy=POLICY, now=NOW)
    assert not after_plan_failure(
        SYNC, failure_from_caught_error("plan", permanent), permanent, queue=queue, dead_letters=sink, policy=POLICY, now=NOW
    )
    assert queue.queued == [(SYNC, ErrorCode.ZUORA_UNAVAILABLE)] and sink.sent == []


def test_a_plan_out_of_scheduled_attempts_is_dead_lettered():
    entry = RetryEntry(syncId=SYNC, customer=CustomerRef(zuoraAccountNumber="A1"), attempts=2, nextAttemptAt="2026-12-01T12:00:00Z")
    transient = caught_from(TransientSyncError("Zuora failed", code=ErrorCode.ZUORA_UNAVAILABLE))
    sink = Sink()

    queued = after_plan_failure(
        SYNC, failure_from_caught_error("plan", transient), transient, queue=PlanQueue(exhausted=entry), dead_letters=sink, policy=POLICY, now=NOW
    )

    assert not queued and sink.sent == [entry]


class Queue:
    def __init__(self, entries):
        self.entries, self.reopened = entries, []

    def due_retries(self, now, limit=200):
        return self.entries

    def claim_retry(self, entry, now, lease):
        return True

    def reopen_for_replan(self, entry):
        self.reopened.append(entry)


class Executions:
    def __init__(self):
        self.started = []

    def start_execution(self, **kwargs):
        self.started.append(kwargs)
        return {}


def test_a_due_plan_retry_plans_the_job_again_under_its_own_sync_id():
    customer = CustomerRef(salesforceAccountId="0015g00000Ab3XQAAZ")
    plan = RetryEntry(syncId=SYNC, customer=customer, attempts=0, nextAttemptAt="2026-12-01T11:00:00Z")
    queue, executions = Queue([plan]), Executions()

    started = start_due_retries(queue=queue, executions=executions, item_lists=None, state_machine_arn="arn:sm", concurrency=10, now=NOW)

    assert started == [f"{SYNC}-retry-20261201T120000000"] and queue.reopened == [plan]
    [execution] = executions.started
    assert json.loads(execution["input"]) == {"syncId": SYNC, "customer": {"salesforceAccountId": "0015g00000Ab3XQAAZ"}}  # no items: it plans


def test_two_retry_runs_of_a_sync_within_one_second_get_their_own_execution_names():
    # Step Functions refuses a second execution of a name (ExecutionAlreadyExists); a retry and a re-plan of one
    # sync, or two retries with a short interval, may start within the same second.
    first = retry_execution_name(SYNC, NOW)
    second = retry_execution_name(SYNC, NOW + dt.timedelta(milliseconds=300))
    assert first != second and len(second) <= 80  # Step Functions' limit on execution names
    assert sync_id_of_execution(first) == sync_id_of_execution(second) == SYNC
