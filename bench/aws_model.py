"""The AWS-time model: the click-to-result time one customer's sync would take on AWS, priced from the calls the
local run actually made (bench/probes.py's traces) with the published figures and stated assumptions of
bench/aws_figures.json, low / typical / high. Pure functions over dicts, so the model is testable without a run.

    click -> seen = POST (LFS leg + API Gateway + invoke + the API's calls and CPU, StartExecution included)
                  + execution start + PlanSync (task overhead + its calls + CPU) + 4 top-level transitions
                  + Map: inline = set-up + makespan of the tasks over InlineMapMaxConcurrency slots
                         distributed = the Map Run's fixed cost + makespan over MapMaxConcurrency slots of
                                       (child start + task)
                  + GatherResults (task overhead + its calls + CPU)
                  + the long-poll's notice (0-0.1 s) + the final read (the last GET's calls and CPU)
    an invocation = Σ its main thread's calls + the longest of its worker threads' call chains
                  + our CPU (moto's and the bench's share removed) × Graviton factor × 1769 / min(MemorySize, 1769)
    a task        = task overhead + invoke + the invocation (+ one transition, inline)

Calls of one thread add up; threads overlap (the longest chain counts, a lower bound when pools queue). Warm
Lambdas; no cold start (see the import times), no retry (the bench's runs have none).
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FIGURES_PATH = Path(__file__).with_name("aws_figures.json")
LEVELS = ("low", "typ", "high")
SUBSCRIPTION_FUNCTION = "SyncSubscriptionFunction"
PLAN_FUNCTION = "PlanSyncFunction"
GATHER_FUNCTION = "GatherResultsFunction"
API_FUNCTION = "ApiFunction"
TOP_LEVEL_TRANSITIONS = 4  # PlanSync -> ChooseMap -> the Map -> GatherResults (the first state comes with the start)
LONG_POLL_SECONDS = 20  # limio_sync.api.MAX_WAIT_SECONDS: a sync longer than this is seen by a further long-poll

DDB_SINGLE = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem"})
DDB_BATCH = frozenset({"BatchGetItem", "BatchWriteItem"})
DDB_TRANSACT = frozenset({"TransactWriteItems", "TransactGetItems"})
DDB_PAGE = frozenset({"Query", "Scan"})
QUERY_PAGE_BYTES = 1024 * 1024  # DynamoDB returns at most 1 MB per Query page
ZUORA_TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a secret


def load_figures(path: Path = FIGURES_PATH) -> dict[str, Any]:
    return json.loads(path.read_text())


def call_ms(name: str, size: int, figures: dict[str, dict[str, Any]], level: str, zuora_ms: float) -> float:
    """One call's time. `name` is "service:Operation" or "zuora:METHOD /path"; `size` its larger body in bytes."""
    service, _, operation = name.partition(":")
    if service == "zuora":
        # The emulator answers the token without latency, like Zuora's unmetered /oauth/token (as the ideal counts it).
        return 0.0 if operation.endswith(ZUORA_TOKEN_PATH) else zuora_ms
    if service == "dynamodb":
        if operation in DDB_BATCH:
            return figures["ddb_batch"][level]
        if operation in DDB_TRANSACT:
            return figures["ddb_transact"][level]
        if operation in DDB_PAGE:
            # A11 prices a full 1 MB page; a page of a few items costs about a single-item call.
            single, full = figures["ddb_single"][level], figures["ddb_query_page"][level]
            return single + min(1.0, size / QUERY_PAGE_BYTES) * (full - single)
        return figures["ddb_single"][level]
    if service == "s3":
        return figures["s3_request"][level] + size / (figures["s3_mb_per_s"][level] * 1000)  # bytes / (MB/s) in ms
    if service == "lambda":
        return 0.0  # the state machine's invocations, priced as tasks
    return figures["control_plane_call"][level]  # Step Functions, Secrets Manager, SSM, SQS


def cpu_factor(memory_mb: int, figures: dict[str, dict[str, Any]], level: str) -> float:
    """How much longer our CPU takes on Lambda than on the bench's core: Graviton's factor, and a share of a vCPU
    below 1,769 MB (S9)."""
    return figures["graviton_factor"][level] * max(1.0, figures["full_vcpu_mb"][level] / memory_mb)


def invocation_ms(trace: dict[str, Any], memory_mb: int, figures: dict[str, dict[str, Any]], level: str, zuora_ms: float) -> dict[str, float]:
    """The invocation's time: its calls (main thread + the longest worker chain) and its CPU."""

    def chain(calls: Iterable[list[Any]]) -> float:
        return sum(call_ms(name, size, figures, level, zuora_ms) for name, size in calls)

    io = chain(trace["main"]) + max((chain(worker) for worker in trace["workers"]), default=0.0)
    cpu = trace["our_cpu_ms"] * cpu_factor(memory_mb, figures, level)
    return {"io_ms": io, "cpu_ms": cpu, "total_ms": io + cpu}


def makespan(durations: list[float], slots: int) -> float:
    """Tasks started in order on the first free of `slots` (as a Map with MaxConcurrency does)."""
    free = [0.0] * max(1, slots)
    end = 0.0
    for duration in durations:
        start = heapq.heappop(free)
        finish = start + duration
        heapq.heappush(free, finish)
        end = max(end, finish)
    return end


