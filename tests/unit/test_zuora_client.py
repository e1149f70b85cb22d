"""The Zuora client against faked HTTP (`responses`): auth, headers, paging, error classification, retries."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from pydantic import ValidationError

from limio_sync import zuora_access
from limio_sync.config import Settings
from limio_sync.errors import ErrorCode
from limio_sync.zuora.client import SUBSCRIPTION_READ_PARAMS, ZuoraClient
from limio_sync.zuora.errors import (
    ZuoraAuthError,
    ZuoraMalformedResponse,
    ZuoraNotFound,
    ZuoraRateLimited,
    ZuoraRequestRejected,
    ZuoraServerError,
    ZuoraTimeout,
)
from limio_sync.zuora.models import ZuoraAccountRef, ZuoraCredentials
from limio_sync.zuora.token_cache import AccessToken, TokenCache, reset_token_cache

BASE = "https://rest.test.zuora.com"
TOKEN_URL = f"{BASE}/oauth/token"
SECRET = "s3cr3t-value-that-must-never-leak"
CREDENTIALS = ZuoraCredentials(client_id="c" * 36, client_secret=SECRET)
SUBSCRIPTION_URL = f"{BASE}/v1/subscriptions/A-S00001234"
SUBSCRIPTION = {"success": True, "subscriptionNumber": "A-S00001234", "status": "Active"}
REQUEST_ID = "610ddeec-c9dc-405e-88d1-1ba9ed912af5"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    reset_token_cache()
    yield
    reset_token_cache()


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(clock, sleeps):
    def make(credentials=CREDENTIALS, **options) -> ZuoraClient:
        options = {"sleep": sleeps.append, "clock": clock, "rng": random.Random(7), **options}
        return ZuoraClient(BASE, credentials, **options)

    return make


def add_token(http, token: str = "token-1", expires_in: int | None = 3599) -> None:
    body = {"access_token": token, "token_type": "bearer"}
    if expires_in is not None:
        body["expires_in"] = expires_in
    http.add(responses.POST, TOKEN_URL, json=body)


def api_calls(http) -> list:
    return [call for call in http.calls if not call.request.url.startswith(TOKEN_URL)]


def token_calls(http) -> list:
    return [call for call in http.calls if call.request.url.startswith(TOKEN_URL)]


def query_of(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def failure(code: int, message: str = "Something went wrong") -> dict:
    return {
        "success": False,
        "processId": "747E0D5A53240416",
        "reasons": [{"code": code, "message": message}],
        "requestId": REQUEST_ID,
    }


# --- Authentication -------------------------------------------------------------------------------------------


def test_one_token_serves_every_call_and_every_client(http, make_client):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)
    first, second = make_client(), make_client()

    first.get_subscription("A-S00001234")
    first.get_subscription("A-S00001234")
    second.get_subscription("A-S00001234")

    assert len(token_calls(http)) == 1
    assert all(call.request.headers["Authorization"] == "Bearer token-1" for call in api_calls(http))


def test_token_request_is_form_encoded_client_credentials_without_authorization(http, make_client):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)

    make_client().get_subscription("A-S00001234")

    request = token_calls(http)[0].request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in request.headers
    assert parse_qs(request.body) == {
        "client_id": ["c" * 36],
        "client_secret": [SECRET],
        "grant_type": ["client_credentials"],
    }


def test_token_is_refreshed_when_less_than_300_seconds_remain(http, make_client, clock):
    add_token(http, "token-1", expires_in=3600)
    add_token(http, "token-2", expires_in=3600)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)
    client = make_client()

    client.get_subscription("A-S00001234")
    clock.now += 3300  # exactly 300 s left: still good
    client.get_subscription("A-S00001234")
    clock.now += 1
    client.get_subscription("A-S00001234")

    assert [call.request.headers["Authorization"] for call in api_calls(http)] == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_token_without_expires_in_lives_an_hour(http, make_client, clock):
    add_token(http, "token-1", expires_in=None)
    add_token(http, "token-2")
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)
    client = make_client()

    client.get_subscription("A-S00001234")
    clock.now += 3299
    client.get_subscription("A-S00001234")

    assert len(token_calls(http)) == 1


def test_a_401_refreshes_the_token_and_retries_once(http, make_client):
    add_token(http, "token-1")
    add_token(http, "token-2")
    http.add(responses.GET, SUBSCRIPTION_URL, status=401, json={"message": "Authentication error"})
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)

    assert make_client().get_subscription("A-S00001234") == SUBSCRIPTION
    assert [call.request.headers["Authorization"] for call in api_calls(http)] == ["Bearer token-1", "Bearer token-2"]


def test_a_second_401_is_an_auth_error(http, make_client, sleeps):
    add_token(http, "token-1")
    add_token(http, "token-2")
    http.add(responses.GET, SUBSCRIPTION_URL, status=401, json={"message": "Authentication error"})

    with pytest.raises(ZuoraAuthError) as caught:
        make_client().get_subscription("A-S00001234")

    assert caught.value.code is ErrorCode.ZUORA_AUTH_FAILED
    assert caught.value.retryable is False
    assert caught.value.http_status == 401
    assert len(api_calls(http)) == 2
    assert sleeps == []


@pytest.mark.parametrize("status", [400, 401, 403])
def test_refused_credentials_are_an_auth_error_that_never_shows_the_secret(http, make_client, status, sleeps):
    http.add(responses.POST, TOKEN_URL, status=status, json={"message": f"bad client_secret {SECRET}"})

    with pytest.raises(ZuoraAuthError) as caught:
        make_client().get_subscription("A-S00001234")

    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)
    assert SECRET not in repr(CREDENTIALS)
    assert caught.value.code is ErrorCode.ZUORA_AUTH_FAILED
    assert len(token_calls(http)) == 1
    assert api_calls(http) == []
    assert sleeps == []


def test_refused_credentials_are_read_again_on_the_next_call(http):
    http.add(responses.POST, TOKEN_URL, status=401, json={"message": "Invalid credentials"})
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)
    secrets = iter(["old-secret", "rotated-secret"])
    client = ZuoraClient(BASE, lambda: ZuoraCredentials(client_id="c" * 36, client_secret=next(secrets)))

    with pytest.raises(ZuoraAuthError):
        client.get_subscription("A-S00001234")
    client.get_subscription("A-S00001234")

    assert parse_qs(token_calls(http)[1].request.body)["client_secret"] == ["rotated-secret"]


def test_a_throttled_token_request_is_retried(http, make_client, sleeps):
    http.add(responses.POST, TOKEN_URL, status=429, headers={"Retry-After": "2"})
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)

    assert make_client().get_subscription("A-S00001234") == SUBSCRIPTION
    assert len(sleeps) == 1
    assert sleeps[0] >= 2


def test_a_token_response_without_a_token_is_malformed(http, make_client):
    http.add(responses.POST, TOKEN_URL, json={"token_type": "bearer"})

    with pytest.raises(ZuoraMalformedResponse):
        make_client(max_attempts=1).get_subscription("A-S00001234")


def test_credentials_are_resolved_lazily_and_once(http, make_client):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)
    lookups = []

    def credentials() -> ZuoraCredentials:
        lookups.append(1)
        return CREDENTIALS

    client = make_client(credentials)
    assert lookups == []

    client.get_subscription("A-S00001234")
    client.with_track_id("job-1").get_subscription("A-S00001234")

    assert len(lookups) == 1


def test_threads_share_one_token_fetch():
    cache = TokenCache()
    fetching, release = threading.Event(), threading.Event()
    fetches = []

    def fetch() -> AccessToken:
        fetches.append(1)
        fetching.set()
        release.wait(timeout=5)
        return AccessToken(value="token-1", expires_at=10_000.0)

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(cache.get, (BASE, "client"), fetch, lambda: 0.0) for _ in range(8)]
        fetching.wait(timeout=5)
        release.set()

    assert len(fetches) == 1
    assert {future.result().value for future in futures} == {"token-1"}


def test_invalidating_keeps_a_token_another_thread_already_refreshed():
    cache = TokenCache()
    rejected = AccessToken(value="old", expires_at=10_000.0)
    fresh = AccessToken(value="new", expires_at=10_000.0)
    cache.get((BASE, "client"), lambda: fresh, lambda: 0.0)

    cache.invalidate((BASE, "client"), rejected)

    assert cache.get((BASE, "client"), lambda: pytest.fail("refetched"), lambda: 0.0) is fresh


# --- Headers --------------------------------------------------------------------------------------------------


def test_every_api_call_carries_the_zuora_headers(http, make_client):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)

    make_client(track_id="sync-42").get_subscription("A-S00001234")

    headers = api_calls(http)[0].request.headers
    assert headers["Authorization"] == "Bearer token-1"
    assert headers["Zuora-Version"] == "2025-08-12"
    assert headers["Zuora-Track-Id"] == "sync-42"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == "limio-subscription-sync/1.0"


@pytest.mark.parametrize("track_id", ["job:1", "job;1", 'job"1', "job'1", "x" * 65, "jöb", "job\r\nX-Evil: 1", ""])
def test_an_invalid_track_id_is_dropped_not_fatal(http, make_client, track_id):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)

    assert make_client(track_id=track_id).get_subscription("A-S00001234") == SUBSCRIPTION
    assert "Zuora-Track-Id" not in api_calls(http)[0].request.headers


def test_with_track_id_tags_only_the_copy_and_shares_the_token(http, make_client):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)
    client = make_client()

    client.with_track_id("job-7").get_subscription("A-S00001234")
    client.get_subscription("A-S00001234")

    tagged, untagged = (call.request.headers for call in api_calls(http))
    assert tagged["Zuora-Track-Id"] == "job-7"
    assert "Zuora-Track-Id" not in untagged
    assert len(token_calls(http)) == 1


def test_the_limiter_wraps_api_calls_but_not_the_token_call(http, make_client):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)
    entered = []

    @contextlib.contextmanager
    def limiter():
        entered.append(len(http.calls))
        yield

    make_client(limiter=limiter).get_subscription("A-S00001234")

    assert entered == [1]  # entered once, after the token call and before the API call


# --- Accounts -------------------------------------------------------------------------------------------------


CRM_ID_15 = "001ABC000000000"


def account_record(number: str, crm_id: str = CRM_ID_15) -> dict:
    return {
        "id": f"id-{number}",
        "accountNumber": number,
        "name": f"Customer {number}",
        "status": "Active",
        "crmId": crm_id,
    }


def test_accounts_are_found_by_crm_id_across_cursor_pages(http, make_client):
    add_token(http)
    http.add(
        responses.GET,
        f"{BASE}/object-query/accounts",
        json={"data": [account_record("A001")], "nextPage": "Y3Vyc29yLTI="},
    )
    http.add(responses.GET, f"{BASE}/object-query/accounts", json={"data": [account_record("A002")]})

    accounts = make_client().find_accounts_by_crm_id(CRM_ID_15)

    assert [account.accountNumber for account in accounts] == ["A001", "A002"]
    expected_query = {
        "filter[]": [f"crmid.IN:[{CRM_ID_15},{CRM_ID_15}YBA]"],
        "fields[]": ["id,accountnumber,name,status,crmid"],
        "pageSize": ["99"],
    }
    first, second = api_calls(http)
    assert query_of(first) == expected_query
    assert query_of(second) == {**expected_query, "cursor": ["Y3Vyc29yLTI="]}


def test_no_account_for_a_crm_id_is_an_empty_list(http, make_client):
    add_token(http)
    http.add(responses.GET, f"{BASE}/object-query/accounts", json={"data": []})

    assert make_client().find_accounts_by_crm_id(CRM_ID_15) == []


@pytest.mark.parametrize("crm_id", ["001ABC'", '001"ABC', "001ABC,crmid.NE:x", "001 ABC", "001ABC&pageSize=1", "", "001ÄBC"])
def test_a_crm_id_that_could_alter_the_filter_is_rejected_before_any_call(http, make_client, crm_id):
    with pytest.raises(ZuoraRequestRejected) as caught:
        make_client().find_accounts_by_crm_id(crm_id)

    assert caught.value.code is ErrorCode.ZUORA_REJECTED
    assert len(http.calls) == 0


def test_an_account_is_read_from_its_basic_info(http, make_client):
    add_token(http)
    basic_info = {**account_record("A00000130", crm_id=""), "IdentityId__c": "123", "batch": "Batch1"}
    http.add(responses.GET, f"{BASE}/v1/accounts/A00000130", json={"success": True, "basicInfo": basic_info, "metrics": {}})

    account = make_client().get_account("A00000130")

    assert account == ZuoraAccountRef(id="id-A00000130", accountNumber="A00000130", name="Customer A00000130", status="Active", crmId=None)


def test_an_account_without_basic_info_is_malformed(http, make_client):
    add_token(http)
    http.add(responses.GET, f"{BASE}/v1/accounts/A00000130", json={"success": True})

    with pytest.raises(ZuoraMalformedResponse):
        make_client().get_account("A00000130")


# --- Subscription pages ---------------------------------------------------------------------------------------

PAGES_URL = f"{BASE}/v1/subscriptions/accounts/A00001115"


def subscriptions_page(*subscriptions: dict, next_page: str | None = None) -> dict:
    page = {"success": True, "subscriptions": list(subscriptions)}
    return page if next_page is None else {**page, "nextPage": next_page}


def test_pages_follow_next_page_on_our_base_url_even_from_a_legacy_host(http, make_client):
    add_token(http)
    legacy = "https://api.zuora.com/rest/v1/subscriptions/accounts/A00001115"
    http.add(responses.GET, PAGES_URL, json=subscriptions_page({"n": 1}, next_page=f"{legacy}?page=2&pageSize=40"))
    http.add(responses.GET, PAGES_URL, json=subscriptions_page({"n": 2}, next_page=f"{legacy}?page=3&pageSize=40"))
    http.add(responses.GET, PAGES_URL, json={"success": True})  # the last page may omit `subscriptions`

    pages = list(make_client().iter_subscription_pages("A00001115"))

    assert pages == [[{"n": 1}], [{"n": 2}], []]
    calls = api_calls(http)
    assert all(call.request.url.startswith(PAGES_URL + "?") for call in calls)
    read_params = {"charge-detail": ["all-segments"], "exclude-rate-plans-with-no-charges": ["true"]}
    assert [query_of(call) for call in calls] == [{"page": [str(page)], "pageSize": ["40"], **read_params} for page in (1, 2, 3)]


def test_a_next_page_loop_is_detected(http, make_client):
    add_token(http)
    http.add(responses.GET, PAGES_URL, json=subscriptions_page(next_page=f"{PAGES_URL}?page=2&pageSize=40"))

    with pytest.raises(ZuoraMalformedResponse, match="repeats page 2"):
        list(make_client().iter_subscription_pages("A00001115"))


@pytest.mark.parametrize("page_size", [0, 41, 100])
def test_a_page_size_outside_zuoras_range_is_rejected(make_client, page_size):
    with pytest.raises(ValueError, match="page_size"):
        next(make_client().iter_subscription_pages("A00001115", page_size=page_size))


def test_keys_are_quoted_as_one_path_segment(http, make_client):
    add_token(http)
    http.add(responses.GET, f"{BASE}/v1/subscriptions/A-S%2F1%3Fx%3D1", json=SUBSCRIPTION)

    make_client().get_subscription("A-S/1?x=1")

    assert urlsplit(api_calls(http)[0].request.url).path == "/v1/subscriptions/A-S%2F1%3Fx%3D1"


# --- Billing preview --------------------------------------------------------------------------------------------

PREVIEW_URL = f"{BASE}/v1/operations/billing-preview"
INVOICE_ITEM = {
    "id": "93ac165212294c1a8bef1c8f99121461",
    "subscriptionName": "A-S00001234",
    "subscriptionNumber": "A-S00001234",
    "serviceStartDate": "2027-01-01",
    "serviceEndDate": "2027-01-31",
    "chargeAmount": 45.0,
    "chargeNumber": "C-00000001",
    "chargeDate": "2027-01-01 00:00:00",
    "chargeType": "Recurring",
    "processingType": "Charge",
}


def test_billing_preview_posts_zuoras_body_once_for_the_account(http, make_client):
    add_token(http)
    http.add(responses.POST, PREVIEW_URL, json={"accountId": "2c9", "invoiceItems": [INVOICE_ITEM], "creditMemoItems": [], "success": True})

    items = make_client(track_id="sync-1").preview_billing("A00001234", dt.date(2027, 12, 31))

    assert items == [INVOICE_ITEM]
    (call,) = api_calls(http)
    assert call.request.method == "POST"
    assert call.request.headers["Content-Type"] == "application/json"
    assert call.request.headers["Authorization"] == "Bearer token-1"
    assert call.request.headers["Zuora-Version"] == "2025-08-12"
    assert call.request.headers["Zuora-Track-Id"] == "sync-1"
    assert json.loads(call.request.body) == {
        "accountNumber": "A00001234",
        "targetDate": "2027-12-31",
        "assumeRenewal": "None",
        "includingEvergreenSubscription": True,
        "chargeTypeToExclude": "Usage",
    }


def test_billing_preview_by_account_id_with_options(http, make_client):
    add_token(http)
    http.add(responses.POST, PREVIEW_URL, json={"success": True})
    account_id = "8ad0887e8f1b2a3c018f2b4c11112222"

    items = make_client().preview_billing(
        account_id, dt.date(2028, 2, 29), assume_renewal="Autorenew", include_evergreen=False, exclude_charge_types=("Usage", "OneTime")
    )

    assert items == []  # no invoiceItems: nothing to bill
    body = json.loads(api_calls(http)[0].request.body)
    assert body == {
        "accountId": account_id,
        "targetDate": "2028-02-29",
        "assumeRenewal": "Autorenew",
        "includingEvergreenSubscription": False,
        "chargeTypeToExclude": "Usage,OneTime",
    }


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, failure(50000040, "Cannot find entity by key: 'A00009999'.")),
        (200, failure(50000040, "Cannot find entity by key: 'A00009999'.")),
    ],
)
def test_billing_preview_of_an_unknown_account_is_not_found_in_both_error_styles(http, make_client, status, body, sleeps):
    add_token(http)
    http.add(responses.POST, PREVIEW_URL, status=status, json=body)

    with pytest.raises(ZuoraNotFound) as caught:
        make_client().preview_billing("A00009999", dt.date(2027, 12, 31))

    assert str(caught.value).startswith("Zuora does not know account A00009999 (billing preview)")
    assert caught.value.zuora_codes == [50000040]
    assert len(api_calls(http)) == 1 and sleeps == []


def test_billing_preview_is_retried_on_503(http, make_client, sleeps):
    add_token(http)
    http.add(responses.POST, PREVIEW_URL, status=503, headers={"Retry-After": "1"})
    http.add(responses.POST, PREVIEW_URL, json={"invoiceItems": [INVOICE_ITEM], "success": True})

    assert make_client().preview_billing("A00001234", dt.date(2027, 12, 31)) == [INVOICE_ITEM]
    assert len(api_calls(http)) == 2
    assert len(sleeps) == 1 and sleeps[0] >= 1
    assert [call.request.body for call in api_calls(http)][0] == api_calls(http)[1].request.body


def test_billing_preview_refreshes_an_expired_token_once(http, make_client):
    add_token(http, "token-1")
    add_token(http, "token-2")
    http.add(responses.POST, PREVIEW_URL, status=401, json={"message": "Authentication error"})
    http.add(responses.POST, PREVIEW_URL, json={"invoiceItems": [], "success": True})

    assert make_client().preview_billing("A00001234", dt.date(2027, 12, 31)) == []
    assert [call.request.headers["Authorization"] for call in api_calls(http)] == ["Bearer token-1", "Bearer token-2"]


@pytest.mark.parametrize("items", [{"id": "x"}, ["not an object"], "nothing"])
def test_billing_preview_items_that_are_not_a_list_of_objects_are_malformed(http, make_client, items):
    add_token(http)
    http.add(responses.POST, PREVIEW_URL, json={"invoiceItems": items, "success": True})

    with pytest.raises(ZuoraMalformedResponse):
        make_client(max_attempts=1).preview_billing("A00001234", dt.date(2027, 12, 31))


@pytest.mark.parametrize(
    "arguments",
    [
        {"account_key": ""},
        {"assume_renewal": "none"},
        {"exclude_charge_types": ("Discount",)},
        {"exclude_charge_types": "Usage"},
    ],
)
def test_billing_preview_arguments_zuora_would_refuse_are_rejected_before_any_call(http, make_client, arguments):
    with pytest.raises(ValueError):
        make_client().preview_billing(**{"account_key": "A00001234", "target_date": dt.date(2027, 12, 31), **arguments})

    assert len(http.calls) == 0


# --- Error classification -------------------------------------------------------------------------------------


def test_not_found_as_http_404(http, make_client):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, status=404, json=failure(50000040), headers={"Zuora-Request-Id": REQUEST_ID})

    with pytest.raises(ZuoraNotFound) as caught:
        make_client().get_subscription("A-S00001234")

    assert caught.value.code is ErrorCode.NOT_FOUND_IN_ZUORA
    assert caught.value.http_status == 404
    assert caught.value.request_id == REQUEST_ID
    assert str(caught.value).startswith("Zuora does not know subscription A-S00001234")
    assert REQUEST_ID in str(caught.value)
    assert len(api_calls(http)) == 1


def test_not_found_as_200_with_success_false(http, make_client):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=failure(50000040, "Cannot find entity by key: 'A-S00001234'."))

    with pytest.raises(ZuoraNotFound) as caught:
        make_client().get_subscription("A-S00001234")

    assert caught.value.code is ErrorCode.NOT_FOUND_IN_ZUORA
    assert caught.value.retryable is False
    assert caught.value.zuora_codes == [50000040]
    assert caught.value.request_id == REQUEST_ID  # from the body when the header is missing
    assert len(api_calls(http)) == 1


@pytest.mark.parametrize(
    ("category", "error_class"),
    [
        (50, ZuoraServerError),
        (60, ZuoraServerError),
        (61, ZuoraServerError),
        (70, ZuoraRateLimited),
        (99, ZuoraServerError),
    ],
)
def test_transient_categories_are_retried(http, make_client, category, error_class, sleeps):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=failure(53100300 + category))

    with pytest.raises(error_class) as caught:
        make_client().get_subscription("A-S00001234")

    assert caught.value.retryable is True
    assert len(api_calls(http)) == 4
    assert len(sleeps) == 3


@pytest.mark.parametrize(
    ("category", "error_class"),
    [
        (10, ZuoraAuthError),
        (20, ZuoraRequestRejected),
        (30, ZuoraRequestRejected),
        (40, ZuoraNotFound),
        (90, ZuoraRequestRejected),
    ],
)
def test_permanent_categories_are_not_retried(http, make_client, category, error_class, sleeps):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=failure(53100300 + category))

    with pytest.raises(error_class) as caught:
        make_client().get_subscription("A-S00001234")

    assert caught.value.retryable is False
    assert len(api_calls(http)) == 1
    assert sleeps == []


def test_an_object_query_error_body_with_a_4xx_status(http, make_client):
    add_token(http)
    body = {"reasons": [{"code": 50000027, "message": "invalid filter"}], "requestId": REQUEST_ID}
    http.add(responses.GET, f"{BASE}/object-query/accounts", status=400, json=body)

    with pytest.raises(ZuoraRequestRejected) as caught:
        make_client().find_accounts_by_crm_id(CRM_ID_15)

    assert caught.value.zuora_codes == [50000027]
    assert "invalid filter" in str(caught.value)


def test_messages_never_carry_the_body_and_cut_the_reason_short(http, make_client):
    add_token(http)
    body = {**failure(53100320, "x" * 500), "leak": "RAW-BODY-MARKER"}
    http.add(responses.GET, SUBSCRIPTION_URL, status=400, json=body)

    with pytest.raises(ZuoraRequestRejected) as caught:
        make_client().get_subscription("A-S00001234")

    message = str(caught.value)
    assert "RAW-BODY-MARKER" not in message
    assert "token-1" not in message
    assert "x" * 200 in message
    assert "x" * 201 not in message


def test_a_400_is_not_retried(http, make_client, sleeps):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, status=400, json=failure(53100320))

    with pytest.raises(ZuoraRequestRejected):
        make_client().get_subscription("A-S00001234")

    assert len(api_calls(http)) == 1
    assert sleeps == []


def test_server_errors_are_retried_until_success(http, make_client, sleeps):
    add_token(http)
    for status in (500, 502, 503):
        http.add(responses.GET, SUBSCRIPTION_URL, status=status, body="<html>Bad gateway</html>")
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)

    assert make_client().get_subscription("A-S00001234") == SUBSCRIPTION
    assert len(api_calls(http)) == 4
    assert len(sleeps) == 3


# --- Retries and backoff --------------------------------------------------------------------------------------


def test_retry_after_is_waited_out_before_retrying(http, make_client, sleeps):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, status=429, headers={"Retry-After": "7"})
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)

    assert make_client().get_subscription("A-S00001234") == SUBSCRIPTION
    assert len(sleeps) == 1
    assert sleeps[0] >= 7


def test_rate_limited_on_every_attempt(http, make_client, sleeps):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, status=429, headers={"Retry-After": "2", "Zuora-Request-Id": REQUEST_ID})

    with pytest.raises(ZuoraRateLimited) as caught:
        make_client(max_attempts=4).get_subscription("A-S00001234")

    error = caught.value
    assert (error.code, error.retryable, error.retry_after, error.http_status) == (
        ErrorCode.ZUORA_RATE_LIMITED,
        True,
        2.0,
        429,
    )
    assert len(api_calls(http)) == 4
    assert len(sleeps) == 3
    assert all(delay >= 2 for delay in sleeps)


def test_a_retry_after_beyond_the_backoff_cap_is_left_to_the_caller(http, make_client, sleeps):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, status=429, headers={"Retry-After": "120"})

    with pytest.raises(ZuoraRateLimited) as caught:
        make_client(backoff_cap=20).get_subscription("A-S00001234")

    assert caught.value.retry_after == 120
    assert len(api_calls(http)) == 1
    assert sleeps == []


@pytest.mark.parametrize("retry_after", ["soon", "-5", "nan", "Wed, 32 Oct 2026 07:28:00 GMT"])
def test_an_unusable_retry_after_is_ignored(http, make_client, retry_after):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, status=429, headers={"Retry-After": retry_after})

    with pytest.raises(ZuoraRateLimited) as caught:
        make_client(max_attempts=1).get_subscription("A-S00001234")

    assert caught.value.retry_after is None


@pytest.mark.parametrize("body", ["<html>proxy error</html>", "[1, 2]", '{"truncated": '])
def test_a_body_that_is_not_a_json_object_is_retried_then_malformed(http, make_client, body, sleeps):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, body=body, content_type="application/json")

    with pytest.raises(ZuoraMalformedResponse) as caught:
        make_client().get_subscription("A-S00001234")

    assert caught.value.code is ErrorCode.ZUORA_BAD_RESPONSE
    assert caught.value.retryable is True
    assert len(api_calls(http)) == 4
    assert body not in str(caught.value)


@pytest.mark.parametrize(
    "failure_",
    [
        requests.ConnectionError("Connection reset by peer"),
        requests.ReadTimeout("read timed out"),
        requests.ConnectTimeout("connect"),
    ],
)
def test_connection_failures_are_timeouts_after_retries(http, make_client, failure_, sleeps):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, body=failure_)

    with pytest.raises(ZuoraTimeout) as caught:
        make_client().get_subscription("A-S00001234")

    assert caught.value.code is ErrorCode.ZUORA_TIMEOUT
    assert caught.value.retryable is True
    assert len(api_calls(http)) == 4
    assert len(sleeps) == 3


def test_backoff_is_full_jitter_within_exponential_bounds(http, make_client, sleeps):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, status=503)

    with pytest.raises(ZuoraServerError):
        make_client(max_attempts=6, backoff_base=1.0, backoff_cap=5.0, rng=random.Random(42)).get_subscription("A-S00001234")

    bounds = [min(5.0, 1.0 * 2**retry) for retry in range(5)]  # 1, 2, 4, 5, 5
    assert all(0 <= delay <= bound for delay, bound in zip(sleeps, bounds, strict=True))
    same_seed = random.Random(42)
    assert sleeps == [same_seed.uniform(0, bound) for bound in bounds]


# --- Reading subscriptions as Zuora means them ------------------------------------------------------------------


def test_a_subscription_is_read_with_every_charge_segment_and_without_rate_plans_that_have_no_charges(http, make_client):
    # Given Zuora's GET /v1/subscriptions/{subscription-key}, whose `charge-detail` defaults to the last segment
    # (zuora-sdk subscriptions_api.get_subscription_by_key: charge_detail, exclude_rate_plans_with_no_charges)
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)

    # When the client reads a subscription
    make_client().get_subscription("A-S00001234")

    # Then it asks for every segment (the rules pick today's) and no rate plan without charges
    assert query_of(api_calls(http)[0]) == {"charge-detail": ["all-segments"], "exclude-rate-plans-with-no-charges": ["true"]}
    assert SUBSCRIPTION_READ_PARAMS == {"charge-detail": "all-segments", "exclude-rate-plans-with-no-charges": "true"}


# --- Billing previews: credit memos, the subscription preview ---------------------------------------------------

# zuora-sdk CreateBillingPreviewCreditMemoItem: `amount`/`amountWithoutTax`, no `chargeAmount`, no `chargeName`.
CREDIT_MEMO_ITEM = {
    "id": "4a8081b2f1c64e2f8a2e9c7d4b5a6c01",
    "amount": 12.0,
    "amountWithoutTax": 10.0,
    "chargeDate": "2026-11-25 10:00:00",
    "chargeNumber": "C-00000002",
    "chargeType": "Recurring",
    "processingType": "Charge",
    "serviceStartDate": "2027-01-01",
    "serviceEndDate": "2027-01-31",
    "subscriptionId": "8ad0887e8f1b2a3c018f2b4c5d6e7f80",
    "subscriptionNumber": "A-S00001234",
}


def test_billing_preview_returns_the_invoice_items_then_the_credit_memo_items(http, make_client):
    # Given an Invoice Settlement tenant, whose billing preview also holds `creditMemoItems`
    # (zuora-sdk CreateBillingPreviewResponse)
    add_token(http)
    http.add(
        responses.POST,
        PREVIEW_URL,
        json={"accountId": "2c9", "invoiceItems": [INVOICE_ITEM], "creditMemoItems": [CREDIT_MEMO_ITEM], "success": True},
    )

    # When the account is previewed
    items = make_client().preview_billing("A00001234", dt.date(2027, 12, 31))

    # Then both come back, raw, invoice items first
    assert items == [INVOICE_ITEM, CREDIT_MEMO_ITEM]


SUBSCRIPTION_PREVIEW_URL = f"{BASE}/v1/subscriptions/A-S00001234/preview"
# zuora-sdk PreviewExistingSubscriptionResponse: invoices[] (PreviewExistingSubscriptionResultInvoices) and
# creditMemos[] (PreviewExistingSubscriptionResultCreditMemos); their items
# (PreviewExistingSubscriptionInvoiceItemResult / ...CreditMemoItemResult) carry `amountWithoutTax` and
# `taxAmount`, and no subscription number.
SUBSCRIPTION_PREVIEW = {
    "success": True,
    "invoices": [
        {
            "invoiceNumber": "INV00000101",
            "amount": 45.0,
            "amountWithoutTax": 45.0,
            "taxAmount": 0.0,
            "targetDate": "2026-11-01",
            "status": "Posted",
            "isFromExistingInvoice": True,
            "invoiceItems": [{"serviceStartDate": "2026-11-01", "serviceEndDate": "2026-11-30", "amountWithoutTax": 45.0, "taxAmount": 0.0}],
        },
        {
            "amount": 54.0,
            "amountWithoutTax": 45.0,
            "taxAmount": 9.0,
            "targetDate": "2026-12-01",
            "isFromExistingInvoice": False,
            "invoiceItems": [
                {
                    "serviceStartDate": "2026-12-01",
                    "serviceEndDate": "2026-12-31",
                    "amountWithoutTax": 45.0,
                    "taxAmount": 9.0,
                    "chargeName": "Digital Seats",
                    "chargeNumber": "C-00000001",
                    "processingType": "Charge",
                    "quantity": 3,
                    "unitPrice": 15.0,
                },
                {"amountWithoutTax": 5.0, "taxAmount": 1.0, "chargeName": "Team Setup", "processingType": "Charge"},
            ],
        },
    ],
    "creditMemos": [
        {
            "amount": -12.0,
            "amountWithoutTax": -10.0,
            "taxAmount": -2.0,
            "targetDate": "2026-12-01",
            "isFromExistingCreditMemo": False,
            "creditMemoItems": [
                {
                    "serviceStartDate": "2026-12-01",
                    "serviceEndDate": "2026-12-31",
                    "amountWithoutTax": 10.0,
                    "taxAmount": 2.0,
                    "chargeName": "Archive Access",
                }
            ],
        }
    ],
}


def test_a_subscription_preview_posts_zuoras_body_and_flattens_what_is_not_billed_yet(http, make_client):
    # Given Zuora's preview of an existing subscription (POST /v1/subscriptions/{subscription-key}/preview,
    # zuora-sdk PreviewExistingSubscriptionRequest: previewStartDate.previewStartDatePolicy,
    # previewThroughDate.previewThruDatePolicy + specificDate)
    add_token(http)
    http.add(responses.POST, SUBSCRIPTION_PREVIEW_URL, json=SUBSCRIPTION_PREVIEW)

    # When one subscription is previewed through a date
    items = make_client().preview_subscription("A-S00001234", dt.date(2027, 3, 1))

    # Then Zuora is asked from today through that date
    (call,) = api_calls(http)
    assert call.request.method == "POST" and call.request.headers["Zuora-Version"] == "2025-08-12"
    assert json.loads(call.request.body) == {
        "previewStartDate": {"previewStartDatePolicy": "today"},
        "previewThroughDate": {"previewThruDatePolicy": "specificDate", "specificDate": "2027-03-01"},
    }
    # and the invoice already issued is left out; each other item carries the subscription's number, the item
    # without a service date its invoice's target date, and the credit memo item its amount with tax
    assert items == [
        {**SUBSCRIPTION_PREVIEW["invoices"][1]["invoiceItems"][0], "subscriptionNumber": "A-S00001234"},
        {**SUBSCRIPTION_PREVIEW["invoices"][1]["invoiceItems"][1], "subscriptionNumber": "A-S00001234", "serviceStartDate": "2026-12-01"},
        {**SUBSCRIPTION_PREVIEW["creditMemos"][0]["creditMemoItems"][0], "subscriptionNumber": "A-S00001234", "amount": 12.0},
    ]


def test_a_subscription_preview_without_documents_is_empty(http, make_client):
    add_token(http)
    http.add(responses.POST, SUBSCRIPTION_PREVIEW_URL, json={"success": True, "invoices": None})

    assert make_client().preview_subscription("A-S00001234", dt.date(2027, 3, 1)) == []


def test_a_subscription_preview_refused_by_zuora_is_rejected(http, make_client, sleeps):
    # Given Zuora refusing the preview on a business rule (category 30)
    add_token(http)
    http.add(responses.POST, SUBSCRIPTION_PREVIEW_URL, status=400, json=failure(53000030, "The preview through date is invalid."))

    # When it is previewed, then it is rejected at once, naming the subscription
    with pytest.raises(ZuoraRequestRejected, match="subscription A-S00001234 \\(subscription preview\\)"):
        make_client().preview_subscription("A-S00001234", dt.date(2027, 3, 1))
    assert sleeps == []


def test_a_subscription_preview_takes_the_number_not_the_id(http, make_client):
    with pytest.raises(ValueError, match="subscription number"):
        make_client().preview_subscription("8ad0887e8f1b2a3c018f2b4c5d6e7f80", dt.date(2027, 3, 1))
    assert len(http.calls) == 0


# --- Time: read timeouts, retries and the caller's deadline ------------------------------------------------------


def timeouts_of(http) -> list:
    return [call.request.req_kwargs["timeout"] for call in api_calls(http)]


def test_a_billing_preview_waits_as_long_as_zuora_allows_and_a_get_keeps_its_short_timeout(http, make_client):
    # Given Zuora's gateway limit of 120 s per request (developer.zuora.com guides/requests-and-responses)
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)
    http.add(responses.POST, PREVIEW_URL, json={"success": True})
    http.add(responses.POST, SUBSCRIPTION_PREVIEW_URL, json={"success": True})
    client = make_client(connect_timeout=3.05, read_timeout=20.0)

    # When a subscription is read and then previewed both ways
    client.get_subscription("A-S00001234")
    client.preview_billing("A00001234", dt.date(2027, 12, 31))
    client.preview_subscription("A-S00001234", dt.date(2027, 12, 31))

    # Then only the previews wait up to 120 s for the answer
    assert timeouts_of(http) == [(3.05, 20.0), (3.05, 120.0), (3.05, 120.0)]


def test_a_billing_preview_is_retried_at_most_once(http, make_client, sleeps):
    # Given Zuora timing out on a heavy preview, again and again
    add_token(http)
    http.add(responses.POST, PREVIEW_URL, body=requests.ReadTimeout("read timed out"))

    # When the account is previewed by a client that retries GETs four times
    with pytest.raises(ZuoraTimeout):
        make_client(max_attempts=4).preview_billing("A00001234", dt.date(2027, 12, 31))

    # Then the heavy POST was sent twice, not four times
    assert len(api_calls(http)) == 2 and len(sleeps) == 1


class RemainingTime:
    """A Lambda context's remaining time that the fake clock's sleeps use up."""

    def __init__(self, seconds: float, sleeps: list[float]) -> None:
        self.seconds, self.sleeps = seconds, sleeps

    def __call__(self) -> float:
        return self.seconds - sum(self.sleeps)


def test_every_timeout_is_cut_to_fit_the_callers_remaining_time(http, make_client, sleeps):
    # Given a caller with 30 s left, 5 s of which it keeps for itself
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)
    http.add(responses.POST, PREVIEW_URL, json={"success": True})
    client = make_client(connect_timeout=3.0, read_timeout=20.0, remaining_time=RemainingTime(30.0, sleeps), deadline_margin=5.0)

    # When it reads and previews
    client.get_subscription("A-S00001234")
    client.preview_billing("A00001234", dt.date(2027, 12, 31))

    # Then the GET keeps its 20 s, but the preview gets only what is left: 30 - 5 - 3 s to connect
    assert timeouts_of(http) == [(3.0, 20.0), (3.0, 22.0)]
    assert token_calls(http)[0].request.req_kwargs["timeout"] == (3.0, 20.0)


def test_a_call_that_cannot_fit_the_callers_remaining_time_fails_fast_as_a_retryable_timeout(http, make_client, sleeps):
    # Given a caller with 8 s left and a 5 s margin: 3 s, not enough to connect (3 s) and read (1 s)
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)

    # When it asks for a subscription
    with pytest.raises(ZuoraTimeout) as caught:
        make_client(connect_timeout=3.0, remaining_time=RemainingTime(8.0, sleeps), deadline_margin=5.0).get_subscription("A-S00001234")

    # Then nothing is sent, not even for a token, and the state machine may retry
    assert len(http.calls) == 0 and sleeps == []
    assert caught.value.code is ErrorCode.ZUORA_TIMEOUT and caught.value.retryable
    assert "deadline" in str(caught.value)


def test_a_retry_wait_that_would_outlast_the_callers_remaining_time_is_not_slept(http, make_client, sleeps):
    # Given Zuora asking for 10 s and a caller with 15 s left, 5 of them its margin
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, status=429, headers={"Retry-After": "10"})

    # When the subscription is read
    with pytest.raises(ZuoraRateLimited) as caught:
        make_client(connect_timeout=3.0, remaining_time=RemainingTime(15.0, sleeps), deadline_margin=5.0).get_subscription("A-S00001234")

    # Then the client does not sleep into its deadline: the error goes up with Zuora's wait
    assert len(api_calls(http)) == 1 and sleeps == []
    assert caught.value.retry_after == 10


def test_retries_stop_when_the_callers_remaining_time_runs_out(http, make_client, sleeps):
    # Given a Zuora that keeps failing, and a caller with 12 s left (7 s usable)
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, status=503, headers={"Retry-After": "2"})

    with pytest.raises(ZuoraServerError):
        make_client(connect_timeout=3.0, max_attempts=10, remaining_time=RemainingTime(12.0, sleeps), deadline_margin=5.0).get_subscription(
            "A-S00001234"
        )

    # Then every wait and every attempt fitted inside the usable time
    assert sum(sleeps) + 3.0 + 1.0 <= 7.0
    assert len(api_calls(http)) == len(sleeps) + 1 < 10


# --- Rate limits ---------------------------------------------------------------------------------------------------


def test_a_rate_limit_429_without_retry_after_waits_for_ratelimit_reset(http, make_client, sleeps):
    # Given Zuora's rate-limit answer: RateLimit-* headers and no Retry-After (developer.zuora.com guides/rate-limits)
    add_token(http)
    http.add(
        responses.GET,
        SUBSCRIPTION_URL,
        status=429,
        headers={"RateLimit-Limit": "50000, 50000;w=60", "RateLimit-Remaining": "0", "RateLimit-Reset": "6"},
    )
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)

    # When the subscription is read, then the client waits until the quota resets, once
    assert make_client().get_subscription("A-S00001234") == SUBSCRIPTION
    assert len(sleeps) == 1 and sleeps[0] >= 6


def test_a_rate_limit_reset_beyond_the_backoff_cap_goes_up_to_the_state_machine(http, make_client, sleeps):
    # Given the documented sample: `ratelimit-remaining: 0`, `ratelimit-reset: 600`
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, status=429, headers={"ratelimit-remaining": "0", "ratelimit-reset": "600"})

    with pytest.raises(ZuoraRateLimited) as caught:
        make_client(backoff_cap=20).get_subscription("A-S00001234")

    # Then no attempt is wasted on a quota that is spent, and the wait is known to the caller
    assert len(api_calls(http)) == 1 and sleeps == []
    assert caught.value.retry_after == 600


def test_ratelimit_reset_on_an_answer_that_is_not_rate_limited_is_not_a_wait(http, make_client):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, status=503, headers={"RateLimit-Reset": "40"})

    with pytest.raises(ZuoraServerError) as caught:
        make_client(max_attempts=1).get_subscription("A-S00001234")

    assert caught.value.retry_after is None


def test_a_retry_after_given_as_an_http_date_is_waited_out_from_zuoras_own_clock(http, make_client, sleeps):
    # Given Retry-After as an HTTP-date (RFC 9110 §10.2.3), 8 s after the response's Date
    add_token(http)
    http.add(
        responses.GET,
        SUBSCRIPTION_URL,
        status=503,
        headers={"Date": "Wed, 25 Nov 2026 10:00:00 GMT", "Retry-After": "Wed, 25 Nov 2026 10:00:08 GMT"},
    )
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)

    assert make_client().get_subscription("A-S00001234") == SUBSCRIPTION
    assert len(sleeps) == 1 and sleeps[0] >= 8


def test_a_retry_after_date_already_past_means_retry_now(http, make_client):
    add_token(http)
    http.add(
        responses.GET,
        SUBSCRIPTION_URL,
        status=503,
        headers={"Date": "Wed, 25 Nov 2026 10:00:00 GMT", "Retry-After": "Wed, 25 Nov 2026 09:59:00 GMT"},
    )

    with pytest.raises(ZuoraServerError) as caught:
        make_client(max_attempts=1).get_subscription("A-S00001234")

    assert caught.value.retry_after == 0


# --- Multi-entity --------------------------------------------------------------------------------------------------


def test_an_entity_id_is_sent_on_every_api_call_but_not_on_the_token_call(http, make_client):
    # Given a Multi-entity tenant ("Zuora-Entity-Ids": every v1 operation; createToken takes none, zuora-sdk o_auth_api)
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)
    http.add(responses.POST, PREVIEW_URL, json={"success": True})
    client = make_client(entity_id="8a8082c4590e7e2a01591d5d1b4e0a25")

    client.get_subscription("A-S00001234")
    client.preview_billing("A00001234", dt.date(2027, 12, 31))

    assert [call.request.headers["Zuora-Entity-Ids"] for call in api_calls(http)] == ["8a8082c4590e7e2a01591d5d1b4e0a25"] * 2
    assert "Zuora-Entity-Ids" not in token_calls(http)[0].request.headers


def test_without_an_entity_id_no_entity_header_is_sent(http, make_client):
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)

    make_client().get_subscription("A-S00001234")

    assert "Zuora-Entity-Ids" not in api_calls(http)[0].request.headers


# --- What token failures say ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_point_at_the_client_id_and_secret(http, make_client, status):
    http.add(responses.POST, TOKEN_URL, status=status, json={"message": "Authentication error"})

    with pytest.raises(ZuoraAuthError, match="check the Zuora client id and secret"):
        make_client().get_subscription("A-S00001234")


@pytest.mark.parametrize(
    ("answer", "error_class"),
    [
        ({"status": 503, "body": "<html>Service Unavailable</html>"}, ZuoraServerError),
        ({"body": requests.ConnectTimeout("connect timed out")}, ZuoraTimeout),
    ],
)
def test_an_unavailable_zuora_is_not_blamed_on_the_credentials(http, make_client, answer, error_class):
    # Given Zuora's token endpoint down or unreachable
    http.add(responses.POST, TOKEN_URL, **answer)

    # When the client needs a token
    with pytest.raises(error_class) as caught:
        make_client(max_attempts=2).get_subscription("A-S00001234")

    # Then the failure says Zuora could not serve it, and sends nobody to rotate a secret that is fine
    message = str(caught.value)
    assert "client id and secret" not in message
    assert "Zuora is unavailable" in message or "could not be reached" in message
    assert caught.value.retryable


# --- From the template's settings ---------------------------------------------------------------------------------


def test_the_deployed_client_takes_its_entity_preview_timeout_and_the_lambdas_remaining_time_from_settings(http, monkeypatch):
    # Given the environment template.yaml sets (ZuoraEntityId → ZUORA_ENTITY_ID) and a Lambda with 40 s left
    environ = {
        "JOBS_TABLE_NAME": "jobs",
        "SUBSCRIPTIONS_TABLE_NAME": "subscriptions",
        "CUSTOMERS_TABLE_NAME": "customers",
        "WORK_BUCKET_NAME": "work",
        "ZUORA_BASE_URL": BASE,
        "ZUORA_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:zuora",
        "ZUORA_ENTITY_ID": "8a8082c4590e7e2a01591d5d1b4e0a25",
        "ZUORA_CONNECT_TIMEOUT_SECONDS": "3",
    }
    monkeypatch.setattr(zuora_access, "credentials_from_secret", lambda arn: CREDENTIALS)
    client = zuora_access.zuora_client(Settings.from_environ(environ), "sync-1", remaining_time=lambda: 40.0)
    add_token(http)
    http.add(responses.GET, SUBSCRIPTION_URL, json=SUBSCRIPTION)
    http.add(responses.POST, PREVIEW_URL, json={"success": True})

    # When it reads and previews
    client.get_subscription("A-S00001234")
    client.preview_billing("A00001234", dt.date(2027, 12, 31))

    # Then the entity goes out, the GET keeps its 20 s and the preview waits what the Lambda allows (40 - 5 - 3)
    assert {call.request.headers["Zuora-Entity-Ids"] for call in api_calls(http)} == {"8a8082c4590e7e2a01591d5d1b4e0a25"}
    assert timeouts_of(http) == [(3.0, 20.0), (3.0, 32.0)]


@pytest.mark.parametrize("entity_id", ["prod", "8a8082c4590e7e2a01591d5d1b4e0a2", "8a8082c4590e7e2a01591d5d1b4e0a25,x"])
def test_an_entity_id_that_is_not_a_zuora_id_is_refused_at_start(entity_id):
    tables = {"jobs_table_name": "j", "subscriptions_table_name": "s", "customers_table_name": "c", "work_bucket_name": "w"}

    with pytest.raises(ValidationError, match="zuora_entity_id"):
        Settings(**tables, zuora_base_url=BASE, zuora_entity_id=entity_id)
