"""The Zuora emulator over real HTTP: the shapes, errors, limits and faults our Zuora client must cope with."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from limio_sync.validation import salesforce_checksum
from local.zuora_emulator import DEMO_TENANT_PATH, TenantError, ZuoraEmulator, load_tenant

DEMO = json.loads(DEMO_TENANT_PATH.read_text(encoding="utf-8"))
SALESFORCE_ID = "0015g00000Ab3XQAAZ"
CONSUMER, PRINT = "A00001001", "A00001002"
HEX32 = re.compile(r"[0-9a-f]{32}")
MODERN = {"Zuora-Version": "2025-08-12"}


def demo_tenant(**settings) -> dict:
    tenant = copy.deepcopy(DEMO)
    tenant["settings"].update({"seed": 7, "concurrencyLimit": None, **settings})
    return tenant


def fetch_token(emu: ZuoraEmulator, secret: str | None = None) -> requests.Response:
    form = {"client_id": emu.client_id, "client_secret": secret or emu.client_secret, "grant_type": "client_credentials"}
    return requests.post(f"{emu.base_url}/oauth/token", data=form, timeout=5)


class Zuora:
    """An authenticated caller, as the sync's client would be."""

    def __init__(self, emu: ZuoraEmulator):
        self.base_url = emu.base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {fetch_token(emu).json()['access_token']}"

    def get(self, path: str, params=None, headers=None, timeout: float = 5) -> requests.Response:
        return self.session.get(f"{self.base_url}{path}", params=params, headers=headers, timeout=timeout)


@pytest.fixture
def emu():
    with ZuoraEmulator(demo_tenant()) as running:
        yield running


@pytest.fixture
def zuora(emu) -> Zuora:
    return Zuora(emu)


# Authentication


def test_the_tenant_credentials_get_a_bearer_token(emu):
    reply = fetch_token(emu)

    assert reply.status_code == 200
    token = reply.json()
    assert HEX32.fullmatch(token["access_token"]) and HEX32.fullmatch(token["jti"])
    assert (token["token_type"], token["expires_in"]) == ("bearer", 3599)
    assert isinstance(token["scope"], str) and emu.stats.token_requests == 1


def test_a_wrong_secret_is_401_and_the_secret_is_not_echoed(emu):
    reply = fetch_token(emu, secret="not-the-secret-at-all")

    assert reply.status_code == 401
    assert "message" in reply.json()
    assert "not-the-secret-at-all" not in reply.text and emu.client_secret not in reply.text


