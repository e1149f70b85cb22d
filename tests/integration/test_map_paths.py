"""Both Map paths end to end: a customer within InlineMapThreshold is synced by the inline Map (one wave of tasks,
one subscription each up to InlineMapMaxConcurrency, no Map Run); a larger one by the distributed Map of batched
tasks. Either way every subscription gets its outcome, one bad subscription fails alone, and a sync in which
nothing changed writes nothing to Limio. Also the long-poll (`Prefer: wait=N`) that shows the result at once."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import requests

from local.auth import SigV4RequestAuth
from local.lfs_client import poll_until_done, start_sync
from local.service import LocalSyncService
from tests import zuora_fixtures as z

SMALL = z.salesforce_id("INLINE1")  # 3 subscriptions: one inline task each
MEDIUM = z.salesforce_id("INLINE2")  # 10 subscriptions over two accounts, one broken: inline, several per task
LARGE = z.salesforce_id("DISTRIB1")  # 35 subscriptions: past the threshold, the distributed Map
THRESHOLD, INLINE_CONCURRENCY, MAP_CONCURRENCY = 30, 4, 3


def tenant() -> dict:
    accounts = [z.account("A00007001", SMALL), z.account("A00007101", MEDIUM), z.account("A00007102", MEDIUM), z.account("A00007201", LARGE)]
    subscriptions = [
        *[z.subscription(f"A-S0007001{i}", "A00007001") for i in range(3)],
        *[z.subscription(f"A-S0007101{i}", "A00007101", broken=i == 2) for i in range(6)],
        *[z.subscription(f"A-S0007102{i}", "A00007102") for i in range(4)][:4],
        *[z.subscription(f"A-S000720{i:02d}", "A00007201") for i in range(35)],
    ]
    return z.tenant(accounts, subscriptions)


@pytest.fixture(scope="module")
def service():
    parameters = {"InlineMapThreshold": str(THRESHOLD), "InlineMapMaxConcurrency": str(INLINE_CONCURRENCY), "MapMaxConcurrency": str(MAP_CONCURRENCY)}
    with LocalSyncService(tenant(), parameter_overrides=parameters) as running:
        yield running


def sync(service: LocalSyncService, crm_id: str) -> dict:
    started = start_sync(service.api_url, {"salesforceAccountId": crm_id}, credentials=service.credentials)
    return poll_until_done(started["statusUrl"], interval=0.1, timeout=90, credentials=service.credentials)


def outcomes(job: dict) -> dict[str, str]:
    return {r["subscriptionNumber"]: r["outcome"] for r in job["subscriptions"]}


def execution(service: LocalSyncService, sync_id: str) -> tuple[list[dict], list[dict]]:
    """The execution's history and its Map Runs."""
    sfn = service.cloud.client("stepfunctions")
    arn = f"{service.cloud.state_machine_arn().replace(':stateMachine:', ':execution:')}:{sync_id}"
    events = [e for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn) for e in page["events"]]
    return events, sfn.list_map_runs(executionArn=arn)["mapRuns"]


def task_sizes(events: list[dict]) -> list[int]:
    """Subscriptions per sync task the history shows the inline Map invoking."""
    scheduled = [e["lambdaFunctionScheduledEventDetails"] for e in events if e["type"] == "LambdaFunctionScheduled"]
    return [len(json.loads(d["input"])["batch"]["items"]) for d in scheduled if d["resource"].endswith("SyncSubscriptionFunction")]


def limio_records(service: LocalSyncService, prefix: str) -> dict[str, dict]:
    return {r["subscriptionNumber"]: r for r in service.limio_subscriptions() if r["subscriptionNumber"].startswith(prefix)}


def test_a_customer_within_the_threshold_is_synced_by_the_inline_map_one_task_per_subscription(service):
    job = sync(service, SMALL)

    assert job["status"] == "SUCCEEDED" and outcomes(job) == dict.fromkeys(("A-S00070010", "A-S00070011", "A-S00070012"), "CREATED")
    events, map_runs = execution(service, job["syncId"])
    assert map_runs == [] and "MapRunStarted" not in {e["type"] for e in events}
    assert Counter(e["type"] for e in events)["MapIterationStarted"] == 3
    assert task_sizes(events) == [1, 1, 1]


