"""Every input rule of the API, as LFS meets it: the real API handler answers each bad request with a 4xx whose
message names the field and the rule it broke, before any store, Step Functions or Zuora call."""

from __future__ import annotations

import base64
import importlib.util
import json
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from limio_sync.api import MAX_BODY_BYTES, StartSyncRequest
from limio_sync.validation import salesforce_checksum
from tests.zuora_fixtures import salesforce_id

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

API_HANDLER = Path(__file__).resolve().parents[2] / "functions" / "api" / "app.py"
VALID_SALESFORCE_ID = salesforce_id("RULES1")


@pytest.fixture(scope="module")
def handler():
    spec = importlib.util.spec_from_file_location("api_handler_for_request_rules", API_HANDLER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def call(
    handler, method: str, path: str, body: str | None = None, *, base64_encoded: bool = False, content_type: str = "application/json"
) -> tuple[int, dict]:
    event = {
        "resource": "/syncs" if path == "/syncs" else "/syncs/{syncId}",
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": content_type, "Host": "api.example"},
        "multiValueHeaders": {"Content-Type": [content_type], "Host": ["api.example"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"syncId": path.rsplit("/", 1)[1]} if path != "/syncs" else None,
        "requestContext": {"requestId": str(uuid.uuid4()), "stage": "v1", "httpMethod": method, "path": f"/v1{path}"},
        "body": body,
        "isBase64Encoded": base64_encoded,
    }
    context = SimpleNamespace(
        function_name="ApiFunction",
        memory_limit_in_mb=512,
        invoked_function_arn="arn:aws:lambda:eu-west-2:123456789012:function:ApiFunction",
        aws_request_id=str(uuid.uuid4()),
    )
    reply = handler(event, context)
    return reply["statusCode"], json.loads(reply["body"])


def refusal(handler, body: dict | str) -> dict:
    status, reply = call(handler, "POST", "/syncs", body if isinstance(body, str) else json.dumps(body))
    assert status == 400, reply
    assert reply["error"]["code"] == "VALIDATION_ERROR"
    return reply["error"]


def the_problem_with(error: dict, field: str) -> str:
    problems = [detail["problem"] for detail in error["details"] if detail["field"] == field]
    assert problems, f"{field} is not named in {error['details']}"
    assert field in error["message"]
    return problems[0]


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("001", "15 or 18 letters and digits"),
        (VALID_SALESFORCE_ID[:15] + "AAA", "checksum"),
        # What would change the meaning of Zuora's filter `crmid.EQ:<id>` never gets past the API.
        (VALID_SALESFORCE_ID[:15] + ",crmid.NE:x", "15 or 18 letters and digits"),
        ("0015g00000Ab3XQ' OR '1'='1", "15 or 18 letters and digits"),
        (VALID_SALESFORCE_ID[:14] + "%", "15 or 18 letters and digits"),
    ],
)
def test_a_salesforce_account_id_must_be_15_or_18_letters_and_digits_with_a_valid_checksum(handler, value, rule):
    error = refusal(handler, {"salesforceAccountId": value})

    assert rule in the_problem_with(error, "salesforceAccountId")


@pytest.mark.parametrize(
    ("value", "rule"),
    [("A00001001/../x", "should match pattern"), ("A0001' OR 1=1", "should match pattern"), ("A" * 71, "at most 70 characters")],
)
def test_a_zuora_account_number_must_be_a_plain_account_number(handler, value, rule):
    error = refusal(handler, {"zuoraAccountNumber": value})

    assert rule in the_problem_with(error, "zuoraAccountNumber")


@pytest.mark.parametrize("body", [{}, {"requestedBy": "agent"}, {"salesforceAccountId": VALID_SALESFORCE_ID, "zuoraAccountNumber": "A00001001"}])
def test_exactly_one_customer_key_is_required(handler, body):
    error = refusal(handler, body)

    assert "give exactly one of salesforceAccountId or zuoraAccountNumber" in the_problem_with(error, "body")


@pytest.mark.parametrize(
    ("value", "rule"),
    [("", "at least 1 character"), ("x" * 121, "at most 120 characters"), ("agent\nINFO forged log line", "control characters")],
)
def test_requested_by_is_one_line_of_at_most_120_characters(handler, value, rule):
    error = refusal(handler, {"zuoraAccountNumber": "A00001001", "requestedBy": value})

    assert rule in the_problem_with(error, "requestedBy")


def test_unknown_fields_are_refused_by_name(handler):
    error = refusal(handler, {"zuoraAccountNumber": "A00001001", "zuoraQuery": "crmid.NE:x"})

    assert the_problem_with(error, "zuoraQuery") == "is not a known field"


def test_a_body_that_is_not_json_is_refused(handler):
    error = refusal(handler, "{not json")

    assert error["details"]


