"""State machine task (one per Map item): sync one subscription from Zuora into Limio."""

from __future__ import annotations

import datetime as dt

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

from limio_sync.config import get_settings
from limio_sync.errors import SyncError, for_state_machine
from limio_sync.models import SyncId, SyncItem
from limio_sync.observability import bind_sync_context, logger, metrics, tracer
from limio_sync.stores.catalog import load_catalog_mapping
from limio_sync.stores.jobs import JobStore, utc_now
from limio_sync.stores.limio_customers import LimioCustomerStore
from limio_sync.stores.limio_subscriptions import LimioSubscriptionStore
from limio_sync.stores.snapshots import SnapshotStore
from limio_sync.syncing import SyncRules, sync_one
from limio_sync.zuora_access import zuora_client


class SyncInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    syncId: SyncId
    item: SyncItem


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context) -> dict:
    request = SyncInput.model_validate(event)
    bind_sync_context(sync_id=request.syncId, subscription_number=request.item.subscriptionNumber)
    settings = get_settings()
    try:
        rules = SyncRules(
            catalog=load_catalog_mapping(settings.catalog_mapping_path),
            today=dt.date.today(),
            evergreen_horizon_days=settings.evergreen_horizon_days,
        )
    except SyncError as error:
        raise for_state_machine(error) from error
    result = sync_one(
        request.syncId,
        request.item,
        snapshots=SnapshotStore(settings.work_bucket_name),
        zuora=lambda: zuora_client(settings, request.syncId),
        store=LimioSubscriptionStore(settings.subscriptions_table_name),
        customers=LimioCustomerStore(settings.customers_table_name),
        receipts=JobStore(settings.jobs_table_name),
        rules=rules,
        now=utc_now,
    )
    metrics.add_metric(name=f"Subscriptions{result.outcome.value.capitalize()}", unit=MetricUnit.Count, value=1)
    # The receipt is in the job table; the Map keeps only this much per subscription.
    return {"subscriptionNumber": result.subscriptionNumber, "outcome": result.outcome.value}
