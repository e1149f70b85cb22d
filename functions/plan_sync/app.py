"""State machine task: plan a customer sync (accounts → subscriptions → the Map's tasks, snapshots in S3; the
receipts of what cannot be synced and the planned total in the job)."""

from __future__ import annotations

import datetime as dt

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from limio_sync.config import get_settings
from limio_sync.errors import SyncError, for_state_machine
from limio_sync.models import CustomerRef, SyncId
from limio_sync.observability import bind_sync_context, logger, metrics, tracer
from limio_sync.planning import plan_sync
from limio_sync.stores.jobs import JobStore
from limio_sync.stores.limio_subscriptions import LimioSubscriptionStore
from limio_sync.stores.snapshots import ItemLists, SnapshotStore
from limio_sync.zuora_access import zuora_client


class PlanInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    syncId: SyncId
    customer: CustomerRef


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = PlanInput.model_validate(event)
    bind_sync_context(sync_id=request.syncId)
    settings = get_settings()
    try:
        plan = plan_sync(
            request.syncId,
            request.customer,
            zuora_client(settings, request.syncId, remaining_time=lambda: context.get_remaining_time_in_millis() / 1000),
            SnapshotStore(settings.work_bucket_name),
            LimioSubscriptionStore(settings.subscriptions_table_name),
            ItemLists(settings.work_bucket_name),
            JobStore(settings.jobs_table_name),
            today=dt.date.today(),
            concurrency=settings.map_max_concurrency,
            page_size=settings.zuora_page_size,
            evergreen_horizon_days=settings.evergreen_horizon_days,
            inline_threshold=settings.inline_map_threshold,
            inline_concurrency=settings.inline_map_max_concurrency,
            zuora_share=settings.zuora_max_concurrent_requests,
        )
    except SyncError as error:
        raise for_state_machine(error) from error
    metrics.add_metric(name="SubscriptionsPlanned", unit=MetricUnit.Count, value=plan.total)
    return plan.model_dump(mode="json", exclude_none=True)
