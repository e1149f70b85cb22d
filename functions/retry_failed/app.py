"""Scheduled (EventBridge) task: re-sync subscriptions whose last failure was transient, through the same
state machine. Invoked with {"replayDeadLetters": true}, it puts dead-lettered failures back in the queue."""

from __future__ import annotations

import datetime as dt

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from limio_sync.config import get_settings
from limio_sync.observability import logger, metrics, tracer
from limio_sync.retrying import replay_dead_letters, start_due_retries
from limio_sync.stores import aws
from limio_sync.stores.dead_letters import DeadLetterQueue
from limio_sync.stores.jobs import JobStore
from limio_sync.stores.snapshots import ItemLists


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    jobs = JobStore(settings.jobs_table_name)
    now = dt.datetime.now(dt.UTC)
    if event.get("replayDeadLetters") is True:
        replayed = replay_dead_letters(dead_letters=DeadLetterQueue(settings.dead_letter_queue_url or ""), queue=jobs, now=now)
        metrics.add_metric(name="DeadLettersReplayed", unit=MetricUnit.Count, value=replayed)
        return {"replayed": replayed}
    started = start_due_retries(
        queue=jobs,
        executions=aws.client("stepfunctions"),
        item_lists=ItemLists(settings.work_bucket_name),
        state_machine_arn=settings.state_machine_arn or "",
        concurrency=settings.map_max_concurrency,
        now=now,
    )
    metrics.add_metric(name="RetryRunsStarted", unit=MetricUnit.Count, value=len(started))
    return {"started": started}
