"""What planning hands the state machine for each Map: within the threshold, one wave of tasks in the state and
the same tasks in the S3 list GatherResults checks; past it, only the S3 list of the batched tasks."""

from __future__ import annotations

import datetime as dt

from limio_sync.models import CustomerRef
from limio_sync.planning import plan_sync
from tests.unit.test_planning import CRM_ID, FakeZuora, JobRecords, Limio, Memory

SYNC_ID = "sync-" + "0" * 32


def plan(threshold: int, concurrency: int = 20):
    snapshots, lists = Memory(), Memory()
    planned = plan_sync(
        SYNC_ID,
        CustomerRef(salesforceAccountId=CRM_ID),
        FakeZuora(),
        snapshots,
        Limio(),
        lists,
        JobRecords(),
        today=dt.date(2026, 11, 25),
        concurrency=10,
        inline_threshold=threshold,
        inline_concurrency=concurrency,
    )
    return planned, lists.objects[planned.items.key], snapshots.objects


def test_within_the_threshold_the_plan_carries_one_wave_of_inline_tasks_and_lists_the_same_tasks_in_s3():
    planned, listed, snapshots = plan(threshold=29, concurrency=20)

    assert planned.inline is not None
    assert [task.model_dump(exclude_none=True) for task in planned.inline] == listed
    assert 20 <= len(planned.inline) <= 22 and sum(len(task.items) for task in planned.inline) == planned.total == 29
    for task in planned.inline:  # every task reads its subscriptions from a snapshot that holds them
        assert set(task.numbers) <= set(snapshots[task.snapshotKey]["subscriptions"])
    assert "inline" in planned.model_dump(mode="json", exclude_none=True)


def test_past_the_threshold_the_state_carries_only_where_the_batched_tasks_are():
    planned, listed, _ = plan(threshold=28)

    assert planned.inline is None and "inline" not in planned.model_dump(mode="json", exclude_none=True)
    assert len(listed) == 7 and sum(len(task["items"]) for task in listed) == 29
