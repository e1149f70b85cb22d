"""State machine task: end a job FAILED with a reason when planning or gathering could not finish."""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

from limio_sync.config import get_settings
from limio_sync.jobs import failure_from_caught_error
from limio_sync.models import SyncId
from limio_sync.observability import bind_sync_context, logger, metrics, tracer
from limio_sync.stores.jobs import JobStore


class JobFailureInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    syncId: SyncId
    stage: Literal["plan", "gather"]
    error: dict


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context) -> dict:
    request = JobFailureInput.model_validate(event)
    bind_sync_context(sync_id=request.syncId)
    failure = failure_from_caught_error(request.stage, request.error)
    ended = JobStore(get_settings().jobs_table_name).fail(request.syncId, failure)
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    logger.warning("Sync job failed", extra={"stage": request.stage, "error_code": failure.errorCode, "ended_now": ended})
    return {"syncId": request.syncId, "status": "FAILED", "error": failure.model_dump(mode="json")}
