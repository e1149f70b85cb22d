"""`make bench`: measure the customer sync at several sizes on the local stack, compare it with the ideal and
with the naive per-subscription loop, time every function's imports, estimate the AWS cost, and write
docs/benchmarks.md and docs/benchmarks.json.

    python -m bench.run [--sizes 1,12,100,1000] [--latency-ms 150] [--limit 40] [--map-concurrency 10]
                        [--out docs/benchmarks.md --json docs/benchmarks.json]

Each size runs in a fresh process (bench/measure.py), so its peak memory is its own; its log (the
handlers' JSON lines) goes to a temporary directory named at the end. `--render-only` rewrites both files
from the measurements already in --json (after a change to the report), measuring nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.importtime import measure_imports
from local.sam_template import load_template

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
DEFAULT_SIZES = (1, 12, 100, 1000)


def _sizes(text: str) -> list[int]:
    sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes are positive integers, e.g. 1,12,100,1000")
    return sizes


def source_version() -> str:
    """The commit measured, and whether the working tree differed from it."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607 - git from PATH, like make
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return described.stdout.strip()


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or cpu
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


def measure_size(size: int, args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    log = log_dir / f"size-{size}.log"
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        command = [
            sys.executable, "-m", "bench.measure",
            "--size", str(size),
            "--latency-ms", str(args.latency_ms),
            "--limit", str(args.limit),
            "--map-concurrency", str(args.map_concurrency),
            "--naive-sample", str(args.naive_sample),
            "--out", str(out),
        ]  # fmt: skip
        with log.open("w") as sink:
            completed = subprocess.run(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, check=False)  # noqa: S603 - our own module
        if completed.returncode != 0 or not out.exists():
            tail = "\n".join(log.read_text().splitlines()[-30:])
            raise SystemExit(f"size {size} failed (exit {completed.returncode}); end of {log}:\n{tail}")
        return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Benchmark the customer sync on the local stack (see docs/benchmarks.md).")
    parser.add_argument("--sizes", type=_sizes, default=list(DEFAULT_SIZES), help="subscriptions per customer, comma-separated")
    parser.add_argument("--latency-ms", type=float, default=150, help="Zuora emulator latency per call")
    parser.add_argument("--limit", type=int, default=40, help="Zuora emulator concurrency limit (429 above it)")
    parser.add_argument(
        "--map-concurrency", type=int, default=None, help="the MapMaxConcurrency parameter (default: the template's default, as deployed)"
    )
    parser.add_argument("--naive-sample", type=int, default=100, help="larger customers' naive time is extrapolated from this many")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "benchmarks.json")
    parser.add_argument("--render-only", action="store_true", help="measure nothing: rewrite both files from the measurements in --json")
    args = parser.parse_args(argv)
    if args.map_concurrency is None:
        args.map_concurrency = int(load_template(TEMPLATE).parameters["MapMaxConcurrency"])
    if args.render_only:
        rerender(args.json, args.out)
        return

    began = time.monotonic()
    source = source_version()
    log_dir = Path(tempfile.mkdtemp(prefix="limio-bench-"))
    results = []
    for size in args.sizes:
        print(f"bench: {size} subscriptions …", file=sys.stderr, flush=True)
        result = measure_size(size, args, log_dir)
        entry = report.size_entry(result, memory_mb=_memory_mb(), settings=_settings(args, "", ""))
        print(
            f"bench: {size} subscriptions: AWS model {entry['aws_model_s']['typ']} s typical (unchanged "
            f"{entry['aws_model_unchanged_s']['typ']} s; ideal {entry['ideal_s']} s; local stack {entry['local_stack_wall_s']['created']} s), "
            f"Zuora calls {entry['zuora_calls']}/{entry['zuora_calls_minimum']}",
            file=sys.stderr,
            flush=True,
        )
        results.append(result)
    print("bench: import times …", file=sys.stderr, flush=True)
    imports = measure_imports()

    document = report.build(
        results,
        imports,
        machine=machine(),
        memory_mb=_memory_mb(),
        settings=_settings(args, source, source_version()),
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        bench_seconds=round(time.monotonic() - began, 1),
    )
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    args.out.write_text(_linked_to(report.render(document), args.json))
    print(report.summary_table(document["summaries"]))
    print(f"bench: wrote {args.out} and {args.json} in {document['bench_seconds']:.0f} s; size logs in {log_dir}", file=sys.stderr)


def _memory_mb() -> dict[str, int]:
    return {logical_id: spec.memory_size for logical_id, spec in load_template(TEMPLATE).functions.items()}


def _settings(args: argparse.Namespace, source: str, source_at_end: str) -> dict[str, Any]:
    """The run's settings, with the template's defaults the AWS-time model prices (as deployed)."""
    parameters = load_template(TEMPLATE).parameters
    return {
        "sizes": args.sizes,
        "latency_ms": args.latency_ms,
        "concurrency_limit": args.limit,
        "map_max_concurrency": args.map_concurrency,
        "inline_map_threshold": int(parameters["InlineMapThreshold"]),
        "inline_map_max_concurrency": int(parameters["InlineMapMaxConcurrency"]),
        "map_child_execution_type": parameters["MapChildExecutionType"],
        "naive_sample": args.naive_sample,
        "poll_seconds": 0.05,
        "template_map_max_concurrency_default": parameters.get("MapMaxConcurrency"),
        "source": source,
        "source_at_end": source_at_end,
    }


def rerender(json_path: Path, markdown_path: Path) -> None:
    """Rebuild the report from stored measurements (after a change to the report, the template's memory or
    prices), without running anything."""
    stored = json.loads(json_path.read_text())
    document = report.build(
        stored["results"],
        stored["imports"],
        machine=stored["machine"],
        memory_mb=_memory_mb(),
        settings=stored["settings"],
        date=stored["date"],
        bench_seconds=stored["bench_seconds"],
    )
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    markdown_path.write_text(_linked_to(report.render(document), json_path))


def _linked_to(markdown: str, json_path: Path) -> str:
    """The report links the JSON file it was written with (make bench-10k writes benchmarks-10k.json)."""
    return markdown.replace("[benchmarks.json](benchmarks.json)", f"[{json_path.name}]({json_path.name})")


if __name__ == "__main__":
    main()
