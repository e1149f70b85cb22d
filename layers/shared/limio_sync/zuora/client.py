"""The Zuora REST client: the only module that talks HTTP to Zuora (see the reference notes, zuora.md).

It authenticates with OAuth client credentials (one cached token per tenant and client id, shared by every
client of the process), turns every failure into a `ZuoraError`, and retries the transient ones the way
Zuora recommends (§5.4): full-jitter exponential backoff that waits at least `Retry-After` (or, on a
rate-limit 429 without it, `RateLimit-Reset`).

Time: GETs have a short read timeout; the billing previews, which Zuora may legitimately work on for up to
its 120 s gateway limit ("If a request does not complete within 120 seconds, the request times out",
developer.zuora.com guides/requests-and-responses), have their own and are retried at most once. Given the
calling Lambda's remaining time, every timeout and every retry wait is cut to fit inside it, less a margin
for the caller to record what it did; a call that cannot fit fails at once with a retryable `ZuoraTimeout`.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import requests
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from limio_sync import ids
from limio_sync.observability import logger
from limio_sync.zuora.errors import (
    OAUTH_RESOURCE,
    ZuoraAuthError,
    ZuoraError,
    ZuoraMalformedResponse,
    ZuoraRequestRejected,
    ZuoraTimeout,
    error_for_response,
    error_for_token_response,
)
from limio_sync.zuora.models import ZuoraAccountRef, ZuoraCredentials
from limio_sync.zuora.token_cache import AccessToken, shared_token_cache

USER_AGENT = "limio-subscription-sync/1.0"
MAX_SUBSCRIPTION_PAGE_SIZE = 40  # Zuora's maximum for the subscriptions-by-account list
ACCOUNT_QUERY_PAGE_SIZE = 99  # Object Query's maximum
ACCOUNT_QUERY_FIELDS = "id,accountnumber,name,status,crmid"
# Caps on following Zuora's paging: no customer comes near them (1,000 pages of 40 subscriptions; 100 pages of 99
# accounts), and a `nextPage` or cursor that never ends must fail the account, not run until the Lambda times out.
MAX_SUBSCRIPTION_PAGES = 1000
MAX_ACCOUNT_QUERY_PAGES = 100
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600.0
# Zuora's gateway gives up on a request after 120 s, so a billing preview never needs longer than that.
PREVIEW_READ_TIMEOUT_SECONDS = 120.0
# A second try of a heavy preview may help after a blip; a third would only add load to a struggling tenant.
PREVIEW_MAX_ATTEMPTS = 2
# Kept free of Zuora calls at the end of the caller's time, to record receipts and answer the state machine.
DEADLINE_MARGIN_SECONDS = 5.0
# Below this much read time a call is not worth sending: it would time out and count against the rate limit.
MIN_READ_SECONDS = 1.0

# Sent on every subscription read (GET /v1/subscriptions/{key} and /v1/subscriptions/accounts/{key}):
# every charge segment (`chargeSegments`, zuora-sdk GetSubscriptionRatePlanChargesWithAllSegments), so the
# rules pick the segment in effect today and see a charge's real start; and no rate plan without charges.
# The default, `last-segment`, is "the last rate plan charge on the subscription" (a future price, say).
SUBSCRIPTION_READ_PARAMS = {"charge-detail": "all-segments", "exclude-rate-plans-with-no-charges": "true"}

ASSUME_RENEWAL_OPTIONS = ("None", "Autorenew", "All")
CHARGE_TYPES = ("OneTime", "Recurring", "Usage")

_ZUORA_ID = re.compile(r"[0-9a-fA-F]{32}")
_CRM_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")  # a Salesforce id: nothing that could alter the filter
_TRACK_ID = re.compile(r"[\x20-\x7e]{1,64}")
_TRACK_ID_FORBIDDEN = frozenset(":;\"'")

Params = dict[str, Any] | list[tuple[str, Any]]
CredentialsSource = ZuoraCredentials | Callable[[], ZuoraCredentials]
RemainingTime = Callable[[], float]  # seconds the caller has left, e.g. a Lambda context's remaining time / 1000


class ZuoraClient:
    """Reads accounts and subscriptions from one Zuora tenant.

    Every call either returns validated data or raises a `ZuoraError` subclass whose `retryable` says
    whether the caller may try again later; transient failures have already been retried here.

    `read_timeout` is for GETs; `preview_read_timeout` and `preview_max_attempts` for the billing previews.
    `remaining_time` (seconds the caller has left) bounds every timeout and retry wait, keeping
    `deadline_margin` seconds free. `entity_id` is sent as `Zuora-Entity-Ids` for Multi-entity tenants
    ("If you have Zuora Multi-entity enabled and the OAuth token is valid for more than one entity, you must
    use this header", on every operation of developer.zuora.com's v1 API reference).
    """

    def __init__(
        self,
        base_url: str,
        credentials: CredentialsSource,
        *,
        api_version: str = "2025-08-12",
        track_id: str | None = None,
        connect_timeout: float = 3.05,
        read_timeout: float = 30.0,
        max_attempts: int = 4,
        preview_read_timeout: float = PREVIEW_READ_TIMEOUT_SECONDS,
        preview_max_attempts: int = PREVIEW_MAX_ATTEMPTS,
        remaining_time: RemainingTime | None = None,
        deadline_margin: float = DEADLINE_MARGIN_SECONDS,
        entity_id: str | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
        limiter: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
    ):
        if max_attempts < 1 or preview_max_attempts < 1:
            raise ValueError("max_attempts and preview_max_attempts must be at least 1")
        self._base_url = base_url.rstrip("/")
        self._credentials = _LazyCredentials(credentials)
        self._api_version = api_version
        self._track_id = _valid_track_id(track_id)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_attempts = max_attempts
        self._preview_read_timeout = preview_read_timeout
        self._preview_max_attempts = preview_max_attempts
        self._remaining_time = remaining_time
        self._deadline_margin = deadline_margin
        self._entity_id = entity_id or None
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._clock = clock
        self._session = session or requests.Session()
        self._rng = rng or random.Random()
        self._limiter = limiter or contextlib.nullcontext

    def with_track_id(self, track_id: str) -> ZuoraClient:
        """A copy that tags its requests with `track_id`; it shares this client's session, credentials and token."""
        tagged = copy.copy(self)
        tagged._track_id = _valid_track_id(track_id)
        return tagged

    def find_accounts_by_crm_id(self, crm_id: str) -> list[ZuoraAccountRef]:
        """Every account whose CrmId names the Salesforce account `crm_id` (Zuora does not make it unique:
        expect 0..n), whether the CrmId holds its 15- or its 18-character form, by number.

        One Object Query call, `crmid.IN:[<15-character form>,<18-character form>]` (the `IN` operator and its
        bracketed list: developer.zuora.com/docs/guides/expand-filter-fields-sort/; `requests` URL-encodes the
        brackets, as that guide asks). The same guide documents `EQ`, `NE` and `IN` as case-insensitive while two
        15-character ids may differ only by case, so each account found is kept only if its CrmId is exactly this
        id. A `crm_id` that is not a Salesforce id (15 or 18 letters and digits) raises `ZuoraRequestRejected`
        without calling Zuora.
        """
        if not _CRM_ID.fullmatch(crm_id):
            raise ZuoraRequestRejected(f"CRM id {crm_id[:40]!r} was not sent to Zuora: a Salesforce id has 15 or 18 letters and digits only")
        id15, id18 = ids.salesforce_id_forms(crm_id)
        found: dict[str, ZuoraAccountRef] = {}
        for account in self._query_accounts(f"crmid.IN:[{id15},{id18}]", f"accounts with CRM id {id18}"):
            if ids.same_salesforce_id(account.crmId, crm_id):
                found[account.accountNumber] = account
        return [found[number] for number in sorted(found)]

    def _query_accounts(self, filter_expression: str, resource: str) -> list[ZuoraAccountRef]:
        query = [
            ("filter[]", filter_expression),
            ("fields[]", ACCOUNT_QUERY_FIELDS),
            ("pageSize", ACCOUNT_QUERY_PAGE_SIZE),
        ]
        accounts: list[ZuoraAccountRef] = []
        cursors_seen: set[str] = set()
        params = query
        while True:
            body = self._get_json("/object-query/accounts", params, resource)
            accounts.extend(_account_refs(body, resource))
            cursor = body.get("nextPage")
            if not cursor:
                return accounts
            if not isinstance(cursor, str) or cursor in cursors_seen:
                raise _endless(resource, "nextPage is not a new cursor")
            if len(cursors_seen) + 1 >= MAX_ACCOUNT_QUERY_PAGES:
                raise _endless(resource, f"more than {MAX_ACCOUNT_QUERY_PAGES} pages of accounts")
            cursors_seen.add(cursor)
            params = [*query, ("cursor", cursor)]

    def get_account(self, account_key: str) -> ZuoraAccountRef:
        """The account by number or id."""
        resource = f"account {account_key}"
        body = self._get_json(f"/v1/accounts/{_path_segment(account_key)}", {}, resource)
        return _account_ref(body.get("basicInfo"), resource)

    def get_account_detail(self, account_key: str) -> dict[str, Any]:
        """The account as Zuora sent it (basicInfo, billingAndPayment, bill-to and sold-to contacts)."""
        resource = f"account {account_key}"
        body = self._get_json(f"/v1/accounts/{_path_segment(account_key)}", {}, resource)
        _account_ref(body.get("basicInfo"), resource)
        return body

    def iter_subscription_pages(self, account_key: str, page_size: int = MAX_SUBSCRIPTION_PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
        """The raw subscriptions of an account, one page at a time (a page may be empty), each read with
        SUBSCRIPTION_READ_PARAMS.

        `page_size` above Zuora's maximum of 40 raises `ValueError` rather than being silently clamped. A
        `nextPage` that goes back to a page already read, or past MAX_SUBSCRIPTION_PAGES, raises a
        `ZUORA_BAD_RESPONSE` naming the account rather than being followed for ever.
        """
        if not 1 <= page_size <= MAX_SUBSCRIPTION_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_SUBSCRIPTION_PAGE_SIZE}, not {page_size}")
        resource = f"subscriptions of account {account_key}"
        path = f"/v1/subscriptions/accounts/{_path_segment(account_key)}"
        params: dict[str, Any] = {"page": 1, "pageSize": page_size}
        pages_seen: set[int] = set()
        while True:
            pages_seen.add(params["page"])
            body = self._get_json(path, {**params, **SUBSCRIPTION_READ_PARAMS}, resource)
            yield _subscriptions_of(body, resource)
            next_page = body.get("nextPage")
            if not next_page:
                return
            params = _next_page_params(next_page, page_size, resource)
            if params["page"] in pages_seen:
                raise _endless(resource, f"nextPage repeats page {params['page']}")
            if len(pages_seen) >= MAX_SUBSCRIPTION_PAGES:
                raise _endless(resource, f"more than {MAX_SUBSCRIPTION_PAGES} pages")

    def get_subscription(self, subscription_key: str) -> dict[str, Any]:
        """The latest version of a subscription, by number or id, as Zuora sent it (every charge segment)."""
        return self._get_json(f"/v1/subscriptions/{_path_segment(subscription_key)}", SUBSCRIPTION_READ_PARAMS, f"subscription {subscription_key}")

    def preview_billing(
        self,
        account_key: str,
        target_date: dt.date,
        *,
        assume_renewal: str = "None",
        include_evergreen: bool = True,
        exclude_charge_types: Sequence[str] = ("Usage",),
    ) -> list[dict[str, Any]]:
        """What Zuora would bill the account (number or id) up to `target_date`, as Zuora sent it: the
        `invoiceItems`, then the `creditMemoItems` (zuora-sdk CreateBillingPreviewResponse; credit memo items
        come only from Invoice Settlement tenants and keep their own shape, `amount`/`amountWithoutTax`).

        One call covers every subscription the account is billed for (Zuora's billing preview). The preview
        changes nothing in Zuora, so it may be retried, but only once and with the preview's read timeout.
        `assume_renewal` is Zuora's `None`, `Autorenew` or `All`; `exclude_charge_types` takes `OneTime`,
        `Recurring` and `Usage`. Anything else raises `ValueError` without calling Zuora.
        """
        if assume_renewal not in ASSUME_RENEWAL_OPTIONS:
            raise ValueError(f"assume_renewal must be one of {', '.join(ASSUME_RENEWAL_OPTIONS)}, not {assume_renewal!r}")
        if isinstance(exclude_charge_types, str) or not set(exclude_charge_types) <= set(CHARGE_TYPES):
            raise ValueError(f"exclude_charge_types must be a sequence of {', '.join(CHARGE_TYPES)}, not {exclude_charge_types!r}")
        if not account_key:
            raise ValueError("a Zuora key must not be empty")
        resource = f"account {account_key} (billing preview)"
        # Zuora takes the account by id or by number, each in its own field.
        body: dict[str, Any] = {
            "accountId" if _ZUORA_ID.fullmatch(account_key) else "accountNumber": account_key,
            "targetDate": f"{target_date:%Y-%m-%d}",
            "assumeRenewal": assume_renewal,
            "includingEvergreenSubscription": include_evergreen,
        }
        if exclude_charge_types:
            body["chargeTypeToExclude"] = ",".join(exclude_charge_types)
        answer = self._call_json(self._preview_call("/v1/operations/billing-preview", body), resource)
        return [*_items_of(answer, "invoiceItems", resource), *_items_of(answer, "creditMemoItems", resource)]

    def preview_subscription(self, subscription_key: str, through_date: dt.date) -> list[dict[str, Any]]:
        """What Zuora would bill one subscription from today through `through_date`, flattened into the
        shapes `preview_billing` returns, so one parser reads both.

        `POST /v1/subscriptions/{subscription-key}/preview` (Zuora-Version 207.0 or later; zuora-sdk
        PreviewExistingSubscriptionRequest/Response). Zuora answers with `invoices[]` and `creditMemos[]`,
        each holding items without the subscription's number; here every item of a document not yet issued
        (`isFromExistingInvoice` / `isFromExistingCreditMemo` not true, as the billing preview too leaves
        out what is already billed) gets:
        - `subscriptionNumber`: `subscription_key`, so pass the subscription's number, not its id;
        - `serviceStartDate`: its document's `targetDate` where Zuora gives the item none;
        - for a credit memo item, `amount` = `amountWithoutTax` + `taxAmount`: the credit memo item's amount
          as the billing preview's credit memo items carry it (zuora-sdk CreateBillingPreviewCreditMemoItem),
          which is how the parser tells a credit from a charge.
        """
        if _ZUORA_ID.fullmatch(subscription_key or ""):
            raise ValueError("preview_subscription takes the subscription number: its items are tagged with it")
        resource = f"subscription {subscription_key} (subscription preview)"
        body = {
            "previewStartDate": {"previewStartDatePolicy": "today"},
            "previewThroughDate": {"previewThruDatePolicy": "specificDate", "specificDate": f"{through_date:%Y-%m-%d}"},
        }
        answer = self._call_json(self._preview_call(f"/v1/subscriptions/{_path_segment(subscription_key)}/preview", body), resource)
        items: list[dict[str, Any]] = []
        for document in _items_of(answer, "invoices", resource):
            if document.get("isFromExistingInvoice") is not True:
                items.extend(_tagged(item, subscription_key, document) for item in _items_of(document, "invoiceItems", resource))
        for document in _items_of(answer, "creditMemos", resource):
            if document.get("isFromExistingCreditMemo") is not True:
                items.extend(_as_credit(_tagged(item, subscription_key, document)) for item in _items_of(document, "creditMemoItems", resource))
        return items

    def _preview_call(self, path: str, body: dict[str, Any]) -> _Call:
        return _Call("POST", path, body=body, read_timeout=self._preview_read_timeout, max_attempts=self._preview_max_attempts)

    def _get_json(self, path: str, params: Params, resource: str) -> dict[str, Any]:
        return self._call_json(_Call("GET", path, params), resource)

    def _call_json(self, call: _Call, resource: str) -> dict[str, Any]:
        """A Zuora JSON object, retrying transient failures with full-jitter exponential backoff.

        Only reads go through here (GETs, and POSTs that compute without changing anything, like the billing
        preview), so a retry can never apply a change twice.
        """
        attempt = 1
        while True:
            try:
                return self._call_json_once(call, resource)
            except ZuoraError as error:
                delay = self._delay_before_retry(error, attempt, call.max_attempts or self._max_attempts)
                if delay is None:
                    raise
                logger.warning(
                    "Retrying a Zuora request",
                    extra={
                        "method": call.method,
                        "path": call.path,
                        "http_status": error.http_status,
                        "error_code": error.code.value,
                        "attempt": attempt,
                        "delay_seconds": round(delay, 3),
                        "zuora_request_id": error.request_id,
                    },
                )
                self._sleep(delay)
                attempt += 1

    def _delay_before_retry(self, error: ZuoraError, attempt: int, max_attempts: int) -> float | None:
        """Seconds to wait before the next attempt, or None when retrying here cannot or should not help.

        A `Retry-After` longer than the backoff cap is not waited out inside a Lambda: the error goes up with
        `retry_after` set so the caller (the state machine) can wait instead. Nor is a wait after which the
        caller's remaining time could not hold another attempt.
        """
        if not error.retryable or attempt >= max_attempts:
            return None
        if error.retry_after is not None and error.retry_after > self._backoff_cap:
            return None
        jitter = self._rng.uniform(0, min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1)))
        delay = max(jitter, error.retry_after or 0.0)
        left = self._time_left()
        if left is not None and delay + self._connect_timeout + MIN_READ_SECONDS > left:
            return None
        return delay

    def _time_left(self) -> float | None:
        """Seconds this client may still spend, or None when the caller set no deadline."""
        if self._remaining_time is None:
            return None
        return self._remaining_time() - self._deadline_margin

    def _timeout(self, read_timeout: float, resource: str) -> tuple[float, float]:
        """(connect, read) timeouts for one request, the read cut to what the caller's remaining time allows."""
        left = self._time_left()
        if left is None:
            return self._connect_timeout, read_timeout
        if left < self._connect_timeout + MIN_READ_SECONDS:
            raise ZuoraTimeout.about(
                resource, detail=f"not sent: {max(left, 0.0):.1f}s left before the caller's deadline, too little for a Zuora call"
            )
        return self._connect_timeout, min(read_timeout, left - self._connect_timeout)

    def _call_json_once(self, call: _Call, resource: str) -> dict[str, Any]:
        response = self._send_authorized(call, resource)
        body = _json_object(response)
        if 200 <= response.status_code < 300 and body is not None and body.get("success") is not False:
            return body
        raise error_for_response(resource, status=response.status_code, headers=response.headers, body=body)

    def _send_authorized(self, call: _Call, resource: str) -> requests.Response:
        token = self._token()
        response = self._send(call, token, resource)
        if response.status_code != 401:
            return response
        # The token expired or was revoked early: Zuora's guide says fetch a new one and retry exactly once.
        shared_token_cache.invalidate(self._token_key(), token)
        return self._send(call, self._token(), resource)

    def _send(self, call: _Call, token: AccessToken, resource: str) -> requests.Response:
        headers = {
            "Authorization": f"Bearer {token.value}",
            "Zuora-Version": self._api_version,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if self._track_id:
            headers["Zuora-Track-Id"] = self._track_id
        if self._entity_id:
            headers["Zuora-Entity-Ids"] = self._entity_id
        timeout = self._timeout(call.read_timeout or self._read_timeout, resource)
        with self._limiter(), _transport_errors(resource):
            return self._session.request(
                call.method, self._base_url + call.path, params=call.params, json=call.body, headers=headers, timeout=timeout
            )

    def _token(self) -> AccessToken:
        return shared_token_cache.get(self._token_key(), self._fetch_token, self._clock)

    def _token_key(self) -> tuple[str, str]:
        return self._base_url, self._credentials.get().client_id

    def _fetch_token(self) -> AccessToken:
        credentials = self._credentials.get()
        timeout = self._timeout(self._read_timeout, OAUTH_RESOURCE)
        requested_at = self._clock()
        # No Zuora-Entity-Ids here: createToken takes none (zuora-sdk o_auth_api.py); the token's entities are
        # chosen per API call.
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        with _transport_errors(OAUTH_RESOURCE):
            response = self._session.post(
                f"{self._base_url}/oauth/token",
                data={
                    "client_id": credentials.client_id,
                    "client_secret": credentials.client_secret.get_secret_value(),
                    "grant_type": "client_credentials",
                },
                headers=headers,
                timeout=timeout,
            )
        if response.status_code != 200:
            error = error_for_token_response(status=response.status_code, headers=response.headers)
            if isinstance(error, ZuoraAuthError):
                self._credentials.forget()  # so a rotated secret is read again on the next attempt
            raise error
        return _access_token(response, requested_at)


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    params: Params | None = None
    body: dict[str, Any] | None = None  # sent as JSON
    read_timeout: float | None = None  # None: the client's GET read timeout
    max_attempts: int | None = None  # None: the client's


class _LazyCredentials:
    """Resolves the credentials on first use and keeps them, so Secrets Manager is not asked on every call."""

    def __init__(self, source: CredentialsSource):
        self._source = source
        self._lock = threading.Lock()
        self._resolved: ZuoraCredentials | None = None

    def get(self) -> ZuoraCredentials:
        with self._lock:
            if self._resolved is None:
                self._resolved = self._source if isinstance(self._source, ZuoraCredentials) else self._source()
            return self._resolved

    def forget(self) -> None:
        with self._lock:
            self._resolved = None


class _TokenResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")

    access_token: str = Field(min_length=1)
    expires_in: float = Field(default=DEFAULT_TOKEN_LIFETIME_SECONDS, gt=0)


def _access_token(response: requests.Response, requested_at: float) -> AccessToken:
    try:
        token = _TokenResponse.model_validate(_json_object(response))
    except ValidationError:
        # `from None`: the validation error would quote the body, which holds the token.
        raise ZuoraMalformedResponse.about(
            OAUTH_RESOURCE,
            detail="no usable access_token",
            request_id=response.headers.get("Zuora-Request-Id"),
        ) from None
    return AccessToken(value=token.access_token, expires_at=requested_at + token.expires_in)


@contextlib.contextmanager
def _transport_errors(resource: str) -> Iterator[None]:
    """Turn connection failures into transient Zuora errors."""
    try:
        yield
    except requests.exceptions.ContentDecodingError as exc:
        raise ZuoraMalformedResponse.about(resource, detail="the body could not be decoded") from exc
    except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise ZuoraTimeout.about(resource, detail=type(exc).__name__) from exc


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _account_refs(body: dict[str, Any], resource: str) -> list[ZuoraAccountRef]:
    records = body.get("data")
    if not isinstance(records, list):
        raise ZuoraMalformedResponse.about(resource, detail="no data list")
    return [_account_ref(record, resource) for record in records]


def _account_ref(record: Any, resource: str) -> ZuoraAccountRef:
    try:
        return ZuoraAccountRef.model_validate(record)
    except ValidationError as exc:
        fields = ", ".join(sorted({".".join(str(part) for part in err["loc"]) or "record" for err in exc.errors()}))
        raise ZuoraMalformedResponse.about(resource, detail=f"unusable account fields: {fields}") from None


def _subscriptions_of(body: dict[str, Any], resource: str) -> list[dict[str, Any]]:
    subscriptions = body.get("subscriptions", [])
    if not isinstance(subscriptions, list) or not all(isinstance(item, dict) for item in subscriptions):
        raise ZuoraMalformedResponse.about(resource, detail="subscriptions is not a list of objects")
    return subscriptions


def _items_of(body: dict[str, Any], field: str, resource: str) -> list[dict[str, Any]]:
    """A list of objects Zuora may leave out or send as null (both mean none)."""
    items = body.get(field, [])
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ZuoraMalformedResponse.about(resource, detail=f"{field} is not a list of objects")
    return items


def _tagged(item: dict[str, Any], subscription_number: str, document: dict[str, Any]) -> dict[str, Any]:
    tagged = dict(item)
    tagged.setdefault("subscriptionNumber", subscription_number)
    if not tagged.get("serviceStartDate") and document.get("targetDate"):
        tagged["serviceStartDate"] = document["targetDate"]
    return tagged


def _as_credit(item: dict[str, Any]) -> dict[str, Any]:
    net, tax = item.get("amountWithoutTax"), item.get("taxAmount")
    if "amount" in item or not _is_number(net):
        return item  # the parser names what is wrong with an item it cannot read
    total = Decimal(str(net)) + (Decimal(str(tax)) if _is_number(tax) else Decimal(0))
    return {**item, "amount": float(total)}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _next_page_params(next_page: Any, page_size: int, resource: str) -> dict[str, int]:
    """The page to ask for next, read from the query string of Zuora's absolute `nextPage` URL.

    Only `page` and `pageSize` are taken: the host and path are ours, because old tenants still send
    legacy hosts (`https://api.zuora.com/rest/v1/...`) and a response must not decide where our token is sent.
    `pageSize` is kept from `nextPage` in case Zuora used a smaller page than we asked for.
    """
    query = dict(parse_qsl(urlsplit(next_page).query)) if isinstance(next_page, str) else {}
    try:
        page, size = int(query["page"]), int(query.get("pageSize", page_size))
    except (KeyError, ValueError):
        page = size = 0
    if page < 1 or size < 1:
        raise ZuoraMalformedResponse.about(resource, detail="nextPage has no usable page number")
    return {"page": page, "pageSize": size}


def _endless(resource: str, detail: str) -> ZuoraMalformedResponse:
    """Paging that does not end is Zuora's answer, not a passing fault: retrying would loop again."""
    error = ZuoraMalformedResponse.about(resource, detail=detail)
    error.retryable = False
    return error


def _path_segment(key: str) -> str:
    if not key:
        raise ValueError("a Zuora key must not be empty")
    return quote(key, safe="")


def _valid_track_id(track_id: str | None) -> str | None:
    """Zuora's rules for `Zuora-Track-Id`; a bad one is dropped because tracing must never fail a sync."""
    if track_id is None:
        return None
    if _TRACK_ID.fullmatch(track_id) and not _TRACK_ID_FORBIDDEN.intersection(track_id):
        return track_id
    logger.warning(
        "Dropping an invalid Zuora-Track-Id (at most 64 printable ASCII characters, none of : ; \" ')",
        extra={"track_id_length": len(track_id)},
    )
    return None
