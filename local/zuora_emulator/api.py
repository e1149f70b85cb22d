"""The Zuora endpoints the sync client uses, answering in Zuora's shapes (zuora.md §1–§5)."""

from __future__ import annotations

import datetime as dt
import random
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from local.zuora_emulator.billing import (
    PreviewError,
    billing_preview_body,
    parse_preview_request,
    parse_subscription_preview_request,
    preview_invoice_items,
    subscription_preview_body,
)
from local.zuora_emulator.charges import ChargeDetailError, ChargeView, parse_charge_view, render_subscription
from local.zuora_emulator.faults import FaultBook
from local.zuora_emulator.store import TenantStore
from local.zuora_emulator.tenant import TENANT_FEATURES, Credentials, Settings
from local.zuora_emulator.tokens import TokenIssuer
from local.zuora_emulator.wire import (
    BUSINESS_RULE,
    INVALID_QUERY_PARAMETER,
    INVALID_VALUE,
    NOT_FOUND,
    Reply,
    Request,
    at_least_version,
    decode_cursor,
    encode_cursor,
    error_envelope,
    json_reply,
    page_url,
    status_for_code,
    uses_http_error_statuses,
    uses_object_query_errors,
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
_IN_LIST = re.compile(r"\[(?P<values>.*)\]", re.DOTALL)
# PreviewExistingSubscription needs Zuora-Version 207.0 or later (its developer.zuora.com page).
FIRST_VERSION_WITH_SUBSCRIPTION_PREVIEW = 207.0


class InvalidParameterError(Exception):
    """A query parameter Zuora would reject; `code` is the category: 20 (invalid value) or 27 (filter/fields)."""

    def __init__(self, message: str, code: int = INVALID_VALUE):
        super().__init__(message)
        self.code = code


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
        settings: Settings,
        randomness: SharedRandom,
        faults: FaultBook,
        today: Callable[[], dt.date],
    ):
        self._store = store
        self._tokens = tokens
        self._credentials = credentials
        self._default_api_version = settings.defaultApiVersion
        self._settings = settings
        self._random = randomness
        self._faults = faults
        self._today = today

    def set_features(self, features: Mapping[str, Any]) -> dict[str, Any]:
        """Change the tenant features (docs/zuora-emulator.md "Tenant features"); other settings stay as loaded."""
        unknown = sorted(set(features) - set(TENANT_FEATURES))
        if unknown:
            raise ValueError(f"not a tenant feature: {', '.join(unknown)} (features are {', '.join(TENANT_FEATURES)})")
        self._settings = Settings.model_validate({**self._settings.model_dump(), **features})
        return self._settings.model_dump(include=set(TENANT_FEATURES))

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
            offset = _cursor_offset(request.param("cursor"))
            crm_id_filters = _crm_id_filters(request.query.get("filter[]", []))
            fields = _requested_fields(request.query.get("fields[]", []))
        except InvalidParameterError as exc:
            return self._object_query_error(request, exc)
        accounts = self._store.account_basic_infos()
        matching = [info for info in accounts if all(_crm_id_matches(info.get("crmId"), wanted) for wanted in crm_id_filters)]
        page = matching[offset : offset + page_size]
        body: dict[str, Any] = {"data": [_account_record(info, fields) for info in page]}
        if offset + page_size < len(matching):
            body["nextPage"] = encode_cursor(offset + page_size)
        return json_reply(200, body)

    def _object_query_error(self, request: Request, exc: InvalidParameterError) -> Reply:
        """Always HTTP 400. From Zuora-Version 2025-08-12, a bad filter[]/fields[] is category 27 and the body has no
        `success` (https://developer.zuora.com/v1-api-reference/api-upgrades/); before it, the /v1 envelope, code ...20."""
        version = request.header("Zuora-Version") or self._default_api_version
        if uses_object_query_errors(version):
            return json_reply(400, {"reasons": [{"code": exc.code, "message": str(exc)}], "requestId": request.request_id})
        return json_reply(400, error_envelope(INVALID_VALUE, str(exc), request.request_id))

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
            view = self._charge_view(request)
        except (InvalidParameterError, ChargeDetailError) as exc:
            return self._error(request, INVALID_VALUE, str(exc))
        account = self._store.account(key)
        if account is None:
            return self._not_found(request, key)
        subscriptions = self._store.subscriptions_of(account["basicInfo"]["accountNumber"])
        start = (page - 1) * page_size
        body: dict[str, Any] = {
            "success": True,
            "subscriptions": [self._as_served(sub, view) for sub in subscriptions[start : start + page_size]],
        }
        if start + page_size < len(subscriptions):
            body["nextPage"] = page_url(request, page + 1)
        return json_reply(200, body)

    # GET /v1/subscriptions/{subscription-key}

    def get_subscription(self, request: Request, key: str) -> Reply:
        try:
            view = self._charge_view(request)
        except ChargeDetailError as exc:
            return self._error(request, INVALID_VALUE, str(exc))
        subscription = self._store.subscription(key)
        if subscription is None:
            return self._not_found(request, key)
        return json_reply(200, {**self._as_served(subscription, view), "success": True})

    # POST /v1/operations/billing-preview

    def billing_preview(self, request: Request) -> Reply:
        try:
            preview = parse_preview_request(request.body, today=self._today(), tax_rates=self._tax_rates)
        except PreviewError as exc:
            return self._error(request, exc.code, str(exc))
        account = self._store.account(preview.account_key)
        if account is None:
            return self._not_found(request, preview.account_key)
        basic_info = account["basicInfo"]
        billed = self._store.subscriptions_billed_to(basic_info["accountNumber"])
        refusal = self._faults.preview_refusal([sub["subscriptionNumber"] for sub in billed])
        if refusal is not None:
            return self._error(request, BUSINESS_RULE, refusal)
        try:
            items = preview_invoice_items(billed, preview)
        except PreviewError as exc:
            return self._error(request, exc.code, str(exc))
        body = billing_preview_body(items, invoice_settlement=self._settings.invoiceSettlement)
        return json_reply(200, {"accountId": basic_info.get("id"), **body, "success": True})

    # POST /v1/subscriptions/{subscription-key}/preview (PreviewExistingSubscription)

    def preview_subscription(self, request: Request, key: str) -> Reply:
        version = request.header("Zuora-Version") or self._default_api_version
        if not at_least_version(version, FIRST_VERSION_WITH_SUBSCRIPTION_PREVIEW):
            return self._error(request, INVALID_VALUE, "Previewing an existing subscription needs Zuora-Version 207.0 or later.")
        subscription = self._store.subscription(key)
        if subscription is None:
            return self._not_found(request, key)
        try:
            preview = parse_subscription_preview_request(request.body, subscription, today=self._today(), tax_rates=self._tax_rates)
        except PreviewError as exc:
            return self._error(request, exc.code, str(exc))
        refusal = self._faults.preview_refusal([subscription["subscriptionNumber"]])
        if refusal is not None:
            return self._error(request, BUSINESS_RULE, refusal)
        try:
            body = subscription_preview_body(subscription, preview, invoice_settlement=self._settings.invoiceSettlement)
        except PreviewError as exc:
            return self._error(request, exc.code, str(exc))
        return json_reply(200, {**body, "success": True})

    @property
    def _tax_rates(self) -> dict[str, Any]:
        return dict(self._settings.taxRates)

    def _charge_view(self, request: Request) -> ChargeView:
        return parse_charge_view(
            request.param("charge-detail"), request.param("as-of-date"), request.param("exclude-rate-plans-with-no-charges"), today=self._today()
        )

    def _as_served(self, subscription: dict[str, Any], view: ChargeView) -> dict[str, Any]:
        served = render_subscription(subscription, view)
        # Subscription `currency` exists only with Multiple Currencies (GETSubscriptionType.currency).
        if not self._settings.multipleCurrencies:
            served.pop("currency", None)
        # Zuora returns rate plans in random order; clients must not rely on it.
        if isinstance(served.get("ratePlans"), list):
            self._random.shuffle(served["ratePlans"])
        return served

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


