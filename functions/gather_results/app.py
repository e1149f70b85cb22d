"""State machine task: make sure every planned subscription has its receipt, then end the job."""

from __future__ import annotations

import datetime as dt

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from limio_sync.config import get_settings
from limio_sync.errors import SyncError, for_state_machine
from limio_sync.gathering import gather
from limio_sync.models import ItemsLocation, SyncBatch, SyncId
from limio_sync.observability import bind_sync_context, count_failure, logger, metrics, tracer
from limio_sync.stores.dead_letters import DeadLetterQueue
from limio_sync.stores.jobs import JobStore
from limio_sync.stores.snapshots import ItemLists


class GatherInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    syncId: SyncId
    items: ItemsLocation
    retry: bool = False


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = GatherInput.model_validate(event)
    bind_sync_context(sync_id=request.syncId)
    settings = get_settings()
    try:
        planned = [SyncBatch.model_validate(batch) for batch in ItemLists(settings.work_bucket_name).get(request.items.model_dump())]
        job, results, exhausted = gather(
            request.syncId,
            planned,
            retry_run=request.retry,
            jobs=JobStore(settings.jobs_table_name),
            dead_letters=DeadLetterQueue(settings.dead_letter_queue_url or ""),
            policy=settings.retry_policy(),
            now=dt.datetime.now(dt.UTC),
        )
    except SyncError as error:
        raise for_state_machine(error) from error
    metrics.add_metric(name=f"Jobs{job.status.value.title().replace('_', '')}", unit=MetricUnit.Count, value=1)
    for result in results:
        if result.failed and result.errorCode:
            count_failure(result.errorCode)
    if exhausted:
        metrics.add_metric(name="RetriesExhausted", unit=MetricUnit.Count, value=len(exhausted))
    logger.info(
        "Sync results recorded",
        extra={"status": job.status, "counts": job.counts, "failed": job.failedSubscriptions, "retry_run": request.retry},
    )
    return {"syncId": job.syncId, "status": job.status.value, "counts": job.counts, "failedSubscriptions": job.failedSubscriptions}
