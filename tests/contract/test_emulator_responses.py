"""The Zuora emulator answers as Zuora documents it: every field of every answer it gives, on every endpoint the client
uses, successes and errors alike, is a field Zuora's own model for that answer defines, with a type that model
accepts (zuora-sdk 3.21.0, read strictly by tests/contract/schema.py).

The model for each answer is the one the SDK's operation declares for that HTTP status (`_response_types_map`).
Statuses the SDK declares nothing for (404, 429, 5xx) carry Zuora's one `/v1` error envelope — `success`, `processId`,
`reasons[{code, message}]`, `requestId` ("Error Handling" in Zuora's Swagger spec; developer.zuora.com
docs/guides/error-codes) — which the SDK declares as the 400 answer, `CommonResponse`.
"""

from __future__ import annotations

import copy
import functools

import pytest

from local.zuora_emulator import ZuoraEmulator
from tests.contract import endpoints as ep
from tests.contract import schema, sdk
from tests.contract.tenants import TENANTS, demo
from tests.contract.traffic import Exchange, emulator_exchanges, fault_exchanges

# Object Query errors: zuora-sdk declares `CommonErrorResponse` ({code, message}) for them, but developer.zuora.com
# (v1-api-reference/api-upgrades, version 2025-08-12) says that from 2025-08-12 they come as `{"reasons": [{code,
# message}], "requestId"}` without `success`. The documentation wins: they are held to CommonResponse's fields
# without `success` or `processId`.
OBJECT_QUERY_ERROR_MODEL = "CommonResponse"
OBJECT_QUERY_ERROR_ABSENT = ("success", "processId")

SERVED = ep.CLIENT_ENDPOINTS


@functools.cache
def traffic_of(tenant_name: str) -> list[Exchange]:
    tenant = TENANTS[tenant_name]()
    with ZuoraEmulator(tenant) as emulator:
        return emulator_exchanges(emulator, tenant, SERVED)


@functools.cache
def departures_of(tenant_name: str) -> list[tuple[Exchange, list[str]]]:
    return [(exchange, departures(exchange)) for exchange in traffic_of(tenant_name)]


@pytest.fixture(params=sorted(TENANTS))
def tenant_traffic(request) -> tuple[str, list[Exchange]]:
    return request.param, traffic_of(request.param)


def expected_model(exchange: Exchange) -> str:
    declared = sdk.response_models(exchange.endpoint.sdk_api, exchange.endpoint.sdk_method)
    if exchange.endpoint is ep.QUERY_ACCOUNTS and exchange.status >= 400 and exchange.status != 401:
        return OBJECT_QUERY_ERROR_MODEL
    return declared.get(str(exchange.status), declared["400"])


def departures(exchange: Exchange) -> list[str]:
    found = schema.problems(exchange.body, sdk.model(expected_model(exchange)), "$")
    if expected_model(exchange) == OBJECT_QUERY_ERROR_MODEL and exchange.endpoint is ep.QUERY_ACCOUNTS:
        found += [
            f"$.{key}: Object Query errors carry no {key!r} (developer.zuora.com api-upgrades, 2025-08-12)"
            for key in OBJECT_QUERY_ERROR_ABSENT
            if key in exchange.body
        ]
    return [f"{exchange.case} → HTTP {exchange.status}, {expected_model(exchange)}: {problem}" for problem in found]


@pytest.mark.parametrize("endpoint", SERVED, ids=lambda endpoint: endpoint.name)
def test_every_answer_fits_zuoras_model(tenant_traffic, endpoint):
    # Given a tenant served by the emulator, when every call the client makes is sent to it
    tenant, traffic = tenant_traffic
    answers = [exchange for exchange in traffic if exchange.endpoint is endpoint]
    successes = [answer for answer in answers if answer.status == 200 and answer.body.get("success") is not False]
    errors = [answer for answer in answers if answer not in successes]
    assert successes and errors, f"{tenant}: {endpoint.name} got {len(successes)} successful and {len(errors)} error answers; the suite needs both"

    # Then every answer, success or error, carries only fields of Zuora's model, with types it accepts
    found = [problem for answer, problems in departures_of(tenant) if answer.endpoint is endpoint for problem in problems]
    assert not found, f"{tenant}: the emulator departs from zuora-sdk {sdk.SDK_VERSION} ({endpoint.docs}):\n" + "\n".join(found[:40])


