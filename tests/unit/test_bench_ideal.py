"""The benchmark's ideal-time model, its DynamoDB and history accounting, and its report formatting."""

from __future__ import annotations

import datetime as dt

import pytest

from bench import report
from bench.ideal import account_calls, account_chain, ideal_sync, list_pages, naive_calls
from bench.importtime import app_total_ms, heaviest_packages, import_chain, parse_importtime, unusable_imports
from bench.probes import history_counts, history_phases, item_size, read_units, write_units
from bench.tenants import account_sizes, bench_tenant, catalog


def test_one_subscription_needs_lookup_then_its_page_then_its_preview():
    ideal = ideal_sync([1], latency_seconds=0.15, concurrency_limit=40)

    assert ideal.steps == 3  # lookup, list page (account detail alongside), billing preview
    assert ideal.seconds == pytest.approx(0.45)
    assert ideal.calls == {"token": 1, "query_accounts": 1, "get_account": 1, "list_subscriptions": 1, "billing_preview": 1}
    assert ideal.total_calls == 5


def test_list_pages_are_sequential_forty_at_a_time():
    assert [list_pages(n) for n in (0, 1, 40, 41, 80, 100, 1000)] == [1, 1, 1, 2, 2, 3, 25]
    assert account_chain(100) == 4 and account_calls(100) == 5
    assert account_chain(0) == 1 and account_calls(0) == 2  # an empty account: detail and one empty page, no preview


def test_accounts_run_in_parallel_so_the_longest_account_sets_the_time():
    ten_accounts = ideal_sync([100] * 10, latency_seconds=0.15, concurrency_limit=40)
    one_account = ideal_sync([100], latency_seconds=0.15, concurrency_limit=40)

    assert ten_accounts.steps == one_account.steps == 5
    assert ten_accounts.calls["list_subscriptions"] == 30
    assert ten_accounts.total_calls == 1 + 1 + 10 * 5


def test_the_concurrency_limit_bounds_how_many_calls_a_step_can_hold():
    # 30 accounts × 5 calls = 150 calls; 40 at a time needs at least 4 steps, the chain needs 4.
    assert ideal_sync([100] * 30, latency_seconds=1, concurrency_limit=40).steps == 1 + 4
    # Only 2 at a time: 150 calls need 75 steps.
    assert ideal_sync([100] * 30, latency_seconds=1, concurrency_limit=2).steps == 1 + 75


def test_more_than_99_accounts_need_a_second_lookup_page():
    assert ideal_sync([1] * 100, latency_seconds=1, concurrency_limit=1000).calls["query_accounts"] == 2


def test_token_latency_is_added_once():
    assert ideal_sync([1], latency_seconds=0.1, concurrency_limit=40, token_latency_seconds=0.2).seconds == pytest.approx(0.5)


@pytest.mark.parametrize("accounts, limit", [([], 40), ([1], 0)])
def test_impossible_customers_are_rejected(accounts, limit):
    with pytest.raises(ValueError):
        ideal_sync(accounts, latency_seconds=0.15, concurrency_limit=limit)


def test_naive_loop_makes_two_calls_per_subscription_after_listing():
    assert naive_calls(100, [100]) == 1 + 1 + 3 + 200


def test_customers_spread_over_accounts_of_at_most_100():
    assert account_sizes(1) == [1]
    assert account_sizes(100) == [100]
    assert account_sizes(1000) == [100] * 10
    assert account_sizes(250) == [84, 83, 83]


def test_the_bench_tenant_maps_every_rate_plan_it_uses():
    tenant, customer, warmup = bench_tenant(50, today=dt.date(2026, 11, 25))
    mapped = set(catalog()["ratePlans"])

    used = {plan["productRatePlanId"] for sub in tenant["subscriptions"] for plan in sub["ratePlans"]}
    assert used <= mapped
    assert customer != warmup
    assert sum(1 for account in tenant["accounts"] if account["basicInfo"]["crmId"] == customer) == 1
    assert len(tenant["subscriptions"]) == 51


def test_item_size_follows_dynamodb_rules():
    item = {"pk": {"S": "abc"}, "n": {"N": "12345"}, "flag": {"BOOL": True}, "tags": {"L": [{"S": "x"}]}, "m": {"M": {"k": {"S": "v"}}}}

    # pk 2+3, n 1+4 (5 digits → 3+1), flag 4+1, tags 4+(3+1+1), m 1+(3+1+1+1)
    assert item_size(item) == 5 + 5 + 5 + 9 + 7
    assert write_units(item) == 1
    assert write_units({"big": {"S": "x" * 1500}}) == 2
    assert read_units([{"big": {"S": "x" * 5000}}], consistent=True) == 2
    assert read_units([{"big": {"S": "x" * 5000}}], consistent=False) == 1


