"""A bound on the Zuora requests in flight across every sync of the stack, shared through DynamoDB.

`MapMaxConcurrency` bounds one sync; customers syncing at the same time add up, and Zuora's concurrency limit
(40 requests by default) is shared with every other integration of the tenant. Each Zuora request therefore
takes a permit first: one item of `ZuoraRequestPermitsTable` holds the current leases as a map, token -> lease
end, and a lease is added only while the map holds fewer than the limit (a conditional update, so two takers
cannot both get the last permit). A request gives its permit back when it ends; a lease whose holder died (a
Lambda timeout) lapses after `lease` and is reclaimed by the next taker that finds the map full. A taker that
finds no permit free waits with jittered backoff, and after `max_wait` gives up with a transient
ZUORA_RATE_LIMITED, which the state machine retries like Zuora's own 429.

Why not reserved concurrency: a sync task calls Zuora only for subscriptions planning could not snapshot, and
planning reads up to four accounts at once, so a function's concurrency says little about its requests in flight;
Lambda's throttling would fail tasks that make no Zuora call at all.
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from limio_sync.errors import ErrorCode, TransientSyncError
from limio_sync.observability import logger
from limio_sync.stores import aws

PERMITS_KEY = {"permitKey": "zuora-requests"}
# Longer than one Zuora request can take (connect + read timeouts), so a live request never loses its permit.
DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_MAX_WAIT_SECONDS = 20.0
_BACKOFF_BASE_SECONDS = 0.02
_BACKOFF_CAP_SECONDS = 0.5


class ZuoraRequestPermits:
    """`permits()` is a context manager: at most `limit` of them are entered at once across every process."""

    def __init__(
        self,
        table_name: str,
        limit: int,
        *,
        table: Any | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ):
        self._table = table or aws.resource("dynamodb").Table(table_name)
        self._limit = limit
        self._lease = lease_seconds
        self._max_wait = max_wait_seconds
        self._clock, self._sleep, self._rng = clock, sleep, rng
        self._item_exists = False

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        token = self._acquire()
        try:
            yield
        finally:
            self._release(token)

    def _acquire(self) -> str:
        if not self._item_exists:
            self._create_item()
        token = uuid.uuid4().hex
        give_up_at = self._clock() + self._max_wait
        attempt = 0
        while True:
            now = self._clock()
            if self._try_take(token, now):
                return token
            if self._reclaim_lapsed(now):
                continue
            if self._clock() >= give_up_at:
                raise TransientSyncError(
                    f"Zuora is busy: all {self._limit} of this service's concurrent Zuora requests stayed in use for {self._max_wait:g} s",
                    code=ErrorCode.ZUORA_RATE_LIMITED,
                )
            self._sleep(aws.full_jitter(attempt, base=_BACKOFF_BASE_SECONDS, cap=_BACKOFF_CAP_SECONDS, rng=self._rng))
            attempt += 1

    def _try_take(self, token: str, now: float) -> bool:
        try:
            with aws.store_errors("The Zuora request permits"):
                self._table.update_item(
                    Key=PERMITS_KEY,
                    UpdateExpression="SET holders.#token = :until",
                    ConditionExpression="size(holders) < :limit",
                    ExpressionAttributeNames={"#token": token},
                    ExpressionAttributeValues={":until": _number(now + self._lease), ":limit": self._limit},
                )
        except ClientError as exc:
            if aws.error_code(exc) != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def _reclaim_lapsed(self, now: float) -> bool:
        """Drop leases that lapsed (or create the item on first use); True if a permit may have been freed."""
        with aws.store_errors("The Zuora request permits"):
            item = self._table.get_item(Key=PERMITS_KEY, ConsistentRead=True).get("Item")
        if item is None:
            self._create_item()
            return True
        try:
            with aws.store_errors("The Zuora request permits"):
                lapsed = [token for token, until in item.get("holders", {}).items() if until < now][:25]
                if not lapsed:
                    return False
                names = {f"#t{i}": token for i, token in enumerate(lapsed)}
                values = {f":u{i}": item["holders"][token] for i, token in enumerate(lapsed)}
                self._table.update_item(
                    Key=PERMITS_KEY,
                    UpdateExpression="REMOVE " + ", ".join(f"holders.{name}" for name in names),
                    ConditionExpression=" AND ".join(f"holders.#t{i} = :u{i}" for i in range(len(lapsed))),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
        except ClientError as exc:
            if aws.error_code(exc) != "ConditionalCheckFailedException":
                raise
        return True  # reclaimed here, or by another taker meanwhile

    def _create_item(self) -> None:
        """The permits item, with no lease, unless another process made it first."""
        try:
            with aws.store_errors("The Zuora request permits"):
                self._table.put_item(Item={**PERMITS_KEY, "holders": {}}, ConditionExpression="attribute_not_exists(permitKey)")
        except ClientError as exc:
            if aws.error_code(exc) != "ConditionalCheckFailedException":
                raise
        self._item_exists = True

    def _release(self, token: str) -> None:
        try:
            with aws.store_errors("The Zuora request permits"):
                self._table.update_item(Key=PERMITS_KEY, UpdateExpression="REMOVE holders.#token", ExpressionAttributeNames={"#token": token})
        except TransientSyncError as error:  # the lease lapses on its own; the Zuora answer must not be lost for it
            logger.warning("Could not give a Zuora request permit back; it lapses with its lease", extra={"reason": error.message})


def _number(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))
