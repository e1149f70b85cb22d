"""From measured runs to the report: the ideal and minimum per size, ratios, targets, state transitions,
the cost estimate, and docs/benchmarks.md as text. Pure functions over dicts (see bench/measure.py for the
shape of one size's measurements), so the report is testable without running anything."""

from __future__ import annotations

import math
from typing import Any

from bench import aws_model
from bench.ideal import ideal_sync

# us-east-1 list prices, with their sources, in bench/aws_figures.json ("prices"). Check them against the live
# pricing pages before quoting them.
_PRICES = {name: entry["usd"] for name, entry in aws_model.load_figures()["prices"].items()}
STANDARD_PER_TRANSITION = _PRICES["standard_per_transition"]
LAMBDA_PER_REQUEST = _PRICES["lambda_per_request"]
LAMBDA_ARM_PER_GB_SECOND = _PRICES["lambda_arm_per_gb_second"]
DYNAMODB_PER_WRU = _PRICES["dynamodb_per_wru"]
DYNAMODB_PER_RRU = _PRICES["dynamodb_per_rru"]
EXPRESS_PER_REQUEST = _PRICES["express_per_request"]
EXPRESS_PER_GB_SECOND = _PRICES["express_per_gb_second"]
APIGW_PER_REQUEST = _PRICES["apigw_per_request"]
EXPRESS_MEMORY_GB = 64 / 1024  # Express bills memory in 64-MB chunks; a child holds one task's state

# The performance issue's targets: modelled typical time click -> seen, first and unchanged sync alike, for a
# customer of up to this many subscriptions.
TARGET_SECONDS = ((20, 2.5), (100, 3.5), (1000, 12.0), (10_000, 60.0))
TARGET_CALLS_FACTOR = 1.1

LIMIO_TABLE = "LimioSubscriptionsTable"
API_FUNCTION = "ApiFunction"
SUBSCRIPTION_FUNCTION = "SyncSubscriptionFunction"
STATE_MACHINE = "StateMachine"  # DynamoDB/S3 calls made by the state machine's own SDK integrations


def ideal_for(result: dict[str, Any]):
    return ideal_sync(result["accounts"], latency_seconds=result["latency_ms"] / 1000, concurrency_limit=result["concurrency_limit"])


def transitions(run: dict[str, Any]) -> dict[str, int]:
    """Billed state transitions of one sync.

    The parent's are in its history (states entered, plus Lambda retries). A distributed Map's children have
    their own histories, which moto does not keep, so they are counted from what ran: one transition per
    child execution started (AWS bills that), plus each child's states — one per SyncSubscription invocation
    (a retry is another invocation, billed again) and one per task failure the Catch recorded with its DynamoDB
    putItem integration. With an inline Map the history already holds every iteration's states.
    """
    history = run["history"]
    children = sum(m["executions"]["total"] for m in run.get("map_runs", []))
    child_states = 0
    if children:
        failures_recorded = run.get("dynamodb_state_machine", {}).get("writes", {}).get("SyncJobsTable", {}).get("PutItem", 0)
        child_states = run["lambda"].get(SUBSCRIPTION_FUNCTION, {}).get("invocations", 0) + failures_recorded
    parent = history["billed_transitions"]
    return {
        "parent": parent,
        "child_executions": children,
        "child_states": child_states,
        "total": parent + children + child_states,
    }


def lambda_invocations(run: dict[str, Any]) -> dict[str, int]:
    """Invocations per function made by the state machine (the API's are LFS's requests, counted apart)."""
    return {name: stats["invocations"] for name, stats in run["lambda"].items() if name != API_FUNCTION}


def lambda_gb_seconds(run: dict[str, Any], memory_mb: dict[str, int], *, duration: str = "cpu") -> float:
    """GB-seconds of the state machine's invocations at the template's memory, each rounded up to the
    millisecond as Lambda bills. `duration` "cpu": the thread CPU time measured per invocation (the handler's
    work, including moto's server side, without waiting for the shared interpreter: the estimate);
    "wall": the local wall time (inflated by that waiting: an upper bound)."""
    total = 0.0
    for name, stats in run["lambda"].items():
        if name == API_FUNCTION:
            continue
        mean_ms = stats[f"{duration}_ms_mean"]
        total += stats["invocations"] * math.ceil(mean_ms) / 1000 * memory_mb.get(name, 512) / 1024
    return total


def cost_per_thousand(result: dict[str, Any], run_name: str, memory_mb: dict[str, int], child_type: str = "STANDARD") -> dict[str, Any]:
    """Estimated AWS cost of syncing 1,000 subscriptions at this customer size, with the arithmetic.

    Counted: the sync's transitions (a distributed Map's EXPRESS children, `child_type` as deployed, by request
    and duration instead), the state machine's Lambda invocations and GB-s, its DynamoDB write and read units,
    and LFS's two API calls (POST, and one GET that finds the job finished) through API Gateway. LFS's
    intermediate polls, S3 requests, Secrets Manager, SSM and X-Ray are not counted.
    """
    run = result[run_name]
    size = result["size"]
    scale = 1000 / size
    steps = transitions(run)
    invocations = sum(lambda_invocations(run).values()) + 2  # + POST /syncs and the last GET
    gb_seconds = lambda_gb_seconds(run, memory_mb)
    gb_seconds_wall = lambda_gb_seconds(run, memory_mb, duration="wall")
    wru = run["dynamodb"]["write_units"]
    rru = run["dynamodb"]["read_units"]
    billed_transitions = steps["total"]
    lines = {}
    if child_type == "EXPRESS" and steps["child_executions"]:
        # Express children bill a request each and their duration (the task's, rounded up to 100 ms), not transitions.
        billed_transitions -= steps["child_executions"] + steps["child_states"]
        task_ms = run["lambda"].get(SUBSCRIPTION_FUNCTION, {}).get("cpu_ms_mean", 0.0)
        child_gb_seconds = steps["child_executions"] * math.ceil(max(task_ms, 1) / 100) / 10 * EXPRESS_MEMORY_GB
        lines["Express child requests"] = (steps["child_executions"] * scale, EXPRESS_PER_REQUEST)
        lines["Express child GB-s"] = (child_gb_seconds * scale, EXPRESS_PER_GB_SECOND)
    lines = {
        "state transitions": (billed_transitions * scale, STANDARD_PER_TRANSITION),
        **lines,
        "Lambda requests": (invocations * scale, LAMBDA_PER_REQUEST),
        "Lambda GB-s (arm64)": (gb_seconds * scale, LAMBDA_ARM_PER_GB_SECOND),
        "DynamoDB write units": (wru * scale, DYNAMODB_PER_WRU),
        "DynamoDB read units": (rru * scale, DYNAMODB_PER_RRU),
        "API Gateway requests": (2 * scale, APIGW_PER_REQUEST),
    }
    items = {name: {"quantity": round(quantity, 2), "unit_price": price, "cost": quantity * price} for name, (quantity, price) in lines.items()}
    total = sum(item["cost"] for item in items.values())
    wall_extra = (gb_seconds_wall - gb_seconds) * scale * LAMBDA_ARM_PER_GB_SECOND
    return {
        "size": size,
        "run": run_name,
        "per_subscription": {
            "transitions": round(steps["total"] / size, 3),
            "lambda_invocations": round(invocations / size, 3),
            "gb_seconds": round(gb_seconds / size, 5),
            "write_units": round(wru / size, 3),
            "read_units": round(rru / size, 3),
        },
        "items": items,
        "total": total,
        "total_with_local_wall_durations": total + wall_extra,
        "step_functions_share": items["state transitions"]["cost"] / total if total else 0.0,
    }


