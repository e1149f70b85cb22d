"""limio-sync's pure parts: the progress bar, waiting with an injected clock, the command line's customer keys."""

from __future__ import annotations

import io

import pytest

from limio_sync_cli.main import CliError, ProgressBar, parser, wait


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def job(status: str, settled: int, total: int) -> dict:
    return {"syncId": f"sync-{'f' * 32}", "status": status, "settled": settled, "total": total}


def test_on_a_terminal_the_bar_is_redrawn_in_place_and_ends_with_a_newline():
    screen = Terminal()
    bar = ProgressBar(screen)

    for polled in (job("RUNNING", 0, 0), job("RUNNING", 2, 4), job("RUNNING", 2, 4), job("SUCCEEDED", 4, 4)):
        bar(polled)

    assert screen.getvalue() == (
        "\rfinding the customer's subscriptions in Zuora..."
        f"\r[{'#' * 15}{'.' * 15}]     2/4 settled  RUNNING"
        f"\r[{'#' * 30}]     4/4 settled  SUCCEEDED\n"
    )


def test_in_a_log_the_bar_is_a_line_per_change():
    log = io.StringIO()
    bar = ProgressBar(log)

    bar(job("RUNNING", 1, 3))
    bar(job("RUNNING", 1, 3))
    bar(job("PARTIALLY_FAILED", 3, 3))

    assert log.getvalue().splitlines() == [f"[{'#' * 10}{'.' * 20}]     1/3 settled  RUNNING", f"[{'#' * 30}]     3/3 settled  PARTIALLY_FAILED"]


class StillRunning:
    def call(self, method: str, path: str) -> dict:
        return job("RUNNING", 1, 3)


def test_waiting_gives_up_after_the_timeout_naming_the_command_that_follows_the_sync():
    now = iter(range(0, 1000, 10))
    slept = []

    with pytest.raises(CliError, match=r"still RUNNING after 30s; follow it with: limio-sync status sync-f+"):
        wait(StillRunning(), f"sync-{'f' * 32}", interval=5, timeout=30, on_poll=lambda j: None, clock=lambda: next(now), sleep=slept.append)
    assert slept and set(slept) == {5}


def test_a_customer_is_named_by_exactly_one_key():
    with pytest.raises(SystemExit):
        parser().parse_args(["start", "--salesforce-account-id", "0015g00000Ab3XQAAZ", "--zuora-account-number", "A00001001"])
    with pytest.raises(SystemExit):
        parser().parse_args(["history"])
    assert parser().parse_args(["history", "--zuora-account-number", "A00001001", "--stack", "s"]).stack == "s"
