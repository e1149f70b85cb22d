"""Finding a customer's accounts by either form of its Salesforce id, exactly, and following Zuora's paging
only as far as it can honestly go."""

from __future__ import annotations

import json
import random
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from limio_sync import ids
from limio_sync.errors import ErrorCode
from limio_sync.validation import salesforce_checksum
from limio_sync.zuora import client as zuora_client
from limio_sync.zuora.client import ZuoraClient
from limio_sync.zuora.errors import ZuoraMalformedResponse
from limio_sync.zuora.models import ZuoraCredentials
from limio_sync.zuora.token_cache import reset_token_cache

BASE = "https://rest.test.zuora.com"
ACCOUNTS_URL = f"{BASE}/object-query/accounts"
PAGES_URL = f"{BASE}/v1/subscriptions/accounts/A00001115"
ID15 = "0015g00000Ab3XQ"
ID18 = ID15 + salesforce_checksum(ID15)


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    reset_token_cache()
    yield
    reset_token_cache()


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, f"{BASE}/oauth/token", json={"access_token": "t", "expires_in": 3599})
        yield mock


def client() -> ZuoraClient:
    return ZuoraClient(BASE, ZuoraCredentials(client_id="c" * 36, client_secret="s"), sleep=lambda _: None, rng=random.Random(1))


def account(number: str, crm_id: str) -> dict:
    return {"id": f"id-{number}", "accountNumber": number, "name": number, "status": "Active", "crmId": crm_id}


def filters_sent(http) -> list[str]:
    return [parse_qs(urlsplit(c.request.url).query)["filter[]"][0] for c in http.calls if c.request.url.startswith(ACCOUNTS_URL)]


def test_the_15_and_18_character_forms_of_an_id_are_one_customer():
    assert ids.salesforce_id_18(ID15) == ID18 == ids.salesforce_id_18(ID15 + ID18[15:].lower())
    assert ids.salesforce_id_forms(ID18.lower()[:15] + ID18[15:]) != ids.salesforce_id_forms(ID18)  # the first 15 are case-sensitive
    assert ids.same_salesforce_id(ID15, ID18) and ids.same_salesforce_id(ID18[:15] + ID18[15:].lower(), ID15)
    assert not ids.same_salesforce_id(ID15.lower(), ID15) and not ids.same_salesforce_id(None, ID15)
    assert ids.customer_key_of(ID15) == ID18 and ids.customer_key_of("not-a-salesforce-id") == "not-a-salesforce-id"


def test_accounts_are_found_under_either_form_of_the_id_and_kept_only_when_they_are_exactly_this_customer(http):
    # Given Zuora's case-insensitive IN: the query returns an account of another Salesforce record whose id differs
    # only by case, one whose crmId holds the 15-character form and one stored with a lower-case suffix
    other_customer = ID15[:-1] + ID15[-1].lower()
    http.add(
        responses.GET,
        ACCOUNTS_URL,
        json={"data": [account("A1", ID15), account("A9", other_customer), account("A2", ID18[:15] + ID18[15:].lower())]},
    )

    found = client().find_accounts_by_crm_id(ID15)

    assert [a.accountNumber for a in found] == ["A1", "A2"]
    assert filters_sent(http) == [f"crmid.IN:[{ID15},{ID18}]"]


@pytest.mark.parametrize("crm_id", ["001ABC", ID18 + "X", ID15[:14]])
def test_an_id_of_neither_length_is_rejected_before_any_call(http, crm_id):
    with pytest.raises(Exception) as caught:
        client().find_accounts_by_crm_id(crm_id)

    assert caught.value.code is ErrorCode.ZUORA_REJECTED
    assert filters_sent(http) == []


def test_an_endless_next_page_fails_the_account_with_a_bad_response_naming_it(http, monkeypatch):
    # Given a listing whose nextPage always points one page further (never repeating a page)
    monkeypatch.setattr(zuora_client, "MAX_SUBSCRIPTION_PAGES", 5)
    served = []

    def one_more_page(request):
        page = int(parse_qs(urlsplit(request.url).query)["page"][0])
        served.append(page)
        if page > 50:
            raise AssertionError("the listing was followed past any cap")
        body = {"success": True, "subscriptions": [{"subscriptionNumber": f"A-S{page}"}], "nextPage": f"{PAGES_URL}?page={page + 1}&pageSize=40"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    http.add_callback(responses.GET, PAGES_URL, callback=one_more_page)
    # When the pages are followed
    with pytest.raises(ZuoraMalformedResponse) as caught:
        list(client().iter_subscription_pages("A00001115"))
    # Then after the cap the account fails, permanently, saying which account and why
    assert served == [1, 2, 3, 4, 5]
    assert caught.value.code is ErrorCode.ZUORA_BAD_RESPONSE and not caught.value.retryable
    assert "A00001115" in caught.value.message and "more than 5 pages" in caught.value.message


def test_an_endless_object_query_cursor_fails_with_a_bad_response(http, monkeypatch):
    monkeypatch.setattr(zuora_client, "MAX_ACCOUNT_QUERY_PAGES", 3)
    cursors = iter(range(1000))
    http.add_callback(
        responses.GET,
        ACCOUNTS_URL,
        callback=lambda request: (200, {}, json.dumps({"data": [], "nextPage": f"cursor-{next(cursors)}"})),
    )

    with pytest.raises(ZuoraMalformedResponse) as caught:
        client().find_accounts_by_crm_id(ID18)

    assert not caught.value.retryable and ID15 in caught.value.message and "more than 3 pages" in caught.value.message
    assert len(filters_sent(http)) == 3


def test_every_page_of_the_listing_asks_for_all_segments_and_no_empty_rate_plans(http):
    http.add(responses.GET, PAGES_URL, json={"success": True, "subscriptions": [], "nextPage": f"{PAGES_URL}?page=2&pageSize=40"})
    http.add(responses.GET, PAGES_URL, json={"success": True, "subscriptions": []})

    list(client().iter_subscription_pages("A00001115"))

    queries = [parse_qs(urlsplit(c.request.url).query) for c in http.calls if c.request.url.startswith(PAGES_URL)]
    assert [(q["charge-detail"], q["exclude-rate-plans-with-no-charges"]) for q in queries] == [(["all-segments"], ["true"])] * 2
