"""How a run's subscriptions are cut into the Map's tasks.

One task per subscription costs a child execution and a Lambda invocation each, plus a round of reads and
writes that batches well (one snapshot read, one BatchGetItem of the Limio records, one BatchWriteItem of the
receipts). So the subscriptions are spread over the Map's concurrency: a customer small enough gets one task
per subscription; a larger one gets one wave of tasks of several subscriptions each; past
MAX_PER_TASK × concurrency, more waves of full tasks. Planning cuts each Zuora account on its own, with its
share of the concurrency, so it can let go of an account's data once its tasks are written.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

from limio_sync.models import SyncBatch, SyncItem

# BatchGetItem reads at most 100 keys per call, so one task reads every Limio record it needs at once.
MAX_PER_TASK = 100
# A subscription without a snapshot costs its task three sequential Zuora calls; keep such tasks short.
MAX_ZUORA_READS_PER_TASK = 10

T = TypeVar("T")


def batch_size(count: int, concurrency: int, maximum: int = MAX_PER_TASK) -> int:
    """Subscriptions per task so that `count` of them fill at most one wave of `concurrency` tasks."""
    return max(1, min(maximum, math.ceil(count / max(1, concurrency))))


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def plan_batches(with_snapshots: Sequence[T], from_zuora: Sequence[T], concurrency: int) -> tuple[list[list[T]], list[list[T]]]:
    """The tasks of a run: subscriptions planning snapshotted, and those the task reads from Zuora by number."""
    size = batch_size(len(with_snapshots) + len(from_zuora), concurrency)
    return chunks(with_snapshots, size), chunks(from_zuora, min(size, MAX_ZUORA_READS_PER_TASK))


def tasks_reading_zuora(prefix: str, items: Sequence[SyncItem], concurrency: int) -> list[SyncBatch]:
    """The tasks of subscriptions without a snapshot (no longer listed under the customer's accounts, or
    scheduled retries): each task reads its subscriptions from Zuora by number."""
    _, chunked = plan_batches([], items, concurrency)
    return [SyncBatch(batchId=f"{prefix}-{i:04d}", items=chunk) for i, chunk in enumerate(chunked)]


# The inline Map keeps its items in the state (256 KiB at most, items and the iterations' results together) and
# every iteration's events in the parent's history (25,000 at most): https://docs.aws.amazon.com/step-functions/latest/dg/state-map.html
# (inline mode). Half the state for the task list leaves room for the rest of the plan and the iterations' results;
# with one wave of at most 40 iterations, the history holds a few hundred events.
INLINE_STATE_BUDGET_BYTES = 128 * 1024


def inline_tasks(batches: Sequence[SyncBatch], threshold: int, concurrency: int) -> list[SyncBatch] | None:
    """The tasks of the inline Map: the planned tasks split so that they fill one wave of `concurrency`
    iterations (one subscription per task for a customer of at most `concurrency` subscriptions), or None when
    the customer is past `threshold` subscriptions or its tasks would not fit the state: then the distributed
    Map runs the planned tasks.

    A split task keeps its batch's snapshot (it reads its own entries from it), so planning writes no more
    snapshots for the inline path than for the distributed one. One wave of several subscriptions per task beats
    more waves of one each: every task pays a Lambda invocation, a snapshot read, a BatchGetItem and its receipts'
    write, and a task of only UNCHANGED subscriptions writes one summary for all of them."""
    total = sum(len(batch.items) for batch in batches)
    if total == 0 or total > threshold:
        return None
    tasks = []
    for batch, pieces in zip(batches, _shares(concurrency, [len(batch.items) for batch in batches]), strict=True):
        pieces_of_batch = enumerate(_even_split(batch.items, pieces))
        tasks += [SyncBatch(batchId=f"{batch.batchId}-{k:03d}", items=chunk, snapshotKey=batch.snapshotKey) for k, chunk in pieces_of_batch]
    size_in_state = sum(len(task.model_dump_json(exclude_none=True)) + 1 for task in tasks)
    return tasks if size_in_state <= INLINE_STATE_BUDGET_BYTES else None


def _even_split(items: Sequence[T], pieces: int) -> list[list[T]]:
    """`items` in `pieces` runs whose lengths differ by at most one."""
    size, longer = divmod(len(items), pieces)
    bounds = [k * size + min(k, longer) for k in range(pieces + 1)]
    return [list(items[bounds[k] : bounds[k + 1]]) for k in range(pieces)]


def _shares(slots: int, sizes: list[int]) -> list[int]:
    """`slots` shared in proportion to `sizes` (largest remainders), each share at least 1 and at most its size."""
    total = sum(sizes)
    exact = [slots * size / total for size in sizes]
    shares = [min(size, max(1, math.floor(x))) for size, x in zip(sizes, exact, strict=True)]
    by_remainder = sorted(range(len(sizes)), key=lambda i: exact[i] - math.floor(exact[i]), reverse=True)
    for i in by_remainder:
        if sum(shares) >= slots:
            break
        if shares[i] < sizes[i]:
            shares[i] += 1
    return shares
