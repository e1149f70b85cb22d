"""Error codes are part of the API: LFS switches on `code` and shows `message`.

Every failure the service can report is a `SyncError` carrying one stable `ErrorCode`, a message a person
can act on (naming the subscription or customer where there is one) and whether retrying can help.
The class name of a transient error is what the state machine's `Retry` matches on, so those names are
part of the contract with `statemachine/*.asl.json`.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # Customer level (the whole job fails)
    CUSTOMER_NOT_FOUND = "CUSTOMER_NOT_FOUND"
    PLANNING_FAILED = "PLANNING_FAILED"
    GATHERING_FAILED = "GATHERING_FAILED"
    EXECUTION_FAILED = "EXECUTION_FAILED"
    SYNC_NOT_STARTED = "SYNC_NOT_STARTED"  # the job was recorded but its execution never started
    # Subscription level
    NOT_FOUND_IN_ZUORA = "NOT_FOUND_IN_ZUORA"
    UNMAPPED_RATE_PLAN = "UNMAPPED_RATE_PLAN"
    ZUORA_AUTH_FAILED = "ZUORA_AUTH_FAILED"
    ZUORA_RATE_LIMITED = "ZUORA_RATE_LIMITED"
    ZUORA_UNAVAILABLE = "ZUORA_UNAVAILABLE"
    ZUORA_TIMEOUT = "ZUORA_TIMEOUT"
    ZUORA_BAD_RESPONSE = "ZUORA_BAD_RESPONSE"
    ZUORA_REJECTED = "ZUORA_REJECTED"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    STALE_VERSION = "STALE_VERSION"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class SyncError(Exception):
    """A failure with a stable code. `retryable` says whether the same call can succeed later."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR
    retryable: bool = False

    def __init__(self, message: str, *, code: ErrorCode | None = None, retryable: bool | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable


class PermanentSyncError(SyncError):
    """Retrying will not help (bad data, not found, unmapped, rejected credentials)."""

    retryable = False


class TransientSyncError(SyncError):
    """Retrying later can help (throttling, timeouts, 5xx, store throttling).

    The state machine retries Lambda errors whose type is `TransientSyncError` (see the ASL `Retry`).
    """

    retryable = True


class CustomerNotFound(PermanentSyncError):
    code = ErrorCode.CUSTOMER_NOT_FOUND


def for_state_machine(error: SyncError) -> SyncError:
    """The exception a task Lambda raises so the state machine can act on it.

    Its class name (`TransientSyncError` or `PermanentSyncError`) is what `Retry` matches; its message keeps
    the stable code in front ("CODE: message") so the job record can still report it after the Catch.
    """
    cls = TransientSyncError if error.retryable else PermanentSyncError
    return cls(f"{error.code.value}: {error.message}", code=error.code)
