"""API handler: POST /syncs and GET /syncs/{syncId}. Wires Powertools to the logic in limio_sync.api."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from limio_sync import api
from limio_sync.config import get_settings
from limio_sync.errors import ErrorCode, TransientSyncError
from limio_sync.http_errors import ErrorResponse, error_body, validation_error_body
from limio_sync.models import CallerIdentity, JobStatus, SyncJob
from limio_sync.observability import bind_sync_context, logger, metrics, tracer
from limio_sync.stores import aws
from limio_sync.stores.jobs import JobStore, utc_now
from limio_sync.stores.limio_subscriptions import LimioSubscriptionStore

app = APIGatewayRestResolver(enable_validation=True)

SYNC_ID_PATTERN = r"^sync-[0-9a-f]{32}$"
SUBSCRIPTION_NUMBER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
PREFER_DESCRIPTION = (
    f"RFC 7240 `wait=N` (N seconds, at most {api.MAX_WAIT_SECONDS}): answer as soon as the job ends (200 with the ended job), "
    "or after N seconds with what the call without it answers. Other preferences are ignored."
)
PreferHeader = Annotated[str | None, Header(alias="Prefer", description=PREFER_DESCRIPTION)]
# GET /syncs and GET /subscriptions name a customer the same way: exactly one of these.
SalesforceAccountIdQuery = Annotated[str | None, Query(max_length=18, description="Salesforce Account id (15 or 18 chars)")]
ZuoraAccountNumberQuery = Annotated[str | None, Query(max_length=70, description="Zuora account number")]


def _customer_key(salesforce_account_id: str | None, zuora_account_number: str | None) -> api.CustomerKey:
    given = {"salesforceAccountId": salesforce_account_id, "zuoraAccountNumber": zuora_account_number}
    return api.CustomerKey.model_validate({key: value for key, value in given.items() if value is not None})


def _json_reply(description: str, model: type) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


@app.post(
    "/syncs",
    summary="Start syncing every subscription of one customer from Zuora into Limio",
    responses={
        200: _json_reply("With `Prefer: wait=N`: the job ended within N seconds; this is its record, as GET statusUrl gives it", SyncJob),
        202: _json_reply(
            "Sync started (or, for a customer whose sync is still running or a repeated Idempotency-Key, the sync already started);"
            " poll statusUrl (also in Location) after Retry-After seconds, or long-poll it with `Prefer: wait=N`",
            api.StartSyncResponse,
        ),
        409: _json_reply("The Idempotency-Key was used before with a different body", ErrorResponse),
        400: _json_reply("Invalid request: the error names each wrong field and why", ErrorResponse),
        413: _json_reply(f"The body is larger than {api.MAX_BODY_BYTES} bytes", ErrorResponse),
        415: _json_reply("The body is not sent as application/json", ErrorResponse),
        503: _json_reply(
            "The sync could not be started (SYNC_NOT_STARTED; nothing is left running), or the job store is busy (STORE_UNAVAILABLE);"
            " try again after Retry-After seconds",
            ErrorResponse,
        ),
    },
)
def start_sync(request: api.StartSyncRequest, prefer: PreferHeader = None) -> Response[api.StartSyncResponse | SyncJob]:
    settings = get_settings()
    started = api.start_sync(
        request,
        jobs=JobStore(settings.jobs_table_name),
        executions=aws.client("stepfunctions"),
        state_machine_arn=settings.state_machine_arn or "",
        now=utc_now(),
        idempotency_key=app.current_event.headers.get("Idempotency-Key"),
        caller=_caller(),
    )
    job = started.job
    bind_sync_context(sync_id=job.syncId)
    metrics.add_metric(name="SyncsReused" if started.reused else "SyncsStarted", unit=MetricUnit.Count, value=1)
    location = f"/syncs/{job.syncId}"
    headers = {"Location": _absolute_url(location), "Retry-After": str(settings.poll_after_seconds), "Vary": "Prefer"}
    ended = _waited(job.syncId, prefer)
    if ended is not None and ended.status.is_terminal:
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=ended, headers=headers)
    # A repeat (same customer still running, or a replayed Idempotency-Key) gets the reply its first request got.
    body = api.StartSyncResponse(
        syncId=job.syncId, status=JobStatus.RUNNING, statusUrl=_absolute_url(location), retryAfterSeconds=settings.poll_after_seconds
    )
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


@app.get(
    "/syncs/<syncId>",
    summary="Read a sync's job record: status, every subscription's outcome, the notification for LFS",
    responses={
        200: _json_reply("The job record (while it runs, with Retry-After: poll again then, or long-poll with `Prefer: wait=N`)", SyncJob),
        400: _json_reply("Malformed sync id", ErrorResponse),
        404: _json_reply("No sync has this id", ErrorResponse),
    },
)
def get_sync(
    syncId: Annotated[str, Path(pattern=SYNC_ID_PATTERN, description="The id POST /syncs returned")],  # noqa: N803 - the path parameter's public name
    prefer: PreferHeader = None,
) -> Response[SyncJob]:
    bind_sync_context(sync_id=syncId)
    job = _waited(syncId, prefer) or api.get_sync(syncId, jobs=JobStore(get_settings().jobs_table_name))
    headers = {"Vary": "Prefer"}
    if not job.status.is_terminal:
        headers["Retry-After"] = str(get_settings().poll_after_seconds)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=job, headers=headers)


def _waited(sync_id: str, prefer: str | None) -> SyncJob | None:
    """With `Prefer: wait=N`, the job once it ends or after N seconds; None when no wait was asked (or no such job)."""
    seconds = api.preferred_wait(prefer)
    if not seconds:
        return None
    return api.wait_for_end(sync_id, jobs=JobStore(get_settings().jobs_table_name), seconds=seconds, clock=time.monotonic, sleep=time.sleep)


@app.get(
    "/syncs",
    summary="A customer's recent syncs, newest first, with status and counts (one page; nextToken reads the next)",
    responses={
        200: _json_reply("The customer's syncs, newest first", api.SyncHistory),
        400: _json_reply("Give exactly one valid customer key, a limit of 1-100 and a nextToken this API returned", ErrorResponse),
    },
)
def list_syncs(
    salesforceAccountId: SalesforceAccountIdQuery = None,  # noqa: N803
    zuoraAccountNumber: ZuoraAccountNumberQuery = None,  # noqa: N803
    limit: Annotated[int, Query(ge=1, le=100, description="Syncs per page")] = 20,
    nextToken: Annotated[str | None, Query(max_length=2048, description="The nextToken of the previous page")] = None,  # noqa: N803
) -> api.SyncHistory:
    query = _customer_key(salesforceAccountId, zuoraAccountNumber)
    return api.list_syncs(query, jobs=JobStore(get_settings().jobs_table_name), limit=limit, next_token=nextToken)


@app.get(
    "/subscriptions",
    summary="A customer's subscriptions as Limio holds them, with what LFS's table shows",
    responses={
        200: _json_reply("The customer's subscriptions", api.CustomerSubscriptions),
        400: _json_reply("Give exactly one valid customer key", ErrorResponse),
    },
)
def list_subscriptions(
    salesforceAccountId: SalesforceAccountIdQuery = None,  # noqa: N803
    zuoraAccountNumber: ZuoraAccountNumberQuery = None,  # noqa: N803
) -> api.CustomerSubscriptions:
    query = _customer_key(salesforceAccountId, zuoraAccountNumber)
    return api.list_subscriptions(query, limio=LimioSubscriptionStore(get_settings().subscriptions_table_name), today=dt.date.today())


@app.get(
    "/subscriptions/<subscriptionNumber>/events",
    summary="The audit trail of one subscription: each sync's outcome, changed fields and Zuora version",
    responses={
        200: _json_reply("Newest first", api.SubscriptionEvents),
        400: _json_reply("Malformed subscription number", ErrorResponse),
        404: _json_reply("No sync has created, changed or failed this subscription in the last 90 days", ErrorResponse),
    },
)
def subscription_events(
    subscriptionNumber: Annotated[str, Path(pattern=SUBSCRIPTION_NUMBER_PATTERN, max_length=100)],  # noqa: N803
) -> api.SubscriptionEvents:
    return api.subscription_events(subscriptionNumber, jobs=JobStore(get_settings().jobs_table_name))


@app.exception_handler(ValidationError)
def _invalid_query(error: ValidationError) -> Response:
    return _json(400, validation_error_body(error.errors()))


@app.exception_handler(RequestValidationError)
def _invalid_request(error: RequestValidationError) -> Response:
    return _json(400, validation_error_body(error.errors()))


@app.exception_handler(TransientSyncError)
def _store_unavailable(error: TransientSyncError) -> Response:
    """The job store stayed throttled or busy after the stores' own retries: a 503 the client may retry, not a 502."""
    logger.warning("The job store is unavailable", extra={"error_code": error.code, "reason": error.message})
    reply = _json(503, error_body(ErrorCode.STORE_UNAVAILABLE.value, "The service is busy right now; try again in a moment."))
    reply.headers["Retry-After"] = str(api.STORE_RETRY_AFTER_SECONDS)
    return reply


