"""The Zuora endpoints the sync client uses, answering in Zuora's shapes (zuora.md §1–§5)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import random
import re
import secrets
import threading
import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode

from local.zuora_emulator.billing import PreviewError, parse_preview_request, preview_invoice_items
from local.zuora_emulator.store import TenantStore
from local.zuora_emulator.tenant import Credentials
from local.zuora_emulator.tokens import TokenIssuer
from local.zuora_emulator.wire import (
    INVALID_VALUE,
    NOT_FOUND,
    Reply,
    Request,
    error_envelope,
    json_reply,
    status_for_code,
    uses_http_error_statuses,
)

OBJECT_QUERY_DEFAULT_PAGE_SIZE = 10
OBJECT_QUERY_MAX_PAGE_SIZE = 99
SUBSCRIPTIONS_DEFAULT_PAGE_SIZE = 20
SUBSCRIPTIONS_MAX_PAGE_SIZE = 40  # larger values are served as 40, as Zuora does

# Object Query names fields case-insensitively; these are the account fields the emulator knows.
_ACCOUNT_QUERY_FIELDS = {
    "id": "id",
    "accountnumber": "accountNumber",
    "name": "name",
    "status": "status",
    "crmid": "crmId",
}
_FILTER = re.compile(r"(?P<field>\w+)\.(?P<op>\w+):(?P<value>.*)", re.DOTALL)


class InvalidParameterError(Exception):
    """A query parameter Zuora would reject (category 20, invalid value)."""


class SharedRandom:
    """One seeded random source for all handler threads (seed it in the tenant to make runs repeatable)."""

    def __init__(self, seed: int | None):
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def shuffle(self, items: list[Any]) -> None:
        with self._lock:
            self._random.shuffle(items)

    def uniform(self, low: float, high: float) -> float:
        with self._lock:
            return self._random.uniform(low, high)


class ZuoraApi:
    def __init__(
        self,
        *,
        store: TenantStore,
        tokens: TokenIssuer,
        credentials: Credentials,
        default_api_version: str,
        randomness: SharedRandom,
    ):
        self._store = store
        self._tokens = tokens
        self._credentials = credentials
        self._default_api_version = default_api_version
        self._random = randomness

    # POST /oauth/token

    def issue_token(self, request: Request) -> Reply:
        form = parse_qs(request.body.decode("utf-8", errors="replace"), keep_blank_values=True)
        given = {name: (form.get(name) or [""])[0] for name in ("client_id", "client_secret", "grant_type")}
        if given["grant_type"] != "client_credentials":
            return json_reply(401, {"message": "Unsupported grant_type; use client_credentials"})
        if not (
            secrets.compare_digest(given["client_id"], self._credentials.clientId)
            and secrets.compare_digest(given["client_secret"], self._credentials.clientSecret)
        ):
            return json_reply(401, {"message": "Invalid client credentials"})
        limits = {"X-RateLimit-Limit-minute": "2000", "X-RateLimit-Remaining-minute": "1999"}
        return json_reply(200, self._token_body(), limits)

    def _token_body(self) -> dict[str, Any]:
        return {
            "access_token": self._tokens.issue(),
            "token_type": "bearer",
            "expires_in": self._tokens.ttl_seconds,
            "scope": f"user.{uuid.uuid4().hex} entity.{uuid.uuid4()} service.subscription.read tenant.9999",
            "jti": uuid.uuid4().hex,
        }

    def is_authorized(self, request: Request) -> bool:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and self._tokens.is_valid(token.strip())

    # GET /object-query/accounts

    def query_accounts(self, request: Request) -> Reply:
        try:
            page_size = _int_param(request, "pageSize", OBJECT_QUERY_DEFAULT_PAGE_SIZE, low=1)
            if page_size > OBJECT_QUERY_MAX_PAGE_SIZE:
                raise InvalidParameterError(f"pageSize must be between 1 and {OBJECT_QUERY_MAX_PAGE_SIZE}")
            offset = _decode_cursor(request.param("cursor"))
            wanted_crm_ids = _crm_id_filters(request.query.get("filter[]", []))
            fields = _requested_fields(request.query.get("fields[]", []))
        except InvalidParameterError as exc:
            return json_reply(400, error_envelope(INVALID_VALUE, str(exc), request.request_id))
        matching = [info for info in self._store.account_basic_infos() if all(info.get("crmId") == crm_id for crm_id in wanted_crm_ids)]
        page = matching[offset : offset + page_size]
        body: dict[str, Any] = {"data": [_account_record(info, fields) for info in page]}
        if offset + page_size < len(matching):
            body["nextPage"] = _encode_cursor(offset + page_size)
        return json_reply(200, body)

    # GET /v1/accounts/{account-key}

    def get_account(self, request: Request, key: str) -> Reply:
        account = self._store.account(key)
        if account is None:
            return self._not_found(request, key)
        return json_reply(200, {**account, "success": True})

    # GET /v1/subscriptions/accounts/{account-key}

    def list_subscriptions(self, request: Request, key: str) -> Reply:
        try:
            page = _int_param(request, "page", 1, low=1)
            page_size = min(_int_param(request, "pageSize", SUBSCRIPTIONS_DEFAULT_PAGE_SIZE, low=1), SUBSCRIPTIONS_MAX_PAGE_SIZE)
        except InvalidParameterError as exc:
            return self._error(request, INVALID_VALUE, str(exc))
        account = self._store.account(key)
        if account is None:
            return self._not_found(request, key)
        subscriptions = self._store.subscriptions_of(account["basicInfo"]["accountNumber"])
        start = (page - 1) * page_size
        body: dict[str, Any] = {
            "success": True,
            "subscriptions": [self._as_served(sub) for sub in subscriptions[start : start + page_size]],
        }
        if start + page_size < len(subscriptions):
            body["nextPage"] = _next_page_url(request, page + 1)
        return json_reply(200, body)

    # GET /v1/subscriptions/{subscription-key}

    def get_subscription(self, request: Request, key: str) -> Reply:
        subscription = self._store.subscription(key)
        if subscription is None:
            return self._not_found(request, key)
        return json_reply(200, {**self._as_served(subscription), "success": True})

    # POST /v1/operations/billing-preview

    def billing_preview(self, request: Request) -> Reply:
        try:
            preview = parse_preview_request(request.body, today=dt.date.today())
        except PreviewError as exc:
            return self._error(request, exc.code, str(exc))
        account = self._store.account(preview.account_key)
        if account is None:
            return self._not_found(request, preview.account_key)
        basic_info = account["basicInfo"]
        try:
            items = preview_invoice_items(self._store.subscriptions_billed_to(basic_info["accountNumber"]), preview)
        except PreviewError as exc:
            return self._error(request, exc.code, str(exc))
        return json_reply(200, {"accountId": basic_info.get("id"), "invoiceItems": items, "creditMemoItems": [], "success": True})

    def _as_served(self, subscription: dict[str, Any]) -> dict[str, Any]:
        # Zuora returns rate plans in random order; clients must not rely on it.
        if isinstance(subscription.get("ratePlans"), list):
            self._random.shuffle(subscription["ratePlans"])
        return subscription

    # Errors: the envelope travels with HTTP 200 under legacy API versions, with its own status from 2024-05-20

    def _not_found(self, request: Request, key: str) -> Reply:
        return self._error(request, NOT_FOUND, f"Cannot find entity by key: '{key}'.")

    def _error(self, request: Request, code: int, message: str) -> Reply:
        version = request.header("Zuora-Version") or self._default_api_version
        status = status_for_code(code) if uses_http_error_statuses(version) else 200
        return json_reply(status, error_envelope(code, message, request.request_id))


def _int_param(request: Request, name: str, default: int, *, low: int) -> int:
    raw = request.param(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameterError(f"Invalid value for '{name}': must be an integer") from None
    if value < low:
        raise InvalidParameterError(f"Invalid value for '{name}': must be at least {low}")
    return value


def _crm_id_filters(filters: list[str]) -> list[str | None]:
    """The values of `crmid.EQ:<value>` filters (AND-ed); `null` means an unset crmId."""
    values: list[str | None] = []
    for expression in filters:
        match = _FILTER.fullmatch(expression)
        if not match or match["field"].lower() != "crmid" or match["op"].upper() != "EQ":
            raise InvalidParameterError(f"Unsupported filter '{expression}': the emulator supports crmid.EQ:<value>")
        values.append(None if match["value"] == "null" else match["value"])
    return values


def _requested_fields(fields_params: list[str]) -> list[str]:
    names = [name.strip().lower() for param in fields_params for name in param.split(",") if name.strip()]
    unknown = [name for name in names if name not in _ACCOUNT_QUERY_FIELDS]
    if unknown:
        raise InvalidParameterError(f"Unknown account field(s): {', '.join(unknown)}")
    return [_ACCOUNT_QUERY_FIELDS[name] for name in names] or list(_ACCOUNT_QUERY_FIELDS.values())


def _account_record(basic_info: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    # Object Query leaves out null fields unless includeNullFields=true.
    return {name: basic_info[name] for name in fields if basic_info.get(name) is not None}


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        offset = json.loads(base64.b64decode(cursor, validate=True))["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise InvalidParameterError("Invalid cursor") from None
    if not isinstance(offset, int) or offset < 0:
        raise InvalidParameterError("Invalid cursor")
    return offset


def _next_page_url(request: Request, next_page: int) -> str:
    """The same URL on this server with only `page` changed, as Zuora's absolute nextPage links are."""
    params = [(name, value) for name, values in request.query.items() for value in values if name != "page"]
    host = request.header("Host") or "localhost"
    return f"http://{host}{request.raw_path}?{urlencode([('page', str(next_page)), *params])}"
