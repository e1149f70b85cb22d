"""The sweep ends a job whose execution never started, once its grace period has passed, and leaves the others."""

from __future__ import annotations

import datetime as dt

from limio_sync.errors import ErrorCode
from limio_sync.sweeping import sweep_unstarted_jobs

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)


class Jobs:
    def __init__(self, recorded: dict[str, dt.datetime], already_ended: set[str] = frozenset()):
        self.recorded, self.already_ended = recorded, already_ended
        self.failed: dict = {}
        self.confirmed: list[str] = []

    def awaiting_execution(self, recorded_before: dt.datetime, limit: int = 100) -> list[str]:
        return [sync_id for sync_id, at in self.recorded.items() if at < recorded_before]

    def confirm_started(self, sync_id: str) -> None:
        self.confirmed.append(sync_id)

    def fail(self, sync_id: str, failure) -> bool:
        if sync_id in self.already_ended:
            return False
        self.failed[sync_id] = failure
        return True


class Executions:
    def __init__(self, names: set[str]):
        self.names = names

    def exists(self, name: str) -> bool:
        return name in self.names


def test_a_job_past_its_grace_without_an_execution_ends_sync_not_started():
    jobs = Jobs({"sync-orphan": NOW - dt.timedelta(minutes=5), "sync-running": NOW - dt.timedelta(minutes=5)})

    report = sweep_unstarted_jobs(jobs=jobs, executions=Executions({"sync-running"}), now=NOW, grace=dt.timedelta(minutes=2))

    assert report.ended == ["sync-orphan"] and report.confirmed == ["sync-running"]
    assert jobs.failed["sync-orphan"].errorCode is ErrorCode.SYNC_NOT_STARTED
    assert jobs.confirmed == ["sync-running"]


def test_a_job_still_within_its_grace_is_left_alone_its_start_may_be_in_progress():
    jobs = Jobs({"sync-just-recorded": NOW - dt.timedelta(seconds=30)})

    report = sweep_unstarted_jobs(jobs=jobs, executions=Executions(set()), now=NOW, grace=dt.timedelta(minutes=2))

    assert report.ended == [] and jobs.failed == {}


def test_a_job_that_ended_meanwhile_is_not_reported_as_ended_by_the_sweep():
    jobs = Jobs({"sync-ended": NOW - dt.timedelta(minutes=5)}, already_ended={"sync-ended"})

    report = sweep_unstarted_jobs(jobs=jobs, executions=Executions(set()), now=NOW, grace=dt.timedelta(minutes=2))

    assert report.ended == []
