"""boto3 plumbing shared by the store adapters: one client per service per process, and AWS error
classification (throttling and service faults are transient)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
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
def store_errors(what: str) -> Iterator[None]:
    """Turn AWS throttling and service faults into a transient, retryable sync error."""
    try:
        yield
    except ClientError as exc:
        if error_code(exc) in TRANSIENT_AWS_ERRORS:
            raise TransientSyncError(f"{what} is unavailable right now ({error_code(exc)})", code=ErrorCode.STORE_UNAVAILABLE) from exc
        raise
    except (BotoConnectionError, BotoCoreError) as exc:
        raise TransientSyncError(f"{what} could not be reached ({type(exc).__name__})", code=ErrorCode.STORE_UNAVAILABLE) from exc


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