def test_api_calls_need_a_valid_bearer_token(emu):
    for headers in ({}, {"Authorization": "Bearer " + "0" * 32}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        reply = requests.get(f"{emu.base_url}/v1/subscriptions/A-S00002001", headers=headers, timeout=5)

        assert reply.status_code == 401
        assert reply.json() == {"message": "Authentication error"}
        assert reply.headers["WWW-Authenticate"] == "Basic realm=Zuora API, ZSession realm=Zuora API, Bearer realm=Zuora API"


def test_tokens_stop_working_after_their_ttl_or_when_revoked():
    clock = FakeClock()
    with ZuoraEmulator(demo_tenant(tokenTtlSeconds=60), clock=clock) as emu:
        zuora = Zuora(emu)
        assert zuora.get("/v1/accounts/A00001001").status_code == 200

        clock.now += 60
        assert zuora.get("/v1/accounts/A00001001").status_code == 401

        zuora = Zuora(emu)
        emu.revoke_tokens()
        assert zuora.get("/v1/accounts/A00001001").status_code == 401


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# Finding accounts by Salesforce id


def query_accounts(zuora: Zuora, crm_id: str, **params) -> requests.Response:
    return zuora.get("/object-query/accounts", {"filter[]": f"crmid.EQ:{crm_id}", **params})


def test_object_query_finds_the_accounts_of_a_salesforce_id(zuora):
    reply = query_accounts(zuora, SALESFORCE_ID, **{"fields[]": "id,accountnumber,name,status,crmid", "pageSize": 99})

    assert reply.status_code == 200
    body = reply.json()
    assert "nextPage" not in body
    assert [a["accountNumber"] for a in body["data"]] == [CONSUMER, PRINT]
    assert set(body["data"][0]) == {"id", "accountNumber", "name", "status", "crmId"}
    assert body["data"][0]["crmId"] == SALESFORCE_ID and body["data"][0]["name"] == "Northwind Media — Consumer"


def test_object_query_without_a_match_is_an_empty_list(zuora):
    reply = query_accounts(zuora, "001000000000000AAA")

    assert (reply.status_code, reply.json()) == (200, {"data": []})


def test_object_query_pages_with_an_opaque_cursor(zuora):
    first = query_accounts(zuora, SALESFORCE_ID, pageSize=1).json()
    second = query_accounts(zuora, SALESFORCE_ID, pageSize=1, cursor=first["nextPage"]).json()

    assert [a["accountNumber"] for a in first["data"] + second["data"]] == [CONSUMER, PRINT]
    assert "nextPage" not in second


@pytest.mark.parametrize("value", ["x' or crmId != '", "a&filter[]=crmid.NE:b", "1,2", "%27", SALESFORCE_ID[:15]])
def test_object_query_values_are_compared_whole_and_never_break_the_query(zuora, value):
    reply = query_accounts(zuora, value)

    assert (reply.status_code, reply.json()) == (200, {"data": []})


def test_object_query_eq_ignores_case_as_zuora_documents(zuora):
    # "All search fields support exact and case-insensitive matching with EQ, NE, and IN" (expand-filter-fields-sort guide)
    reply = query_accounts(zuora, SALESFORCE_ID.lower(), **{"fields[]": "accountnumber,crmid"})

    assert reply.json() == {"data": [{"accountNumber": CONSUMER, "crmId": SALESFORCE_ID}, {"accountNumber": PRINT, "crmId": SALESFORCE_ID}]}


def test_object_query_in_takes_a_bracketed_list_of_ids_any_case(zuora):
    listed = f"crmid.IN:[{SALESFORCE_ID[:15].lower()},{SALESFORCE_ID.upper()}]"

    reply = zuora.get("/object-query/accounts", {"filter[]": listed, "fields[]": "accountnumber"})
    nobody = zuora.get("/object-query/accounts", {"filter[]": f"crmid.IN:[{SALESFORCE_ID[:15]},001000000000000AAA]"})

    assert reply.json() == {"data": [{"accountNumber": CONSUMER}, {"accountNumber": PRINT}]}
    assert nobody.json() == {"data": []}


@pytest.mark.parametrize("params", [{"pageSize": 0}, {"pageSize": 100}, {"cursor": "not-a-cursor"}, {"filter[]": "name.SW:N"}])
def test_object_query_rejects_bad_parameters_with_400(zuora, params):
    reply = zuora.get("/object-query/accounts", params)

    assert reply.status_code == 400
    assert reply.json()["reasons"][0]["code"] == 50000020 and reply.json()["success"] is False


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"filter[]": "name.SW:N"}, 50000027),
        ({"filter[]": "crmid.IN:a,b"}, 50000027),
        ({"fields[]": "balance"}, 50000027),
        ({"pageSize": 100}, 50000020),
        ({"cursor": "not-a-cursor"}, 50000020),
    ],
)
def test_object_query_errors_from_2025_08_12_have_no_success_and_category_27_for_filters_and_fields(zuora, params, code):
    # https://developer.zuora.com/v1-api-reference/api-upgrades/ (2025-08-12)
    reply = zuora.get("/object-query/accounts", params, headers=MODERN)

    assert reply.status_code == 400
    assert set(reply.json()) == {"reasons", "requestId"}
    assert reply.json()["reasons"][0]["code"] == code and reply.json()["requestId"] == reply.headers["Zuora-Request-Id"]


# Accounts


@pytest.mark.parametrize("key", [CONSUMER, DEMO["accounts"][0]["basicInfo"]["id"]])
def test_an_account_is_found_by_number_or_id(zuora, key):
    body = zuora.get(f"/v1/accounts/{key}").json()

    assert body["success"] is True
    assert body["basicInfo"]["accountNumber"] == CONSUMER and body["basicInfo"]["crmId"] == SALESFORCE_ID
    assert body["basicInfo"]["Region__c"] == "UK"
    assert {"billingAndPayment", "billToContact", "soldToContact"} <= set(body)


@pytest.mark.parametrize("headers", [None, {"Zuora-Version": "211.0"}, {"Zuora-Version": "2024-05-19"}])
def test_not_found_under_legacy_versions_is_http_200_with_success_false(zuora, headers):
    reply = zuora.get("/v1/accounts/A09999999", headers=headers)

    assert reply.status_code == 200
    body = reply.json()
    assert body["success"] is False
    assert body["reasons"] == [{"code": 50000040, "message": "Cannot find entity by key: 'A09999999'."}]
    assert re.fullmatch(r"[0-9A-F]{16}", body["processId"]) and body["requestId"] == reply.headers["Zuora-Request-Id"]


