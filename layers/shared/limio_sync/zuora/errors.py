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

import math
from collections.abc import Mapping, Sequence
from typing import Any

from limio_sync.errors import ErrorCode, PermanentSyncError, SyncError, TransientSyncError

REASON_MESSAGE_LIMIT = 200
OAUTH_RESOURCE = "an OAuth token (check the Zuora client id and secret)"


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
    ) -> ZuoraError:
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


def error_for_response(
    resource: str, *, status: int, headers: Mapping[str, str], body: dict[str, Any] | None
) -> ZuoraError:
    """The error for an API answer that is not a success: an error status, `success: false`, or no JSON object."""
    request_id = headers.get("Zuora-Request-Id") or _text(body, "requestId")
    retry_after = retry_after_seconds(headers)
    if body is None and 200 <= status < 300:
        return ZuoraMalformedResponse.about(
            resource, detail="the body is not a JSON object", request_id=request_id, retry_after=retry_after
        )
    reasons = _reasons(body)
    codes = [code for code in (_reason_code(reason) for reason in reasons) if code is not None]
    return _error_class(status, codes).about(
        resource,
        detail=_first_reason_message(reasons),
        http_status=status,
        zuora_codes=codes,
        request_id=request_id,
        retry_after=retry_after,
    )


def error_for_token_response(*, status: int, headers: Mapping[str, str]) -> ZuoraError:
    """The error for a failed `/oauth/token` call. Only throttling and server faults are worth retrying;
    Zuora documents no other failure, so anything else means the credentials were refused."""
    if status == 429:
        error_class: type[ZuoraError] = ZuoraRateLimited
    elif status >= 500:
        error_class = ZuoraServerError
    else:
        error_class = ZuoraAuthError
    return error_class.about(
        OAUTH_RESOURCE,
        http_status=status,
        request_id=headers.get("Zuora-Request-Id"),
        retry_after=retry_after_seconds(headers),
    )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`Retry-After` in seconds; the HTTP-date form and anything unparsable are ignored."""
    try:
        seconds = float(headers.get("Retry-After", ""))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


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
