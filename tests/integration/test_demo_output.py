"""`make demo` is for a person: its output is human lines only, the functions' structured logs go to the file
whose path it prints, and each of those lines names the function that wrote it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_demo(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "local.demo", *arguments], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_the_demo_prints_human_lines_and_leaves_the_structured_logs_in_the_file_it_names(tmp_path):
    log_file = tmp_path / "demo.log"

    demo = run_demo("--log-file", str(log_file))

    assert demo.returncode == 0, demo.stderr[-2000:]
    assert f"structured logs (JSON, as in CloudWatch) go to {log_file}" in demo.stdout
    assert not [line for line in demo.stdout.splitlines() + demo.stderr.splitlines() if line.lstrip().startswith("{")]
    assert "LFS notification: 11 of 12 subscriptions synced. 1 failed: A-S00002012." in demo.stdout
    logged = [json.loads(line) for line in log_file.read_text().splitlines() if line.startswith("{")]
    writers = {(line["message"], line["function_name"].rsplit("-", 1)[-1]) for line in logged}
    assert {
        ("Sync started", "ApiFunction"),
        ("Planned customer sync", "PlanSyncFunction"),
        ("Task synced", "SyncSubscriptionFunction"),
        ("Sync results recorded", "GatherResultsFunction"),
    } <= writers
    assert {message for message, function in writers if function != "SyncSubscriptionFunction"}.isdisjoint({"Task synced"})


def test_verbose_also_shows_the_structured_logs(tmp_path):
    demo = run_demo("--log-file", str(tmp_path / "demo.log"), "--verbose")

    assert demo.returncode == 0, demo.stderr[-2000:]
    assert any(json.loads(line).get("message") == "Task synced" for line in demo.stderr.splitlines() if line.startswith("{"))
    assert not [line for line in demo.stdout.splitlines() if line.startswith("{")]
