"""State machine task (one per Map item): sync a task's subscriptions (1 to 100 of one customer) from Zuora
into Limio, recording a receipt for each."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from limio_sync.config import get_settings
from limio_sync.errors import SyncError, for_state_machine
from limio_sync.models import SyncBatch, SyncId
from limio_sync.observability import bind_sync_context, logger, metrics, tracer
from limio_sync.stores.catalog import load_catalog_mapping
from limio_sync.stores.jobs import JobStore, utc_now
from limio_sync.stores.limio_customers import LimioCustomerStore
from limio_sync.stores.limio_subscriptions import LimioSubscriptionStore
from limio_sync.stores.snapshots import SnapshotStore
from limio_sync.syncing import SyncRules, sync_batch
from limio_sync.zuora_access import zuora_client


class SyncInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    syncId: SyncId
    batch: SyncBatch
    attempt: int = Field(default=0, ge=0, description="The state machine's retry count of this task ($$.State.RetryCount)")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = SyncInput.model_validate(event)
    bind_sync_context(sync_id=request.syncId)
    logger.append_keys(task=request.batch.batchId)
    settings = get_settings()
    try:
        rules = SyncRules(
            catalog=load_catalog_mapping(settings.catalog_mapping_path),
            today=dt.date.today(),
            evergreen_horizon_days=settings.evergreen_horizon_days,
        )
    except SyncError as error:
        raise for_state_machine(error) from error
    results = sync_batch(
        request.syncId,
        request.batch,
        attempt=request.attempt,
        snapshots=SnapshotStore(settings.work_bucket_name),
        zuora=lambda: zuora_client(settings, request.syncId, remaining_time=lambda: context.get_remaining_time_in_millis() / 1000),
        store=LimioSubscriptionStore(settings.subscriptions_table_name),
        customers=LimioCustomerStore(settings.customers_table_name),
        receipts=JobStore(settings.jobs_table_name),
        rules=rules,
        now=utc_now,
    )
    outcomes = Counter(result.outcome.value for result in results)
    for outcome, count in outcomes.items():
        metrics.add_metric(name=f"Subscriptions{outcome.capitalize()}", unit=MetricUnit.Count, value=count)
    # The receipts are in the job table; the Map keeps only this much per task.
    return {"task": request.batch.batchId, "outcomes": dict(outcomes)}
