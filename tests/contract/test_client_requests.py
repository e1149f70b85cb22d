"""What the client sends is what Zuora's SDK would send: each request `ZuoraClient` makes (captured on the wire
against the emulator) is one of the SDK's operations, every query parameter, Zuora header and form field maps to a
parameter of that operation and passes the SDK's own rules for it (its `Annotated[..., Field(le=...)]` signature,
checked with pydantic), JSON bodies fit the SDK's request model strictly, and the SDK, given the same arguments,
builds the same path and query.

Where the SDK and Zuora's documentation disagree, the documentation is followed and the conflict recorded here.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
import re
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
import requests
from pydantic import Field, TypeAdapter, ValidationError

from limio_sync.zuora.client import ZuoraClient
from limio_sync.zuora.errors import ZuoraError
from limio_sync.zuora.models import ZuoraCredentials
from local.zuora_emulator import ZuoraEmulator
from tests.contract import endpoints as ep
from tests.contract import schema, sdk
from tests.contract.tenants import demo
from tests.contract.traffic import RecordingSession

# Object Query pageSize: zuora-sdk 3.21.0 (ObjectQueriesApi.query_accounts) says `le=50`, but developer.zuora.com's
# v1 API changelog of 2024-04-26 "corrected the maximum value of the pageSize query parameter to 99 from 50". The
# documentation is followed (test_object_query_page_size_conflict_is_still_there keeps this honest).
DOCUMENTED_OVER_SDK: dict[tuple[str, str], Any] = {
    ("query_accounts", "page_size"): Annotated[int, Field(strict=True, ge=1, le=99)],
}

# Values the SDK lists in a parameter's description only (its type is a plain StrictStr).
CHARGE_DETAIL_VALUES = {"last-segment", "current-segment", "all-segments", "specific-segment"}  # get_subscription_by_key.charge_detail
ASSUME_RENEWAL_VALUES = {"All", "None", "Autorenew"}  # CreateBillingPreviewRequest.assume_renewal
CHARGE_TYPES = {"OneTime", "Recurring", "Usage"}  # CreateBillingPreviewRequest.charge_type_to_exclude: "any combination"
# Zuora-Version: the versions developer.zuora.com/v1-api-reference/api-versions lists; any other is served as 186.0.
DATE_VERSIONS = {"2024-05-20", "2025-08-12"}
NUMBERED_VERSIONS = (186, 341)
# Zuora-Track-Id: "must use the US-ASCII character set and must not include ... colon, semicolon, double quote, and
# quote" (zuora-sdk, every operation's zuora_track_id; its type adds max_length=64).
TRACK_ID_FORBIDDEN = set(":;\"'")
# Headers that are HTTP's own, not parameters of a Zuora operation.
HTTP_HEADERS = {"user-agent", "accept", "accept-encoding", "connection", "content-type", "content-length"}

ENTITY_ID = "8ad0823f9a6f8c4b019a70d1f3b52a1c"


def _configurations() -> dict[str, dict[str, Any]]:
    """Client set-ups to capture: plain, with a track id, and with an entity id once the client takes one."""
    configurations: dict[str, dict[str, Any]] = {"plain": {}, "track id": {"track_id": "sync-3f1a9c0b7d2e4f60"}}
    entity_parameters = [name for name in inspect.signature(ZuoraClient).parameters if "entity" in name]
    for name in entity_parameters:
        configurations[f"entity id ({name})"] = {name: ENTITY_ID}
    return configurations


CONFIGURATIONS = _configurations()


def _read_everything(client: ZuoraClient, tenant: dict[str, Any]) -> None:
    """Every read the sync makes, with the option values it uses."""
    target = dt.date.today() + dt.timedelta(days=365)
    crm_id = next(account["basicInfo"]["crmId"] for account in tenant["accounts"] if account["basicInfo"].get("crmId"))
    for account in client.find_accounts_by_crm_id(crm_id):
        client.get_account(account.accountNumber)
        client.get_account_detail(account.id)
        for page in client.iter_subscription_pages(account.accountNumber):
            for subscription in page[:2]:
                client.get_subscription(subscription["subscriptionNumber"])
                client.get_subscription(subscription["id"])
        list(client.iter_subscription_pages(account.id, page_size=3))
        client.preview_billing(account.accountNumber, target)
        client.preview_billing(account.id, target, assume_renewal="Autorenew", exclude_charge_types=("Usage", "OneTime"))
        client.preview_billing(account.accountNumber, target, assume_renewal="All", include_evergreen=False, exclude_charge_types=())
    for subscription in tenant["subscriptions"][:3]:
        client.preview_subscription(subscription["subscriptionNumber"], target)


@pytest.fixture(scope="module", params=sorted(CONFIGURATIONS))
def captured(request) -> tuple[dict[str, Any], list[tuple[requests.PreparedRequest, requests.Response]]]:
    tenant = demo()
    session = RecordingSession()
    with ZuoraEmulator(tenant) as emulator:
        credentials = ZuoraCredentials(client_id=emulator.client_id, client_secret=emulator.client_secret)
        client = ZuoraClient(emulator.base_url, credentials, session=session, max_attempts=1, **CONFIGURATIONS[request.param])
        _read_everything(client, tenant)
    return CONFIGURATIONS[request.param], session.sent


# The SDK's wire names: which query parameter, header, form field or path segment each method parameter becomes,
# learnt by asking the SDK's own serialiser to send a marker in each parameter.


@functools.cache
def wire_names(endpoint: ep.Endpoint) -> dict[tuple[str, str], str]:
    names: dict[tuple[str, str], str] = {}
    for name, parameter in sdk.parameters(endpoint.sdk_api, endpoint.sdk_method).items():
        if name.startswith("_") or name == "request":
            continue
        marker = f"marker-{name.replace('_', '-')}"
        is_list = "List[" in str(parameter.annotation)
        method, url, headers, _, form = sdk.serialize(endpoint.sdk_api, endpoint.sdk_method, **{name: [marker] if is_list else marker})
        split = urlsplit(url)
        names.update({("query", key): name for key, value in parse_qsl(split.query) if value == marker})
        names.update({("header", key.lower()): name for key, value in headers.items() if value == marker})
        names.update({("form", key): name for key, value in form if value == marker})
        if marker in split.path:
            names[("path", "")] = name
    return names


def _typed(raw: list[str], annotation: Any) -> Any:
    """A wire value as the Python value the SDK method would take (the SDK writes True as "true", ints as digits)."""
    text = str(annotation)
    if "List[" in text:
        return raw
    value = raw[0] if len(raw) == 1 else raw
    if isinstance(value, str) and "bool" in text and value in ("true", "false"):
        return value == "true"
    if isinstance(value, str) and "int" in text and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def _rule(endpoint: ep.Endpoint, name: str) -> Any:
    return DOCUMENTED_OVER_SDK.get((endpoint.sdk_method, name), sdk.parameters(endpoint.sdk_api, endpoint.sdk_method)[name].annotation)


def request_problems(request: requests.PreparedRequest) -> list[str]:
    """Every way a captured request departs from the SDK operation it is."""
    split = urlsplit(request.url)
    endpoint = ep.endpoint_for(request.method, unquote(split.path))
    names = wire_names(endpoint)
    where = f"{request.method} {split.path}"
    found: list[str] = []
    arguments: dict[str, Any] = {}

    def take(kind: str, key: str, raw: list[str]) -> None:
        name = names.get((kind, key.lower() if kind == "header" else key))
        if name is None:
            found.append(f"{where}: {kind} {key!r} is no parameter of zuora-sdk {endpoint.sdk_api}.{endpoint.sdk_method}")
            return
        value = _typed(raw, sdk.parameters(endpoint.sdk_api, endpoint.sdk_method)[name].annotation)
        try:
            TypeAdapter(_rule(endpoint, name)).validate_python(value)
        except ValidationError as error:
            found.append(f"{where}: {kind} {key}={value!r} breaks zuora-sdk's rule for {name}: {error.errors()[0]['msg']}")
        arguments[name] = value

    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(split.query, keep_blank_values=True):
        query.setdefault(key, []).append(value)
    for key, values in query.items():
        take("query", key, values)
    for key, value in request.headers.items():
        if key.lower() not in HTTP_HEADERS:
            take("header", key, [value])
    path_key = re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(endpoint.path)), split.path)
    if path_key and path_key.groups():
        take("path", "", [unquote(path_key.group(1))])
    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    if endpoint is ep.TOKEN:
        for key, value in parse_qsl(body or ""):
            take("form", key, [value])
    elif body:
        found += [f"{where}: body {problem}" for problem in body_problems(endpoint, json.loads(body))]
    found += [f"{where}: {problem}" for problem in documented_rule_problems(endpoint, query, request.headers)]
    if not found:
        found += same_as_sdk(endpoint, arguments, split)
    return found


def body_problems(endpoint: ep.Endpoint, body: Any) -> list[str]:
    annotation = sdk.parameters(endpoint.sdk_api, endpoint.sdk_method)["request"].annotation
    found = schema.problems(body, annotation)
    if endpoint is ep.BILLING_PREVIEW:
        # CreateBillingPreviewRequest: "you must specify either accountId or accountNumber"; assumeRenewal and
        # chargeTypeToExclude take the values its descriptions list.
        if ("accountId" in body) == ("accountNumber" in body):
            found.append(f"needs exactly one of accountId and accountNumber: {sorted(body)}")
        if body.get("assumeRenewal") not in (None, *ASSUME_RENEWAL_VALUES):
            found.append(f"assumeRenewal {body['assumeRenewal']!r} is none of {sorted(ASSUME_RENEWAL_VALUES)}")
        excluded = [part.strip() for part in (body.get("chargeTypeToExclude") or "").split(",") if part.strip()]
        if not set(excluded) <= CHARGE_TYPES or len(excluded) != len(set(excluded)):
            found.append(f"chargeTypeToExclude {body['chargeTypeToExclude']!r} is not a combination of {sorted(CHARGE_TYPES)}")
    if endpoint is ep.PREVIEW_SUBSCRIPTION:
        # PreviewStartDate.specific_date / PreviewThroughDate.specific_date, next_billing_periods: "Required if
        # `previewStartDatePolicy` / `previewThruDatePolicy` is `specificDate`" (or `nextBillingPeriods`).
        for container, policy_key in (("previewStartDate", "previewStartDatePolicy"), ("previewThroughDate", "previewThruDatePolicy")):
            part = body.get(container) or {}
            policy = part.get(policy_key)
            if policy in ("specificDate", "nextBillingPeriods") and part.get(policy) is None:
                found.append(f"{container}.{policy} is required when {policy_key} is {policy!r}")
    return found


def documented_rule_problems(endpoint: ep.Endpoint, query: dict[str, list[str]], headers: Any) -> list[str]:
    found = []
    detail = (query.get("charge-detail") or [None])[0]
    if detail is not None and detail not in CHARGE_DETAIL_VALUES:
        found.append(f"charge-detail {detail!r} is none of {sorted(CHARGE_DETAIL_VALUES)}")
    if "as-of-date" in query and detail != "specific-segment":
        found.append("as-of-date is only available with charge-detail=specific-segment")
    if "page" in query and "pageSize" not in query:
        found.append("page needs pageSize (zuora-sdk get_subscriptions_by_account.page: 'You must set pageSize before specifying page')")
    version = headers.get("Zuora-Version")
    if endpoint is not ep.TOKEN and version is None:
        found.append("no Zuora-Version: Zuora would answer as 186.0, with errors as HTTP 200")
    if version is not None and not _documented_version(version):
        found.append(f"Zuora-Version {version!r} is not a version Zuora lists (served as 186.0)")
    if endpoint is ep.PREVIEW_SUBSCRIPTION and version is not None and not _at_least_207(version):
        found.append(f"Zuora-Version {version!r}: preview_existing_subscription needs 207.0 or later")
    track_id = headers.get("Zuora-Track-Id")
    if track_id is not None and (not track_id.isascii() or TRACK_ID_FORBIDDEN & set(track_id)):
        found.append(f"Zuora-Track-Id {track_id!r} is not US-ASCII without : ; \" '")
    return found


def _documented_version(version: str) -> bool:
    numbered = re.fullmatch(r"(\d{3})\.0", version)
    return version in DATE_VERSIONS or bool(numbered and NUMBERED_VERSIONS[0] <= int(numbered.group(1)) <= NUMBERED_VERSIONS[1])


def _at_least_207(version: str) -> bool:
    numbered = re.fullmatch(r"(\d{3})\.0", version)
    return version in DATE_VERSIONS or bool(numbered and int(numbered.group(1)) >= 207)


def same_as_sdk(endpoint: ep.Endpoint, arguments: dict[str, Any], sent: Any) -> list[str]:
    """The SDK, given the same arguments, sends the same path and query (names, order of repeated keys, values)."""
    _, url, _, _, _ = sdk.serialize(endpoint.sdk_api, endpoint.sdk_method, **arguments)
    expected = urlsplit(url)
    ours, theirs = sorted(parse_qsl(sent.query)), sorted(parse_qsl(expected.query))
    found = []
    if unquote(expected.path) != unquote(sent.path):
        found.append(f"path {sent.path} is not the SDK's {expected.path}")
    if ours != theirs:
        found.append(f"query {ours} is not what the SDK sends for the same arguments: {theirs}")
    return found


def test_every_request_the_client_sends_is_the_sdks_operation(captured):
    # Given the client configured as the sync configures it, when it reads everything the sync reads
    _, sent = captured
    requests_by_endpoint = {ep.endpoint_for(request.method, unquote(urlsplit(request.url).path)) for request, _ in sent}
    # Then it used every endpoint the suite knows it uses (the check below is not vacuous)...
    assert set(ep.CLIENT_ENDPOINTS) <= requests_by_endpoint
    # ...and each request is that SDK operation with parameters that pass the SDK's rules
    found = [problem for request, _ in sent for problem in request_problems(request)]
    assert not found, "\n".join(dict.fromkeys(found))


def test_the_configured_zuora_headers_are_sent(captured):
    # Every API call carries the configured track and entity ids. The token is cached and shared by every sync of
    # the process, so its request carries neither (create_token takes a track id but does not need one).
    configuration, sent = captured
    api_calls = [request for request, _ in sent if not request.url.endswith("/oauth/token")]
    assert api_calls
    for request in api_calls:
        if "track_id" in configuration:
            assert request.headers.get("Zuora-Track-Id") == configuration["track_id"]
        if any("entity" in name for name in configuration):
            assert request.headers.get("Zuora-Entity-Ids") == ENTITY_ID


def test_the_client_answers_every_response_zuora_sends(captured):
    # The answers the client got during the reads are themselves Zuora-shaped (as test_emulator_responses holds).
    _, sent = captured
    assert all(response.status_code == 200 for request, response in sent if not request.url.endswith("/preview")), [
        (request.url, response.status_code) for request, response in sent if response.status_code != 200
    ]


def test_the_client_pins_the_zuora_version_the_sdk_is_generated_for():
    # zuora-sdk 3.21.0 is generated from Zuora's OpenAPI document of 2025-08-12 and sends that version by default.
    assert inspect.signature(ZuoraClient).parameters["api_version"].default == sdk.default_zuora_version() == "2025-08-12"


@pytest.mark.parametrize("page_size", [0, 1, 20, 40, 41, 100])
def test_subscription_page_sizes_the_client_accepts_are_those_zuora_accepts(page_size):
    # zuora-sdk get_subscriptions_by_account.page_size: le=40; the client refuses what Zuora would not serve as asked.
    sdk_rule = TypeAdapter(sdk.parameters("SubscriptionsApi", "get_subscriptions_by_account")["page_size"].annotation)
    try:
        sdk_rule.validate_python(page_size)
        sdk_accepts = page_size >= 1  # Zuora documents pages of at least one record
    except ValidationError:
        sdk_accepts = False
    # Nothing listens on port 9 (discard): a page size the client takes fails only when it calls Zuora.
    client = ZuoraClient("http://127.0.0.1:9", ZuoraCredentials(client_id="c" * 36, client_secret="s"), max_attempts=1, sleep=lambda _: None)
    try:
        next(client.iter_subscription_pages("A00000001", page_size=page_size))
        client_accepts = True
    except ValueError:
        client_accepts = False
    except ZuoraError:
        client_accepts = True  # it got as far as calling Zuora
    assert client_accepts == sdk_accepts


def test_object_query_page_size_conflict_is_still_there():
    # Recorded above: the SDK still says 50, the documentation 99, and the client sends the documented maximum.
    rule = TypeAdapter(sdk.parameters("ObjectQueriesApi", "query_accounts")["page_size"].annotation)
    with pytest.raises(ValidationError):
        rule.validate_python(99)
    TypeAdapter(DOCUMENTED_OVER_SDK[("query_accounts", "page_size")]).validate_python(99)


@pytest.mark.parametrize("track_id", ["a:b", "x" * 65, "quote'd", "caf\u00e9", "semi;colon", 'dq"'])
def test_a_track_id_zuora_would_refuse_is_never_sent(track_id):
    session = RecordingSession()
    with ZuoraEmulator(demo()) as emulator:
        credentials = ZuoraCredentials(client_id=emulator.client_id, client_secret=emulator.client_secret)
        ZuoraClient(emulator.base_url, credentials, session=session, track_id=track_id).get_account("A00001001")
    assert all("Zuora-Track-Id" not in request.headers for request, _ in session.sent)


def test_the_checks_catch_a_request_zuora_would_refuse():
    # A request with an unknown parameter, a page too large and an invented body field is reported on each count.
    bad = requests.Request(
        "GET",
        "http://zuora.example/v1/subscriptions/accounts/A00000001",
        params={"page": 1, "pageSize": 41, "includeRemoved": "true"},
        headers={"Zuora-Version": "2025-08-12"},
    ).prepare()
    found = request_problems(bad)
    assert any("pageSize=41 breaks zuora-sdk's rule for page_size" in problem for problem in found), found
    assert any("query 'includeRemoved' is no parameter" in problem for problem in found), found
    preview = requests.Request(
        "POST",
        "http://zuora.example/v1/operations/billing-preview",
        json={"accountNumber": "A1", "targetDate": "2027-01-01", "includeTax": True},
        headers={"Zuora-Version": "2025-08-12"},
    ).prepare()
    assert any("zuora-sdk CreateBillingPreviewRequest has no field 'includeTax'" in problem for problem in request_problems(preview))
    subscription_preview = requests.Request(
        "POST",
        "http://zuora.example/v1/subscriptions/A-S00000001/preview",
        json={"previewThroughDate": {"previewThruDatePolicy": "specificDate"}},
        headers={"Zuora-Version": "196.0"},
    ).prepare()
    assert [problem.split(": ", 1)[1] for problem in request_problems(subscription_preview)] == [
        "body previewThroughDate.specificDate is required when previewThruDatePolicy is 'specificDate'",
        "Zuora-Version '196.0': preview_existing_subscription needs 207.0 or later",
    ]