def test_the_inline_map_fills_one_wave_and_one_broken_subscription_fails_alone(service):
    job = sync(service, MEDIUM)

    assert job["status"] == "PARTIALLY_FAILED" and job["failedSubscriptions"] == ["A-S00071012"]
    assert len(outcomes(job)) == 10 and Counter(outcomes(job).values()) == {"CREATED": 9, "FAILED": 1}
    events, map_runs = execution(service, job["syncId"])
    sizes = task_sizes(events)
    assert map_runs == [] and sum(sizes) == 10
    # Two accounts' tasks, split to fill about one wave of InlineMapMaxConcurrency: fewer tasks than subscriptions.
    assert INLINE_CONCURRENCY <= len(sizes) <= INLINE_CONCURRENCY + 2 and max(sizes) > 1


def test_past_the_threshold_the_distributed_map_runs_batched_tasks_in_one_map_run(service):
    job = sync(service, LARGE)

    assert job["status"] == "SUCCEEDED" and len(outcomes(job)) == 35 and set(outcomes(job).values()) == {"CREATED"}
    events, map_runs = execution(service, job["syncId"])
    assert len(map_runs) == 1 and Counter(e["type"] for e in events)["MapIterationStarted"] == 0
    described = service.cloud.client("stepfunctions").describe_map_run(mapRunArn=map_runs[0]["mapRunArn"])
    # 35 subscriptions over one wave of MapMaxConcurrency child executions, several subscriptions each.
    assert described["executionCounts"]["succeeded"] == MAP_CONCURRENCY and described["maxConcurrency"] == MAP_CONCURRENCY


@pytest.mark.parametrize(("crm_id", "prefix"), [(SMALL, "A-S0007001"), (LARGE, "A-S000720")], ids=["inline", "distributed"])
def test_a_sync_in_which_nothing_changed_writes_nothing_to_limio_on_either_path(service, crm_id, prefix):
    sync(service, crm_id)
    before = limio_records(service, prefix)

    job = sync(service, crm_id)

    assert job["status"] == "SUCCEEDED" and set(outcomes(job).values()) == {"UNCHANGED"}
    assert limio_records(service, prefix) == before  # not even lastSyncId moved: no write at all


def test_a_long_poll_start_answers_with_the_ended_job_and_a_long_poll_read_of_an_ended_job_answers_at_once(service):
    auth = SigV4RequestAuth(service.credentials)

    started = requests.post(f"{service.api_url}/syncs", json={"salesforceAccountId": SMALL}, headers={"Prefer": "wait=20"}, auth=auth, timeout=30)

    assert started.status_code == 200 and started.headers["Vary"] == "Prefer"
    job = started.json()
    assert job["status"] == "SUCCEEDED" and len(job["subscriptions"]) == 3
    assert started.headers["Location"].endswith(f"/syncs/{job['syncId']}")
    again = requests.get(started.headers["Location"], headers={"Prefer": "wait=20"}, auth=auth, timeout=30)
    assert again.status_code == 200 and again.json() == job and "Retry-After" not in again.headers


def test_without_a_wait_the_start_answers_202_and_a_running_job_says_to_poll_again_in_one_second(service):
    auth = SigV4RequestAuth(service.credentials)

    started = requests.post(f"{service.api_url}/syncs", json={"salesforceAccountId": LARGE}, auth=auth, timeout=10)

    assert started.status_code == 202 and started.headers["Retry-After"] == "1"
    running = requests.get(started.json()["statusUrl"], auth=auth, timeout=10)
    assert running.json()["status"] != "RUNNING" or running.headers["Retry-After"] == "1"
    poll_until_done(started.json()["statusUrl"], credentials=service.credentials, wait=5)
