"""State machine task: gather every subscription's receipt into the job record and end the job."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

from limio_sync.config import get_settings
from limio_sync.errors import SyncError, for_state_machine
from limio_sync.jobs import results_from_map_output
from limio_sync.models import SyncId
from limio_sync.observability import bind_sync_context, logger, metrics, tracer
from limio_sync.stores.jobs import JobStore


class GatherInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    syncId: SyncId
    total: int
    results: list[dict]


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context) -> dict:
    request = GatherInput.model_validate(event)
    bind_sync_context(sync_id=request.syncId)
    results = results_from_map_output(request.results)
    if len(results) != request.total:
        logger.error("Map returned a different number of receipts than planned", extra={"planned": request.total, "received": len(results)})
    try:
        job = JobStore(get_settings().jobs_table_name).complete(request.syncId, results)
    except SyncError as error:
        raise for_state_machine(error) from error
    metrics.add_metric(name=f"Jobs{job.status.value.title().replace('_', '')}", unit=MetricUnit.Count, value=1)
    logger.info("Sync finished", extra={"status": job.status, "counts": job.counts, "failed": job.failedSubscriptions})
    return {"syncId": job.syncId, "status": job.status.value, "counts": job.counts, "failedSubscriptions": job.failedSubscriptions}