@pytest.mark.parametrize("version", ["2024-05-20", "2025-08-12"])
def test_not_found_from_2024_05_20_is_http_404(zuora, version):
    reply = zuora.get("/v1/subscriptions/A-S09999999", headers={"Zuora-Version": version})

    assert reply.status_code == 404
    assert reply.json()["reasons"][0]["code"] == 50000040


def test_the_tenant_default_api_version_applies_when_the_header_is_absent():
    with ZuoraEmulator(demo_tenant(defaultApiVersion="2025-08-12")) as emu:
        assert Zuora(emu).get("/v1/accounts/A09999999").status_code == 404


# Subscriptions


def list_page(zuora: Zuora, account: str, **params) -> dict:
    reply = zuora.get(f"/v1/subscriptions/accounts/{account}", params)
    assert reply.status_code == 200
    return reply.json()


def test_subscriptions_page_with_absolute_next_page_links(emu, zuora):
    first = list_page(zuora, PRINT, pageSize=5)
    second = zuora.get(first["nextPage"].removeprefix(emu.base_url)).json()

    assert first["nextPage"] == f"{emu.base_url}/v1/subscriptions/accounts/{PRINT}?page=2&pageSize=5"
    assert "nextPage" not in second
    numbers = [s["subscriptionNumber"] for s in first["subscriptions"] + second["subscriptions"]]
    assert len(first["subscriptions"]) == 5 and len(numbers) == len(set(numbers))
    assert set(numbers) == {s["subscriptionNumber"] for s in DEMO["subscriptions"] if s["accountNumber"] == PRINT}


def test_subscriptions_come_most_recently_updated_first(zuora):
    subscriptions = list_page(zuora, CONSUMER)["subscriptions"]

    update_times = [s["updateTime"] for s in subscriptions]
    assert update_times == sorted(update_times, reverse=True)


def test_page_sizes_over_40_are_served_as_40():
    accounts = [{"basicInfo": {"id": "a" * 32, "accountNumber": "A00009001", "crmId": ""}}]
    subscriptions = [{"subscriptionNumber": f"A-S{9000 + i:08d}", "accountNumber": "A00009001"} for i in range(45)]
    with ZuoraEmulator({"credentials": DEMO["credentials"], "accounts": accounts, "subscriptions": subscriptions}) as emu:
        zuora = Zuora(emu)
        first = list_page(zuora, "A00009001", pageSize=100)
        second = list_page(zuora, "A00009001", pageSize=100, page=2)

    assert (len(first["subscriptions"]), len(second["subscriptions"])) == (40, 5)
    assert "page=2" in first["nextPage"] and "nextPage" not in second


def test_subscriptions_of_an_unknown_account_are_not_found(zuora):
    reply = zuora.get("/v1/subscriptions/accounts/A09999999", headers=MODERN)

    assert reply.status_code == 404


@pytest.mark.parametrize("key", ["A-S00002001", DEMO["subscriptions"][0]["id"]])
def test_a_subscription_is_found_by_number_or_id(zuora, key):
    body = zuora.get(f"/v1/subscriptions/{key}").json()

    assert body["success"] is True
    assert (body["subscriptionNumber"], body["status"], body["version"], body["revision"]) == ("A-S00002001", "Active", 3, "3.0")
    assert body["termStartDate"] > body["subscriptionStartDate"]


def test_rate_plans_come_in_a_different_order_from_call_to_call(zuora):
    orders = {tuple(rp["id"] for rp in zuora.get("/v1/subscriptions/A-S00002006").json()["ratePlans"]) for _ in range(8)}

    assert len(orders) > 1
    assert {frozenset(order) for order in orders} == {frozenset(rp["id"] for rp in DEMO["subscriptions"][5]["ratePlans"])}


def test_the_demo_broken_subscription_is_served_as_zuora_stores_it(zuora):
    body = zuora.get("/v1/subscriptions/A-S00002012").json()

    assert body["success"] is True and "status" not in body and "termStartDate" not in body
    assert (body["termType"], body["termEndDate"]) == ("TERMED", None)


# Headers


