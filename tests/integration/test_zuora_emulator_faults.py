"""The emulator's fault kinds for what real Zuora can do to a listing, a preview or an account, over real HTTP.

Rate limit: https://developer.zuora.com/docs/guides/rate-limits/ (429 with ratelimit-remaining 0 and ratelimit-reset,
no Retry-After); Retry-After as an HTTP-date: RFC 9110 §10.2.3.
"""

from __future__ import annotations

import datetime as dt
import email.utils

import pytest
import requests

from local.zuora_emulator import TenantError, ZuoraEmulator
from tests.zuora_fixtures import account, subscription, tenant

OWNER, OTHER = "A00009001", "A00009002"
MODERN = {"Zuora-Version": "2025-08-12"}
LISTING = f"/v1/subscriptions/accounts/{OWNER}"


def charged(record: dict) -> dict:
    record["ratePlans"] = [
        {
            "id": f"rp-{record['subscriptionNumber']}",
            "productName": "Digital Pack",
            "ratePlanCharges": [
                {
                    "number": f"C-{record['subscriptionNumber']}",
                    "type": "Recurring",
                    "model": "FlatFee",
                    "price": 10.0,
                    "quantity": 1,
                    "billingPeriod": "Month",
                    "effectiveStartDate": "2026-03-01",
                    "effectiveEndDate": "2027-03-01",
                    "chargedThroughDate": "2026-12-01",
                }
            ],
        }
    ]
    return record


def faulty_tenant(*faults: dict) -> dict:
    subscriptions = [charged(subscription(f"A-S{n}", OWNER, version=3, updated=f"2026-11-0{n}")) for n in range(1, 4)]
    subscriptions.append(charged(subscription("A-S9", OTHER)))
    built = tenant([account(OWNER, crm_id=None), account(OTHER, crm_id=None)], subscriptions, seed=1)
    built["faults"] = list(faults)
    return built


class Zuora:
    def __init__(self, emu: ZuoraEmulator):
        form = {"client_id": emu.client_id, "client_secret": emu.client_secret, "grant_type": "client_credentials"}
        token = requests.post(f"{emu.base_url}/oauth/token", data=form, timeout=5).json()["access_token"]
        self.base_url, self.headers = emu.base_url, {"Authorization": f"Bearer {token}", **MODERN}

    def get(self, path: str, **params) -> requests.Response:
        return requests.get(path if path.startswith("http") else f"{self.base_url}{path}", params=params, headers=self.headers, timeout=5)

    def post(self, path: str, body: dict) -> requests.Response:
        return requests.post(f"{self.base_url}{path}", json=body, headers=self.headers, timeout=5)

    def preview(self, account_number: str) -> requests.Response:
        return self.post("/v1/operations/billing-preview", {"accountNumber": account_number, "targetDate": "2027-01-31"})

    def preview_subscription(self, number: str) -> requests.Response:
        return self.post(f"/v1/subscriptions/{number}/preview", {"previewThroughDate": {"previewThruDatePolicy": "endOfTerm"}})


def serving(*faults: dict) -> tuple[ZuoraEmulator, Zuora]:
    emu = ZuoraEmulator(faulty_tenant(*faults), today=lambda: dt.date(2026, 12, 1))
    emu.start()
    return emu, Zuora(emu)


@pytest.fixture
def zuora_with():
    started: list[ZuoraEmulator] = []

    def start(*faults: dict) -> Zuora:
        emu, client = serving(*faults)
        started.append(emu)
        return client

    yield start
    for emu in started:
        emu.stop()


# Rate limits


def test_a_rate_limit_429_carries_ratelimit_headers_and_no_retry_after(zuora_with):
    zuora = zuora_with({"path": LISTING, "times": 1, "rateLimited": True, "rateLimitResetSeconds": 600})

    limited, after = zuora.get(LISTING), zuora.get(LISTING)

    assert limited.status_code == 429 and "Retry-After" not in limited.headers
    assert (limited.headers["RateLimit-Remaining"], limited.headers["RateLimit-Reset"]) == ("0", "600")
    assert limited.headers["RateLimit-Limit"].startswith("50000")
    assert limited.json()["reasons"][0]["code"] == 50000070
    assert after.status_code == 200


def test_retry_after_can_be_an_http_date(zuora_with):
    zuora = zuora_with({"path": LISTING, "times": 1, "status": 503, "retryAfter": 120, "retryAfterHttpDate": True})

    reply = zuora.get(LISTING)

    when = email.utils.parsedate_to_datetime(reply.headers["Retry-After"])
    assert reply.status_code == 503 and reply.headers["Retry-After"].endswith(" GMT")
    assert 100 <= (when - dt.datetime.now(dt.UTC)).total_seconds() <= 121


# Listings that never end, or list a record wrongly


def test_a_repeating_next_page_leads_back_to_the_same_page(zuora_with):
    zuora = zuora_with({"path": LISTING, "nextPage": "repeat"})

    first = zuora.get(LISTING, pageSize=2).json()
    again = zuora.get(first["nextPage"]).json()

    assert "page=1" in first["nextPage"] and again["subscriptions"] == first["subscriptions"] and again["nextPage"] == first["nextPage"]


