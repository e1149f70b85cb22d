"""Requests and replies as the emulator sees them, and Zuora's error envelope."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import urlencode

JSON_CONTENT_TYPE = "application/json; charset=utf-8"

# From this Zuora-Version on, errors carry their real HTTP status; before it they come back as HTTP 200.
FIRST_VERSION_WITH_HTTP_ERROR_STATUSES = "2024-05-20"
FIRST_VERSION_WITH_OBJECT_QUERY_ERRORS = "2025-08-12"
_DATE_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")

# The last two digits of an 8-digit Zuora error code are its category; this is the category → status table
# Zuora applies from 2024-05-20 (zuora.md §5.1).
_STATUS_BY_CATEGORY = {
    10: 403,
    11: 401,
    20: 400,
    21: 400,
    22: 400,
    23: 400,
    27: 400,
    30: 400,
    40: 404,
    45: 405,
    50: 409,
    60: 500,
    61: 500,
    70: 429,
    90: 400,
    99: 500,
}

NOT_FOUND = 50000040
INVALID_VALUE = 50000020
INVALID_QUERY_PARAMETER = 50000027  # invalid filter[]/expand[]/sort[]/fields[] from 2025-08-12 (api-upgrades)
MISSING_VALUE = 50000022
BUSINESS_RULE = 50000030
MALFORMED_REQUEST = 50000090
OVER_CONCURRENCY_LIMIT = 50000070
INTERNAL_ERROR = 50000060


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # percent-decoded, without the query string
    raw_path: str  # as sent, used to build absolute nextPage links
    query: Mapping[str, list[str]]
    headers: Message  # as parsed by http.server: lookups are case-insensitive
    body: bytes
    request_id: str  # the Zuora-Request-Id of the answer, also the envelope's requestId

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False  # close the connection without answering at all


def json_reply(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Reply:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Reply(status, body, {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})})


def error_envelope(code: int, message: str, request_id: str) -> dict[str, Any]:
    return {
        "success": False,
        "processId": secrets.token_hex(8).upper(),
        "reasons": [{"code": code, "message": message}],
        "requestId": request_id,
    }


def status_for_code(code: int) -> int:
    return _STATUS_BY_CATEGORY.get(code % 100, 500)


def uses_http_error_statuses(api_version: str) -> bool:
    """Date versions from 2024-05-20 on; legacy numbered versions like `211.0` (and anything else) are older."""
    version = api_version.strip()
    return bool(_DATE_VERSION.fullmatch(version)) and version >= FIRST_VERSION_WITH_HTTP_ERROR_STATUSES


def at_least_version(api_version: str, minimum: float) -> bool:
    """Whether a `Zuora-Version` is `minimum` (a numbered minor version such as 207.0) or later; date versions
    (2024-05-20, 2025-08-12) come after every numbered one."""
    version = api_version.strip()
    if _DATE_VERSION.fullmatch(version):
        return True
    try:
        return float(version) >= minimum
    except ValueError:
        return False


def uses_object_query_errors(api_version: str) -> bool:
    """From 2025-08-12 Object Query errors drop `success` and bad filter/fields parameters are category 27."""
    version = api_version.strip()
    return bool(_DATE_VERSION.fullmatch(version)) and version >= FIRST_VERSION_WITH_OBJECT_QUERY_ERRORS


def unauthorized_reply() -> Reply:
    return json_reply(
        401,
        {"message": "Authentication error"},
        {"WWW-Authenticate": "Basic realm=Zuora API, ZSession realm=Zuora API, Bearer realm=Zuora API"},
    )


# Paging: Object Query's opaque cursor and /v1's absolute nextPage links


def encode_cursor(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = json.loads(base64.b64decode(cursor, validate=True))["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise ValueError("Invalid cursor") from None
    if not isinstance(offset, int) or offset < 0:
        raise ValueError("Invalid cursor")
    return offset


def page_url(request: Request, next_page: int) -> str:
    """The same URL on this server with only `page` changed, as Zuora's absolute nextPage links are."""
    params = [(name, value) for name, values in request.query.items() for value in values if name != "page"]
    host = request.header("Host") or "localhost"
    return f"http://{host}{request.raw_path}?{urlencode([('page', str(next_page)), *params])}"
