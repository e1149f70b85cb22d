"""Fuzzing the API from its own OpenAPI document (generated from the code): schemathesis sends valid and invalid
requests, SigV4-signed, to every operation of the local stack, and pathological bodies (deep nesting, huge numbers,
the media type in capitals) to POST /syncs. No input may cause a 5xx; every 4xx is the JSON error shape; every
answer conforms to the document. Valid POSTs start real (quickly failing) syncs."""

from __future__ import annotations

import ast
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from local.auth import SigV4RequestAuth
from local.openapi import openapi_document
from local.service import LocalSyncService
from tests import zuora_fixtures as z

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

MAX_EXAMPLES_PER_OPERATION = 30


@contextmanager
def one_ast_parse_at_a_time() -> Iterator[None]:
    """CPython before 3.11.8 kept the AST builder's recursion depth in global state, so two threads in `ast.parse` at once
    can fail with "SystemError: AST constructor recursion depth mismatch" (gh-106905). Here Hypothesis parses lambdas on
    this thread while the syncs the fuzzer starts format tracebacks (which parse too) on theirs."""
    if sys.version_info >= (3, 11, 8):
        yield
        return
    lock, parse = threading.RLock(), ast.parse

    def parse_alone(*args, **kwargs):
        with lock:
            return parse(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ast, "parse", parse_alone)
        yield


@pytest.fixture(scope="module")
def service():
    tenant = z.tenant([z.account("A00000801", z.salesforce_id("FUZZ1"))], [z.subscription("A-S00000801", "A00000801")])
    with one_ast_parse_at_a_time(), LocalSyncService(tenant) as running:
        yield running


def every_client_error_has_the_error_shape(ctx, response, case) -> None:
    if 400 <= response.status_code < 500:
        body = response.json()
        assert set(body) == {"error"}, f"a {response.status_code} body must be {{'error': ...}}, not {body}"
        assert isinstance(body["error"].get("code"), str) and body["error"]["code"], body
        assert isinstance(body["error"].get("message"), str) and body["error"]["message"], body


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance, every_client_error_has_the_error_shape]

# Unexpected methods are tried on every path, except TRACE and QUERY: the local front answers those with
# http.server's 501 page before routing (see the report), which API Gateway does not.
CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {"unexpected-methods": ["get", "put", "post", "delete", "options", "patch"]}}})
# The base URL is given per request: the local stack listens on a port chosen when it starts.
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_no_request_breaks_the_api(case, service):
    case.call_and_validate(
        base_url=service.api_url,
        auth=SigV4RequestAuth(service.credentials),
        timeout=10,
        checks=CHECKS,
    )


# Bodies a generator rarely reaches, sent through the same checks: nesting past any parser's comfort, numbers past
# Python's 4,300-digit limit, and the JSON media type in capitals (media types are case-insensitive).
PATHOLOGICAL_BODIES = {
    "arrays nested 1000 deep": b"[" * 1000 + b"]" * 1000,
    "objects nested 1000 deep": b'{"a": ' * 1000 + b"1" + b"}" * 1000,
    "a 4301-digit number": b'{"zuoraAccountNumber": "A1", "requestedBy": ' + b"9" * 4301 + b"}",
    "a number with a 100-digit exponent": b'{"zuoraAccountNumber": "A1", "requestedBy": 1e' + b"9" * 100 + b"}",
    "an unterminated string": b'{"zuoraAccountNumber": "A1',
}


@pytest.mark.parametrize("media_type", ["application/json", "APPLICATION/JSON"])
@pytest.mark.parametrize("name", PATHOLOGICAL_BODIES)
def test_pathological_bodies_are_refused_with_400_in_the_error_shape(service, name, media_type):
    case = schema["/syncs"]["POST"].Case(body=PATHOLOGICAL_BODIES[name], media_type=media_type)

    response = case.call_and_validate(
        base_url=service.api_url,
        auth=SigV4RequestAuth(service.credentials),
        timeout=10,
        checks=CHECKS,
    )

    assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"
