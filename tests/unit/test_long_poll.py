"""`Prefer: wait=N` (RFC 7240): the API answers as soon as the job ends, or after N seconds as a plain call would."""

from __future__ import annotations

import pytest

from limio_sync.api import MAX_WAIT_SECONDS, WAIT_POLL_SECONDS, preferred_wait, wait_for_end
from limio_sync.models import CustomerRef, JobStatus, SyncJob
from tests.clocks import SleepingClock

SYNC_ID = "sync-" + "a" * 32


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, 0),
        ("", 0),
        ("wait=5", 5),
        ("WAIT = 7", 7),
        ('wait="3"', 3),
        ("respond-async, wait=10", 10),
        ("wait=10; foo=bar", 10),
        ("wait=600", MAX_WAIT_SECONDS),
        ("wait=-1", 0),
        ("wait=soon", 0),
        ("return=minimal", 0),
    ],
)
def test_the_wait_a_client_prefers_is_read_as_rfc_7240_writes_it_and_capped(header, seconds):
    assert preferred_wait(header) == seconds


class EndingJobs:
    """A job that ends once `ends_at` has passed on the clock."""

    def __init__(self, clock: SleepingClock, ends_at: float | None) -> None:
        self.clock, self.ends_at, self.reads = clock, ends_at, 0

    def poll(self, sync_id: str) -> SyncJob | None:
        self.reads += 1
        ended = self.ends_at is not None and self.clock.now >= self.ends_at
        status = JobStatus.SUCCEEDED if ended else JobStatus.RUNNING
        return SyncJob(syncId=sync_id, status=status, customer=CustomerRef(zuoraAccountNumber="A001"), startedAt="2026-12-01T00:00:00Z")


def test_a_job_that_ends_while_the_client_waits_is_answered_within_a_poll_interval_of_its_end():
    clock = SleepingClock()
    jobs = EndingJobs(clock, ends_at=1.25)

    job = wait_for_end(SYNC_ID, jobs=jobs, seconds=20, clock=clock, sleep=clock.sleep)

    assert job is not None and job.status is JobStatus.SUCCEEDED
    assert 1.25 <= clock.now < 1.25 + WAIT_POLL_SECONDS + 1e-9


def test_a_job_still_running_after_the_wait_is_answered_as_it_is_then():
    clock = SleepingClock()

    job = wait_for_end(SYNC_ID, jobs=EndingJobs(clock, ends_at=None), seconds=3, clock=clock, sleep=clock.sleep)

    assert job is not None and job.status is JobStatus.RUNNING
    assert clock.now == pytest.approx(3)


def test_an_unknown_job_is_answered_at_once():
    clock = SleepingClock()

    class NoJobs:
        def poll(self, sync_id: str) -> None:
            return None

    assert wait_for_end(SYNC_ID, jobs=NoJobs(), seconds=20, clock=clock, sleep=clock.sleep) is None
    assert clock.slept == []
