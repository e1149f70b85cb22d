"""boto3 plumbing shared by the store adapters: one client per service per process, and AWS error
classification (throttling and service faults are transient).

Throttling and 5xx answers are retried by botocore itself (standard mode: up to 4 attempts, exponential backoff with
jitter). DynamoDB transaction conflicts are not (botocore does not count them as retryable): `retry_conflicts` tries
those again after a full-jitter backoff. What still fails after that is a `TransientSyncError` STORE_UNAVAILABLE,
which the API answers 503 with Retry-After and the state machine retries."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from limio_sync.errors import ErrorCode, TransientSyncError

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)
_lock = threading.Lock()
_resources: dict[str, Any] = {}
_clients: dict[str, Any] = {}

TRANSIENT_AWS_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "SlowDown",
        "InternalError",
        "TransactionConflictException",
    }
)


def client(service: str) -> Any:
    with _lock:
        if service not in _clients:
            _clients[service] = boto3.session.Session().client(service, config=_CONFIG)
        return _clients[service]


def resource(service: str) -> Any:
    with _lock:
        if service not in _resources:
            _resources[service] = boto3.session.Session().resource(service, config=_CONFIG)
        return _resources[service]


def reset() -> None:
    """Forget cached clients (tests that start a fresh local cloud)."""
    with _lock:
        _clients.clear()
        _resources.clear()


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


@contextmanager
def store_errors(what: str, *, let_conflicts_through: bool = False) -> Iterator[None]:
    """Turn AWS throttling and service faults into a transient, retryable sync error."""
    try:
        yield
    except ClientError as exc:
        if let_conflicts_through and is_conflict(exc):
            raise
        if error_code(exc) in TRANSIENT_AWS_ERRORS:
            raise TransientSyncError(f"{what} is unavailable right now ({error_code(exc)})", code=ErrorCode.STORE_UNAVAILABLE) from exc
        raise
    except (BotoConnectionError, BotoCoreError) as exc:
        raise TransientSyncError(f"{what} could not be reached ({type(exc).__name__})", code=ErrorCode.STORE_UNAVAILABLE) from exc


# A transaction conflict means another request wrote the same item at that moment (a click storm on one customer's
# lock): a few tries spread over a few hundred milliseconds settle it without holding the API for long.
CONFLICT_ATTEMPTS = 4
CONFLICT_BACKOFF_BASE_SECONDS = 0.05
CONFLICT_BACKOFF_CAP_SECONDS = 0.8
# DynamoDB's reasons for cancelling a transaction that another try can clear (TransactWriteItems, CancellationReasons).
_RETRYABLE_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


def is_conflict(error: ClientError) -> bool:
    """A write that lost a race with another transaction, or a transaction cancelled only for that or throttling
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html)."""
    code = error_code(error)
    if code == "TransactionConflictException":
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = {reason.get("Code") for reason in error.response.get("CancellationReasons", [])} - {"None", None}
    return bool(reasons) and reasons <= _RETRYABLE_CANCELLATIONS


def full_jitter(
    attempt: int,
    *,
    base: float = CONFLICT_BACKOFF_BASE_SECONDS,
    cap: float = CONFLICT_BACKOFF_CAP_SECONDS,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before try `attempt + 1`: uniform in [0, min(cap, base x 2^attempt)] (AWS's "full jitter",
    https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/)."""
    return rng() * min(cap, base * 2**attempt)


def retry_conflicts(call: Callable[[], Any], what: str, *, sleep: Callable[[float], None] = time.sleep, attempts: int = CONFLICT_ATTEMPTS) -> Any:
    """`call()`, tried again after a full-jitter backoff while it loses to a concurrent transaction. Other AWS errors
    are classified as `store_errors` does; a conflict on the last try is a transient STORE_UNAVAILABLE."""
    attempt = 1
    while True:
        try:
            with store_errors(what, let_conflicts_through=True):
                return call()
        except ClientError as exc:
            if not is_conflict(exc):
                raise
            if attempt == attempts:
                raise TransientSyncError(
                    f"{what} is busy: {attempts} tries lost to concurrent writes ({error_code(exc)})", code=ErrorCode.STORE_UNAVAILABLE
                ) from exc
        sleep(full_jitter(attempt))
        attempt += 1


BATCH_GET_LIMIT = 100
_UNPROCESSED_ROUNDS = 5


def batch_get(table: Any, keys: list[dict], what: str, attributes: tuple[str, ...] = ()) -> list[dict]:
    """Consistent reads of many items of one table (100 keys per call), following DynamoDB's UnprocessedKeys
    with a short backoff; keys still unprocessed after that are a transient store failure. `attributes`, if
    given, are the only ones read (a projection: fewer bytes to send and parse, the same read units)."""
    items: list[dict] = []
    projection: dict[str, Any] = {}
    if attributes:
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        projection = {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        pending: dict[str, Any] = {table.name: {"Keys": keys[start : start + BATCH_GET_LIMIT], "ConsistentRead": True, **projection}}
        for round_ in range(_UNPROCESSED_ROUNDS):
            with store_errors(what):
                reply = table.meta.client.batch_get_item(RequestItems=pending)
            items.extend(reply.get("Responses", {}).get(table.name, []))
            pending = reply.get("UnprocessedKeys") or {}
            if not pending:
                break
            time.sleep(0.05 * 2**round_)
        else:
            raise TransientSyncError(f"{what} is unavailable right now (keys left unprocessed)", code=ErrorCode.STORE_UNAVAILABLE)
    return items
