"""One customer size, measured in a process of its own (so its peak memory is its own):
`python -m bench.measure --size 100 --latency-ms 150 --limit 40 --map-concurrency 20 --out result.json`.

The local stack starts with a tenant holding the customer and a one-subscription warm-up customer. The
warm-up sync loads every handler (the local equivalent of warm Lambdas; cold starts are measured apart, in
bench/importtime.py); then the Zuora token cache is emptied so the measured sync fetches its token like a
cold PlanSync would. Then, as LFS does: POST /syncs, GET every 50 ms until a terminal status, on an empty
Limio (every subscription CREATED). Then the same customer again (every subscription UNCHANGED), the same way.
Both are traced (bench/probes.py: every AWS and Zuora call per invocation and thread, our CPU without moto's)
for the AWS-time model. A third sync, polled every Retry-After seconds like LFS, traces the memory of the
functions that hold the whole customer (tracemalloc slows what it traces, so it is timed against nothing).
Last, the naive loop on the same emulator, with the stack idle.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "shared"))

from bench import tenants  # noqa: E402 - needs the shared layer on sys.path
from bench.naive import run_naive  # noqa: E402
from bench.probes import OUTSIDE_ANY_FUNCTION, AwsMeter, CallTrace, HandlerTimer, history_counts, history_phases  # noqa: E402
from limio_sync.zuora.token_cache import reset_token_cache  # noqa: E402
from local.lfs_client import poll_until_done, start_sync  # noqa: E402
from local.service import LocalSyncService  # noqa: E402

POLL_SECONDS = 0.05
SYNC_TIMEOUT_SECONDS = 1800
# lfs_client waits 10 s for an answer (Salesforce's default callout timeout); a loaded local stack can take
# much longer for one GET (the final one of 10,000 receipts, in one interpreter shared with every task's threads),
# so the bench waits up to 10 minutes and reports the slowest GET: the local stack's time, in no target.
API_READ_TIMEOUT_SECONDS = 600
API_FUNCTION = "ApiFunction"  # the bench's own polling runs through it: not part of a sync's cost
# Functions whose memory could grow with the customer (every subscription planned, every receipt gathered), and
# a sync task (at most 100 subscriptions). Tasks overlap, so tracing them keeps tracemalloc on for the whole Map:
# past 1,000 subscriptions (100-subscription tasks already) that would take half an hour here, so they are not.
CUSTOMER_SIZED_FUNCTIONS = frozenset({"PlanSyncFunction", "GatherResultsFunction"})
TASK_FUNCTION = "SyncSubscriptionFunction"
TRACE_TASKS_UP_TO = 1000


def _rss_kib() -> int:
    """Resident set size now (KiB), from /proc."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


class _TimedSession(requests.Session):
    """Counts the API calls LFS makes and how long API Gateway took to answer each."""

    def __init__(self) -> None:
        super().__init__()
        self.latencies: list[float] = []
        self.hooks["response"].append(lambda reply, *args, **kwargs: self.latencies.append(reply.elapsed.total_seconds()))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["timeout"] = API_READ_TIMEOUT_SECONDS
        return super().request(method, url, *args, **kwargs)


