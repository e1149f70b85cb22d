"""How a customer's subscriptions are cut into the Map's sync tasks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from limio_sync.batching import MAX_PER_TASK, MAX_ZUORA_READS_PER_TASK, batch_size, inline_tasks, plan_batches
from limio_sync.models import SyncBatch, SyncItem


def test_a_small_customer_gets_one_task_per_subscription():
    snapshotted, from_zuora = plan_batches(["A-S1", "A-S2", "A-S3"], [], concurrency=10)
    assert snapshotted == [["A-S1"], ["A-S2"], ["A-S3"]] and from_zuora == []


def test_a_larger_customer_fills_one_wave_of_tasks():
    numbers = [f"A-S{i}" for i in range(100)]
    snapshotted, _ = plan_batches(numbers, [], concurrency=10)
    assert len(snapshotted) == 10 and {len(task) for task in snapshotted} == {10}


def test_past_one_wave_of_full_tasks_more_waves_of_full_tasks():
    assert batch_size(10_000, concurrency=10) == MAX_PER_TASK
    snapshotted, _ = plan_batches(list(range(10_000)), [], concurrency=10)
    assert len(snapshotted) == 100


def test_subscriptions_read_from_zuora_by_number_go_in_short_tasks():
    snapshotted, from_zuora = plan_batches(list(range(500)), ["gone-1", "gone-2"], concurrency=5)
    assert {len(task) for task in snapshotted} == {100}
    assert from_zuora == [["gone-1", "gone-2"]]
    _, only_from_zuora = plan_batches([], list(range(45)), concurrency=2)
    assert {len(task) for task in only_from_zuora} == {MAX_ZUORA_READS_PER_TASK, 5}


@given(
    listed=st.lists(st.integers(), max_size=2_000),
    gone=st.lists(st.integers(), max_size=50),
    concurrency=st.integers(min_value=1, max_value=40),
)
def test_every_subscription_is_in_exactly_one_task_of_bounded_size(listed, gone, concurrency):
    snapshotted, from_zuora = plan_batches(listed, gone, concurrency)

    assert [n for task in snapshotted for n in task] == listed
    assert [n for task in from_zuora for n in task] == gone
    assert all(1 <= len(task) <= MAX_PER_TASK for task in snapshotted)
    assert all(1 <= len(task) <= MAX_ZUORA_READS_PER_TASK for task in from_zuora)
    if len(listed) + len(gone) <= concurrency:
        assert all(len(task) == 1 for task in snapshotted + from_zuora)
    if len(listed) <= MAX_PER_TASK * concurrency:
        assert len(snapshotted) <= concurrency


def _planned(counts: list[int]) -> list[SyncBatch]:
    return [
        SyncBatch(
            batchId=f"plan-{b:04d}",
            items=[SyncItem(subscriptionNumber=f"A-S{b:02d}{i:03d}", accountNumber="A001") for i in range(count)],
            snapshotKey=f"syncs/s/batches/plan-{b:04d}.json",
        )
        for b, count in enumerate(counts)
    ]


def test_a_customer_within_the_concurrency_gets_one_inline_task_per_subscription_reading_its_batch_snapshot():
    inline = inline_tasks(_planned([2, 3]), threshold=100, concurrency=20)

    assert inline is not None and [task.numbers for task in inline] == [["A-S00000"], ["A-S00001"], ["A-S01000"], ["A-S01001"], ["A-S01002"]]
    assert {task.snapshotKey for task in inline[:2]} == {"syncs/s/batches/plan-0000.json"}
    assert len({task.batchId for task in inline}) == 5


@given(counts=st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=10), concurrency=st.integers(min_value=1, max_value=40))
def test_inline_tasks_fill_about_one_wave_and_keep_every_subscription_once(counts, concurrency):
    planned = _planned(counts)
    inline = inline_tasks(planned, threshold=10_000, concurrency=concurrency)

    assert inline is not None
    assert [n for task in inline for n in task.numbers] == [n for batch in planned for n in batch.numbers]
    assert len(inline) <= max(concurrency, len(planned)) + len(planned)
    assert all(task.snapshotKey in {batch.snapshotKey for batch in planned} for task in inline)


def test_a_customer_past_the_threshold_keeps_the_batched_tasks_of_the_distributed_map():
    assert inline_tasks(_planned([3, 3]), threshold=5, concurrency=20) is None
    assert inline_tasks(_planned([1]), threshold=0, concurrency=20) is None


def test_tasks_that_would_not_fit_the_state_go_to_the_distributed_map_whatever_the_threshold():
    planned = [SyncBatch(batchId=f"zuora-{i:04d}", items=[SyncItem(subscriptionNumber="S" + f"{i:05d}" * 16)]) for i in range(1500)]
    assert inline_tasks(planned, threshold=10_000, concurrency=40) is None
    assert inline_tasks(planned[:100], threshold=10_000, concurrency=40) is not None
