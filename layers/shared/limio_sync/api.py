"""The API's contract and logic: starting a sync (202 at once, no Zuora call) and reading its job record."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from limio_sync import ids
from limio_sync.errors import ErrorCode
from limio_sync.ids import new_sync_id
from limio_sync.models import AccountNumber, CallerIdentity, CustomerRef, JobFailure, JobStatus, Outcome, SyncJob
from limio_sync.observability import logger
from limio_sync.stores.jobs import IdempotencyKeyReused, StartedJob
from limio_sync.sweeping import NOT_STARTED
from limio_sync.sync_rules import LimioSubscription
from limio_sync.validation import SalesforceId, check_requester
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


class StartSyncRequest(CustomerKey):
    """Body of POST /syncs: the customer, and who asked."""

    requestedBy: Annotated[str, StringConstraints(min_length=1, max_length=120), AfterValidator(check_requester)] | None = Field(
        default=None,
        description="Who clicked Sync (for the audit trail): the Salesforce user id (a 15-character one is stored in its 18-character "
        "form), or a name as printable text without control, bidi or invisible characters.",
    )


class StartSyncResponse(BaseModel):
    syncId: str
    status: JobStatus
    statusUrl: str
    # In the body as well as in Retry-After: Salesforce External Services do not read response headers.
    retryAfterSeconds: int = Field(description="Seconds to wait before the first poll of statusUrl")


# API Gateway accepts bodies up to 10 MB; a POST /syncs body is a few hundred bytes.
MAX_BODY_BYTES = 16 * 1024
# A POST /syncs body is one flat object of short strings. Deeper nesting or longer numbers are refused before
# parsing: Python's json raises RecursionError near depth 1,000 and refuses integers of more than 4,300 digits
# (ValueError, sys.int_info.default_max_str_digits), and neither may escape as a 502.
MAX_JSON_DEPTH = 16
MAX_NUMBER_CHARACTERS = 64
_NUMBER_CHARACTERS = frozenset("0123456789+-.eE")
# Seconds a client should wait before trying again after a 503 (the job store was throttled or busy, or the
# execution could not be started).
STORE_RETRY_AFTER_SECONDS = 1


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
    given = media_type(content_type)
    if given != "application/json":
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", f"The request body must be JSON (Content-Type: application/json), not {given[:60]!r}.")
    text = body
    if base64_encoded:  # API Gateway base64-encodes a body that is not UTF-8 text
        try:
            text = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(400, "VALIDATION_ERROR", "Invalid request: body must be JSON encoded as UTF-8.") from None
    _check_json_shape(text)


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, lower case (media types are case-insensitive, RFC 9110 §8.3.1);
    a missing one is read as JSON."""
    return (content_type or "application/json").split(";", 1)[0].strip().lower()


def _check_json_shape(text: str) -> None:
    """Refuse JSON nested deeper than MAX_JSON_DEPTH or with a number longer than MAX_NUMBER_CHARACTERS, in one pass
    over the text that skips strings, before any parser sees it."""
    depth = number_run = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char in _NUMBER_CHARACTERS:
            number_run += 1
            if number_run > MAX_NUMBER_CHARACTERS:
                raise ApiError(400, "VALIDATION_ERROR", f"Invalid request: a number in the body is longer than {MAX_NUMBER_CHARACTERS} characters.")
            continue
        number_run = 0
        if char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ApiError(400, "VALIDATION_ERROR", f"Invalid request: the body is nested deeper than {MAX_JSON_DEPTH} levels.")
        elif char in "]}":
            depth -= 1


class Jobs(Protocol):
    def start(self, job: SyncJob, *, idempotency_key: str | None = None, request_hash: str = "") -> StartedJob: ...
    def get(self, sync_id: str) -> SyncJob | None: ...
    def poll(self, sync_id: str) -> SyncJob | None: ...
    def fail(self, sync_id: str, failure: JobFailure) -> bool: ...