def _execution(service: LocalSyncService, sync_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The execution's history, and the item and child-execution counts of each of its Map Runs (moto keeps
    no history for the children of a distributed Map)."""
    sfn = service.cloud.client("stepfunctions")
    arn = service.cloud.state_machine_arn()
    execution_arn = next(e for e in sfn.list_executions(stateMachineArn=arn)["executions"] if e["name"] == sync_id)["executionArn"]
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    map_runs = []
    for run in sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]:
        described = sfn.describe_map_run(mapRunArn=run["mapRunArn"])
        map_runs.append({"items": described["itemCounts"], "executions": described["executionCounts"], "maxConcurrency": described["maxConcurrency"]})
    return events, map_runs


def sync_once(service: LocalSyncService, crm_id: str, meter: AwsMeter, timer: HandlerTimer, *, paced_like_lfs: bool = False) -> dict[str, Any]:
    """POST /syncs, then GET every 50 ms until a terminal status (or, `paced_like_lfs`, every Retry-After
    seconds as LFS does, which keeps the API's load off a run that only counts writes); everything observed
    on the way."""
    service.emulator.reset_stats()
    meter.reset()
    timer.reset()
    service.cloud.invocations.reset()
    session = _TimedSession()
    rss_before, max_rss_before = _rss_kib(), _max_rss_kib()
    load_before = os.getloadavg()[0]
    clicked, clicked_at = time.monotonic(), time.time()
    started = start_sync(service.api_url, {"salesforceAccountId": crm_id}, credentials=service.credentials, session=session)
    interval = float(started.get("retryAfter") or 2) if paced_like_lfs else POLL_SECONDS
    job = poll_until_done(started["statusUrl"], interval=interval, timeout=SYNC_TIMEOUT_SECONDS, credentials=service.credentials, session=session)
    wall = time.monotonic() - clicked
    max_rss_after = _max_rss_kib()
    load_after = os.getloadavg()[0]
    events, map_runs = _execution(service, started["syncId"])
    execution_end = events[-1]["timestamp"].timestamp() - clicked_at if events else None
    stats = service.emulator.stats
    return {
        "status": job["status"],
        "counts": job.get("counts"),
        "total": job.get("total"),
        "error": job.get("error"),
        "poll_seconds": interval,
        "wall_seconds": round(wall, 3),
        "execution_end_seconds": round(execution_end, 3) if execution_end is not None else None,
        "api_requests": len(session.latencies),
        "api_latency_ms_mean": round(1000 * sum(session.latencies) / len(session.latencies), 1),
        "api_latency_ms_max": round(1000 * max(session.latencies), 1),
        "api_latency_ms_last": round(1000 * session.latencies[-1], 1),
        "zuora_calls": {f"{method} {route}": count for (method, route), count in sorted(stats.by_route.items())},
        "zuora_total": stats.total_requests,
        "zuora_peak_in_flight": stats.peak_in_flight,
        "zuora_throttled": stats.throttled,
        "dynamodb": meter.summary(lambda function: function != API_FUNCTION),
        "dynamodb_api": meter.summary(lambda function: function == API_FUNCTION),
        "dynamodb_state_machine": meter.summary(lambda function: function == OUTSIDE_ANY_FUNCTION),
        "lambda": timer.summary(),
        "history": history_counts(events),
        "phases": history_phases(events),
        "map_runs": map_runs,
        "traces": _kept_traces(timer),
        "load_average_1m": [round(load_before, 2), round(load_after, 2)],
        "memory": {
            "rss_before_mib": round(rss_before / 1024, 1),
            "max_rss_before_mib": round(max_rss_before / 1024, 1),
            "max_rss_after_mib": round(max_rss_after / 1024, 1),
            "max_rss_delta_mib": round((max_rss_after - max_rss_before) / 1024, 1),
        },
    }


def _kept_traces(timer: HandlerTimer) -> list[dict[str, Any]]:
    """Every invocation of the sync's functions, and of the API the POST and the last GET (the one that saw the
    job ended): what lies on the click-to-result path. The other GETs are the bench's 50 ms polling."""
    traces = timer.traces()
    api = [t for t in traces if t["function"] == API_FUNCTION]
    posts = [t for t in api if t["kind"].startswith("POST")]
    gets = [t for t in api if t["kind"].startswith("GET")]
    return [t for t in traces if t["function"] != API_FUNCTION] + posts[:1] + gets[-1:]


def measure(size: int, *, latency_ms: float, limit: int, map_concurrency: int, naive_sample: int) -> dict[str, Any]:
    tenant, crm_id, warmup_crm_id = tenants.bench_tenant(size)
    service = LocalSyncService(
        tenant,
        catalog=tenants.catalog(),
        parameter_overrides={"MapMaxConcurrency": str(map_concurrency)},
    )
    booted = time.monotonic()
    with service:
        service.emulator.set_latency(latency_ms)
        service.emulator.set_concurrency_limit(limit)
        meter = AwsMeter({logical_id: table.name for logical_id, table in service.cloud.template.tables.items()})
        timer = HandlerTimer(service.cloud)
        calls = CallTrace(service.emulator.base_url)
        meter.install()
        timer.install()
        calls.install()
        try:
            warmup = sync_once(service, warmup_crm_id, meter, timer)
            startup = time.monotonic() - booted
            reset_token_cache()
            first = sync_once(service, crm_id, meter, timer)
            second = sync_once(service, crm_id, meter, timer)
            # Not timed against anything: it traces the memory of the functions that hold the whole customer
            # (tracemalloc slows what it traces).
            timer.trace_memory_of = CUSTOMER_SIZED_FUNCTIONS | ({TASK_FUNCTION} if size <= TRACE_TASKS_UP_TO else set())
            memory = sync_once(service, crm_id, meter, timer, paced_like_lfs=True)
            timer.trace_memory_of = frozenset()
        finally:
            calls.uninstall()
            meter.uninstall()
        reset_token_cache()
        service.emulator.reset_stats()
        measured = None if size <= naive_sample else naive_sample
        naive = run_naive(service.emulator.base_url, service.emulator.client_id, service.emulator.client_secret, crm_id, limit=measured)
        naive_stats = service.emulator.stats
    return {
        "size": size,
        "accounts": tenants.account_sizes(size),
        "latency_ms": latency_ms,
        "concurrency_limit": limit,
        "map_max_concurrency": map_concurrency,
        "startup_seconds": round(startup, 2),
        "warmup_status": warmup["status"],
        "first": first,
        "second": second,
        "memory_traced": {"status": memory["status"], "counts": memory["counts"], "lambda": memory["lambda"]},
        "naive": {
            "seconds": round(naive.estimated_seconds, 3),
            "measured_seconds": round(naive.seconds, 3),
            "measured_subscriptions": naive.measured,
            "extrapolated": naive.measured != naive.subscriptions,
            "zuora_total": naive_stats.total_requests,
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=150)
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--map-concurrency", type=int, default=20)
    parser.add_argument("--naive-sample", type=int, default=100)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    result = measure(args.size, latency_ms=args.latency_ms, limit=args.limit, map_concurrency=args.map_concurrency, naive_sample=args.naive_sample)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
