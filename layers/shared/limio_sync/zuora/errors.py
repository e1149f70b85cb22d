"""Zuora failures, classified the way Zuora's error-handling guide says to treat them (reference §5).

Zuora reports an error in one of two styles, depending on the tenant's `Zuora-Version`: a real HTTP status
(404, 429, 500...), or HTTP 200 with `{"success": false, "reasons": [{"code": 50000040, ...}]}`. Object
Query errors carry `reasons` without `success`. Either way the last two digits of a reason code are its
category, which says more than the status, so the category wins when it is one we know.

Messages name the resource and carry Zuora's request id for support. They never carry the response body,
the access token or the client secret; at most the first reason's message, shortened.
"""

# The class names are part of the contract with callers and logs, so they keep their plain names (no "Error").
# ruff: noqa: N818

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any, Self

from limio_sync.errors import ErrorCode, PermanentSyncError, SyncError, TransientSyncError

REASON_MESSAGE_LIMIT = 200
OAUTH_RESOURCE = "an OAuth token"
CREDENTIALS_HINT = "check the Zuora client id and secret"


class ZuoraError(SyncError):
    """A failed Zuora call, with what is needed to trace it. Raise one of the concrete subclasses."""

    headline = "Zuora failed on {resource}"

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        zuora_codes: Sequence[int] = (),
        request_id: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.http_status = http_status
        self.zuora_codes = list(zuora_codes)
        self.request_id = request_id
        self.retry_after = retry_after

    @classmethod
    def about(
        cls,
        resource: str,
        *,
        detail: str | None = None,
        http_status: int | None = None,
        zuora_codes: Sequence[int] = (),
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> Self:
        """The error for `resource` ("subscription A-S00001234"), with a message built from its headline."""
        facts = [
            f"HTTP {http_status}" if http_status is not None and http_status >= 300 else None,
            detail,
            f"retry after {retry_after:g}s" if retry_after is not None else None,
            f"Zuora request id {request_id}" if request_id else None,
        ]
        message = cls.headline.format(resource=resource)
        known = [fact for fact in facts if fact]
        if known:
            message = f"{message} ({'; '.join(known)})"
        return cls(
            message,
            http_status=http_status,
            zuora_codes=zuora_codes,
            request_id=request_id,
            retry_after=retry_after,
        )


class ZuoraNotFound(ZuoraError, PermanentSyncError):
    code = ErrorCode.NOT_FOUND_IN_ZUORA
    headline = "Zuora does not know {resource}"


class ZuoraAuthError(ZuoraError, PermanentSyncError):
    code = ErrorCode.ZUORA_AUTH_FAILED
    headline = "Zuora refused access to {resource}"


class ZuoraRequestRejected(ZuoraError, PermanentSyncError):
    code = ErrorCode.ZUORA_REJECTED
    headline = "Zuora rejected the request for {resource}"


class ZuoraRateLimited(ZuoraError, TransientSyncError):
    code = ErrorCode.ZUORA_RATE_LIMITED
    headline = "Zuora is rate limiting requests for {resource}"


class ZuoraServerError(ZuoraError, TransientSyncError):
    code = ErrorCode.ZUORA_UNAVAILABLE
    headline = "Zuora failed to serve {resource}"


class ZuoraTimeout(ZuoraError, TransientSyncError):
    code = ErrorCode.ZUORA_TIMEOUT
    headline = "Zuora could not be reached in time for {resource}"


class ZuoraMalformedResponse(ZuoraError, TransientSyncError):
    """Transient because a garbled body is usually a proxy or connection hiccup."""

    code = ErrorCode.ZUORA_BAD_RESPONSE
    headline = "Zuora sent an unreadable answer for {resource}"


_ERROR_BY_CATEGORY: dict[int, type[ZuoraError]] = {
    10: ZuoraAuthError,  # permission denied
    11: ZuoraAuthError,  # authentication failed
    20: ZuoraRequestRejected,  # invalid value
    21: ZuoraRequestRejected,  # unknown field
    22: ZuoraRequestRejected,  # missing required field
    23: ZuoraRequestRejected,  # missing required parameter
    27: ZuoraRequestRejected,  # invalid Object Query parameter
    30: ZuoraRequestRejected,  # business rule
    40: ZuoraNotFound,
    45: ZuoraRequestRejected,  # unsupported request
    50: ZuoraServerError,  # lock contention: Zuora says retry
    60: ZuoraServerError,  # internal error
    61: ZuoraServerError,  # temporary error
    70: ZuoraRateLimited,  # over the concurrency limit
    90: ZuoraRequestRejected,  # malformed request
    99: ZuoraServerError,  # error in an external system Zuora depends on
}


def error_for_response(resource: str, *, status: int, headers: Mapping[str, str], body: dict[str, Any] | None) -> ZuoraError:
    """The error for an API answer that is not a success: an error status, `success: false`, or no JSON object."""
    request_id = headers.get("Zuora-Request-Id") or _text(body, "requestId")
    if body is None and 200 <= status < 300:
        return ZuoraMalformedResponse.about(
            resource, detail="the body is not a JSON object", request_id=request_id, retry_after=retry_after_seconds(headers)
        )
    reasons = _reasons(body)
    codes = [code for code in (_reason_code(reason) for reason in reasons) if code is not None]
    error_class = _error_class(status, codes)
    return error_class.about(
        resource,
        detail=_first_reason_message(reasons),
        http_status=status,
        zuora_codes=codes,
        request_id=request_id,
        retry_after=wait_seconds(headers, rate_limited=error_class is ZuoraRateLimited),
    )


def error_for_token_response(*, status: int, headers: Mapping[str, str]) -> ZuoraError:
    """The error for a failed `/oauth/token` call. Only throttling and server faults are worth retrying;
    Zuora documents no other failure, so anything else means the request or the credentials were refused.
    Only a 401 or 403 is about the credentials themselves (zuora-sdk `o_auth_api.py`: 401
    ProxyUnauthorizedResponse, 403 for a client without access), so only they point at the secret; a 5xx
    says Zuora is unavailable, so nobody goes rotating a secret that is fine."""
    if status == 429:
        error_class: type[ZuoraError] = ZuoraRateLimited
        detail = None
    elif status >= 500:
        error_class, detail = ZuoraServerError, "Zuora is unavailable; the credentials were not checked"
    else:
        error_class = ZuoraAuthError
        detail = CREDENTIALS_HINT if status in (401, 403) else None
    return error_class.about(
        OAUTH_RESOURCE,
        detail=detail,
        http_status=status,
        request_id=headers.get("Zuora-Request-Id"),
        retry_after=wait_seconds(headers, rate_limited=error_class is ZuoraRateLimited),
    )


def wait_seconds(headers: Mapping[str, str], *, rate_limited: bool) -> float | None:
    """How long Zuora asks us to wait: `Retry-After`, or when rate limited without it, `RateLimit-Reset`.

    Zuora's rate-limit 429 carries `RateLimit-Remaining: 0` and `RateLimit-Reset` (seconds until the quota
    resets, per the IETF RateLimit header draft Zuora follows) and no `Retry-After` (developer.zuora.com,
    guides/rate-limits); the concurrency 429 carries `Retry-After`. On any other answer `RateLimit-Reset`
    only describes the quota, not a wait.
    """
    retry_after = retry_after_seconds(headers)
    if retry_after is not None or not rate_limited:
        return retry_after
    return _delta_seconds(headers.get("RateLimit-Reset", "").split(",")[0])


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`Retry-After` in seconds, given as delta-seconds or as an HTTP-date (RFC 9110 §10.2.3); unparsable is None.

    An HTTP-date is measured from the response's own `Date` header when it has one, so a skew between Zuora's
    clock and ours does not change the wait; a date already past means "now" (0).
    """
    value = headers.get("Retry-After", "").strip()
    seconds = _delta_seconds(value)
    if seconds is not None or not value:
        return seconds
    retry_at = _http_date(value)
    if retry_at is None:
        return None
    now = _http_date(headers.get("Date", "")) or dt.datetime.now(dt.UTC)
    return max(0.0, (retry_at - now).total_seconds())


def _delta_seconds(value: str) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _http_date(value: str) -> dt.datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _error_class(status: int, codes: list[int]) -> type[ZuoraError]:
    by_category = _ERROR_BY_CATEGORY.get(codes[0] % 100) if codes else None
    if by_category is not None:
        return by_category
    if 200 <= status < 300:
        return ZuoraRequestRejected  # `success: false` without a category we know: do not hammer Zuora
    return _error_class_for_status(status)


def _error_class_for_status(status: int) -> type[ZuoraError]:
    if status == 404:
        return ZuoraNotFound
    if status in (401, 403):
        return ZuoraAuthError
    if status == 429:
        return ZuoraRateLimited
    if status == 408:
        return ZuoraTimeout
    if status == 409 or status >= 500:  # 409 is Zuora's lock contention (category 50)
        return ZuoraServerError
    if status >= 400:
        return ZuoraRequestRejected
    return ZuoraMalformedResponse  # 1xx or an unfollowed 3xx: not an answer we can use


def _reasons(body: dict[str, Any] | None) -> list[dict[str, Any]]:
    reasons = body.get("reasons") if body else None
    if not isinstance(reasons, list):
        return []
    return [reason for reason in reasons if isinstance(reason, dict)]


def _reason_code(reason: dict[str, Any]) -> int | None:
    code = reason.get("code")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.isdigit():
        return int(code)
    return None


def _first_reason_message(reasons: list[dict[str, Any]]) -> str | None:
    message = _text(reasons[0], "message") if reasons else None
    return message[:REASON_MESSAGE_LIMIT] if message else None


def _text(body: dict[str, Any] | None, key: str) -> str | None:
    value = body.get(key) if body else None
    return value if isinstance(value, str) else None