def _event(kind: str, name: str | None = None, second: float = 0, **extra) -> dict:
    event = {"type": kind, "timestamp": dt.datetime(2026, 11, 25, tzinfo=dt.UTC) + dt.timedelta(seconds=second), **extra}
    if name:
        key = "stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"
        event[key] = {"name": name}
    return event


def test_transitions_count_states_entered_and_lambda_retries():
    scheduled = {"lambdaFunctionScheduledEventDetails": {"resource": "arn:aws:lambda:eu-west-2:1:function:Plan"}}
    events = [
        _event("ExecutionStarted"),
        _event("TaskStateEntered", "PlanSync", 0),
        _event("LambdaFunctionScheduled", **scheduled),
        _event("LambdaFunctionFailed"),
        _event("LambdaFunctionScheduled", **scheduled),
        _event("TaskStateExited", "PlanSync", 1.5),
        _event("MapStateEntered", "Map", 1.5),
        _event("MapStateExited", "Map", 4),
        _event("ExecutionSucceeded", second=4.2),
    ]

    counts = history_counts(events)

    assert counts["state_entered"] == 2 and counts["state_exited"] == 2
    assert counts["retries"] == 1 and counts["billed_transitions"] == 3
    assert counts["lambda_tasks_by_function"] == {"Plan": 2}
    assert history_phases(events) == {"PlanSync": 1.5, "Map": 2.5, "execution": 4.2}


def _run(*, children: int, invocations: int, entered: int = 4, failures_recorded: int = 0) -> dict:
    return {
        "history": {"billed_transitions": entered},
        "map_runs": [{"executions": {"total": children}}] if children else [],
        "lambda": {
            "ApiFunction": {"invocations": 30, "wall_ms_mean": 100.0, "cpu_ms_mean": 50.0},
            "PlanSyncFunction": {"invocations": 1, "wall_ms_mean": 1000.0, "cpu_ms_mean": 80.0},
            "SyncSubscriptionFunction": {"invocations": invocations, "wall_ms_mean": 200.4, "cpu_ms_mean": 60.0},
        },
        "dynamodb": {"items_written": {"LimioSubscriptionsTable": children}, "write_units": 3 * children, "read_units": 2.0 * children},
        "dynamodb_state_machine": {"writes": {"SyncJobsTable": {"PutItem": failures_recorded}}},
    }


def test_a_distributed_map_bills_each_child_start_and_each_child_state():
    steps = report.transitions(_run(children=100, invocations=103, failures_recorded=2))

    assert steps == {"parent": 4, "child_executions": 100, "child_states": 105, "total": 209}


def test_an_inline_map_is_counted_from_the_history_alone():
    assert report.transitions(_run(children=0, invocations=100, entered=204))["total"] == 204


def test_cost_shows_the_arithmetic_per_thousand_subscriptions():
    result = {"size": 100, "first": _run(children=100, invocations=100)}

    cost = report.cost_per_thousand(result, "first", {"PlanSyncFunction": 512, "SyncSubscriptionFunction": 512})

    transitions = cost["items"]["state transitions"]
    assert transitions["quantity"] == 2040  # (4 + 100 + 100) × 10
    assert transitions["cost"] == pytest.approx(2040 * 0.025 / 1000)
    assert cost["items"]["Lambda requests"]["quantity"] == (101 + 2) * 10  # the API's polls are not the sync's
    # CPU time per invocation: 1 × 0.080 s + 100 × 0.060 s at 0.5 GB, × 10
    assert cost["items"]["Lambda GB-s (arm64)"]["quantity"] == pytest.approx((0.08 + 100 * 0.06) * 0.5 * 10, abs=0.01)
    # with the local wall times (1 × 1.000 s + 100 × 0.201 s, rounded up to the ms) as an upper bound
    wall_extra = ((1.0 + 100 * 0.201) - (0.08 + 100 * 0.06)) * 0.5 * 10 * report.LAMBDA_ARM_PER_GB_SECOND
    assert cost["total_with_local_wall_durations"] == pytest.approx(cost["total"] + wall_extra)
    assert cost["total"] == pytest.approx(sum(item["cost"] for item in cost["items"].values()))
    assert cost["per_subscription"]["transitions"] == 2.04