class Executions(Protocol):
    def start_execution(self, **kwargs: Any) -> dict: ...


IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")


def request_hash(request: StartSyncRequest) -> str:
    return hashlib.sha256(request.model_dump_json(exclude_none=True).encode()).hexdigest()


def start_sync(
    request: StartSyncRequest,
    *,
    jobs: Jobs,
    executions: Executions,
    state_machine_arn: str,
    now: str,
    idempotency_key: str | None = None,
    caller: CallerIdentity | None = None,
) -> StartedJob:
    """Start a sync, or return the one already running for this customer (a repeat click), or the one this
    Idempotency-Key started. A new job is recorded RUNNING first, then its execution is started under the
    sync id; if that start fails the job is ended FAILED at once so nothing is left RUNNING."""
    if idempotency_key is not None and not IDEMPOTENCY_KEY_PATTERN.fullmatch(idempotency_key):
        raise ApiError(400, "VALIDATION_ERROR", "Idempotency-Key must be 1-255 letters, digits or . _ : -")
    sync_id = new_sync_id()
    job = SyncJob(
        syncId=sync_id, status=JobStatus.RUNNING, customer=request.customer(), requestedBy=request.requestedBy, caller=caller, startedAt=now
    )
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
        # If this write fails too (or the function dies before it), the sweep ends the job the same way.
        jobs.fail(sync_id, NOT_STARTED)
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


class SyncSummary(BaseModel):
    """One sync of a customer's history: its job record without the per-subscription receipts."""

    syncId: str
    status: JobStatus
    requestedBy: str | None = None
    startedAt: str
    finishedAt: str | None = None
    total: int
    settled: int
    counts: dict[str, int]
    failedSubscriptions: list[str]
    notification: str | None = None
    error: JobFailure | None = None


class SyncHistory(BaseModel):
    """GET /syncs: a customer's syncs, newest first, one page at a time."""

    customer: CustomerRef
    syncs: list[SyncSummary]
    nextToken: str | None = Field(default=None, description="Pass as nextToken to read the next (older) page; absent after the last page")


class History(Protocol):
    def history(self, customer_key: str, *, limit: int, start_after: dict | None = None) -> tuple[list[SyncJob], dict | None]: ...


HISTORY_PAGE_KEYS = frozenset({"syncId", "itemKey", "customerKey", "startedAt"})


def list_syncs(query: CustomerKey, *, jobs: History, limit: int, next_token: str | None = None) -> SyncHistory:
    customer = query.customer()
    start_after = _page_key(next_token, customer.key()) if next_token else None
    found, last_key = jobs.history(customer.key(), limit=limit, start_after=start_after)
    syncs = [SyncSummary.model_validate(job.model_dump(exclude={"customer", "subscriptions"})) for job in found]
    token = base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True).encode()).decode() if last_key else None
    return SyncHistory(customer=customer, syncs=syncs, nextToken=token)


def _page_key(token: str, customer_key: str) -> dict:
    """The store's page key inside a nextToken this API issued for the same customer; anything else is a 400."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        key = None
    valid = isinstance(key, dict) and set(key) == HISTORY_PAGE_KEYS and all(isinstance(value, str) for value in key.values())
    if not valid or key["customerKey"] != customer_key:
        raise ApiError(400, "VALIDATION_ERROR", "Invalid request: nextToken is not one this API returned for this customer.")
    return key


class SubscriptionEvent(BaseModel):
    """One sync's receipt for one subscription: the audit trail entry."""

    syncId: str
    recordedAt: str
    outcome: Outcome
    errorCode: ErrorCode | None = None
    message: str | None = None
    zuoraVersion: int | None = None
    changes: list[dict] | None = None
    requestedBy: str | None = Field(default=None, description="Who clicked Sync, as the sync's POST /syncs said")
    caller: CallerIdentity | None = Field(default=None, description="The IAM identity that signed the sync's POST /syncs")


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
