"""Ending the jobs whose execution never started.

POST /syncs records the job and the customer's lock, then starts the execution. If the API dies in between
(a timeout, running out of memory) or cannot end the job after a failed start, no execution exists, so no
EventBridge event will ever end the job, and every click on that customer would join it until the lock's lease
runs out. The sweep, on a schedule, looks at the jobs still waiting for their execution after a grace period:
one whose execution exists is confirmed (from then on its execution's end is reported by EventBridge); one
without is ended FAILED with SYNC_NOT_STARTED, which frees the customer's lock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

from limio_sync.errors import ErrorCode
from limio_sync.models import JobFailure

NOT_STARTED = JobFailure(errorCode=ErrorCode.SYNC_NOT_STARTED, message="the sync could not be started; try again.")


class UnstartedJobs(Protocol):
    def awaiting_execution(self, recorded_before: dt.datetime, limit: int = 100) -> list[str]: ...
    def confirm_started(self, sync_id: str) -> None: ...
    def fail(self, sync_id: str, failure: JobFailure) -> bool: ...


class Executions(Protocol):
    def exists(self, name: str) -> bool: ...


@dataclass
class SweepReport:
    ended: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)


def sweep_unstarted_jobs(*, jobs: UnstartedJobs, executions: Executions, now: dt.datetime, grace: dt.timedelta) -> SweepReport:
    report = SweepReport()
    for sync_id in jobs.awaiting_execution(recorded_before=now - grace):
        if executions.exists(sync_id):
            jobs.confirm_started(sync_id)
            report.confirmed.append(sync_id)
        elif jobs.fail(sync_id, NOT_STARTED):
            report.ended.append(sync_id)
    return report
