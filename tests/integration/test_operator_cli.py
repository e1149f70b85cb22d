"""An operator's view of the local stack: `limio-sync` (start with progress, status, history, failures,
replay-dead-letters) signing with the standard AWS credential chain, a running job's progress, a customer's sync
history, the local Lambda Invoke endpoint of `make serve`, and an IAM identity policy evaluated on the API."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
import requests

from limio_sync.models import CustomerRef, JobStatus, Outcome, SubscriptionResult, SyncJob
from limio_sync.retries import RetryEntry
from limio_sync.stores.jobs import JobStore
from limio_sync_cli.main import main as limio_sync
from local.auth import ApiCredentials, SigV4RequestAuth
from local.cloud import FAKE_CREDENTIALS
from local.serve import LocalLambdaEndpoint
from local.service import LocalSyncService
from tests import zuora_fixtures as z

MIXED = z.salesforce_id("OPSMIX1")  # one broken subscription among good ones
HAPPY_ACCOUNT = "A00000702"  # a customer named by one Zuora account, all fine
# LocalCloud puts these in the process environment: the CLI's standard credential chain finds them there, and the
# local API accepts them as its one caller.
CHAIN = ApiCredentials(FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"], FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], FAKE_CREDENTIALS["AWS_SESSION_TOKEN"])


def tenant() -> dict:
    accounts = [z.account("A00000701", MIXED), z.account(HAPPY_ACCOUNT, None)]
    subscriptions = [
        z.subscription("A-S00000701", "A00000701"),
        z.subscription("A-S00000702", "A00000701", broken=True),
        *[z.subscription(f"A-S0000{7100 + i}", HAPPY_ACCOUNT) for i in range(6)],
    ]
    return z.tenant(accounts, subscriptions)


@pytest.fixture(scope="module")
def service():
    with LocalSyncService(tenant(), credentials=CHAIN) as running:
        yield running


@pytest.fixture(scope="module")
def lambda_endpoint(service):
    endpoint = LocalLambdaEndpoint(service)
    endpoint.start()
    yield endpoint
    endpoint.stop()


def cli(service, *arguments: str) -> tuple[int, str]:
    out = io.StringIO()
    code = limio_sync([arguments[0], "--api-url", service.api_url, "--region", "eu-west-2", *arguments[1:]], out=out)
    return code, out.getvalue()


def test_start_waits_with_a_progress_bar_and_reports_the_outcome(service):
    code, output = cli(service, "start", "--zuora-account-number", HAPPY_ACCOUNT, "--interval", "0.1", "--requested-by", "ops")

    assert code == 0
    lines = output.splitlines()
    assert lines[0].startswith("Started sync-")
    bars = [line for line in lines if line.startswith("[")]
    settled = [int(line.split("]")[1].split("/")[0]) for line in bars]
    assert settled == sorted(settled) and bars[-1].endswith("6/6 settled  SUCCEEDED")  # never goes back; ends full
    assert "All 6 subscriptions are in sync" in output


def test_start_json_and_status_json_are_the_api_job(service):
    code, output = cli(service, "start", "--json", "--zuora-account-number", HAPPY_ACCOUNT, "--interval", "0.1")
    job = json.loads(output)

    assert code == 0 and job["status"] == "SUCCEEDED" and job["settled"] == job["total"] == 6
    status_code, status = cli(service, "status", "--json", job["syncId"])
    assert status_code == 0 and json.loads(status)["counts"] == job["counts"]


def test_a_customer_with_a_failure_exits_1_and_failures_names_it_with_its_code(service):
    code, _ = cli(service, "start", "--salesforce-account-id", MIXED, "--interval", "0.1")

    failures_code, failures = cli(service, "failures", "--salesforce-account-id", MIXED)

    assert code == 1 and failures_code == 1
    assert "1 failed of 2" in failures
    (line,) = [line for line in failures.splitlines() if "A-S00000702" in line]
    assert "ZUORA_BAD_RESPONSE" in line and "not retryable" in line


def test_history_lists_a_customers_syncs_newest_first_across_pages(service):
    for _ in range(3):
        assert cli(service, "start", "--no-wait", "--zuora-account-number", HAPPY_ACCOUNT)[0] == 0
        cli(service, "start", "--zuora-account-number", HAPPY_ACCOUNT, "--interval", "0.1")  # joins the running one, waits

    auth = SigV4RequestAuth(service.credentials)
    url = f"{service.api_url}/syncs"
    page = {"zuoraAccountNumber": HAPPY_ACCOUNT, "limit": 2}
    first = requests.get(url, params=page, auth=auth, timeout=10).json()
    second = requests.get(url, params={**page, "nextToken": first["nextToken"]}, auth=auth, timeout=10).json()
    code, output = cli(service, "history", "--json", "--zuora-account-number", HAPPY_ACCOUNT, "--limit", "50")

    everything = json.loads(output)["syncs"]
    paged = first["syncs"] + second["syncs"]
    assert code == 0 and len(everything) >= 3 and len(first["syncs"]) == 2 and second["syncs"]
    assert [s["startedAt"] for s in everything] == sorted((s["startedAt"] for s in everything), reverse=True)
    assert [s["syncId"] for s in paged] == [s["syncId"] for s in everything[: len(paged)]]
    assert first["customer"]["zuoraAccountNumber"] == HAPPY_ACCOUNT
    assert all(s["status"] == "SUCCEEDED" and s["settled"] == s["total"] == 6 and s["counts"]["FAILED"] == 0 for s in everything)
    assert "subscriptions" not in everything[0]  # the history is headers only


def test_history_knows_a_customer_by_either_form_of_its_salesforce_id_and_refuses_a_foreign_token(service):
    cli(service, "start", "--salesforce-account-id", MIXED, "--interval", "0.1")
    auth = SigV4RequestAuth(service.credentials)
    url = f"{service.api_url}/syncs"

    by_18 = requests.get(url, params={"salesforceAccountId": MIXED, "limit": 1}, auth=auth, timeout=10).json()
    by_15 = requests.get(url, params={"salesforceAccountId": MIXED[:15], "limit": 1}, auth=auth, timeout=10).json()
    foreign = requests.get(url, params={"zuoraAccountNumber": HAPPY_ACCOUNT, "nextToken": by_18["nextToken"]}, auth=auth, timeout=10)
    garbled = requests.get(url, params={"zuoraAccountNumber": HAPPY_ACCOUNT, "nextToken": "not-a-token"}, auth=auth, timeout=10)
    no_key = requests.get(url, auth=auth, timeout=10)

    assert by_18["syncs"] == by_15["syncs"] and by_18["syncs"][0]["status"] == "PARTIALLY_FAILED"
    assert foreign.status_code == garbled.status_code == no_key.status_code == 400
    assert foreign.json()["error"]["code"] == "VALIDATION_ERROR" and "nextToken" in foreign.json()["error"]["message"]


def test_a_running_jobs_progress_is_each_tasks_count_and_the_total_once_it_ends(service):
    jobs = JobStore(service.cloud.template.tables["SyncJobsTable"].name)
    customer = CustomerRef(zuoraAccountNumber="A09999999")
    job = SyncJob(syncId=f"sync-{'a' * 32}", status=JobStatus.RUNNING, customer=customer, startedAt="2026-11-25T10:00:00.000Z")
    jobs.start(job)
    jobs.record_plan(job.syncId, 5)

    jobs.count_settled(job.syncId, 2)
    jobs.count_settled(job.syncId, 1)
    running = jobs.poll(job.syncId)
    receipts = [SubscriptionResult(subscriptionNumber=f"A-S{i}", outcome=Outcome.UNCHANGED) for i in range(5)]
    jobs.complete(job.syncId, receipts, [])
    jobs.count_settled(job.syncId, 4)  # a scheduled retry's task after the job ended

    assert (running.status, running.total, running.settled) == (JobStatus.RUNNING, 5, 3)
    assert jobs.poll(job.syncId).settled == 5


def test_replay_dead_letters_invokes_the_retry_function_through_lambdas_invoke_api(service, lambda_endpoint, monkeypatch):
    queue_url = service.cloud.template.queues["FailedSyncsDeadLetterQueue"].url
    entry = RetryEntry(
        syncId=f"sync-{'b' * 32}",
        subscriptionNumber="A-S00000701",
        customer=CustomerRef(salesforceAccountId=MIXED),
        attempts=5,
        nextAttemptAt=dt.datetime.now(dt.UTC).isoformat(),
        errorCode="ZUORA_UNAVAILABLE",
        message="Zuora was down",
    )
    service.cloud.client("sqs").send_message(QueueUrl=queue_url, MessageBody=entry.model_dump_json())
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", lambda_endpoint.url)
    function = service.cloud.function_names["RetryFailedSyncsFunction"]

    code, output = cli(service, "replay-dead-letters", "--function-name", function, "--json")

    assert code == 0 and json.loads(output) == {"replayed": 1}
    assert service.cloud.client("sqs").receive_message(QueueUrl=queue_url).get("Messages") is None


def test_the_lambda_endpoint_refuses_unsigned_calls_and_unknown_functions(service, lambda_endpoint):
    path = "/2015-03-31/functions/{}/invocations"
    unsigned = requests.post(lambda_endpoint.url + path.format("RetryFailedSyncsFunction"), data=b"{}", timeout=10)
    signed = SigV4RequestAuth(service.credentials)
    signed.service = "lambda"
    unknown = requests.post(lambda_endpoint.url + path.format("NoSuchFunction"), data=b"{}", auth=signed, timeout=10)

    assert unsigned.status_code == 403 and unsigned.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert unknown.status_code == 404 and unknown.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"


def test_the_api_and_the_retry_function_are_found_in_a_deployed_stacks_outputs(service):
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"ApiBaseUrl": {"Value": service.api_url}, "RetryFailedSyncsFunctionName": {"Value": "the-retry-function"}},
    }
    service.cloud.client("cloudformation").create_stack(StackName="limio-subscription-sync-ops", TemplateBody=json.dumps(template))
    out = io.StringIO()

    code = limio_sync(["history", "--stack", "limio-subscription-sync-ops", "--region", "eu-west-2", "--zuora-account-number", "A00000999"], out=out)
    missing = limio_sync(["status", "--stack", "no-such-stack", "--region", "eu-west-2", f"sync-{'e' * 32}"], out=io.StringIO())

    assert code == 0 and "No syncs for this customer" in out.getvalue()
    assert missing == 2


def test_without_credentials_or_an_api_url_the_cli_says_what_to_do(monkeypatch, capsys):
    for variable in ("LIMIO_SYNC_API_URL", "LIMIO_SYNC_STACK"):
        monkeypatch.delenv(variable, raising=False)

    code = limio_sync(["status", f"sync-{'d' * 32}"])

    assert code == 2 and "--api-url (or LIMIO_SYNC_API_URL) or --stack" in capsys.readouterr().err
