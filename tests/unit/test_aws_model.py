"""The AWS-time model of the benchmark: each call priced with its figure, threads overlapping, our CPU scaled to
the function's share of a vCPU, the Map's fixed cost only for a distributed Map, and the targets' verdicts."""

from __future__ import annotations

import pytest

from bench import aws_model, report

FIGURES = aws_model.load_figures()["figures"]
CONFIG = {
    "memory_mb": {"PlanSyncFunction": 1769, "SyncSubscriptionFunction": 1769, "GatherResultsFunction": 1024, "ApiFunction": 1024},
    "inline_concurrency": 2,
    "map_concurrency": 2,
    "child_type": "EXPRESS",
    "zuora_ms": 150.0,
}


def trace(function: str, *, kind: str = "", cpu: float = 0.0, main: list | None = None, workers: list | None = None, subscriptions: int = 0) -> dict:
    return {"function": function, "kind": kind, "our_cpu_ms": cpu, "main": main or [], "workers": workers or [], "subscriptions": subscriptions}


def test_every_figure_has_three_levels_in_order_and_a_source():
    for name, figure in FIGURES.items():
        assert figure["source"], name
        values = [figure[level] for level in aws_model.LEVELS]
        assert values == sorted(values) or name == "s3_mb_per_s", name  # faster transfer is the low end


def test_calls_are_priced_by_kind_and_zuoras_token_costs_no_latency():
    assert aws_model.call_ms("dynamodb:PutItem", 500, FIGURES, "typ", 150) == FIGURES["ddb_single"]["typ"]
    assert aws_model.call_ms("dynamodb:BatchGetItem", 9000, FIGURES, "typ", 150) == FIGURES["ddb_batch"]["typ"]
    assert aws_model.call_ms("dynamodb:Query", 1024 * 1024, FIGURES, "high", 150) == FIGURES["ddb_query_page"]["high"]
    assert aws_model.call_ms("dynamodb:Query", 100, FIGURES, "typ", 150) == pytest.approx(FIGURES["ddb_single"]["typ"], abs=0.01)
    s3_mb = aws_model.call_ms("s3:GetObject", 1_000_000, FIGURES, "typ", 150)
    assert s3_mb == pytest.approx(FIGURES["s3_request"]["typ"] + 1000 / FIGURES["s3_mb_per_s"]["typ"])
    assert aws_model.call_ms("zuora:GET /v1/accounts/A1", 0, FIGURES, "low", 150) == 150
    assert aws_model.call_ms("zuora:POST /oauth/token", 0, FIGURES, "high", 150) == 0


def test_an_invocations_threads_overlap_and_its_cpu_is_slower_below_one_vcpu():
    work = trace(
        "PlanSyncFunction",
        cpu=100,
        main=[["zuora:GET /object-query/accounts", 0]],
        workers=[[["zuora:GET /v1/a", 0], ["zuora:POST /v1/b", 0]], [["zuora:GET /v1/c", 0]]],
    )

    full = aws_model.invocation_ms(work, 1769, FIGURES, "low", 150)
    half = aws_model.invocation_ms(work, 884.5, FIGURES, "low", 150)

    assert full["io_ms"] == 150 + 300  # the main thread, then the longest worker chain
    assert full["cpu_ms"] == 100 * FIGURES["graviton_factor"]["low"]
    assert half["cpu_ms"] == pytest.approx(2 * full["cpu_ms"])


def test_makespan_fills_the_maps_slots_in_order():
    assert aws_model.makespan([100, 100, 100], 2) == 200
    assert aws_model.makespan([300, 100, 100, 100], 2) == 300
    assert aws_model.makespan([], 5) == 0


def run(*, distributed: bool, tasks: int = 3) -> dict:
    traces = [
        trace("ApiFunction", kind="POST /syncs", cpu=5, main=[["dynamodb:TransactWriteItems", 800], ["stepfunctions:StartExecution", 300]]),
        trace("PlanSyncFunction", cpu=30, main=[["zuora:GET /object-query/accounts", 0]], workers=[[["zuora:GET /v1/x", 0]]]),
        *[
            trace("SyncSubscriptionFunction", kind="task", cpu=10, subscriptions=1, main=[["s3:GetObject", 5000], ["dynamodb:BatchGetItem", 10]])
            for _ in range(tasks)
        ],
        trace("GatherResultsFunction", cpu=8, main=[["dynamodb:Query", 2000], ["dynamodb:UpdateItem", 100]]),
        trace("ApiFunction", kind="GET /syncs/{syncId}", cpu=5, main=[["dynamodb:GetItem", 200], ["dynamodb:Query", 2000]]),
    ]
    return {"traces": traces, "map_runs": [{"executions": {"total": tasks}}] if distributed else []}


def test_only_a_distributed_map_pays_a_map_runs_fixed_cost():
    inline = aws_model.model_level(run(distributed=False), level="typ", figures=FIGURES, config=CONFIG)
    distributed = aws_model.model_level(run(distributed=True), level="typ", figures=FIGURES, config=CONFIG)

    assert inline["map"] == "inline" and inline["terms_ms"]["map_fixed"] == FIGURES["inline_map_setup"]["typ"]
    assert distributed["terms_ms"]["map_fixed"] == FIGURES["map_run_fixed_express"]["typ"]
    assert distributed["total_s"] - inline["total_s"] > 3
    assert inline["waves"] == 2 and inline["zuora_steps_on_path"] == 2


def test_the_three_levels_are_ordered():
    seconds = aws_model.model(run(distributed=False), figures=FIGURES, config=CONFIG)["seconds"]

    assert seconds["low"] < seconds["typ"] < seconds["high"]


def entry(size: int, typ: float, *, unchanged: float | None = None, map_runs: int = 0, calls: int = 5, minimum: int = 5, writes: int = 0) -> dict:
    terms = {"post": 100.0, "plan": 1000 * typ - 300, "map_tasks": 200.0}
    return {
        "subscriptions": size,
        "aws_model_s": {"low": typ / 2, "typ": typ, "high": typ * 2},
        "aws_model_unchanged_s": {"low": 0, "typ": typ if unchanged is None else unchanged, "high": 0},
        "aws_model_terms_ms": {"created": terms, "unchanged": terms},
        "zuora_steps_on_path": 3,
        "ideal_zuora_steps": 3,
        "map": "distributed" if map_runs else "inline",
        "map_runs": map_runs,
        "lambda_tasks": 4,
        "subscriptions_per_task_max": 3,
        "map_waves": 1,
        "zuora_calls": calls,
        "zuora_calls_minimum": minimum,
        "limio_writes_unchanged_sync": writes,
    }


def test_targets_say_which_were_met_which_missed_and_what_limits_each():
    entries = [entry(12, 1.6), entry(100, 3.0, unchanged=3.7), entry(1000, 8.0, map_runs=1, calls=60, minimum=52, writes=1)]

    checks = report.targets(entries, threshold=400)
    met = {check["target"].split(" (")[0]: check["met"] for check in checks}

    assert met["≤ 20 subscriptions seen ≤ 2.5 s after the click"] is True
    assert met["100 subscriptions seen ≤ 3.5 s after the click"] is False  # the unchanged sync is over
    assert met["1,000 subscriptions seen ≤ 12 s after the click"] is True
    assert met["0 Map Runs below the threshold"] is True  # the 1,000 one is past it
    assert met["Zuora calls ≤ 1.1× the minimum"] is False
    assert met["unchanged subscriptions write nothing"] is False
    assert all(check["limited_by"] for check in checks)
    assert "PlanSync" in checks[0]["limited_by"] and "3 Zuora steps" in checks[0]["limited_by"]
