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
# (inline mode) and .../service-quotas.html. Half the state for the task list leaves room for the rest of the plan and
# ~70 bytes of result per iteration; the history limit is the template's InlineMapThreshold's to keep (see its description).
INLINE_STATE_BUDGET_BYTES = 128 * 1024


def inline_tasks(batches: Sequence[SyncBatch], threshold: int) -> list[SyncBatch] | None:
    """The tasks of the inline Map, one subscription each, or None when the customer is past `threshold`
    subscriptions or its tasks would not fit the state: then the distributed Map runs the batched tasks.

    A single-subscription task keeps its batch's snapshot (it reads its own entry from it), so planning writes no
    more snapshots for the inline path than for the distributed one."""
    total = sum(len(batch.items) for batch in batches)
    if total == 0 or total > threshold:
        return None
    singles = [
        SyncBatch(batchId=f"{batch.batchId}-{k:03d}", items=[item], snapshotKey=batch.snapshotKey)
        for batch in batches
        for k, item in enumerate(batch.items)
    ]
    size = sum(len(single.model_dump_json(exclude_none=True)) + 1 for single in singles)
    return singles if size <= INLINE_STATE_BUDGET_BYTES else None