def test_an_endless_next_page_always_offers_one_more_page(zuora_with):
    zuora = zuora_with({"path": LISTING, "nextPage": "endless"})

    beyond = zuora.get(LISTING, page=7, pageSize=40).json()

    assert beyond["subscriptions"] == [] and "page=8" in beyond["nextPage"]


def test_object_query_can_repeat_its_cursor(zuora_with):
    zuora = zuora_with({"path": "/object-query/accounts", "nextPage": "repeat"})

    first = zuora.get("/object-query/accounts", pageSize=1).json()
    again = zuora.get("/object-query/accounts", pageSize=1, cursor=first["nextPage"]).json()

    assert again["nextPage"] == first["nextPage"] and again["data"] == first["data"]


def test_a_listed_record_can_lose_its_number_or_carry_an_invalid_one(zuora_with):
    zuora = zuora_with(
        {"path": LISTING, "times": 1, "alterSubscription": {"subscriptionNumber": "A-S2", "unset": ["subscriptionNumber"]}},
        {"path": LISTING, "times": 1, "alterSubscription": {"subscriptionNumber": "A-S1", "set": {"subscriptionNumber": "A-S1; DROP"}}},
    )

    without_number = zuora.get(LISTING).json()["subscriptions"]
    invalid_number = zuora.get(LISTING).json()["subscriptions"]

    assert [s.get("subscriptionNumber") for s in without_number] == ["A-S3", None, "A-S1"]
    assert without_number[1]["id"]  # still identifiable by its Zuora id
    assert [s["subscriptionNumber"] for s in invalid_number] == ["A-S3", "A-S2", "A-S1; DROP"]


def test_a_subscription_can_be_listed_twice_with_two_versions_the_older_last(zuora_with):
    zuora = zuora_with({"path": LISTING, "duplicateSubscription": "A-S3"})

    listed = zuora.get(LISTING).json()["subscriptions"]

    assert [(s["subscriptionNumber"], s["version"], s["isLatestVersion"]) for s in listed] == [
        ("A-S3", 3, True),
        ("A-S2", 3, True),
        ("A-S1", 3, True),
        ("A-S3", 2, False),
    ]
    assert listed[0]["id"] != listed[3]["id"]


# A preview refused because of one subscription; an account that cannot be read


def test_a_billing_preview_is_refused_while_a_given_subscription_is_in_it(zuora_with):
    zuora = zuora_with({"refusePreviewOf": "A-S2", "message": "Charge C-A-S2 has an invalid tier."})

    refused, other_account = zuora.preview(OWNER), zuora.preview(OTHER)
    refused_alone, fine_alone = zuora.preview_subscription("A-S2"), zuora.preview_subscription("A-S1")

    assert refused.status_code == 400 and refused.json()["reasons"] == [{"code": 50000030, "message": "Charge C-A-S2 has an invalid tier."}]
    assert other_account.status_code == 200
    assert refused_alone.status_code == 400 and refused_alone.json()["reasons"][0]["code"] == 50000030
    assert fine_alone.status_code == 200 and fine_alone.json()["invoices"]


def test_an_account_can_fail_its_detail_listing_and_preview_alone(zuora_with):
    zuora = zuora_with({"account": OTHER, "status": 500})

    failing = [zuora.get(f"/v1/accounts/{OTHER}"), zuora.get(f"/v1/subscriptions/accounts/{OTHER}"), zuora.preview(OTHER)]
    healthy = [zuora.get(f"/v1/accounts/{OWNER}"), zuora.get(LISTING), zuora.preview(OWNER)]

    assert [reply.status_code for reply in failing] == [500, 500, 500]
    assert [reply.status_code for reply in healthy] == [200, 200, 200]


def test_faults_can_be_armed_and_cleared_over_http(zuora_with):
    zuora = zuora_with()

    armed = requests.post(f"{zuora.base_url}/_emulator/faults", json={"path": LISTING, "status": 503}, timeout=5)
    faulted = zuora.get(LISTING).status_code
    cleared = requests.delete(f"{zuora.base_url}/_emulator/faults", timeout=5)
    bad = requests.post(f"{zuora.base_url}/_emulator/faults", json={"path": LISTING, "rateLimited": True, "status": 503}, timeout=5)

    assert (armed.status_code, faulted, cleared.status_code, zuora.get(LISTING).status_code) == (201, 503, 200, 200)
    assert bad.status_code == 400 and "choose one of" in bad.json()["message"]


@pytest.mark.parametrize(
    "rule",
    [
        {"path": LISTING, "rateLimited": True, "status": 429},
        {"path": LISTING, "retryAfterHttpDate": True, "status": 503},
        {"path": LISTING, "nextPage": "sometimes"},
        {"message": "no refusal"},
        {"path": LISTING, "alterSubscription": {"subscriptionNumber": "A-S1", "drop": ["id"]}},
    ],
)
def test_a_bad_fault_rule_fails_the_tenant(rule):
    with pytest.raises(TenantError, match="faults.0"):
        ZuoraEmulator(faulty_tenant(rule))
