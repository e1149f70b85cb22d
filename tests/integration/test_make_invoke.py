"""`make invoke FUNCTION=<logical id> EVENT=events/<file>.json` runs that function's real handler with each sample
event on the local stack and prints what `sam local invoke` prints: the result as JSON on stdout."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
# Which function each sample event is for (what `sam local invoke <function> -e <file>` would be given).
FUNCTION_OF_EVENT = {
    "api_get_sync.json": "ApiFunction",
    "api_start_sync.json": "ApiFunction",
    "gather_results.json": "GatherResultsFunction",
    "job_failure.json": "JobFailureFunction",
    "job_failure_execution_timed_out.json": "JobFailureFunction",
    "plan_sync.json": "PlanSyncFunction",
    "retry_failed_replay.json": "RetryFailedSyncsFunction",
    "retry_failed_schedule.json": "RetryFailedSyncsFunction",
    "sweep_jobs.json": "SweepUnstartedJobsFunction",
    "sync_subscription.json": "SyncSubscriptionFunction",
}


def make_invoke(*arguments: str) -> subprocess.CompletedProcess:
    # The venv running these tests is the one `make` would use; `-o` keeps make from reinstalling into it.
    command = ["make", "-s", "-o", f"{VENV}/bin/.installed", f"VENV={VENV}", f"PYTHON={sys.executable}", "invoke", *arguments]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)


def test_every_sample_event_has_its_function():
    assert sorted(FUNCTION_OF_EVENT) == sorted(path.name for path in (ROOT / "events").glob("*.json"))


@pytest.mark.parametrize("event_file", sorted(FUNCTION_OF_EVENT))
def test_make_invoke_runs_the_function_with_the_event_and_prints_its_result(event_file):
    function = FUNCTION_OF_EVENT[event_file]

    done = make_invoke(f"FUNCTION={function}", f"EVENT=events/{event_file}")

    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)  # stdout is the result alone; logs went to stderr
    expected = {
        "api_get_sync.json": lambda r: r["statusCode"] == 404 and "SYNC_NOT_FOUND" in r["body"],
        "api_start_sync.json": lambda r: r["statusCode"] == 202 and json.loads(r["body"])["status"] == "RUNNING",
        # GatherResults reads the task list planning wrote; the sample names a deployed stack's bucket, so locally
        # the handler raises and, as with sam, its error payload is the result.
        "gather_results.json": lambda r: r["errorType"] == "NoSuchBucket" and r["stackTrace"],
        "job_failure.json": lambda r: r["status"] == "FAILED" and r["error"]["errorCode"] == "CUSTOMER_NOT_FOUND",
        "job_failure_execution_timed_out.json": lambda r: r["error"]["errorCode"] == "EXECUTION_FAILED",
        "plan_sync.json": lambda r: r["total"] == 12 and r["accountNumbers"] == ["A00001001", "A00001002"],
        "retry_failed_replay.json": lambda r: r == {"replayed": 0},
        "retry_failed_schedule.json": lambda r: r == {"started": []},
        "sweep_jobs.json": lambda r: r["ended"] == [],  # a fresh stack has no job whose execution never started
        "sync_subscription.json": lambda r: r["outcomes"] == {"CREATED": 2},
    }[event_file]
    assert expected(result), result
    if event_file in ("api_start_sync.json", "plan_sync.json", "sync_subscription.json", "job_failure.json"):
        assert f'"function_name":"limio-sync-local-{function}"' in done.stderr  # the function's own log lines


def test_an_unknown_function_or_a_missing_argument_is_a_usage_error():
    unknown = make_invoke("FUNCTION=NoSuchFunction", "EVENT=events/plan_sync.json")
    missing = make_invoke("FUNCTION=PlanSyncFunction")

    assert unknown.returncode != 0 and "no function 'NoSuchFunction'" in unknown.stderr and "PlanSyncFunction" in unknown.stderr
    assert missing.returncode != 0 and "usage: make invoke" in missing.stdout + missing.stderr


def test_the_readmes_make_invoke_lines_are_among_those_run_here():
    readme = (ROOT / "README.md").read_text()
    lines = re.findall(r"^make invoke FUNCTION=(\S+) EVENT=events/(\S+)", readme, re.MULTILINE)

    assert lines and all(FUNCTION_OF_EVENT[event] == function for function, event in lines)
