"""How a customer's subscriptions are cut into the Map's sync tasks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from limio_sync.batching import MAX_PER_TASK, MAX_ZUORA_READS_PER_TASK, batch_size, plan_batches


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