def model_level(run: dict[str, Any], *, level: str, figures: dict[str, dict[str, Any]], config: dict[str, Any]) -> dict[str, Any]:
    """Every term of the critical path at one level, in ms, and their total.

    `config`: memory_mb (per function), inline_concurrency, map_concurrency, child_type (EXPRESS | STANDARD, as
    deployed), zuora_ms (the Zuora latency per call)."""
    f = figures
    memory = config["memory_mb"]
    zuora_ms = config["zuora_ms"]
    traces = run["traces"]

    def inv(trace: dict[str, Any]) -> float:
        return invocation_ms(trace, memory.get(trace["function"], 512), f, level, zuora_ms)["total_ms"]

    def only(function: str, kind: str = "") -> dict[str, Any] | None:
        return next((t for t in traces if t["function"] == function and t["kind"].startswith(kind)), None)

    post, final_get = only(API_FUNCTION, "POST"), only(API_FUNCTION, "GET")
    plan, gather = only(PLAN_FUNCTION), only(GATHER_FUNCTION)
    tasks = [t for t in traces if t["function"] == SUBSCRIPTION_FUNCTION]
    distributed = bool(run.get("map_runs"))
    terms: dict[str, float] = {}
    terms["post"] = f["lfs_request"][level] + f["apigw_rest"][level] + f["lambda_invoke"][level] + (inv(post) if post else 0.0)
    terms["execution_start"] = f["execution_start"][level]
    terms["plan"] = f["task_overhead"][level] + f["lambda_invoke"][level] + (inv(plan) if plan else 0.0)
    terms["transitions"] = TOP_LEVEL_TRANSITIONS * f["transition"][level]
    task_base = f["task_overhead"][level] + f["lambda_invoke"][level]
    if distributed:
        child = "express" if config.get("child_type", "EXPRESS") == "EXPRESS" else "standard"
        durations = [f[f"child_start_{child}"][level] + task_base + inv(t) for t in tasks]
        terms["map_fixed"] = f[f"map_run_fixed_{child}"][level]
        terms["map_tasks"] = makespan(durations, config["map_concurrency"])
    else:
        durations = [task_base + f["transition"][level] + inv(t) for t in tasks]
        terms["map_fixed"] = f["inline_map_setup"][level] if tasks else 0.0
        terms["map_tasks"] = makespan(durations, config["inline_concurrency"])
    terms["gather"] = f["task_overhead"][level] + f["lambda_invoke"][level] + (inv(gather) if gather else 0.0)
    terms["seen"] = f["long_poll_notice"][level] + (inv(final_get) if final_get else 0.0)
    if sum(terms.values()) > 1000 * LONG_POLL_SECONDS:
        # The POST's long-poll gave up after 20 s; the GET long-poll that sees the end is another round trip.
        terms["seen"] += f["lfs_request"][level] + f["apigw_rest"][level] + f["lambda_invoke"][level]
    zuora_steps = _zuora_steps(plan) + (max((_zuora_steps(t) for t in tasks), default=0))
    return {
        "terms_ms": {name: round(value, 1) for name, value in terms.items()},
        "total_s": round(sum(terms.values()) / 1000, 3),
        "map": "distributed" if distributed else "inline",
        "tasks": len(tasks),
        "waves": _waves(len(tasks), config["map_concurrency"] if distributed else config["inline_concurrency"]),
        "zuora_steps_on_path": zuora_steps,
    }


def _waves(tasks: int, slots: int) -> int:
    return -(-tasks // max(1, slots)) if tasks else 0


def _zuora_steps(trace: dict[str, Any] | None) -> int:
    """Zuora calls one after another in the invocation: its main thread's, plus its longest worker chain's."""
    if trace is None:
        return 0

    def count(calls: list[list[Any]]) -> int:
        return sum(1 for name, _ in calls if name.startswith("zuora:") and not name.endswith(ZUORA_TOKEN_PATH))

    return count(trace["main"]) + max((count(worker) for worker in trace["workers"]), default=0)


def model(run: dict[str, Any], *, figures: dict[str, dict[str, Any]], config: dict[str, Any]) -> dict[str, Any]:
    """low / typ / high seconds, and the typical level's terms."""
    levels = {level: model_level(run, level=level, figures=figures, config=config) for level in LEVELS}
    return {
        "seconds": {level: levels[level]["total_s"] for level in LEVELS},
        "typical": levels["typ"],
    }


def sequential_aws_calls(run: dict[str, Any]) -> dict[str, int]:
    """The calls on the critical path by kind: those of the path's invocations' main threads and longest worker
    chains (PlanSync, one task, GatherResults, the POST and the final GET), from the trace."""
    path = [t for t in run["traces"] if t["function"] != SUBSCRIPTION_FUNCTION]
    tasks = [t for t in run["traces"] if t["function"] == SUBSCRIPTION_FUNCTION]
    if tasks:
        path.append(max(tasks, key=lambda t: len(t["main"]) + max((len(w) for w in t["workers"]), default=0)))
    counts: dict[str, int] = {}
    for trace in path:
        longest = max(trace["workers"], key=len, default=[])
        for name, _ in trace["main"] + longest:
            key = "zuora" if name.startswith("zuora:") else name
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
