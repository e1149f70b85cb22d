"""The one place that owns logging, metrics and tracing.

Every module logs through `logger`; handlers bind the sync id and subscription number with
`bind_sync_context` so every line of a sync carries them.
"""

from __future__ import annotations

import logging
import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

SERVICE = "limio-subscription-sync"
METRICS_NAMESPACE = "LimioSubscriptionSync"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

# A read (GET /syncs/{id}) publishes no metric by design; that is not worth a warning per request.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

# At DEBUG these log whole AWS requests and responses: the Zuora secret from Secrets Manager, the role's session
# token (in botocore.auth's canonical request), snapshots and records with customers' contact details. They stay
# at INFO whatever level the root logger is given (e.g. a Lambda log level of DEBUG).
AWS_WIRE_LOGGERS = ("botocore.auth", "botocore.endpoint", "botocore.parsers", "boto3.resources.action")
for _name in AWS_WIRE_LOGGERS:
    logging.getLogger(_name).setLevel(logging.INFO)


def bind_sync_context(*, sync_id: str | None = None, subscription_number: str | None = None) -> None:
    """Attach the ids of the work in hand to every following log line of this invocation."""
    keys = {"sync_id": sync_id, "subscription_number": subscription_number}
    logger.append_keys(**{k: v for k, v in keys.items() if v is not None})


def count_failure(error_code: str) -> None:
    """One metric per error code (its own dimension), so alarms and dashboards can tell them apart."""
    if is_metrics_disabled():  # single_metric does not check POWERTOOLS_METRICS_DISABLED itself
        return
    with single_metric(name="SubscriptionFailures", unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        metric.add_dimension(name="error_code", value=error_code)