def size_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The numbers of one size that the report shows."""
    ideal = ideal_for(result)
    first, second = result["first"], result["second"]
    wall = first["wall_seconds"]
    naive = result["naive"]["seconds"]
    calls = first["zuora_total"]
    return {
        "size": result["size"],
        "accounts": len(result["accounts"]),
        "wall_seconds": wall,
        "second_wall_seconds": second["wall_seconds"],
        "ideal_seconds": round(ideal.seconds, 3),
        "ideal_steps": ideal.steps,
        "ratio": round(wall / ideal.seconds, 2),
        "naive_seconds": naive,
        "naive_extrapolated": result["naive"]["extrapolated"],
        "speedup": round(naive / wall, 2),
        "zuora_calls": calls,
        "zuora_minimum": ideal.total_calls,
        "zuora_calls_by_route": first["zuora_calls"],
        "zuora_minimum_by_route": ideal.calls,
        "calls_factor": round(calls / ideal.total_calls, 3),
        "writes_first": first["dynamodb"]["items_written"],
        "writes_second": second["dynamodb"]["items_written"],
        "limio_writes_second": second["dynamodb"]["items_written"].get(LIMIO_TABLE, 0),
        "transitions": transitions(first),
        "transitions_second": transitions(second),
        "lambda_invocations": lambda_invocations(first),
        "peak_rss_mib": first["memory"]["max_rss_after_mib"],
        "peak_rss_delta_mib": first["memory"]["max_rss_delta_mib"],
        "status": first["status"],
        "second_status": second["status"],
        "counts": first["counts"],
        "second_counts": second["counts"],
    }


def model_config(settings: dict[str, Any], memory_mb: dict[str, int]) -> dict[str, Any]:
    """What the AWS-time model needs of the deployment: the template's defaults the bench ran with."""
    return {
        "memory_mb": memory_mb,
        "inline_concurrency": int(settings.get("inline_map_max_concurrency", 20)),
        "map_concurrency": int(settings["map_max_concurrency"]),
        "child_type": settings.get("map_child_execution_type", "EXPRESS"),
        "zuora_ms": float(settings["latency_ms"]),
    }


def _our_cpu_ms(run: dict[str, Any], function: str | None = None) -> float:
    return sum(t["our_cpu_ms"] for t in run.get("traces", []) if (t["function"] == function if function else t["function"] != API_FUNCTION))


def _max_state_payload(run: dict[str, Any]) -> int:
    """The largest state input or output: the parent's (its history) or a Map iteration's or child's (a task's
    event or result)."""
    task = run["lambda"].get(SUBSCRIPTION_FUNCTION, {}).get("largest_payload_bytes", 0)
    return max(run["history"].get("largest_payload_bytes", 0), task)


def size_entry(result: dict[str, Any], *, memory_mb: dict[str, int], settings: dict[str, Any]) -> dict[str, Any]:
    """One size's line of docs/benchmarks.json: the issue's keys, then what explains them."""
    figures = aws_model.load_figures()["figures"]
    config = model_config(settings, memory_mb)
    size = result["size"]
    ideal = ideal_for(result)
    first, second = result["first"], result["second"]
    created = aws_model.model(first, figures=figures, config=config)
    unchanged = aws_model.model(second, figures=figures, config=config)
    tasks = [t for t in first.get("traces", []) if t["function"] == SUBSCRIPTION_FUNCTION]
    functions = sorted({t["function"] for run in (first, second) for t in run.get("traces", [])} - {API_FUNCTION})
    return {
        "subscriptions": size,
        "ideal_s": round(ideal.seconds, 3),
        "aws_model_s": created["seconds"],
        "aws_model_unchanged_s": unchanged["seconds"],
        "cpu_ms_per_subscription": {
            "created": round(_our_cpu_ms(first, SUBSCRIPTION_FUNCTION) / size, 2),
            "unchanged": round(_our_cpu_ms(second, SUBSCRIPTION_FUNCTION) / size, 2),
        },
        "zuora_calls": first["zuora_total"],
        "zuora_calls_minimum": ideal.total_calls,
        "map_runs": len(first.get("map_runs", [])),
        "limio_writes_unchanged_sync": second["dynamodb"]["items_written"].get(LIMIO_TABLE, 0),
        "max_state_payload_bytes": max(_max_state_payload(first), _max_state_payload(second)),
        "cost_per_1000_usd": round(cost_per_thousand(result, "first", memory_mb, config["child_type"])["total"], 6),
        # What explains them:
        "cost_per_1000_unchanged_usd": round(cost_per_thousand(result, "second", memory_mb, config["child_type"])["total"], 6),
        "aws_model_ratio_to_ideal": round(created["seconds"]["typ"] / ideal.seconds, 2),
        "aws_model_terms_ms": {"created": created["typical"]["terms_ms"], "unchanged": unchanged["typical"]["terms_ms"]},
        "map": created["typical"]["map"],
        "map_waves": created["typical"]["waves"],
        "lambda_tasks": len(tasks),
        "subscriptions_per_task_max": max((t["subscriptions"] for t in tasks), default=0),
        "zuora_steps_on_path": created["typical"]["zuora_steps_on_path"],
        "ideal_zuora_steps": ideal.steps,
        "sequential_aws_calls": aws_model.sequential_aws_calls(first),
        "transitions": transitions(first)["total"],
        "cpu_ms_per_subscription_by_function": {
            "created": {fn: round(_our_cpu_ms(first, fn) / size, 3) for fn in functions},
            "unchanged": {fn: round(_our_cpu_ms(second, fn) / size, 3) for fn in functions},
        },
        "moto_cpu_ms_removed": round(sum(t["moto_cpu_ms"] for t in first.get("traces", [])), 1),
        "gc_cpu_ms_removed": round(sum(t.get("gc_cpu_ms", 0) for t in first.get("traces", [])), 1),
        "final_get_response_bytes": _final_get_bytes(first),
        "local_stack_wall_s": {"created": first["wall_seconds"], "unchanged": second["wall_seconds"]},
    }


def _final_get_bytes(run: dict[str, Any]) -> int:
    final = [t for t in run.get("traces", []) if t["function"] == API_FUNCTION and t["kind"].startswith("GET")]
    return sum(size for t in final for _, size in t["main"]) if final else 0


_TERM_NAMES = {
    "post": "POST /syncs (LFS leg, API Gateway, the API's job transaction and StartExecution)",
    "execution_start": "the execution's start",
    "plan": "PlanSync",
    "transitions": "the top-level transitions",
    "map_fixed": "the Map's fixed cost",
    "map_tasks": "the Map's tasks",
    "gather": "GatherResults",
    "seen": "the long-poll's notice and the final read",
}


def what_limits(entry: dict[str, Any], run: str, latency_ms: float) -> str:
    """The largest terms of the typical model, in words, with the part of PlanSync that is Zuora's latency."""
    terms = entry["aws_model_terms_ms"][run]
    top = sorted(terms.items(), key=lambda kv: kv[1], reverse=True)[:3]
    words = []
    for name, ms in top:
        text = f"{_TERM_NAMES[name]} {ms / 1000:.2f} s"
        if name == "plan":
            zuora = entry["zuora_steps_on_path"] * latency_ms / 1000
            steps = entry["zuora_steps_on_path"]
            text += f" (of which {steps} Zuora steps × {latency_ms:g} ms = {zuora:.2f} s; the ideal needs {entry['ideal_zuora_steps']})"
        if name == "map_fixed" and entry["map"] == "distributed":
            text += " (a Map Run's fixed cost, S1–S3: no distributed Map avoids it)"
        if name == "map_tasks":
            text += f" ({entry['lambda_tasks']} tasks of up to {entry['subscriptions_per_task_max']} in {entry['map_waves']} wave(s))"
        words.append(text)
    return "; ".join(words)