@app.exception_handler(api.ApiError)
def _api_error(error: api.ApiError) -> Response:
    reply = _json(error.status, error_body(error.code, error.message))
    if error.status == 503:  # the sync could not be started: the client may try again shortly
        reply.headers["Retry-After"] = str(api.STORE_RETRY_AFTER_SECONDS)
    return reply


@app.not_found
def _no_route(_: Exception) -> Response:
    return _json(404, error_body("ROUTE_NOT_FOUND", f"No route for {app.current_event.http_method} {app.current_event.path}."))


def _json(status: int, body: dict) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _caller() -> CallerIdentity | None:
    """The identity API Gateway's IAM authorization established for this request (requestContext.identity)."""
    identity = (app.current_event.raw_event.get("requestContext") or {}).get("identity") or {}
    caller = CallerIdentity(userArn=identity.get("userArn"), principalId=identity.get("user"), accountId=identity.get("accountId"))
    return caller if caller.model_dump(exclude_none=True) else None


def _absolute_url(path: str) -> str:
    event = app.current_event
    host = event.headers.get("Host") or event.request_context.domain_name
    proto = event.headers.get("X-Forwarded-Proto", "https")
    return f"{proto}://{host}/{event.request_context.stage}{path}"


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
    try:
        api.check_body(event.get("body"), base64_encoded=bool(event.get("isBase64Encoded")), content_type=headers.get("content-type"))
    except api.ApiError as error:  # refused before routing: request validation never parses an oversized or non-JSON body
        body = json.dumps(error_body(error.code, error.message))
        return {"statusCode": error.status, "headers": {"Content-Type": content_types.APPLICATION_JSON}, "body": body, "isBase64Encoded": False}
    if event.get("body") and "content-type" in headers:
        # Media types are case-insensitive; the resolver's validation compares them as written.
        event = {**event, "headers": {**_without_content_type(event.get("headers")), "Content-Type": api.media_type(headers["content-type"])}}
        event["multiValueHeaders"] = {**_without_content_type(event.get("multiValueHeaders")), "Content-Type": [event["headers"]["Content-Type"]]}
    return app.resolve(event, context)


def _without_content_type(headers: dict | None) -> dict:
    return {key: value for key, value in (headers or {}).items() if key.lower() != "content-type"}