def test_api_responses_carry_zuora_headers_and_echo_the_track_id(zuora):
    reply = zuora.get("/v1/accounts/A00001001", headers={"Zuora-Track-Id": "sync-1234"})

    assert reply.headers["Zuora-Track-Id"] == "sync-1234"
    assert uuid.UUID(reply.headers["Zuora-Request-Id"])
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert reply.headers["Concurrency-Limit-Type"] == "Default"
    for name in ("Concurrency-Limit-Limit", "Concurrency-Limit-Remaining", "RateLimit-Remaining", "RateLimit-Reset"):
        assert int(reply.headers[name]) >= 0
    assert reply.headers["RateLimit-Limit"].startswith("50000")


# Faults


def test_a_fault_status_fires_times_then_normal_answers_resume(emu, zuora):
    emu.add_fault({"method": "GET", "path": r"/v1/subscriptions/A-S0000200[12]", "times": 2, "status": 503, "retryAfter": 2})

    first, second, third = (zuora.get(f"/v1/subscriptions/A-S0000200{n}") for n in (1, 2, 1))

    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.headers["Retry-After"] == "2" and first.json()["success"] is False


def test_a_fault_with_a_custom_body_and_429(emu, zuora):
    emu.add_fault({"path": "/v1/accounts/.*", "times": 1, "status": 429, "body": {"message": "slow down"}})

    reply = zuora.get("/v1/accounts/A00001001")

    assert (reply.status_code, reply.json()) == (429, {"message": "slow down"})
    assert emu.stats.throttled == 1


def test_a_malformed_fault_answers_200_with_invalid_json(emu, zuora):
    emu.add_fault({"path": "/v1/subscriptions/accounts/.*", "times": 1, "malformed": True})

    reply = zuora.get(f"/v1/subscriptions/accounts/{PRINT}")

    assert reply.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        reply.json()


def test_a_reset_fault_drops_the_connection(emu, zuora):
    emu.add_fault({"path": "/v1/subscriptions/A-S00002001", "times": 1, "reset": True})

    with pytest.raises(requests.ConnectionError):
        zuora.get("/v1/subscriptions/A-S00002001")
    assert zuora.get("/v1/subscriptions/A-S00002001").status_code == 200


def test_a_delay_fault_makes_the_client_time_out(emu, zuora):
    emu.add_fault({"path": "/v1/subscriptions/A-S00002001", "times": 1, "delaySeconds": 0.5})

    with pytest.raises(requests.ReadTimeout):
        zuora.get("/v1/subscriptions/A-S00002001", timeout=0.1)


def test_a_success_false_fault_is_http_200_with_the_given_reason(emu, zuora):
    emu.add_fault({"path": "/v1/subscriptions/.*", "successFalse": {"code": 50000060, "message": "Internal error, retry."}})

    reply = zuora.get("/v1/subscriptions/A-S00002001", headers=MODERN)

    assert reply.status_code == 200
    assert reply.json()["success"] is False and reply.json()["reasons"][0]["code"] == 50000060


def test_faults_from_the_tenant_file_apply_until_cleared(emu):
    tenant = demo_tenant()
    tenant["faults"] = [{"path": "/oauth/token", "status": 500}]
    with ZuoraEmulator(tenant) as faulty:
        assert fetch_token(faulty).status_code == 500
        faulty.clear_faults()
        assert fetch_token(faulty).status_code == 200


def test_a_fault_rule_that_makes_no_sense_is_refused(emu):
    with pytest.raises(ValueError, match="choose one of"):
        emu.add_fault({"path": ".*", "reset": True, "status": 500})
    with pytest.raises(ValueError, match="regular expression"):
        emu.add_fault({"path": "(", "status": 500})


# Concurrency limit


def test_requests_over_the_concurrency_limit_get_429_with_retry_after(emu, zuora):
    emu.set_concurrency_limit(2)
    emu.set_latency(200)
    start_together = threading.Barrier(5)

    def call(_: int) -> requests.Response:
        start_together.wait()
        return requests.get(f"{emu.base_url}/v1/accounts/A00001001", headers=dict(zuora.session.headers), timeout=5)

    with ThreadPoolExecutor(max_workers=5) as pool:
        replies = list(pool.map(call, range(5)))

    rejected = [r for r in replies if r.status_code == 429]
    assert rejected and all(r.status_code in (200, 429) for r in replies)
    assert all(r.headers["Retry-After"] == "1" and r.headers["Concurrency-Limit-Remaining"] == "0" for r in rejected)
    assert rejected[0].json()["reasons"][0]["code"] == 50000070
    assert emu.stats.peak_in_flight <= 2 and emu.stats.throttled == len(rejected)
    assert emu.stats.count("GET", "get_account") == 5