def targets(entries: list[dict[str, Any]], *, threshold: int, latency_ms: float = 150) -> list[dict[str, Any]]:
    """The issue's targets, each with the modelled or counted value, whether it was met and what limits it (never
    asserted anywhere: the bench reports)."""
    checks = []
    for up_to, limit in TARGET_SECONDS:
        lower = max((bound for bound, _ in TARGET_SECONDS if bound < up_to), default=0)
        sized = [e for e in entries if lower < e["subscriptions"] <= up_to]
        for entry in sized:
            created, unchanged = entry["aws_model_s"]["typ"], entry["aws_model_unchanged_s"]["typ"]
            checks.append(
                {
                    "target": f"{'≤ 20' if up_to == 20 else f'{up_to:,}'} subscriptions seen ≤ {limit:g} s after the click (modelled typical), "
                    f"{entry['subscriptions']:,} measured",
                    "measured": f"{created:.2f} s first sync, {unchanged:.2f} s unchanged (low–high {entry['aws_model_s']['low']:.1f}–"
                    f"{entry['aws_model_s']['high']:.1f} s)",
                    "met": created <= limit and unchanged <= limit,
                    "limited_by": what_limits(entry, "created", latency_ms),
                }
            )
    below = [e for e in entries if e["subscriptions"] <= threshold]
    checks.append(
        {
            "target": f"0 Map Runs below the threshold (InlineMapThreshold = {threshold:,})",
            "measured": ", ".join(f"{e['map_runs']} at {e['subscriptions']:,}" for e in entries),
            "met": all(e["map_runs"] == 0 for e in below),
            "limited_by": "the state's 256 KiB: planning sends a customer whose tasks would not fit 128 KiB of it to the distributed Map",
        }
    )
    worst = max(entries, key=lambda e: e["zuora_calls"] / e["zuora_calls_minimum"])
    checks.append(
        {
            "target": f"Zuora calls ≤ {TARGET_CALLS_FACTOR}× the minimum",
            "measured": f"{worst['zuora_calls'] / worst['zuora_calls_minimum']:.2f}× at worst ({subs(worst['subscriptions'])})",
            "met": all(e["zuora_calls"] <= TARGET_CALLS_FACTOR * e["zuora_calls_minimum"] for e in entries),
            "limited_by": "the data dependencies (see the ideal): one call per account phase, nothing per subscription",
        }
    )
    checks.append(
        {
            "target": "unchanged subscriptions write nothing (Limio subscription table, a sync in which nothing changed)",
            "measured": ", ".join(f"{e['limio_writes_unchanged_sync']} at {e['subscriptions']:,}" for e in entries),
            "met": all(e["limio_writes_unchanged_sync"] == 0 for e in entries),
            "limited_by": "the job still records one summary item per task for its unchanged subscriptions (GatherResults needs every outcome)",
        }
    )
    return checks


# ---------------------------------------------------------------- text


