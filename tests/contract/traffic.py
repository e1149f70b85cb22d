"""HTTP traffic for the contract suite: every answer the emulator gives to the calls the client makes (successes and
errors, with every query parameter the client sends, in every form), and a session that records what
`ZuoraClient` itself sends and receives."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import requests

from local.zuora_emulator import ZuoraEmulator
from tests.contract import endpoints as ep

API_VERSION = "2025-08-12"  # the client's pinned Zuora-Version: errors carry their own HTTP status
LEGACY_API_VERSION = "211.0"  # errors come back as HTTP 200 with success:false

# charge-detail as GET_SubscriptionsByKey / GET_SubscriptionsByAccount document it (zuora-sdk
# SubscriptionsApi.get_subscription_by_key: "last-segment" (default), "current-segment", "all-segments",
# "specific-segment" with as-of-date), each with and without exclude-rate-plans-with-no-charges.
SUBSCRIPTION_READ_VARIANTS: tuple[dict[str, str], ...] = (
    {},
    {"charge-detail": "last-segment"},
    {"charge-detail": "current-segment"},
    {"charge-detail": "all-segments", "exclude-rate-plans-with-no-charges": "true"},
    {"charge-detail": "specific-segment", "as-of-date": dt.date.today().isoformat()},
)


@dataclass(frozen=True)
class Exchange:
    endpoint: ep.Endpoint
    case: str  # what was asked, for failure messages
    status: int
    body: Any


class _Caller:
    def __init__(self, emulator: ZuoraEmulator, endpoint_list: tuple[ep.Endpoint, ...]):
        self._emulator = emulator
        self._served = set(endpoint_list)
        self._session = requests.Session()
        self.exchanges: list[Exchange] = []
        self.token = self.token_exchange(emulator.client_id, emulator.client_secret, "client_credentials", "valid credentials")["access_token"]

    def token_exchange(self, client_id: str, secret: str, grant: str, case: str) -> Any:
        data = {"client_id": client_id, "client_secret": secret, "grant_type": grant}
        response = self._session.post(f"{self._emulator.base_url}/oauth/token", data=data, timeout=30)
        return self._record(ep.TOKEN, case, response)

    def call(
        self,
        endpoint: ep.Endpoint,
        case: str,
        *,
        key: str = "",
        params: Any = None,
        body: Any = None,
        version: str = API_VERSION,
        token: str | None = "",
    ) -> Any:
        if endpoint not in self._served:
            return None
        headers = {"Zuora-Version": version, "Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token or self.token}"
        url = self._emulator.base_url + endpoint.path.replace("{key}", key)
        response = self._session.request(endpoint.method, url, params=params, json=body, headers=headers, timeout=30)
        return self._record(endpoint, case, response)

    def _record(self, endpoint: ep.Endpoint, case: str, response: requests.Response) -> Any:
        body = response.json()
        self.exchanges.append(Exchange(endpoint, f"{endpoint.name} {case}", response.status_code, body))
        return body


def emulator_exchanges(emulator: ZuoraEmulator, tenant: dict[str, Any], endpoint_list: tuple[ep.Endpoint, ...]) -> list[Exchange]:
    """Everything the emulator answers for this tenant on `endpoint_list`."""
    caller = _Caller(emulator, endpoint_list)
    _token_errors(caller, emulator)
    accounts = [account["basicInfo"] for account in tenant["accounts"]]
    subscriptions = tenant["subscriptions"]
    today = dt.date.today()

    for crm_id in sorted({info.get("crmId") or "null" for info in accounts}):
        caller.call(
            ep.QUERY_ACCOUNTS,
            f"crmid {crm_id}",
            params=[("filter[]", f"crmid.EQ:{crm_id}"), ("fields[]", "id,accountnumber,name,status,crmid"), ("pageSize", 99)],
        )
    page = caller.call(ep.QUERY_ACCOUNTS, "one per page", params={"pageSize": 1})
    if page and page.get("nextPage"):
        caller.call(ep.QUERY_ACCOUNTS, "second page", params={"pageSize": 1, "cursor": page["nextPage"]})
    caller.call(ep.QUERY_ACCOUNTS, "pageSize over 99", params={"pageSize": 100})

    for info in accounts:
        number = info["accountNumber"]
        caller.call(ep.GET_ACCOUNT, number, key=number)
        caller.call(ep.GET_ACCOUNT, f"by id {info['id']}", key=info["id"])
        for variant in SUBSCRIPTION_READ_VARIANTS:
            caller.call(ep.SUBSCRIPTIONS_BY_ACCOUNT, f"{number} {variant}", key=number, params={"page": 1, "pageSize": 40, **variant})
        listing = caller.call(ep.SUBSCRIPTIONS_BY_ACCOUNT, f"{number} two per page", key=number, params={"page": 1, "pageSize": 2})
        if listing and listing.get("nextPage"):
            caller.call(ep.SUBSCRIPTIONS_BY_ACCOUNT, f"{number} page 2", key=number, params={"page": 2, "pageSize": 2})
        for renewal in ("None", "Autorenew", "All"):
            preview = {
                "accountNumber": number,
                "targetDate": (today + dt.timedelta(days=730)).isoformat(),
                "assumeRenewal": renewal,
                "chargeTypeToExclude": "Usage",
                "includingEvergreenSubscription": True,
            }
            caller.call(ep.BILLING_PREVIEW, f"{number} assumeRenewal {renewal}", body=preview)
        caller.call(ep.BILLING_PREVIEW, f"by accountId {info['id']}", body={"accountId": info["id"], "targetDate": today.isoformat()})

    for subscription in subscriptions:
        number = subscription["subscriptionNumber"]
        for variant in SUBSCRIPTION_READ_VARIANTS:
            caller.call(ep.SUBSCRIPTION_BY_KEY, f"{number} {variant}", key=number, params=variant)
        caller.call(ep.SUBSCRIPTION_BY_KEY, f"by id {subscription['id']}", key=subscription["id"])
        through = (today + dt.timedelta(days=400)).isoformat()
        caller.call(
            ep.PREVIEW_SUBSCRIPTION,
            f"{number} through {through}",
            key=number,
            body={
                "previewStartDate": {"previewStartDatePolicy": "startOfTerm"},
                "previewThroughDate": {"previewThruDatePolicy": "specificDate", "specificDate": through},
            },
        )

    _v1_errors(caller)
    return caller.exchanges


def _token_errors(caller: _Caller, emulator: ZuoraEmulator) -> None:
    caller.token_exchange(emulator.client_id, "not-the-secret", "client_credentials", "wrong secret")
    caller.token_exchange(emulator.client_id, emulator.client_secret, "password", "unsupported grant_type")


def _v1_errors(caller: _Caller) -> None:
    """Zuora's error answers: unknown keys, missing fields, no token, under both API version styles."""
    for version in (API_VERSION, LEGACY_API_VERSION):
        caller.call(ep.GET_ACCOUNT, f"unknown account, version {version}", key="A99999999", version=version)
        caller.call(ep.SUBSCRIPTIONS_BY_ACCOUNT, f"unknown account, version {version}", key="A99999999", version=version)
        caller.call(ep.SUBSCRIPTIONS_BY_ACCOUNT, f"page 0, version {version}", key="A99999999", params={"page": 0}, version=version)
        caller.call(ep.SUBSCRIPTION_BY_KEY, f"unknown subscription, version {version}", key="A-S99999999", version=version)
        caller.call(ep.BILLING_PREVIEW, f"no targetDate, version {version}", body={"accountNumber": "A99999999"}, version=version)
        caller.call(
            ep.BILLING_PREVIEW,
            f"unknown account, version {version}",
            body={"accountNumber": "A99999999", "targetDate": "2027-01-01"},
            version=version,
        )
        caller.call(
            ep.PREVIEW_SUBSCRIPTION,
            f"unknown subscription, version {version}",
            key="A-S99999999",
            version=version,
            body={
                "previewThroughDate": {"previewThruDatePolicy": "nextBillingPeriods", "nextBillingPeriods": 1},
            },
        )
    for endpoint in (
        ep.QUERY_ACCOUNTS,
        ep.GET_ACCOUNT,
        ep.SUBSCRIPTIONS_BY_ACCOUNT,
        ep.SUBSCRIPTION_BY_KEY,
        ep.BILLING_PREVIEW,
        ep.PREVIEW_SUBSCRIPTION,
    ):
        caller.call(endpoint, "without a token", key="A00000000", body={}, token=None)


def fault_exchanges(emulator: ZuoraEmulator, endpoint_list: tuple[ep.Endpoint, ...]) -> list[Exchange]:
    """The emulator's injected failures that carry a body (faults in the tenant file, docs/zuora-emulator.md)."""
    caller = _Caller(emulator, endpoint_list)
    faults = (
        ("429", {"status": 429, "retryAfter": 1}),
        ("500", {"status": 500}),
        ("503", {"status": 503}),
        ("success false", {"successFalse": {"code": 50000061, "message": "Temporary error, retry later."}}),
    )
    for case, fault in faults:
        for endpoint in (ep.GET_ACCOUNT, ep.SUBSCRIPTION_BY_KEY, ep.BILLING_PREVIEW):
            emulator.add_fault({"path": endpoint.path.replace("{key}", ".*"), "times": 1, **fault})
            caller.call(endpoint, f"fault {case}", key="A00000000", body={"targetDate": "2027-01-01", "accountNumber": "A00000000"})
    return caller.exchanges


class RecordingSession(requests.Session):
    """A `requests.Session` that keeps every request the client sends and the answer it got."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[requests.PreparedRequest, requests.Response]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = super().send(request, **kwargs)
        self.sent.append((request, response))
        return response