# Zuora-side changes


def test_an_update_is_a_new_version_with_a_new_id(emu, zuora):
    before = zuora.get("/v1/subscriptions/A-S00002001").json()

    stored = emu.update_subscription("A-S00002001", autoRenew=False, status="Cancelled")
    after = zuora.get("/v1/subscriptions/A-S00002001").json()

    assert after["id"] == stored["id"] != before["id"] and HEX32.fullmatch(after["id"])
    assert (after["version"], after["revision"], after["status"], after["autoRenew"]) == (4, "4.0", "Cancelled", False)
    assert after["subscriptionNumber"] == "A-S00002001" and after["updateTime"] > before["updateTime"]
    assert list_page(zuora, CONSUMER)["subscriptions"][0]["subscriptionNumber"] == "A-S00002001"


def test_an_upsert_replaces_or_adds_by_subscription_number(emu, zuora):
    replacement = {**emu.subscription("A-S00002011"), "currency": "GBP"}

    replaced = emu.upsert_subscription(replacement)
    added = emu.upsert_subscription({"subscriptionNumber": "A-S00002099", "accountNumber": CONSUMER, "status": "Draft"})

    assert (replaced["version"], replaced["revision"], replaced["currency"]) == (2, "2.0", "GBP")
    assert (added["version"], added["revision"]) == (1, "1.0") and HEX32.fullmatch(added["id"])
    assert zuora.get("/v1/subscriptions/A-S00002099").json()["status"] == "Draft"


def test_a_moved_subscription_belongs_to_its_new_account(emu, zuora):
    moved = emu.move_subscription("A-S00002002", PRINT)

    assert (moved["accountNumber"], moved["invoiceOwnerAccountNumber"], moved["version"]) == (PRINT, PRINT, 2)
    assert "A-S00002002" in {s["subscriptionNumber"] for s in list_page(zuora, PRINT, pageSize=40)["subscriptions"]}
    assert "A-S00002002" not in {s["subscriptionNumber"] for s in list_page(zuora, CONSUMER)["subscriptions"]}


def test_a_removed_subscription_is_not_found(emu, zuora):
    old_id = emu.subscription("A-S00002003")["id"]

    emu.remove_subscription("A-S00002003")

    for key in ("A-S00002003", old_id):
        assert zuora.get(f"/v1/subscriptions/{key}", headers=MODERN).status_code == 404
    with pytest.raises(KeyError):
        emu.update_subscription("A-S00002003", status="Active")


# Tenant files


def test_a_bad_tenant_names_each_problem(tmp_path):
    tenant = demo_tenant()
    del tenant["subscriptions"][0]["subscriptionNumber"]
    tenant["subscriptions"][1]["accountNumber"] = "A00000000"
    tenant["credentials"]["clientId"] = "short"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(tenant), encoding="utf-8")

    with pytest.raises(TenantError) as caught:
        ZuoraEmulator(path)

    message = str(caught.value)
    assert str(path) in message and "credentials.clientId" in message and "subscriptions.0.subscriptionNumber" in message
    with pytest.raises(TenantError, match="unknown account A00000000"):
        load_tenant({**tenant, "credentials": DEMO["credentials"], "subscriptions": tenant["subscriptions"][1:]})


def test_a_tenant_file_that_is_not_json_is_reported(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")

    with pytest.raises(TenantError, match="not valid JSON"):
        load_tenant(path)


def test_the_demo_tenant_models_one_salesforce_customer():
    tenant = load_tenant(DEMO_TENANT_PATH)

    assert {a["basicInfo"]["crmId"] for a in tenant.accounts} == {SALESFORCE_ID}
    assert SALESFORCE_ID[15:] == salesforce_checksum(SALESFORCE_ID[:15])
    assert sum(s["accountNumber"] == PRINT for s in tenant.subscriptions) > 6
    assert [s["subscriptionNumber"] for s in tenant.subscriptions if "status" not in s] == ["A-S00002012"]


def test_the_command_line_serves_a_tenant_until_stopped():
    command = [sys.executable, "-m", "local.zuora_emulator", "--tenant", str(DEMO_TENANT_PATH), "--port", "0", "--quiet"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
        try:
            base_url = process.stdout.readline().strip()
            reply = requests.post(f"{base_url}/oauth/token", data={"client_id": "x"}, timeout=5)
        finally:
            process.terminate()
        assert process.wait(timeout=5) == 0

    assert base_url.startswith("http://127.0.0.1:") and reply.status_code == 401