def subs(count: int, noun: str = "subscription") -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def seconds(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def money(value: float) -> str:
    if value == 0:
        return "$0"
    if value >= 0.01:
        return f"${value:.4f}"
    return f"${value:.6f}"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured Markdown table; numbers right-aligned."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|")

    aligns = ["---:" if rows and all(_numeric(row[i]) for row in rows) else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _numeric(value: Any) -> bool:
    text = str(value).replace(",", "").replace("×", "").replace("~", "").replace("*", "").strip()
    try:
        float(text)
    except ValueError:
        return False
    return True


def writes_text(written: dict[str, int]) -> str:
    if not written:
        return "0"
    return ", ".join(f"{table_name.removesuffix('Table')} {count}" for table_name, count in sorted(written.items()))


def summary_table(summaries: list[dict[str, Any]]) -> str:
    rows = []
    for s in summaries:
        naive = f"{seconds(s['naive_seconds'])}{'*' if s['naive_extrapolated'] else ''}"
        rows.append(
            [
                f"{s['size']:,}",
                s["accounts"],
                seconds(s["wall_seconds"]),
                seconds(s["ideal_seconds"]),
                f"{s['ratio']:.1f}×",
                naive,
                f"{s['speedup']:.1f}×",
                f"{s['zuora_calls']} / {s['zuora_minimum']}",
                writes_text(s["writes_first"]),
                f"{s['limio_writes_second']} (all: {sum(s['writes_second'].values())})",
                f"{s['transitions']['total']:,}",
                f"{s['peak_rss_mib']:.0f} (+{s['peak_rss_delta_mib']:.0f})",
            ]
        )
    headers = [
        "subs",
        "accounts",
        "wall (s)",
        "ideal (s)",
        "wall / ideal",
        "naive (s)",
        "speedup",
        "Zuora calls / min",
        "DynamoDB items written, 1st sync",
        "Limio writes, 2nd sync",
        "transitions",
        "peak RSS MiB (+Δ)",
    ]
    return table(headers, rows)


def cost_table(cost: dict[str, Any]) -> str:
    rows = [[name, f"{item['quantity']:,.2f}", f"${item['unit_price']:.10g}", money(item["cost"])] for name, item in cost["items"].items()]
    rows.append(["**total per 1,000 subscriptions**", "", "", f"**{money(cost['total'])}**"])
    return table(["item (per 1,000 subscriptions)", "quantity", "unit price", "cost"], rows)


# ---------------------------------------------------------------- the document


def build(
    results: list[dict[str, Any]],
    imports: list[dict[str, Any]],
    *,
    machine: dict[str, Any],
    memory_mb: dict[str, int],
    settings: dict[str, Any],
    date: str,
    bench_seconds: float,
) -> dict[str, Any]:
    """Everything docs/benchmarks.json holds: settings, machine, per-size summaries, targets, costs, import
    times, and every size's raw measurements."""
    summaries = [size_summary(result) for result in results]
    entries = [size_entry(result, memory_mb=memory_mb, settings=settings) for result in results]
    child_type = settings.get("map_child_execution_type", "EXPRESS")
    return {
        "date": date,
        "machine": machine,
        "settings": settings,
        "bench_seconds": bench_seconds,
        "sizes": entries,
        "targets": targets(entries, threshold=int(settings.get("inline_map_threshold", 0)), latency_ms=settings["latency_ms"]),
        "aws_model": {"formula": aws_model.__doc__, "figures": aws_model.load_figures()},
        "ideal_formula": IDEAL_FORMULA,
        "transition_definition": TRANSITION_DEFINITION,
        "summaries": summaries,
        "costs": [
            {
                "size": result["size"],
                "first": cost_per_thousand(result, "first", memory_mb, child_type),
                "second": cost_per_thousand(result, "second", memory_mb, child_type),
            }
            for result in results
        ],
        "memory_mb": memory_mb,
        "imports": imports,
        "results": results,
    }


IDEAL_FORMULA = (
    "ideal = latency × (lookup pages + max(longest account chain, ⌈account-phase calls / concurrency limit⌉)); "
    "account chain = ⌈n/40⌉ list pages + 1 billing preview (the account detail overlaps the first page); "
    "minimum calls = 1 token + lookup pages + Σ accounts (1 detail + ⌈n/40⌉ pages + 1 preview); the token costs no latency "
    "in the emulator (like Zuora's unmetered /oauth/token), our own compute costs nothing"
)
TRANSITION_DEFINITION = (
    "billed transitions = states entered in the parent execution (…StateEntered events of its history) + Lambda retries "
    "(LambdaFunctionScheduled events beyond one per TaskStateEntered) + for the distributed Map, per child execution: 1 for "
    "starting it, 1 per SyncSubscription invocation (retries included) and 1 per RecordTaskFailure"
)


def _phase(run: dict[str, Any], name: str) -> float:
    return run.get("phases", {}).get(name, 0.0)


def _cpu_seconds(run: dict[str, Any], functions: set[str] | None = None, *, exclude: set[str] = frozenset()) -> float:
    return (
        sum(stats["cpu_ms_total"] for name, stats in run["lambda"].items() if (functions is None or name in functions) and name not in exclude) / 1000
    )


def time_table(results: list[dict[str, Any]]) -> str:
    """Where the first sync's wall time went, per size."""
    rows: list[list[Any]] = []

    def row(label: str, values: list[Any]) -> None:
        rows.append([label, *values])

    firsts = [r["first"] for r in results]
    row("click → terminal status seen (s)", [seconds(f["wall_seconds"]) for f in firsts])
    row("click → execution end (s)", [seconds(f["execution_end_seconds"]) for f in firsts])
    row("  PlanSync (s)", [seconds(_phase(f, "PlanSync")) for f in firsts])
    row("  Zuora calls (token included)", [f["zuora_total"] for f in firsts])
    row("  Zuora requests in flight at most", [f["zuora_peak_in_flight"] for f in firsts])
    row("  Zuora latency if made one at a time (s)", [seconds(_sequential_zuora_seconds(r)) for r in results])
    row("  ideal: Zuora latency on the critical path (s)", [seconds(ideal_for(r).seconds) for r in results])
    row("  Map, all subscriptions (s)", [seconds(_map_phase(f)) for f in firsts])
    row("  Map tasks (iterations or child executions) × subscriptions each", [_tasks(r) for r in results])
    row("  Map ÷ subscriptions (ms)", [f"{1000 * _map_phase(f) / r['size']:.0f}" for r, f in zip(results, firsts, strict=True)])
    row("  GatherResults (s)", [seconds(_phase(f, "GatherResults")) for f in firsts])
    row("execution end → LFS sees it (s)", [seconds(f["wall_seconds"] - f["execution_end_seconds"]) for f in firsts])
    row("SyncSubscription invocation, mean wall (ms)", [_mean(f, SUBSCRIPTION_FUNCTION, "wall") for f in firsts])
    row("SyncSubscription invocation, mean CPU (ms)", [_mean(f, SUBSCRIPTION_FUNCTION, "cpu") for f in firsts])
    row("CPU of the sync's functions (s)", [seconds(_cpu_seconds(f, exclude={API_FUNCTION})) for f in firsts])
    row("GET /syncs/{id}: calls", [f["api_requests"] - 1 for f in firsts])
    row("GET /syncs/{id}: mean / max answer (ms)", [f"{f['api_latency_ms_mean']:.0f} / {f['api_latency_ms_max']:.0f}" for f in firsts])
    row("CPU of the API answering them (s)", [seconds(_cpu_seconds(f, {API_FUNCTION})) for f in firsts])
    row(
        "RRU read per GET (header while running; job + receipts at the end)",
        [f"{f['dynamodb_api']['read_units'] / max(1, f['api_requests'] - 1):.1f}" for f in firsts],
    )
    return table(["first sync", *[f"{r['size']:,} subs" for r in results]], rows)


def _task_count(result: dict[str, Any]) -> int:
    """The first sync's Map tasks: its sync task invocations (an inline Map's iterations or a distributed Map's children)."""
    return result["first"]["lambda"].get(SUBSCRIPTION_FUNCTION, {}).get("invocations", 0)


def _map_phase(run: dict[str, Any]) -> float:
    """Seconds in whichever Map ran (the inline one within the threshold, the distributed one past it)."""
    return max(_phase(run, "SyncEachSubscription"), _phase(run, "SyncEachSubscriptionInline"))


def _tasks(result: dict[str, Any]) -> str:
    tasks = _task_count(result)
    return f"{tasks} × {math.ceil(result['size'] / tasks)}" if tasks else "–"


def _function_memory(run: dict[str, Any]) -> str:
    peaks = [run["lambda"].get(name, {}).get("peak_alloc_mib") for name in ("PlanSyncFunction", "GatherResultsFunction", SUBSCRIPTION_FUNCTION)]
    return " / ".join("–" if peak is None else f"{peak:g}" for peak in peaks)


def _payloads(run: dict[str, Any]) -> str:
    parent = run["history"].get("largest_payload_bytes")
    task = run["lambda"].get(SUBSCRIPTION_FUNCTION, {}).get("largest_payload_bytes")
    return f"{parent:,} / {task:,}" if parent is not None and task is not None else "–"


def _mean(run: dict[str, Any], function: str, kind: str) -> str:
    stats = run["lambda"].get(function)
    return f"{stats[f'{kind}_ms_mean']:.0f}" if stats else "–"


def detail_table(results: list[dict[str, Any]]) -> str:
    """Calls, writes, transitions, invocations and memory, per size."""
    rows: list[list[Any]] = []
    summaries = [size_summary(r) for r in results]
    routes = sorted({route for s in summaries for route in s["zuora_minimum_by_route"]})
    for route in routes:
        rows.append(
            [
                f"Zuora {route}: made / minimum",
                *[f"{_made(s['zuora_calls_by_route'], route)} / {s['zuora_minimum_by_route'][route]}" for s in summaries],
            ]
        )
    tables = sorted({t for r in results for run in (r["first"], r["second"]) for t in run["dynamodb"]["items_written"]})
    for table_name in tables:
        rows.append(
            [
                f"{table_name} items written: 1st / 2nd sync",
                *[
                    f"{r['first']['dynamodb']['items_written'].get(table_name, 0)} / {r['second']['dynamodb']['items_written'].get(table_name, 0)}"
                    for r in results
                ],
            ]
        )
    rows.append(
        ["DynamoDB WRU: 1st / 2nd sync", *[f"{r['first']['dynamodb']['write_units']} / {r['second']['dynamodb']['write_units']}" for r in results]]
    )
    rows.append(
        [
            "DynamoDB RRU (without LFS's polls): 1st / 2nd",
            *[f"{r['first']['dynamodb']['read_units']:.0f} / {r['second']['dynamodb']['read_units']:.0f}" for r in results],
        ]
    )
    rows.append(["S3 requests: 1st sync", *[_s3(r["first"]) for r in results]])
    for label, key in (("parent", "parent"), ("child executions", "child_executions"), ("child states", "child_states"), ("billed total", "total")):
        rows.append([f"transitions: {label}", *[s["transitions"][key] for s in summaries]])
    rows.append(["transitions per subscription", *[f"{s['transitions']['total'] / s['size']:.2f}" for s in summaries]])
    rows.append(["largest state input or output, bytes: parent / a Map task (limit 262,144)", *[_payloads(r["first"]) for r in results]])
    functions = sorted({name for s in summaries for name in s["lambda_invocations"]})
    for function in functions:
        rows.append([f"{function} invocations", *[s["lambda_invocations"].get(function, 0) for s in summaries]])
    rows.append(["outcomes, 1st sync", *[_counts(s["counts"]) for s in summaries]])
    rows.append(["outcomes, 2nd sync", *[_counts(s["second_counts"]) for s in summaries]])
    rows.append(["2nd sync, click → terminal (s), local stack", *[seconds(s["second_wall_seconds"]) for s in summaries]])
    rows.append(["peak RSS after 1st sync (MiB)", *[f"{s['peak_rss_mib']:.0f}" for s in summaries]])
    rows.append(["peak RSS growth during 1st sync (MiB)", *[f"{s['peak_rss_delta_mib']:.0f}" for s in summaries]])
    rows.append(
        [
            "peak Python allocations of one invocation, MiB (2nd sync, upper bound): PlanSync / GatherResults / a sync task",
            *[_function_memory(r.get("memory_traced", r["second"])) for r in results],
        ]
    )
    return table(["", *[f"{s['size']:,} subs" for s in summaries]], rows)


def _made(calls: dict[str, int], route: str) -> int:
    return sum(count for name, count in calls.items() if name.split(" ", 1)[-1] == route)


def _s3(run: dict[str, Any]) -> str:
    requests = run["dynamodb"].get("s3_requests", {})
    return ", ".join(f"{op} {n}" for op, n in sorted(requests.items())) or "0"


def _counts(counts: dict[str, int] | None) -> str:
    return ", ".join(f"{outcome} {n}" for outcome, n in (counts or {}).items() if n) or "–"


def import_table(imports: list[dict[str, Any]]) -> str:
    rows = [
        [
            item["function"],
            f"{item['median_ms']:.0f}",
            f"{item['median_ms_untraced']:.0f}" if "median_ms_untraced" in item else "–",
            " / ".join(f"{ms:.0f}" for ms in item["runs_ms"]),
            item["modules"],
            ", ".join(f"{package} {ms:.0f}" for package, ms in item["heaviest"]),
            "; ".join(item["unusable"]) or "none",
        ]
        for item in imports
    ]
    headers = ["function", "median (ms)", "median, tracing off (ms)", "runs (ms)", "modules", "top 5 packages (self ms)", "imported but unusable"]
    return table(headers, rows)


def cost_summary_table(costs: list[dict[str, Any]]) -> str:
    rows = []
    for cost in costs:
        first, second = cost["first"], cost["second"]
        rows.append(
            [
                f"{cost['size']:,}",
                f"{first['per_subscription']['transitions']:.2f}",
                f"{first['per_subscription']['lambda_invocations']:.2f}",
                f"{first['per_subscription']['write_units']:.2f} / {second['per_subscription']['write_units']:.2f}",
                money(first["total"]),
                money(second["total"]),
                f"{100 * first['step_functions_share']:.0f}%",
            ]
        )
    return table(
        [
            "customer size",
            "transitions / sub",
            "Lambda invocations / sub",
            "WRU / sub (1st / 2nd)",
            "$ per 1,000 subs, all created",
            "$ per 1,000 subs, unchanged",
            "Step Functions share",
        ],
        rows,
    )


def render(document: dict[str, Any]) -> str:
    """docs/benchmarks.md."""
    results = document["results"]
    summaries = document["summaries"]
    settings = document["settings"]
    machine = document["machine"]
    by_size = {r["size"]: r for r in results}
    largest = results[-1]
    big, big_first = largest["size"], largest["first"]
    latency = settings["latency_ms"]
    cost_largest = next(c for c in document["costs"] if c["size"] == big)
    parts = [
        "# Benchmarks: one customer's sync, click to result",
        "",
        f"Generated by `python -m bench.run --sizes {','.join(str(n) for n in settings['sizes'])}` on {document['date']} ({_source(settings)}) "
        f"in {document['bench_seconds'] / 60:.1f} minutes — "
        f"{machine['nproc']} × {machine['cpu']}, {machine['memory_gib']} GiB, Python {machine['python']} ({machine['platform']}).",
        f"Zuora emulator: {latency:g} ms per call, concurrency limit {settings['concurrency_limit']} (429 above it); "
        f"`MapMaxConcurrency` = {settings['map_max_concurrency']} (template default {settings['template_map_max_concurrency_default']}); "
        f"LFS polls `GET /syncs/{{id}}` every {1000 * settings['poll_seconds']:.0f} ms. The numbers are in "
        "[benchmarks.json](benchmarks.json), with every size's raw measurements.",
        "",
        _load_line(results, machine.get("nproc") or 1),
        "",
        "**Read every time here as the local stack's, not AWS's**: the whole application runs in one Python process "
        "on moto (see [Local versus AWS](#local-versus-aws)). Zuora calls, DynamoDB writes, state transitions and "
        "Lambda invocations are counted exactly and carry over to AWS; wall times do not.",
        "",
        "## Reproduce",
        "",
        "```bash",
        "make bench                                   # every size, writes docs/benchmarks.md and docs/benchmarks.json",
        ".venv/bin/python -m bench.run --sizes 1,12,100 --latency-ms 150 --limit 40 --out /tmp/b.md --json /tmp/b.json",
        ".venv/bin/python -m bench.run --render-only                # the report again from the stored measurements",
        "```",
        "",
        "Each size runs in a fresh process (`bench/measure.py`): the local stack starts with a synthetic tenant "
        "(`bench/tenants.py`: one account up to 100 subscriptions, then accounts of up to 100; every subscription has "
        "a base plan and, by turns, an add-on, a 10 % discount and a one-time fee, all mapped by the catalog the bench "
        "publishes, so the billing preview bills months ahead, prorates and discounts). A one-subscription warm-up "
        "customer loads every handler first (cold starts are measured apart, below) and the Zuora token cache is "
        "emptied. Then: the customer's first sync (every subscription CREATED), from `POST /syncs` until a `GET` "
        "(every 50 ms) shows a terminal status; a second sync of the same customer (every subscription UNCHANGED), the "
        "same way; both traced for the AWS-time model. A third sync traces the memory of the functions that hold the "
        "whole customer (tracemalloc slows what it traces, so nothing is timed from it); last, the naive loop on the "
        "same emulator.",
        "",
        *model_section(document),
        "## Local stack: results (counts carry over to AWS, times do not)",
        "",
        summary_table(summaries),
        "",
        "*wall*: click → terminal status seen by LFS. *ideal*: see [The ideal](#the-ideal). *naive*: the "
        "per-subscription loop, [below](#the-naive-route); * = extrapolated from its first "
        f"{settings['naive_sample']} subscriptions (the loop is sequential, so its time per subscription is "
        "constant). *Zuora calls / min*: calls made (emulator statistics, token included) / the minimum the data "
        "dependencies need. *DynamoDB items written*: PutItem and UpdateItem calls plus BatchWriteItem items, by table. "
        "*Limio writes, 2nd sync*: items written to the Limio subscription table by a sync in which nothing changed "
        "(all tables in brackets). *transitions*: billed state transitions, [defined below](#state-transitions). "
        "*peak RSS*: `resource.getrusage(RUSAGE_SELF).ru_maxrss` of the measuring process after the first sync, and its "
        "growth during that sync (the delta of `ru_maxrss`; not tracemalloc, which would slow the run): the whole "
        "local stack, moto's copies of every record, receipt and snapshot included. What one function needs is in "
        "[Counts per size](#counts-per-size): the peak of Python allocations (tracemalloc) during one invocation of "
        "the functions that hold the whole customer (PlanSync: every subscription's Zuora data; GatherResults: every "
        "receipt) and of a sync task (at most 100 subscriptions; not traced past 1,000 subscriptions, where tracing "
        "every task would take half an hour here), traced in the second sync, which is not timed; an "
        "upper bound, as whatever runs at the same time in the process (LFS's polls, the other tasks of the wave, "
        "the Zuora emulator's answers) is counted too, and so is moto's in-process copy of everything the function "
        "writes: PlanSync's figure grows with the snapshots it leaves in S3, which on AWS leave the function. "
        "Planning's own working set is a few accounts at a time: `tests/unit/test_planning.py` checks that its peak "
        "allocation for 40 accounts of 1 MB stays below twice the peak for 4.",
        "",
        "## The ideal",
        "",
        "The fastest any implementation could be at this latency and concurrency limit: the Zuora round trips "
        "the data dependencies force, one after another, times the latency, and nothing for our own compute.",
        "",
        "* the token first (the emulator, like Zuora's `/oauth/token`, answers it without the latency: 0 ms);",
        "* the accounts lookup by crmId (Object Query, 99 accounts a page);",
        "* per account, its subscription list pages one after another, because each page's `nextPage` comes from "
        "the previous one (⌈n/40⌉ pages of 40), then its billing preview, whose target date is the latest term end "
        "among the subscriptions listed; the account detail needs only the account number, so it overlaps the "
        "first page;",
        "* accounts in parallel, at most `limit` requests at a time.",
        "",
        "```",
        "ideal = latency × (⌈accounts / 99⌉ + max(max over accounts of (⌈n/40⌉ + 1), ⌈Σ accounts (⌈n/40⌉ + 2) / limit⌉))",
        "minimum calls = 1 token + ⌈accounts / 99⌉ lookups + Σ accounts (1 detail + ⌈n/40⌉ pages + 1 preview)",
        "```",
        "",
        table(
            ["subs", "accounts", "steps", "ideal (s)", "minimum calls"],
            [[f"{s['size']:,}", s["accounts"], s["ideal_steps"], seconds(s["ideal_seconds"]), s["zuora_minimum"]] for s in summaries],
        ),
        "",
        "Counting the token and the account detail as steps of their own would add two steps "
        f"({2 * latency / 1000:.2f} s); the emulator answers the token without latency and nothing stops the detail "
        "from overlapping the first page, so the ideal above leaves them out: it is the lower bound.",
        "",
        "## Where the time goes",
        "",
        time_table(results),
        "",
        *_time_notes(results, settings),
        "",
        "## What in the system limits performance",
        "",
        *_system_limits(results, settings),
        "",
        "## Counts per size",
        "",
        detail_table(results),
        "",
        "### State transitions",
        "",
        "Step Functions bills a Standard workflow per state transition, retries included; a distributed Map also "
        "bills one transition per child execution it starts "
        "([AWS: Transitions](https://docs.aws.amazon.com/step-functions/latest/dg/concepts-transitions.html)). "
        f"Here: {TRANSITION_DEFINITION}. The parent's come from `get_execution_history` (its "
        "`…StateEntered` / `…StateExited` events match one for one); moto keeps no history for a distributed Map's "
        "children, so theirs are counted from the Map Run's child executions (`describe_map_run`) and the "
        "invocations the bench saw.",
        "",
        "### DynamoDB writes",
        "",
        "Counted by wrapping botocore's `BaseClient._make_request` in the measuring process, which every boto3 "
        "client of every handler goes through, so the items are seen as serialized (WRU from DynamoDB's item-size "
        "rules: 1 per started KB; an UpdateItem counts the key and values it sets, a floor). LFS's own polls "
        "(`ApiFunction`) are counted apart. A second sync of the same customer writes nothing to the Limio "
        "subscription table (nor to the Limio customer table): the sync rules compare Zuora's state with the "
        "record and skip identical content. What it still writes is the job: one receipt per subscription and "
        "the job header.",
        "",
        "## The naive route",
        "",
        "`bench/naive.py`: the project's `ZuoraClient` against the same emulator, after the syncs, with the stack "
        "idle. It lists the customer's subscriptions (lookup, then each account's pages), then for each "
        "subscription, one after another, `GET /v1/subscriptions/{number}` and `GET /v1/accounts/{number}` — two "
        "sequential round trips per subscription. It writes nothing, so its time is a floor for that route.",
        "",
        table(
            ["subs", "naive (s)", "measured on", "Zuora calls", "sync (s)", "speedup"],
            [
                [
                    f"{r['size']:,}",
                    seconds(r["naive"]["seconds"]),
                    f"{subs(r['naive']['measured_subscriptions'])}{' (extrapolated)' if r['naive']['extrapolated'] else ''}",
                    r["naive"]["zuora_total"],
                    seconds(s["wall_seconds"]),
                    f"{s['speedup']:.1f}×",
                ]
                for r, s in zip(results, summaries, strict=True)
            ],
        ),
        "",
        f"Its time is {2 * latency:g} ms of Zuora latency per subscription plus little else; the sync makes all its "
        "Zuora calls in PlanSync, a handful of round trips per account, so on the Zuora side alone it is "
        f"{_zuora_speedup(by_size, latency)}. The measured speedup is lower because the local stack's own overhead "
        "(next section) dominates its wall time.",
        "",
        "## Cold start: import time per function",
        "",
        '`python -X importtime -c "import app"` in a fresh interpreter, with the function\'s directory and the '
        "shared layer on `sys.path` and the function's environment from the template; 3 runs, median of the "
        "cumulative time of `import app` (interpreter start-up excluded). Heaviest imports: the top 5 top-level "
        "packages by the summed self time of their modules, in the median run. *Imported but unusable*: a module "
        "loaded at import that the template gives the function no way to use (no permission or event for it).",
        "",
        import_table(document["imports"]),
        "",
        *_import_notes(document["imports"]),
        "",
        "## Cost",
        "",
        "Estimated AWS cost of syncing, per 1,000 subscriptions, from the counts of each size's runs, at the us-east-1 "
        "list prices of `bench/aws_figures.json` (each with its source: Standard workflows $0.025 per 1,000 state "
        "transitions; Express children $1.00 per million requests and $0.00001667 per GB-s in 64-MB chunks and 100 ms "
        "steps; Lambda $0.20 per million requests and $0.0000133334 per GB-s on arm64; DynamoDB on-demand $0.625 per "
        "million write request units and $0.125 per million read request units; API Gateway $3.50 per million "
        "requests; check them against the live pricing pages). Lambda GB-s use the template's MemorySize and the mean "
        "CPU time measured per invocation of each function (moto's share included: an upper bound; the local wall "
        "time, inflated by waiting for the shared interpreter, gives a looser one, below). Counted: the sync's "
        "transitions (a distributed Map's Express children by request and duration instead), the state machine's "
        "invocations, LFS's POST and one final GET; not counted: the long-poll's waiting (billed as the API function's "
        "duration, $0.000013 per second waited at 1,024 MB, plus ten header reads a second, $0.0000013), S3, Secrets "
        "Manager, SSM, X-Ray, CloudWatch.",
        "",
        cost_summary_table(document["costs"]),
        "",
        f"The arithmetic for the {big:,}-subscription customer, first sync (every subscription created):",
        "",
        cost_table(cost_largest["first"]),
        "",
        f"…and its second sync (nothing changed): {money(cost_largest['second']['total'])} per 1,000 subscriptions.",
        "",
        *_cost_notes(cost_largest, big_first),
        "",
        "## MapMaxConcurrency",
        "",
        f"Measured with `MapMaxConcurrency` = {settings['map_max_concurrency']} (the template's default). The sync "
        "tasks read the snapshots planning took, not Zuora; only subscriptions without one (no longer listed "
        "under the customer's accounts, or scheduled retries) are read from Zuora by number (subscription, account, "
        "preview: three sequential calls, in tasks of at most 10), so the Map never has more Zuora requests in "
        "flight than its concurrency, and the template caps the parameter at 40, Zuora's default limit (Zuora asks "
        "clients to stay well below it, reference §5.3–5.4). The parameter also sets how the subscriptions are "
        "spread: a customer of n subscriptions gets min(n, concurrency) tasks of ⌈n / concurrency⌉ (at most 100), "
        f"so {big:,} subscriptions make {math.ceil(big / min(100, math.ceil(big / settings['map_max_concurrency'])))} "
        f"tasks of {min(100, math.ceil(big / settings['map_max_concurrency']))}. On AWS a higher concurrency "
        "shortens the Map (smaller tasks in parallel) for more Lambda invocations and transitions; locally, "
        "where one interpreter runs every task, it lengthens it.",
        "",
        "## Local versus AWS",
        "",
        *_local_vs_aws(results),
        "",
    ]
    return "\n".join(parts)


def _source(settings: dict[str, Any]) -> str:
    start, end = settings.get("source", "unknown"), settings.get("source_at_end")
    if end is None or end == start:
        return f"source `{start}`"
    return f"source `{start}`, which changed to `{end}` during the run"


def _load_line(results: list[dict[str, Any]], cores: int) -> str:
    loads = [value for r in results for run in (r["first"], r["second"]) for value in run.get("load_average_1m", [])]
    if not loads:
        return ""
    busy = max(loads) > cores
    return f"1-minute load average while the syncs ran: {min(loads):.1f} to {max(loads):.1f}" + (
        " — the machine was shared with other work (tests of other changes), so wall times carry that noise." if busy else "."
    )


def _lht(values: dict[str, float]) -> str:
    return f"{values['low']:.2f} / **{values['typ']:.2f}** / {values['high']:.2f}"


def model_section(document: dict[str, Any]) -> list[str]:
    """The AWS-time model's results, the targets, and the figures they were priced with."""
    entries = document["sizes"]
    settings = document["settings"]
    figures = document["aws_model"]["figures"]
    rows = [
        [
            f"{e['subscriptions']:,}",
            e["map"],
            f"{e['lambda_tasks']} × ≤{e['subscriptions_per_task_max']}, {e['map_waves']} wave(s)",
            seconds(e["ideal_s"]),
            _lht(e["aws_model_s"]),
            f"{e['aws_model_ratio_to_ideal']:.1f}×",
            _lht(e["aws_model_unchanged_s"]),
            f"{e['zuora_calls']} / {e['zuora_calls_minimum']}",
            e["map_runs"],
            e["limio_writes_unchanged_sync"],
            f"{e['cpu_ms_per_subscription']['created']:.1f} / {e['cpu_ms_per_subscription']['unchanged']:.1f}",
            f"{e['max_state_payload_bytes']:,}",
            money(e["cost_per_1000_usd"]),
        ]
        for e in entries
    ]
    headers = [
        "subs",
        "Map",
        "tasks",
        "ideal (s)",
        "AWS model, first sync (s) low / typ / high",
        "typ / ideal",
        "AWS model, unchanged (s)",
        "Zuora calls / min",
        "Map Runs",
        "Limio writes, unchanged",
        "our CPU ms / sub, created / unchanged",
        "max state payload (B)",
        "cost / 1,000 subs",
    ]

    def term(entry: dict[str, Any], name: str) -> str:
        terms = entry["aws_model_terms_ms"]
        return f"{terms['created'].get(name, 0):.0f} / {terms['unchanged'].get(name, 0):.0f}"

    term_rows = [[_TERM_NAMES[name], *[term(e, name) for e in entries]] for name in _TERM_NAMES]
    figure_rows = [
        [name, entry["low"], entry["typ"], entry["high"], entry.get("unit", "ms"), entry["source"]] for name, entry in figures["figures"].items()
    ]
    return [
        "## Modelled AWS time: click → result seen",
        "",
        "No AWS account is available here, so the AWS time is **modelled**, not measured: every AWS and Zuora call the "
        "local run made is traced per invocation and thread (`bench/probes.py`), our own CPU is measured with moto's "
        "share removed (the thread CPU inside moto's `BotocoreStubber`, where in-process moto serves each botocore "
        "request, the bench's own bookkeeping, and the garbage collector's passes over the whole local process, "
        "moto's heap included, are subtracted), and the critical path is priced with the published "
        "figures and stated assumptions of [`bench/aws_figures.json`](../bench/aws_figures.json) (table below), low / "
        "typical / high (`bench/aws_model.py`):",
        "",
        "```",
        *[line for line in document["aws_model"]["formula"].splitlines() if line.startswith("    ")],
        "```",
        "",
        f"Deployed as the template's defaults: inline Map up to `InlineMapThreshold` = {settings.get('inline_map_threshold')} "
        f"subscriptions, {settings.get('inline_map_max_concurrency')} tasks at once; past it the distributed Map, "
        f"`MapMaxConcurrency` = {settings['map_max_concurrency']}, {settings.get('map_child_execution_type')} children; "
        "MemorySize per function as in the template; LFS long-polls with `Prefer: wait=20` (a poll every `Retry-After: 1` "
        "s would add ~0.6 s on average). Zuora: the emulator's "
        f"{settings['latency_ms']:g} ms per call, as in the ideal. Warm Lambdas (cold starts: see the import times).",
        "",
        table(headers, rows),
        "",
        "*our CPU ms / sub*: the sync tasks' CPU on the bench machine's core with moto's share removed, per subscription "
        "(the first sync creates every subscription, the second finds them all unchanged); per function in "
        "`cpu_ms_per_subscription_by_function`. *max state payload*: the largest input or output of any state (a "
        "task's event included), against Step Functions' 256 KiB. *cost*: per 1,000 subscriptions at this size, first "
        "sync, [below](#cost).",
        "",
        "Where the typical time goes, first sync / unchanged sync (ms):",
        "",
        table(["term", *[f"{e['subscriptions']:,} subs" for e in entries]], term_rows),
        "",
        "### Targets of the performance issue",
        "",
        table(
            ["target", "measured", "met?", "what limits it"],
            [[t["target"], t["measured"], "yes" if t["met"] else "**no**", t["limited_by"]] for t in document["targets"]],
        ),
        "",
        "### The figures",
        "",
        table(["figure", "low", "typ", "high", "unit", "source (S: published or measured; A: assumption)"], figure_rows),
        "",
        "Prices: " + "; ".join(f"{name} ${entry['usd']:.10g} ({entry['source']})" for name, entry in figures["prices"].items()) + ".",
        "",
        "The assumptions that matter most: A2 (a Standard Lambda task's overhead, paid by PlanSync, every Map wave and "
        "GatherResults), A5 (the inline Map's set-up), A6 (LFS's own request) and the Map Run's fixed cost for the "
        "distributed path (S1–S3). One 15-minute run on AWS (20 clicks per size, X-Ray and the execution histories' "
        "timestamps) would replace them with measurements; the model's structure stays.",
        "",
    ]


def _sequential_zuora_seconds(result: dict[str, Any]) -> float:
    """Zuora latency of a sync whose calls ran one at a time (the token is answered without latency)."""
    first = result["first"]
    return (first["zuora_total"] - first["zuora_calls"].get("POST token", 0)) * result["latency_ms"] / 1000


def _time_notes(results: list[dict[str, Any]], settings: dict[str, Any]) -> list[str]:
    largest = results[-1]
    first = largest["first"]
    size = largest["size"]
    sync_cpu = _cpu_seconds(first, exclude={API_FUNCTION})
    api_cpu = _cpu_seconds(first, {API_FUNCTION})
    sub = first["lambda"].get(SUBSCRIPTION_FUNCTION, {})
    wait_factor = sub.get("wall_ms_mean", 0) / sub["cpu_ms_mean"] if sub.get("cpu_ms_mean") else 0
    return [
        f"* **The Map is the largest part** as customers grow: {seconds(_map_phase(first))} s of "
        f"{seconds(first['wall_seconds'])} s at {size:,} subscriptions ({_tasks(largest).replace(' × ', ' tasks of ')}), "
        f"{1000 * _map_phase(first) / size:.0f} ms per subscription. Each "
        f"SyncSubscription invocation used {sub.get('cpu_ms_mean', 0):.0f} ms of CPU (handler, pydantic, botocore and "
        f"moto's server side together) and took {sub.get('wall_ms_mean', 0):.0f} ms, {wait_factor:.1f}× its CPU: the "
        f"difference is waiting for the one interpreter (the GIL) and moto's DynamoDB lock with the other "
        f"{_task_count(largest) - 1} tasks of the wave (and the full garbage collections of a process that holds moto's "
        "copy of everything). The second sync, whose subscriptions all exist and are unchanged (decided from each "
        "record's content hash, without reading it whole), spent "
        f"{seconds(_map_phase(largest['second']))} s in the Map against the first's "
        f"{seconds(_map_phase(first))} s.",
        f"* **Polling is cheap while the job runs**: {first['api_requests'] - 1} GETs cost the API "
        f"{seconds(api_cpu)} s of CPU (the sync's own functions {seconds(sync_cpu)} s): a poll of a running job reads "
        "the job header alone; only the poll that finds the job ended reads every receipt, which is the "
        f"{first['api_latency_ms_last']:.0f} ms the last GET took, and execution end → seen took "
        f"{seconds(first['wall_seconds'] - first['execution_end_seconds'])} s.",
        _planning_note(largest),
    ]


def _planning_note(result: dict[str, Any]) -> str:
    first = result["first"]
    planning = _phase(first, "PlanSync")
    ideal = ideal_for(result)
    if first["zuora_peak_in_flight"] <= 1:
        return (
            f"* **Planning is sequential**: the emulator never had more than 1 request in flight, so PlanSync's Zuora "
            f"time is the sum of its calls' latency ({seconds(_sequential_zuora_seconds(result))} s at "
            f"{subs(result['size'])}), and it grows with the number of accounts instead of staying at the longest "
            "account's chain."
        )
    return (
        f"* **Planning overlaps its Zuora calls**: up to {first['zuora_peak_in_flight']} requests in flight; PlanSync "
        f"took {seconds(planning)} s at {subs(result['size'])} for an ideal of {seconds(ideal.seconds)} s of Zuora "
        f"latency ({seconds(_sequential_zuora_seconds(result))} s if the calls were made one at a time); the rest is "
        "its snapshot writes and the local stack's overhead."
    )


def _system_limits(results: list[dict[str, Any]], settings: dict[str, Any]) -> list[str]:
    largest = results[-1]
    first = largest["first"]
    size = largest["size"]
    accounts = len(largest["accounts"])
    ideal = ideal_for(largest)
    writes = first["dynamodb"]["items_written"]
    customer_writes = writes.get("LimioCustomersTable", 0)
    tasks = _task_count(largest)
    concurrency = settings["map_max_concurrency"]
    return [
        _planning_limit(largest, accounts, ideal),
        f"2. **The Map runs one wave of tasks**: within `InlineMapThreshold` = {settings.get('inline_map_threshold')} "
        f"subscriptions, the inline Map's {settings.get('inline_map_max_concurrency')} tasks (one subscription each up to "
        f"that many); past it, `MapMaxConcurrency` = {concurrency} child executions of up to 100 subscriptions each, "
        f"more waves of full tasks past {100 * concurrency:,} (`limio_sync/batching.py`; {tasks} tasks at {subs(size)}). "
        "A task's time grows with its subscriptions: its CPU (the rules, pydantic, botocore) per subscription, its "
        "conditional puts overlapping on 8 threads.",
        f"3. **The job LFS polls is one read while the sync runs**; the poll that finds it ended reads every "
        f"receipt (without their changes): {first['api_latency_ms_last']:.0f} ms here at {subs(size)}. For a "
        "customer of tens of thousands of subscriptions, paging the receipts would keep that answer short.",
        f"4. **The Limio customer is updated once per task** that created or changed its subscriptions: "
        f"{customer_writes:,} UpdateItem calls in the first sync of {size:,} subscriptions (none in the second).",
        f"5. **Zuora calls are at the minimum**: {first['zuora_total']} made for a minimum of {ideal.total_calls}; "
        "the sync tasks read planning's snapshots instead of calling Zuora again, and no call was throttled "
        f"({first['zuora_throttled']} × 429).",
    ]


def _planning_limit(result: dict[str, Any], accounts: int, ideal: Any) -> str:
    first = result["first"]
    size = result["size"]
    if first["zuora_peak_in_flight"] <= 1:
        return (
            "1. **PlanSync reads the customer's accounts one after another** (`limio_sync/planning.py`, `plan_sync`). "
            f"Evidence: at most 1 Zuora request in flight; at {subs(size)} in {subs(accounts, 'account')}, "
            f"{first['zuora_total']} calls = {seconds(_sequential_zuora_seconds(result))} s of latency in sequence, "
            f"against an ideal of {seconds(ideal.seconds)} s for the whole sync."
        )
    return (
        f"1. **Planning is near the Zuora floor**: up to {first['zuora_peak_in_flight']} Zuora requests in flight; at "
        f"{subs(size)} in {subs(accounts, 'account')}, PlanSync took {seconds(_phase(first, 'PlanSync'))} s for "
        f"{first['zuora_total']} calls, whose critical path is {ideal.steps} round trips "
        f"({seconds(ideal.seconds)} s). What is left of it is writing one snapshot per task to S3."
    )


def _zuora_speedup(by_size: dict[int, dict[str, Any]], latency_ms: float) -> str:
    result = by_size.get(100) or next(iter(by_size.values()))
    planning = _phase(result["first"], "PlanSync")
    naive = result["naive"]["seconds"]
    return f"{naive / planning:.0f}× faster at {subs(result['size'])} ({seconds(naive)} s against PlanSync's {seconds(planning)} s)"


def _xray_saving(imports: list[dict[str, Any]]) -> str:
    savings = [item["median_ms"] - item["median_ms_untraced"] for item in imports if "median_ms_untraced" in item]
    return f"{min(savings):.0f} to {max(savings):.0f} ms less per cold start (medians)"


def _import_notes(imports: list[dict[str, Any]]) -> list[str]:
    flagged = [item for item in imports if item["unusable"]]
    slowest = max(imports, key=lambda item: item["median_ms"])
    spread = [ms for item in imports for ms in item["runs_ms"]]
    lines = [
        f"The slowest is {slowest['function']} ({slowest['median_ms']:.0f} ms). On Lambda this is paid once per "
        "cold start, on top of the runtime's own start; a warm invocation pays none of it. With the template's "
        "default `FunctionTracing=Active` every function loads the X-Ray SDK (Powertools' Tracer); with "
        "`PassThrough`, `limio_sync.observability` never imports it (*tracing off*)"
        + (f": {_xray_saving(imports)}" if any("median_ms_untraced" in item for item in imports) else "")
        + f". Single runs ranged from {min(spread):.0f} to {max(spread):.0f} ms on this machine, so compare medians, not runs."
    ]
    if flagged:
        lines.append("")
        lines.append("Flagged, with the import chain that loads each (from `import app`):")
        lines.append("")
        for item in flagged:
            for module, chain in item.get("unusable_via", {}).items():
                lines.append(f"* {item['function']}: `{module}` via `{' → '.join(chain)}`")
        lines.append("")
        lines.append("The function pays for these at every cold start without being able to use them.")
    else:
        lines.append("")
        lines.append("No function imports a module the template gives it no way to use.")
    return lines


def _cost_notes(cost: dict[str, Any], first: dict[str, Any]) -> list[str]:
    created = cost["first"]
    per_sub = created["per_subscription"]
    return [
        f"Step Functions is {100 * created['step_functions_share']:.0f}% of it: {per_sub['transitions']:.2f} "
        "transitions per subscription (each task's child execution start and task state, shared by its "
        "subscriptions, plus the parent's few states shared by all). Lambda GB-s use the CPU time measured per "
        "invocation; with the local wall times instead (inflated by waiting for the shared interpreter) the total "
        f"would be {money(created['total_with_local_wall_durations'])}, an upper bound. DynamoDB: "
        f"{per_sub['write_units']:.1f} WRU per created subscription (the Limio record, its receipt, its share of the "
        f"customer update), {cost['second']['per_subscription']['write_units']:.2f} per unchanged one (its share of its "
        "task's summary and of the job's own items)."
    ]


def _local_vs_aws(results: list[dict[str, Any]]) -> list[str]:
    startup = ", ".join(f"{r['startup_seconds']:.0f} s" for r in results)
    concurrency = results[-1]["map_max_concurrency"]
    return [
        "* **One interpreter for everything.** moto's Step Functions interpreter, moto's DynamoDB and S3, every "
        "Lambda handler, the API front and the polling client share one Python process: CPU-bound work runs one "
        "thread at a time (the GIL) and moto's DynamoDB takes one request at a time. On AWS, each Lambda "
        "invocation has its own CPU, so the tasks of a wave would overlap, and LFS's polls would not slow the sync.",
        "* **moto's interpreter is slow per state**: every state, every Lambda invoke and every SDK call is a "
        "botocore serialization plus moto dispatch (moto also builds a new boto3 client for every Lambda task); a "
        "child execution of the distributed Map is a Python thread. That is why, locally, fewer and larger tasks "
        "are faster, while on AWS the spread over the Map's concurrency is what shortens the Map.",
        "* **No cold starts**: the warm-up sync loads every handler before the timed sync, and the process "
        "reuses clients, tokens and the catalog cache across invocations, like warm Lambdas. A cold Lambda adds "
        f"its import time (table above) plus the runtime's start; with {concurrency} new Lambdas starting at once "
        f"for the first wave of the Map, that is paid {concurrency} times in parallel.",
        "* **No network**: DynamoDB, S3 and Lambda calls cost no round trip locally (they cost CPU instead); on "
        "AWS each is a few milliseconds (the model above prices each one, a task's conditional puts overlapping).",
        "* **Express children run as Standard locally**: moto's interpreter runs only STANDARD child executions of a "
        "distributed Map, so the local stack sets `MapChildExecutionType=STANDARD`; the model prices the deployed "
        "EXPRESS children (their Map Run's fixed cost and child starts).",
        f"* **Start-up of the local stack** (moto, tables, state machine, warm-up sync) took {startup} per size, and is not in any number above.",
    ]