def _result(size: int, *, wall: float, naive: float, calls: int, limio_second: int = 0) -> dict:
    run = {
        "wall_seconds": wall,
        "zuora_total": calls,
        "zuora_calls": {},
        "dynamodb": {"items_written": {"LimioSubscriptionsTable": size}},
        "history": {"billed_transitions": 4},
        "map_runs": [],
        "lambda": {},
        "memory": {"max_rss_after_mib": 300.0, "max_rss_delta_mib": 10.0},
        "status": "SUCCEEDED",
        "counts": {},
    }
    second = {**run, "dynamodb": {"items_written": {"LimioSubscriptionsTable": limio_second} if limio_second else {}}}
    return {
        "size": size,
        "accounts": account_sizes(size),
        "latency_ms": 150,
        "concurrency_limit": 40,
        "first": run,
        "second": second,
        "naive": {"seconds": naive, "extrapolated": size > 100},
    }


def test_size_summary_compares_with_the_ideal_and_the_naive_loop():
    summary = report.size_summary(_result(100, wall=1.0, naive=33.0, calls=7))

    assert summary["ideal_seconds"] == 0.75
    assert summary["ratio"] == 1.33
    assert summary["speedup"] == 33.0
    assert (summary["zuora_calls"], summary["zuora_minimum"], summary["calls_factor"]) == (7, 7, 1.0)


def test_summary_table_has_a_row_per_size_and_marks_extrapolated_naive_times():
    summaries = [report.size_summary(_result(n, wall=1.0 + n / 100, naive=0.4 + 0.33 * n, calls=5)) for n in (1, 1000)]

    text = report.summary_table(summaries)
    lines = text.splitlines()

    assert lines[0].startswith("| subs | accounts | wall (s) | ideal (s) |")
    assert len(lines) == 2 + 2
    assert lines[3].startswith("| 1,000 | 10 |")
    assert "330.4*" in lines[3] and "*" not in lines[2].split("|")[6]


def test_markdown_table_right_aligns_numeric_columns_and_escapes_pipes():
    text = report.table(["name", "n"], [["a|b", "1,234"], ["c", "5.5×"]])

    assert text.splitlines()[1] == "|---|---:|"
    assert "a\\|b" in text


@pytest.mark.parametrize("value, shown", [(0, "$0"), (0.5, "$0.5000"), (0.000123, "$0.000123")])
def test_money_keeps_small_amounts_readable(value, shown):
    assert report.money(value) == shown


IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       300 |        300 |   _io
import time:      1000 |       1000 | site
import time:      2000 |       2000 |     pydantic.fields
import time:      3000 |       5000 |   pydantic
import time:       500 |        500 |     requests.compat
import time:      1500 |       2000 |   requests
import time:       100 |       7100 | app
"""


def test_importtime_total_is_the_cumulative_time_of_app():
    lines = parse_importtime(IMPORTTIME)

    assert app_total_ms(lines) == 7.1
    assert heaviest_packages(lines, top=2) == [("pydantic", 5.0), ("requests", 2.0)]
    assert import_chain(lines, "requests.compat") == ["app", "requests", "requests.compat"]


def test_an_import_the_template_gives_no_way_to_use_is_flagged():
    loaded = {"app", "requests", "aws_lambda_powertools.event_handler.api_gateway"}

    flags = unusable_imports(loaded, policies={"DynamoDBCrudPolicy"}, event_types={"Api"})

    assert flags == ["requests (needs the Zuora credentials secret: only the Zuora client uses requests)"]
    assert unusable_imports(loaded, policies={"AWSSecretsManagerGetSecretValuePolicy"}, event_types={"Api"}) == []


def test_zuoras_pure_models_are_usable_anywhere_but_its_client_needs_the_secret():
    parsing = {"app", "limio_sync.zuora", "limio_sync.zuora.subscription", "limio_sync.zuora.models"}

    assert unusable_imports(parsing, policies={"DynamoDBCrudPolicy"}, event_types={"Api"}) == []
    assert unusable_imports(parsing | {"limio_sync.zuora.client"}, policies={"DynamoDBCrudPolicy"}, event_types={"Api"}) == [
        "limio_sync.zuora.client (needs the Zuora credentials secret)"
    ]