def _cursor_offset(cursor: str | None) -> int:
    try:
        return decode_cursor(cursor)
    except ValueError as exc:
        raise InvalidParameterError(str(exc)) from None


def _crm_id_filters(filters: list[str]) -> list[list[str | None]]:
    """Each `crmid.EQ:<value>` or `crmid.IN:[a,b]` filter (AND-ed) as the values it accepts; `null` = unset.

    Syntax from https://developer.zuora.com/docs/guides/expand-filter-fields-sort/ (`name.IN:[Amy,Bella]`).
    """
    accepted: list[list[str | None]] = []
    for expression in filters:
        match = _FILTER.fullmatch(expression)
        if not match or match["field"].lower() != "crmid" or match["op"].upper() not in ("EQ", "IN"):
            message = f"Unsupported filter '{expression}': the emulator supports crmid.EQ:<value> and crmid.IN:[<values>]"
            raise InvalidParameterError(message, INVALID_QUERY_PARAMETER)
        if match["op"].upper() == "EQ":
            values = [match["value"]]
        else:
            listed = _IN_LIST.fullmatch(match["value"])
            if not listed or not listed["values"]:
                raise InvalidParameterError(f"Invalid filter '{expression}': IN takes a list such as crmid.IN:[a,b]", INVALID_QUERY_PARAMETER)
            values = [value.strip() for value in listed["values"].split(",")]
        accepted.append([None if value == "null" else value for value in values])
    return accepted


def _crm_id_matches(crm_id: str | None, accepted: list[str | None]) -> bool:
    """EQ and IN match case-insensitively ("All search fields support exact and case-insensitive matching with EQ, NE,
    and IN", the expand-filter-fields-sort guide); `null` matches an unset crmId."""
    unset = not crm_id
    return any((value is None and unset) or (value is not None and not unset and value.casefold() == str(crm_id).casefold()) for value in accepted)


def _requested_fields(fields_params: list[str]) -> list[str]:
    names = [name.strip().lower() for param in fields_params for name in param.split(",") if name.strip()]
    unknown = [name for name in names if name not in _ACCOUNT_QUERY_FIELDS]
    if unknown:
        raise InvalidParameterError(f"Unknown account field(s): {', '.join(unknown)}", INVALID_QUERY_PARAMETER)
    return [_ACCOUNT_QUERY_FIELDS[name] for name in names] or list(_ACCOUNT_QUERY_FIELDS.values())


def _account_record(basic_info: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    # Object Query leaves out null fields unless includeNullFields=true.
    return {name: basic_info[name] for name in fields if basic_info.get(name) is not None}
