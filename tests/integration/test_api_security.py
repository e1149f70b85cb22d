"""The local API refuses what API Gateway with AWS_IAM refuses: nothing unsigned, nothing signed with the wrong
key, for another scope, too long ago, or changed after signing, reaches the handler. A refused request starts
no execution and creates no job, and an unsigned one is refused before its body is read. Input that could reach
Zuora's query is refused before anything runs. Who signed a start is recorded on the job and in the audit trail."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import socket
import subprocess
from dataclasses import replace
from urllib.parse import urlsplit

import botocore.auth
import pytest
import requests

from local.api_gateway import ApiRequest, ApiResponse
from local.auth import ApiCredentials, SigV4RequestAuth, SigV4Verifier
from local.lfs_client import poll_until_done
from local.service import LocalSyncService
from tests import zuora_fixtures as z

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

CUSTOMER = z.salesforce_id("SECURE1")
NOBODY = z.salesforce_id("NOBODY2")


@pytest.fixture(scope="module")
def service():
    tenant = z.tenant([z.account("A00000901", CUSTOMER)], [z.subscription("A-S00000901", "A00000901")])
    with LocalSyncService(tenant) as running:
        yield running


def url(service: LocalSyncService, path: str) -> str:
    return f"{service.api_url}{path}"


def jobs_and_executions(service: LocalSyncService) -> tuple[int, int]:
    """How many jobs the jobs table holds and how many executions were ever started."""
    assert service.cloud is not None
    jobs = service.cloud.client("dynamodb").scan(
        TableName=service.cloud.template.tables["SyncJobsTable"].name,
        FilterExpression="itemKey = :header",
        ExpressionAttributeValues={":header": {"S": "JOB"}},
        Select="COUNT",
    )
    executions = service.cloud.client("stepfunctions").list_executions(stateMachineArn=service.cloud.state_machine_arn())
    return jobs["Count"], len(executions["executions"])


def assert_refused(reply: requests.Response, code: str) -> dict:
    assert reply.status_code == 403, reply.text
    assert reply.headers["Content-Type"].startswith("application/json")
    error = reply.json()["error"]
    assert error["code"] == code
    assert not re.search(r"[0-9a-f]{64}", reply.text), "a refusal must not reveal a signature"
    return error


def test_a_correctly_signed_start_and_read_are_answered(service):
    auth = SigV4RequestAuth(service.credentials)

    started = requests.post(url(service, "/syncs"), json={"salesforceAccountId": NOBODY}, auth=auth, timeout=10)
    read = requests.get(started.json()["statusUrl"], auth=auth, timeout=10)

    assert started.status_code == 202 and read.status_code == 200
    assert read.json()["syncId"] == started.json()["syncId"]
    poll_until_done(started.json()["statusUrl"], credentials=service.credentials)


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_an_unsigned_request_is_403_missing_authentication_and_starts_nothing(service, method):
    before = jobs_and_executions(service)

    if method == "POST":
        reply = requests.post(url(service, "/syncs"), json={"salesforceAccountId": CUSTOMER}, timeout=10)
    else:
        reply = requests.get(url(service, f"/syncs/sync-{'0' * 32}"), timeout=10)

    assert assert_refused(reply, "MISSING_AUTHENTICATION")["message"] == "Missing Authentication Token"
    assert jobs_and_executions(service) == before


def test_an_unsigned_read_of_a_real_sync_reveals_nothing(service):
    started = requests.post(
        url(service, "/syncs"), json={"salesforceAccountId": NOBODY}, auth=SigV4RequestAuth(service.credentials), timeout=10
    ).json()

    reply = requests.get(started["statusUrl"], timeout=10)

    assert_refused(reply, "MISSING_AUTHENTICATION")
    assert started["syncId"] not in reply.text and NOBODY not in reply.text
    poll_until_done(started["statusUrl"], credentials=service.credentials)


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param(lambda own: replace(own, secret_access_key=own.secret_access_key[::-1]), id="wrong secret"),
        pytest.param(lambda own: ApiCredentials.generate(), id="unknown access key"),
        pytest.param(lambda own: replace(own, region="us-east-1"), id="another region"),
    ],
)
def test_a_request_signed_with_other_credentials_is_403_and_starts_nothing(service, credentials):
    before = jobs_and_executions(service)

    reply = requests.post(
        url(service, "/syncs"), json={"salesforceAccountId": CUSTOMER}, auth=SigV4RequestAuth(credentials(service.credentials)), timeout=10
    )

    assert_refused(reply, "INVALID_SIGNATURE")
    assert jobs_and_executions(service) == before


def test_a_body_changed_after_signing_is_403_and_starts_nothing(service):
    before = jobs_and_executions(service)
    signed = requests.Request(
        "POST", url(service, "/syncs"), json={"zuoraAccountNumber": "A00000901"}, auth=SigV4RequestAuth(service.credentials)
    ).prepare()
    signed.body = json.dumps({"zuoraAccountNumber": "A00000902"}).encode()  # same length, another customer

    with requests.Session() as http:
        reply = http.send(signed, timeout=10)

    assert_refused(reply, "INVALID_SIGNATURE")
    assert jobs_and_executions(service) == before


def test_a_signature_for_one_sync_does_not_read_another(service):
    signed = requests.Request("GET", url(service, f"/syncs/sync-{'1' * 32}"), auth=SigV4RequestAuth(service.credentials)).prepare()
    signed.url = url(service, f"/syncs/sync-{'2' * 32}")

    with requests.Session() as http:
        reply = http.send(signed, timeout=10)

    assert_refused(reply, "INVALID_SIGNATURE")


def test_a_request_signed_more_than_5_minutes_ago_is_403(service, monkeypatch):
    ten_minutes_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=10)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: ten_minutes_ago)
    before = jobs_and_executions(service)

    reply = requests.post(url(service, "/syncs"), json={"salesforceAccountId": CUSTOMER}, auth=SigV4RequestAuth(service.credentials), timeout=10)

    assert "Signature expired" in assert_refused(reply, "INVALID_SIGNATURE")["message"]
    assert jobs_and_executions(service) == before


def test_a_crm_id_that_could_alter_the_zuora_query_is_refused_by_the_api_before_anything_runs(service):
    before = jobs_and_executions(service)
    service.emulator.reset_stats()

    reply = requests.post(
        url(service, "/syncs"),
        json={"salesforceAccountId": CUSTOMER[:15] + ",crmid.NE:x"},
        auth=SigV4RequestAuth(service.credentials),
        timeout=10,
    )

    assert reply.status_code == 400
    assert reply.json()["error"]["details"][0]["field"] == "salesforceAccountId"
    assert jobs_and_executions(service) == before
    assert service.emulator.stats.total_requests == 0


def test_a_body_over_16_kib_is_413_and_starts_nothing(service):
    before = jobs_and_executions(service)
    body = json.dumps({"salesforceAccountId": CUSTOMER}) + " " * 16 * 1024

    reply = requests.post(
        url(service, "/syncs"),
        data=body,
        headers={"Content-Type": "application/json"},
        auth=SigV4RequestAuth(service.credentials),
        timeout=10,
    )

    assert reply.status_code == 413
    assert reply.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert jobs_and_executions(service) == before


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_signing_as_make_serve_prints_it_is_accepted(service):
    credentials = service.credentials
    curl = ["curl", "-s", "--aws-sigv4", f"aws:amz:{credentials.region}:execute-api"]
    curl += ["--user", f"{credentials.access_key_id}:{credentials.secret_access_key}", "-w", "\n%{http_code}"]

    done = subprocess.run([*curl, url(service, f"/syncs/sync-{'0' * 32}")], capture_output=True, text=True, timeout=30, check=True)  # noqa: S603

    body, status = done.stdout.rsplit("\n", 1)
    assert status == "404" and json.loads(body)["error"]["code"] == "SYNC_NOT_FOUND"


# The verifier on its own, with a clock: where exactly the limits are.


def signed_request(credentials: ApiCredentials, at: dt.datetime, body: bytes = b'{"zuoraAccountNumber": "A1"}') -> ApiRequest:
    prepared = requests.Request(
        "POST", "http://127.0.0.1:3000/v1/syncs", data=body, headers={"Content-Type": "application/json"}, auth=SigV4RequestAuth(credentials)
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.auth, "get_current_datetime", lambda: at.replace(tzinfo=None))
        ready = prepared.prepare()
    headers = [("Host", "127.0.0.1:3000"), *ready.headers.items()]
    return ApiRequest("POST", "/v1/syncs", headers, [], ready.body, None, {}, "127.0.0.1", "/v1/syncs")  # type: ignore[arg-type]


SIGNED_AT = dt.datetime(2026, 11, 25, 10, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("checked_at", "accepted"),
    [
        (SIGNED_AT + dt.timedelta(minutes=4, seconds=59), True),
        (SIGNED_AT + dt.timedelta(minutes=5, seconds=1), False),
        (SIGNED_AT - dt.timedelta(minutes=4, seconds=59), True),
        (SIGNED_AT - dt.timedelta(minutes=5, seconds=1), False),
    ],
)
def test_x_amz_date_must_be_within_5_minutes_of_now(checked_at, accepted):
    credentials = ApiCredentials.generate()
    verifier = SigV4Verifier([credentials], clock=lambda: checked_at)

    assert (not isinstance(verifier(signed_request(credentials, SIGNED_AT)), ApiResponse)) is accepted


def test_a_session_token_must_be_the_one_issued_with_the_key():
    issued = replace(ApiCredentials.generate(), session_token="token-issued-with-the-key")
    verifier = SigV4Verifier([issued], clock=lambda: SIGNED_AT)

    assert not isinstance(verifier(signed_request(issued, SIGNED_AT)), ApiResponse)
    assert verifier(signed_request(replace(issued, session_token="another-token"), SIGNED_AT)).status == 403
    assert verifier(signed_request(replace(issued, session_token=None), SIGNED_AT)).status == 403


def test_a_declared_payload_hash_must_be_the_bodys():
    credentials = ApiCredentials.generate()
    request = signed_request(credentials, SIGNED_AT)
    unsigned_payload = replace(request, headers=[*request.headers, ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")])

    refusal = SigV4Verifier([credentials], clock=lambda: SIGNED_AT)(unsigned_payload)

    assert isinstance(refusal, ApiResponse) and json.loads(refusal.body)["error"]["code"] == "INVALID_SIGNATURE"


# Who asked


def test_the_signers_identity_is_recorded_on_the_job_and_in_the_audit_trail_beside_requested_by(service):
    auth = SigV4RequestAuth(service.credentials)
    expected = {"userArn": "arn:aws:iam::123456789012:user/lfs-integration", "accountId": "123456789012"}

    started = requests.post(url(service, "/syncs"), json={"salesforceAccountId": CUSTOMER, "requestedBy": "Dana Agent"}, auth=auth, timeout=10)
    job = poll_until_done(started.json()["statusUrl"], credentials=service.credentials)
    events = requests.get(url(service, "/subscriptions/A-S00000901/events"), auth=auth, timeout=10).json()["events"]

    assert job["requestedBy"] == "Dana Agent"
    assert {k: job["caller"][k] for k in expected} == expected and job["caller"]["principalId"].startswith("AIDA")
    [entry] = [event for event in events if event["syncId"] == job["syncId"]]
    assert entry["requestedBy"] == "Dana Agent" and entry["caller"] == job["caller"]


# The local front's own reading of a request


def raw_request(service: LocalSyncService, head: str) -> bytes:
    """Send a request line and headers, and no body, then read what comes back."""
    address = urlsplit(service.api_url)
    with socket.create_connection((address.hostname, address.port), timeout=5) as connection:
        connection.sendall(head.encode("latin-1") + b"\r\n\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("declared", ["-1", "12abc", "+5", "0x10"])
def test_a_content_length_that_is_not_a_non_negative_integer_is_400_at_once(service, declared):
    before = jobs_and_executions(service)

    answer = raw_request(service, f"POST /v1/syncs HTTP/1.1\r\nHost: localhost\r\nContent-Length: {declared}")

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"400"
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"]["code"] == "BAD_REQUEST"
    assert jobs_and_executions(service) == before


def test_an_unsigned_request_is_refused_before_its_body_is_read(service):
    # It claims 5 MB and sends none: a front that read the body before authenticating would wait for it.
    answer = raw_request(service, "POST /v1/syncs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 5000000")

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"403"
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"]["code"] == "MISSING_AUTHENTICATION"


def test_a_request_signed_with_an_unknown_key_is_refused_before_its_body_is_read(service):
    signed = requests.Request(
        "POST", url(service, "/syncs"), data=b"{}", headers={"Content-Type": "application/json"}, auth=SigV4RequestAuth(ApiCredentials.generate())
    ).prepare()
    head = f"POST /v1/syncs HTTP/1.1\r\nHost: {urlsplit(service.api_url).netloc}\r\nContent-Length: 5000000\r\n"
    head += "\r\n".join(f"{name}: {signed.headers[name]}" for name in ("Content-Type", "X-Amz-Date", "Authorization"))

    answer = raw_request(service, head)

    assert answer.split(b"\r\n", 1)[0].split()[1] == b"403"
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"]["code"] == "INVALID_SIGNATURE"
