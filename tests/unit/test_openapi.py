"""The published OpenAPI document is the one the code generates, and Salesforce External Services can import it:
OpenAPI 3.0.x (External Services read 2.0 and 3.0, not 3.1), valid, with stable operation names, SigV4 described,
and every status a Flow reads declared with its body."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV30SpecValidator

from local.openapi import for_salesforce, openapi_document

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def document() -> dict:
    return openapi_document()


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def test_docs_openapi_json_matches_the_code(document):
    assert json.loads(PUBLISHED.read_text()) == document, "run `make openapi` and commit docs/openapi.json"


def test_the_document_is_valid_openapi_3_0(document):
    assert document["openapi"] == "3.0.3"
    validate(document, cls=OpenAPIV30SpecValidator)


def test_no_json_schema_2020_construct_is_left(document):
    text = json.dumps(document)
    assert '{"type": "null"}' not in text
    for keyword in ('"const"', '"prefixItems"', '"$defs"', '"type": ['):
        assert keyword not in text


def test_every_operation_has_its_stable_name(document):
    names = {(method, path): operation["operationId"] for method, path, operation in operations(document)}
    assert names == {
        ("post", "/syncs"): "startSync",
        ("get", "/syncs"): "listSyncs",
        ("get", "/syncs/{syncId}"): "getSync",
        ("get", "/subscriptions"): "listSubscriptions",
        ("get", "/subscriptions/{subscriptionNumber}/events"): "getSubscriptionEvents",
    }


def test_a_route_without_a_name_is_refused_rather_than_given_a_generated_one():
    generated = {"openapi": "3.1.0", "paths": {"/new": {"get": {"operationId": "new_get", "responses": {}}}}}
    with pytest.raises(KeyError, match="GET /new"):
        for_salesforce(generated)


def test_a_nullable_field_is_expressed_as_3_0_does(document):
    job = document["components"]["schemas"]["SyncJob"]["properties"]
    assert job["finishedAt"] == {"type": "string", "nullable": True, "title": "Finishedat"}
    assert job["error"] == {"allOf": [{"$ref": "#/components/schemas/JobFailure"}], "nullable": True}


def test_sigv4_is_described_as_api_gateway_exports_it(document):
    scheme = document["components"]["securitySchemes"]["sigv4"]
    assert (scheme["type"], scheme["in"], scheme["name"], scheme["x-amazon-apigateway-authtype"]) == ("apiKey", "header", "Authorization", "awsSigv4")
    assert document["security"] == [{"sigv4": []}]


def test_every_status_group_a_flow_reads_is_declared_with_its_body(document):
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert {"4XX", "5XX"} <= responses.keys(), f"{method} {path}"
        success = [status for status in responses if status.startswith("2")]
        assert success, f"{method} {path} declares no success"
        for status, reply in responses.items():
            schema = reply["content"]["application/json"]["schema"]
            if status.startswith(("4", "5")):
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, f"{method} {path} {status}"
            else:
                assert "$ref" in schema, f"{method} {path} {status}"


def test_the_start_reply_body_carries_what_a_flow_needs_without_headers(document):
    started = document["components"]["schemas"]["StartSyncResponse"]
    assert {"syncId", "statusUrl", "retryAfterSeconds"} <= set(started["required"])


def test_prefer_is_declared_where_the_api_honours_it(document):
    for method, path, operation in operations(document):
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        expected = ["Prefer"] if (method, path) in {("post", "/syncs"), ("get", "/syncs/{syncId}")} else []
        assert headers == expected, f"{method} {path}"


def test_progress_and_history_are_in_the_contract(document):
    schemas = document["components"]["schemas"]
    assert "settled" in schemas["SyncJob"]["properties"]
    listing = next(operation for method, path, operation in operations(document) if (method, path) == ("get", "/syncs"))
    assert {p["name"] for p in listing["parameters"]} == {"salesforceAccountId", "zuoraAccountNumber", "limit", "nextToken"}
    assert {"syncs", "nextToken"} <= set(schemas["SyncHistory"]["properties"])
