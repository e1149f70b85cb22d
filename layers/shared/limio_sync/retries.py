"""Scheduled retries of subscriptions whose failure was transient (pure policy and the retry entry)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from limio_sync.models import CustomerRef


@dataclass(frozen=True)
class RetryPolicy:
    """Per-subscription exponential backoff: interval, 2×interval, 4×interval… up to max_delay; after
    max_attempts scheduled attempts the failure is dead-lettered."""

    interval: dt.timedelta
    max_attempts: int
    max_delay: dt.timedelta = dt.timedelta(hours=6)

    def next_attempt_at(self, attempts_made: int, now: dt.datetime) -> dt.datetime:
        return now + min(self.max_delay, self.interval * (2**attempts_made))

    def exhausted(self, attempts_made: int) -> bool:
        return attempts_made >= self.max_attempts


def is_transient(caught: dict) -> bool:
    """Whether what a state machine Catch captured ({"Error", "Cause"}) may pass: a transient sync error or a
    Lambda service error, the errors the state machine's own Retry lists."""
    name = str(caught.get("Error") or "")
    return name == "TransientSyncError" or name.startswith("Lambda.")


class RetryEntry(BaseModel):
    """A subscription waiting for its next scheduled attempt; without a subscription number, a job whose
    planning failed for a transient reason, waiting to be planned again."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    syncId: str
    subscriptionNumber: str | None = None
    customer: CustomerRef
    attempts: int
    nextAttemptAt: str
    errorCode: str | None = None
    message: str | None = None
