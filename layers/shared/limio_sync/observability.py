"""The one place that owns logging, metrics and tracing.

Every module logs through `logger`; handlers bind the sync id and subscription number with
`bind_sync_context` so every line of a sync carries them.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

SERVICE = "limio-subscription-sync"
METRICS_NAMESPACE = "LimioSubscriptionSync"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)


def tracing_enabled(environ: dict[str, str] | os._Environ = os.environ) -> bool:
    """Powertools' own switch (POWERTOOLS_TRACE_DISABLED, set from the template's FunctionTracing parameter)."""
    return environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() not in ("1", "true")


class _NoTracer:
    """Stands in for Powertools' Tracer when tracing is off: its X-Ray SDK is the largest import of every
    function (0.19-0.29 s of each cold start, measured in docs/benchmarks.md), and a function that traces
    nothing should not pay it. Powertools' Tracer imports the SDK even when disabled."""

    @staticmethod
    def capture_lambda_handler(handler: Callable[..., Any]) -> Callable[..., Any]:
        return handler


def _tracer() -> Any:
    if not tracing_enabled():
        return _NoTracer()
    from aws_lambda_powertools.tracing import Tracer  # noqa: PLC0415 - only a function that traces pays the X-Ray SDK

    return Tracer(service=SERVICE)


tracer = _tracer()

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
