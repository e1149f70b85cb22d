"""Scheduled: end the jobs whose execution never started (SYNC_NOT_STARTED) and free their customers' locks."""

from __future__ import annotations

import datetime as dt

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from limio_sync.config import get_settings
from limio_sync.observability import logger, metrics, tracer
from limio_sync.stores.executions import ExecutionStore
from limio_sync.stores.jobs import JobStore
from limio_sync.sweeping import sweep_unstarted_jobs


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    report = sweep_unstarted_jobs(
        jobs=JobStore(settings.jobs_table_name),
        executions=ExecutionStore(settings.state_machine_arn or ""),
        now=dt.datetime.now(dt.UTC),
        grace=dt.timedelta(seconds=settings.unstarted_job_grace_seconds),
    )
    if report.ended:
        metrics.add_metric(name="JobsNeverStarted", unit=MetricUnit.Count, value=len(report.ended))
        logger.warning("Ended jobs whose execution never started", extra={"sync_ids": report.ended})
    return {"ended": report.ended, "confirmed": report.confirmed}
