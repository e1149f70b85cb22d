"""Ends a job FAILED with a reason when it cannot finish normally. Two callers:
- the state machine, when planning or gathering failed ({"syncId", "stage", "error"});
- EventBridge, when an execution failed, timed out or was aborted ("Step Functions Execution Status
  Change"), so that no job is left RUNNING whatever happened to its execution.
A planning failure that may pass is queued for the retry schedule to plan the job again."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from limio_sync.config import get_settings
from limio_sync.jobs import failure_from_caught_error, failure_from_execution_event
from limio_sync.models import JobFailure, SyncId
from limio_sync.observability import bind_sync_context, logger, metrics, tracer
from limio_sync.retrying import after_plan_failure, sync_id_of_execution
from limio_sync.stores.dead_letters import DeadLetterQueue
from limio_sync.stores.jobs import JobStore


class StageFailure(BaseModel):
    model_config = ConfigDict(extra="ignore")

    syncId: SyncId
    stage: Literal["plan", "gather"]
    error: dict


def _failure_of(event: dict) -> tuple[str, JobFailure, str, dict]:
    if "detail-type" in event:
        detail = EventBridgeEvent(event).detail
        return sync_id_of_execution(str(detail.get("name", ""))), failure_from_execution_event(detail), "execution", {}
    request = StageFailure.model_validate(event)
    return request.syncId, failure_from_caught_error(request.stage, request.error), request.stage, request.error


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    sync_id, failure, stage, caught = _failure_of(event)
    bind_sync_context(sync_id=sync_id)
    settings = get_settings()
    jobs = JobStore(settings.jobs_table_name)
    ended = jobs.fail(sync_id, failure)
    if ended:
        metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    logger.warning("Sync job failed", extra={"stage": stage, "error_code": failure.errorCode, "ended_now": ended})
    replan = stage == "plan" and after_plan_failure(
        sync_id,
        failure,
        caught,
        queue=jobs,
        dead_letters=DeadLetterQueue(settings.dead_letter_queue_url or ""),
        policy=settings.retry_policy(),
        now=dt.datetime.now(dt.UTC),
    )
    return {"syncId": sync_id, "status": "FAILED", "ended": ended, "error": failure.model_dump(mode="json"), "planRetryQueued": replan}
