"""The API's contract and logic: starting a sync (202 at once, no Zuora call) and reading its job record."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from typing import Annotated, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from limio_sync import ids
from limio_sync.errors import ErrorCode
from limio_sync.ids import new_sync_id
from limio_sync.models import AccountNumber, CustomerRef, JobFailure, JobStatus, Outcome, SyncJob
from limio_sync.observability import logger
from limio_sync.stores.jobs import IdempotencyKeyReused, StartedJob
from limio_sync.sync_rules import LimioSubscription
from limio_sync.validation import SalesforceId
from limio_sync.views import SubscriptionView, subscription_view


class CustomerKey(BaseModel):
    """A customer, named by exactly one key."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    salesforceAccountId: SalesforceId | None = Field(
        default=None, description="Salesforce Account id (15 or 18 chars); every Zuora account whose crmId matches belongs to the customer."
    )
    zuoraAccountNumber: AccountNumber | None = Field(default=None, description="One Zuora account number, e.g. A00001001.")

    @model_validator(mode="after")
    def _exactly_one_customer_key(self) -> CustomerKey:
        given = [name for name in ("salesforceAccountId", "zuoraAccountNumber") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of salesforceAccountId or zuoraAccountNumber")
        return self

    def customer(self) -> CustomerRef:
        return CustomerRef(salesforceAccountId=self.salesforceAccountId, zuoraAccountNumber=self.zuoraAccountNumber)


def _printable(value: str) -> str:
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError("must not contain control characters (line breaks, tabs, NUL...)")
    return value


class StartSyncRequest(CustomerKey):
    """Body of POST /syncs: the customer, and who asked."""

    requestedBy: Annotated[str, StringConstraints(min_length=1, max_length=120), AfterValidator(_printable)] | None = Field(
        default=None, description="Who clicked Sync (for the audit trail), e.g. the Salesforce user id."
    )


class StartSyncResponse(BaseModel):
    syncId: str
    status: JobStatus
    statusUrl: str


# API Gateway accepts bodies up to 10 MB; a POST /syncs body is a few hundred bytes.
MAX_BODY_BYTES = 16 * 1024


class ApiError(Exception):
    """An error the API answers with its own status and a stable code."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def check_body(body: str | None, *, base64_encoded: bool = False, content_type: str | None = None) -> None:
    """Refuse, before anything parses it, a body over MAX_BODY_BYTES (a base64 body counts by its decoded size) or
    one that is not JSON text: the only bodies this API takes are JSON objects."""
    if not body:
        return
    size = len(body) * 3 // 4 if base64_encoded else len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", f"The request body is {size} bytes; the limit is {MAX_BODY_BYTES} bytes.")
    media_type = (content_type or "application/json").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", f"The request body must be JSON (Content-Type: application/json), not {media_type[:60]!r}.")
    if base64_encoded:  # API Gateway base64-encodes a body that is not UTF-8 text
        try:
            base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(400, "VALIDATION_ERROR", "Invalid request: body must be JSON encoded as UTF-8.") from None


class Jobs(Protocol):
    def start(self, job: SyncJob, *, idempotency_key: str | None = None, request_hash: str = "") -> StartedJob: ...
    def get(self, sync_id: str) -> SyncJob | None: ...
    def poll(self, sync_id: str) -> SyncJob | None: ...
    def fail(self, sync_id: str, failure: JobFailure) -> bool: ...


class Executions(Protocol):
    def start_execution(self, **kwargs) -> dict: ...


IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")


def request_hash(request: StartSyncRequest) -> str:
    return hashlib.sha256(request.model_dump_json(exclude_none=True).encode()).hexdigest()


def start_sync(
    request: StartSyncRequest, *, jobs: Jobs, executions: Executions, state_machine_arn: str, now: str, idempotency_key: str | None = None
) -> StartedJob:
    """Start a sync, or return the one already running for this customer (a repeat click), or the one this
    Idempotency-Key started. A new job is recorded RUNNING first, then its execution is started under the
    sync id; if that start fails the job is ended FAILED at once so nothing is left RUNNING."""
    if idempotency_key is not None and not IDEMPOTENCY_KEY_PATTERN.fullmatch(idempotency_key):
        raise ApiError(400, "VALIDATION_ERROR", "Idempotency-Key must be 1-255 letters, digits or . _ : -")
    sync_id = new_sync_id()
    job = SyncJob(syncId=sync_id, status=JobStatus.RUNNING, customer=request.customer(), requestedBy=request.requestedBy, startedAt=now)
    try:
        started = jobs.start(job, idempotency_key=idempotency_key, request_hash=request_hash(request))
    except IdempotencyKeyReused:
        raise ApiError(409, "IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was already used with a different request body.") from None
    if started.reused:
        logger.info("Returning the sync already started for this request", extra={"sync_id": started.job.syncId})
        return started
    execution_input = {"syncId": sync_id, "customer": job.customer.model_dump(exclude_none=True)}
    try:
        executions.start_execution(stateMachineArn=state_machine_arn, name=sync_id, input=json.dumps(execution_input))
    except Exception as exc:
        logger.exception("Could not start the sync execution")
        jobs.fail(sync_id, JobFailure(errorCode=ErrorCode.EXECUTION_FAILED, message="the sync could not be started; try again."))
        raise ApiError(503, "SYNC_NOT_STARTED", "The sync could not be started right now; try again in a moment.") from exc
    logger.info("Sync started", extra={"customer": job.customer.describe()})
    return started


def get_sync(sync_id: str, *, jobs: Jobs) -> SyncJob:
    job = jobs.poll(sync_id)
    if job is None:
        raise ApiError(404, "SYNC_NOT_FOUND", f"No sync has id {sync_id}.")
    return job


# ---------------------------------------------------------------- long-poll (RFC 7240 `Prefer: wait=N`)

# API Gateway's integration timeout is 29 s; the longest wait honoured leaves the answer time to travel.
MAX_WAIT_SECONDS = 20
# While it waits, the API re-reads the job's header (one consistent GetItem) this often: the end is seen within
# 0.1 s, for 10 reads a second of a single small item.
WAIT_POLL_SECONDS = 0.1
_WAIT_PREFERENCE = re.compile(r"^\s*wait\s*=\s*\"?(\d{1,9})\"?\s*$", re.IGNORECASE)


def preferred_wait(prefer: str | None) -> int:
    """Seconds a client asked to wait (RFC 7240 §4.3 `Prefer: wait=N`), capped at MAX_WAIT_SECONDS; 0 without
    it. The header is a comma-separated list of preferences, each with optional `;` parameters; a preference
    this API does not know, or a malformed one, is ignored as RFC 7240 §2 asks."""
    for preference in (prefer or "").split(","):
        match = _WAIT_PREFERENCE.match(preference.split(";", 1)[0])
        if match:
            return min(int(match.group(1)), MAX_WAIT_SECONDS)
    return 0


def wait_for_end(sync_id: str, *, jobs: Jobs, seconds: float, clock: Callable[[], float], sleep: Callable[[float], None]) -> SyncJob | None:
    """The job once it has ended, or as it is after `seconds` (what a plain GET would answer then)."""
    deadline = clock() + seconds
    while True:
        job = jobs.poll(sync_id)
        left = deadline - clock()
        if job is None or job.status.is_terminal or left <= 0:
            return job
        sleep(min(WAIT_POLL_SECONDS, left))


class CustomerSubscriptions(BaseModel):
    """GET /subscriptions: what LFS's table lists for a customer, as Limio now holds it."""

    customer: CustomerRef
    subscriptions: list[SubscriptionView]


class SubscriptionRecords(Protocol):
    def for_customer(self, customer_id: str) -> list[LimioSubscription]: ...
    def for_zuora_account(self, account_number: str) -> list[LimioSubscription]: ...


def list_subscriptions(query: CustomerKey, *, limio: SubscriptionRecords, today: dt.date) -> CustomerSubscriptions:
    if query.salesforceAccountId:
        records = limio.for_customer(ids.customer_id(query.salesforceAccountId))
    else:
        records = limio.for_zuora_account(query.zuoraAccountNumber or "")
    views = [subscription_view(record, today) for record in sorted(records, key=lambda r: r.subscriptionNumber)]
    return CustomerSubscriptions(customer=query.customer(), subscriptions=views)


class SubscriptionEvent(BaseModel):
    """One sync's receipt for one subscription: the audit trail entry."""

    syncId: str
    recordedAt: str
    outcome: Outcome
    errorCode: ErrorCode | None = None
    message: str | None = None
    zuoraVersion: int | None = None
    changes: list[dict] | None = None


class SubscriptionEvents(BaseModel):
    subscriptionNumber: str
    events: list[SubscriptionEvent]


class Receipts(Protocol):
    def receipts_for(self, subscription_number: str, limit: int) -> list[dict]: ...


def subscription_events(subscription_number: str, *, jobs: Receipts, limit: int = 100) -> SubscriptionEvents:
    events = [SubscriptionEvent.model_validate(receipt) for receipt in jobs.receipts_for(subscription_number, limit)]
    if not events:
        raise ApiError(
            404, "SUBSCRIPTION_NOT_FOUND", f"No sync has created, changed or failed subscription {subscription_number} in the last 90 days."
        )
    return SubscriptionEvents(subscriptionNumber=subscription_number, events=events)
