"""A write that loses to a concurrent transaction is tried again after a full-jitter backoff; one that keeps losing,
or a store that stays throttled, is a transient STORE_UNAVAILABLE (the API's 503), never an unclassified error."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from limio_sync.errors import ErrorCode, TransientSyncError
from limio_sync.stores import aws


def client_error(code: str, reasons: list[str] | None = None) -> ClientError:
    response = {"Error": {"Code": code, "Message": code}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": reason} for reason in reasons]
    return ClientError(response, "TransactWriteItems")


class Flaky:
    def __init__(self, *errors: ClientError):
        self.errors, self.calls = list(errors), 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "written"


def test_a_conflict_that_clears_is_retried_after_jittered_waits_that_grow():
    sleeps: list[float] = []
    call = Flaky(client_error("TransactionConflictException"), client_error("TransactionCanceledException", ["None", "TransactionConflict"]))

    assert aws.retry_conflicts(call, "The job store", sleep=sleeps.append) == "written"

    assert call.calls == 3 and len(sleeps) == 2
    for attempt, waited in enumerate(sleeps, start=1):
        assert 0 <= waited <= min(aws.CONFLICT_BACKOFF_CAP_SECONDS, aws.CONFLICT_BACKOFF_BASE_SECONDS * 2**attempt)


def test_full_jitter_spreads_the_wait_over_the_whole_window():
    assert aws.full_jitter(3, rng=lambda: 0.0) == 0.0
    assert aws.full_jitter(3, rng=lambda: 1.0) == aws.CONFLICT_BACKOFF_BASE_SECONDS * 8
    assert aws.full_jitter(30, rng=lambda: 1.0) == aws.CONFLICT_BACKOFF_CAP_SECONDS


def test_a_conflict_that_does_not_clear_is_store_unavailable_after_the_last_try():
    call = Flaky(*[client_error("TransactionCanceledException", ["TransactionConflict"])] * aws.CONFLICT_ATTEMPTS)

    with pytest.raises(TransientSyncError) as raised:
        aws.retry_conflicts(call, "The job store", sleep=lambda _: None)

    assert raised.value.code is ErrorCode.STORE_UNAVAILABLE and call.calls == aws.CONFLICT_ATTEMPTS
    assert "The job store is busy" in raised.value.message


def test_a_failed_condition_is_the_callers_answer_not_a_conflict_to_retry():
    call = Flaky(client_error("TransactionCanceledException", ["None", "ConditionalCheckFailed", "TransactionConflict"]))

    with pytest.raises(ClientError):
        aws.retry_conflicts(call, "The job store", sleep=lambda _: pytest.fail("a condition failure is not retried"))

    assert call.calls == 1


def test_throttling_left_after_botocores_retries_is_store_unavailable():
    with pytest.raises(TransientSyncError) as raised:
        aws.retry_conflicts(Flaky(client_error("ProvisionedThroughputExceededException")), "The job store", sleep=lambda _: None)

    assert raised.value.code is ErrorCode.STORE_UNAVAILABLE