def test_injected_failures_fit_zuoras_error_envelope():
    # Given faults armed in the emulator (429 with Retry-After, 500, 503, HTTP 200 with success:false)
    with ZuoraEmulator(demo()) as emulator:
        traffic = fault_exchanges(emulator, SERVED)
    # Then each answer is Zuora's error envelope
    assert {exchange.status for exchange in traffic} == {429, 500, 503, 200}
    found = [problem for exchange in traffic for problem in departures(exchange)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("where", "change", "expected"),
    [
        ("subscription", lambda sub: sub.update(inventedField=1), "$.inventedField: zuora-sdk GetSubscriptionResponse has no field 'inventedField'"),
        (
            "charge",
            lambda sub: sub["ratePlans"][0]["ratePlanCharges"][0].update(priceWithTax=1.0),
            "ratePlanCharges[0].priceWithTax: zuora-sdk GetSubscriptionRatePlanChargesWithAllSegments has no field 'priceWithTax'",
        ),
        (
            "contact",
            lambda sub: sub.update(billToContact={"firstName": "Ada", "emailAddress": "ada@example.com"}),
            "$.billToContact.emailAddress: zuora-sdk Contact has no field 'emailAddress'",
        ),
        ("wrong type", lambda sub: sub.update(version="3"), '$.version: "3" does not fit zuora-sdk\'s'),
    ],
)
def test_an_invented_field_served_by_the_emulator_fails_the_suite(where, change, expected):
    # Given a subscription in the tenant with something Zuora's model does not define (the emulator serves
    # what it does not interpret verbatim)
    tenant = demo()
    change(tenant["subscriptions"][0])
    number = tenant["subscriptions"][0]["subscriptionNumber"]
    with ZuoraEmulator(tenant) as emulator:
        traffic = emulator_exchanges(emulator, tenant, (ep.SUBSCRIPTION_BY_KEY,))
    # Then reading it through the emulator is reported, naming the field
    answer = next(exchange for exchange in traffic if exchange.case.endswith(f"{number} {{}}"))
    assert any(expected in problem for problem in departures(answer)), departures(answer)


@pytest.mark.parametrize(
    ("where", "change", "expected"),
    [
        (
            "custom field where Zuora has none",
            lambda sub: sub["ratePlans"][0]["ratePlanCharges"][0].update(chargeSegments=[{"segment": 1, "Segment__c": "x"}]),
            "chargeSegments[0].Segment__c: zuora-sdk RatePlanChargeSegment has no field 'Segment__c'",
        ),
        ("wrong shape", lambda sub: sub.update(ratePlans={"ratePlanCharges": []}), "$.ratePlans: expected a JSON array"),
        ("value outside Zuora's enum", lambda sub: sub.update(termType="FIXED"), "$.termType: 'FIXED' is none of ['EVERGREEN', 'TERMED']"),
    ],
)
def test_an_invented_shape_fails_the_check(where, change, expected):
    # Given a subscription as the emulator serves it, changed into a shape Zuora's model does not have
    with ZuoraEmulator(demo()) as emulator:
        traffic = emulator_exchanges(emulator, demo(), (ep.SUBSCRIPTION_BY_KEY,))
    served = next(exchange.body for exchange in traffic if exchange.endpoint is ep.SUBSCRIPTION_BY_KEY and exchange.status == 200)
    change(served)
    found = schema.problems(served, sdk.model("GetSubscriptionResponse"))
    # Then the check names it
    assert any(expected in problem for problem in found), found


def test_custom_fields_pass_only_on_objects_zuora_lets_tenants_extend():
    subscription = copy.deepcopy(demo()["subscriptions"][0])
    subscription["SourceSystem__c"] = "Salesforce"
    subscription["ratePlans"][0]["ratePlanCharges"][0]["Channel__c"] = "web"
    assert schema.problems(subscription, sdk.model("GetSubscriptionResponse")) == []
    preview_item = {"chargeName": "Seats", "Channel__c": "web"}
    assert schema.problems(preview_item, sdk.model("CreateBillingPreviewInvoiceItem")) == [
        "$.Channel__c: zuora-sdk CreateBillingPreviewInvoiceItem has no field 'Channel__c'"
    ]


@pytest.mark.parametrize(
    ("model_and_field", "conflict"), schema.SDK_TYPE_CONFLICTS.items(), ids=lambda value: ".".join(value) if isinstance(value, tuple) else ""
)
def test_sdk_type_conflicts_still_hold(model_and_field, conflict):
    # Each recorded conflict is real: the SDK's own type rejects the documented value, the accepted type takes it.
    model_name, field = model_and_field
    model = sdk.model(model_name)
    assert schema.leaf_problem(conflict.example, schema.sdk_annotation(model, field)), f"zuora-sdk now accepts {conflict.example!r}: drop the entry"
    assert schema.leaf_problem(conflict.example, schema.field_annotation(model, field)) is None