def test_a_body_over_16_kib_is_refused_with_413_before_it_is_parsed(handler):
    padded = json.dumps({"zuoraAccountNumber": "A00001001"}) + " " * MAX_BODY_BYTES  # valid JSON, too large

    status, reply = call(handler, "POST", "/syncs", padded)

    assert status == 413
    assert reply["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert f"the limit is {MAX_BODY_BYTES} bytes" in reply["error"]["message"]


def test_a_base64_body_counts_by_its_decoded_size(handler):
    just_under = base64.b64encode(b"x" * (MAX_BODY_BYTES - 3)).decode()
    over = base64.b64encode(b"x" * (MAX_BODY_BYTES + 3)).decode()

    assert call(handler, "POST", "/syncs", over, base64_encoded=True)[0] == 413
    assert call(handler, "POST", "/syncs", just_under, base64_encoded=True)[0] == 400  # within the limit: validated


def test_a_body_that_is_not_utf8_is_refused_naming_the_rule(handler):
    latin1 = base64.b64encode('{"requestedBy": "Zoë"}'.encode("latin-1")).decode()

    status, reply = call(handler, "POST", "/syncs", latin1, base64_encoded=True)

    assert status == 400
    assert reply["error"]["code"] == "VALIDATION_ERROR" and "body must be JSON encoded as UTF-8" in reply["error"]["message"]


def test_a_body_at_the_limit_is_validated_not_refused_for_its_size(handler):
    status, reply = call(handler, "POST", "/syncs", "x" * MAX_BODY_BYTES)

    assert status == 400 and reply["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data", "application/x-www-form-urlencoded", "application/xml"])
def test_a_body_that_is_not_sent_as_json_is_refused_with_415(handler, content_type):
    status, reply = call(handler, "POST", "/syncs", json.dumps({"zuoraAccountNumber": "A00001001"}), content_type=content_type)

    assert status == 415
    assert reply["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "application/json" in reply["error"]["message"]


def test_json_with_a_charset_is_json(handler):
    status, reply = call(handler, "POST", "/syncs", json.dumps({"colour": "red"}), content_type="application/json; charset=utf-8")

    assert status == 400 and the_problem_with(reply["error"], "colour") == "is not a known field"


@pytest.mark.parametrize("sync_id", ["not-a-sync-id", "sync-" + "0" * 31, "sync-" + "G" * 32, "sync-" + "0" * 32 + "x"])
def test_a_sync_id_in_the_path_must_be_sync_and_32_hex_digits(handler, sync_id):
    status, reply = call(handler, "GET", f"/syncs/{sync_id}")

    assert status == 400
    assert "should match pattern" in the_problem_with(reply["error"], "syncId")


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8"])
def test_media_types_are_case_insensitive(handler, content_type):
    status, reply = call(handler, "POST", "/syncs", json.dumps({"colour": "red"}), content_type=content_type)

    assert status == 400 and the_problem_with(reply["error"], "colour") == "is not a known field"


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        pytest.param("[" * 1000 + "]" * 1000, "nested deeper than 16 levels", id="depth 1000"),
        pytest.param('{"zuoraAccountNumber": "A1", "requestedBy": ' + "[" * 16 + "]" * 16 + "}", "nested deeper", id="depth 17"),
        pytest.param('{"zuoraAccountNumber": "A1", "requestedBy": ' + "9" * 4301 + "}", "longer than 64 characters", id="a 4301-digit number"),
        pytest.param('{"zuoraAccountNumber": "A1", "requestedBy": 1e' + "9" * 80 + "}", "longer than 64 characters", id="a huge exponent"),
    ],
)
def test_pathological_json_is_refused_with_400_before_it_is_parsed(handler, body, rule):
    status, reply = call(handler, "POST", "/syncs", body)

    assert status == 400 and reply["error"]["code"] == "VALIDATION_ERROR"
    assert rule in reply["error"]["message"]


def test_brackets_and_digits_inside_strings_are_text_not_structure(handler):
    status, reply = call(handler, "POST", "/syncs", json.dumps({"zuoraAccountNumber": "A00001001", "requestedBy": "[{" * 30 + "1" * 90}))

    assert status == 400 and "at most 120 characters" in the_problem_with(reply["error"], "requestedBy")


@pytest.mark.parametrize(
    ("value", "character"),
    [
        pytest.param("agent\u0085name", "U+0085", id="C1 next line"),
        pytest.param("agent\u009bname", "U+009B", id="C1 control sequence introducer"),
        pytest.param("\u202egnp.exe", "U+202E", id="bidi right-to-left override"),
        pytest.param("agent\u2066x\u2069", "U+2066", id="bidi isolate"),
        pytest.param("ag\u200bent", "U+200B", id="zero-width space"),
        pytest.param("ag\u200dent", "U+200D", id="zero-width joiner"),
        pytest.param("\ufeffagent", "U+FEFF", id="byte order mark"),
        pytest.param("agent\u2028INFO forged", "U+2028", id="line separator"),
    ],
)
def test_requested_by_refuses_characters_that_change_how_it_reads(handler, value, character):
    error = refusal(handler, {"zuoraAccountNumber": "A00001001", "requestedBy": value})

    problem = the_problem_with(error, "requestedBy")
    assert "control characters, bidi marks or invisible characters" in problem and character in problem


@pytest.mark.parametrize("value", ["0055g00000AgentAAA", "Zoë O'Brien-Łukasiewicz", "agent@example.com", "山田 太郎"])
def test_requested_by_takes_a_salesforce_user_id_or_a_printable_name(value):
    assert StartSyncRequest.model_validate({"zuoraAccountNumber": "A1", "requestedBy": value}).requestedBy == value


def test_a_15_character_salesforce_user_id_is_kept_in_its_18_character_form():
    request = StartSyncRequest.model_validate({"zuoraAccountNumber": "A1", "requestedBy": "005D000000AbCdE"})

    assert request.requestedBy == "005D000000AbCdE" + salesforce_checksum("005D000000AbCdE")
