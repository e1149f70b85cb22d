"""What LFS does after the Sync button: start the sync, poll until it ends, read the result."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

TERMINAL = {"SUCCEEDED", "PARTIALLY_FAILED", "FAILED"}


class SyncTimedOut(Exception):
    pass


def start_sync(api_url: str, customer: dict, *, requested_by: str = "demo-agent", session: requests.Session | None = None) -> dict:
    http = session or requests
    reply = http.post(f"{api_url}/syncs", json={**customer, "requestedBy": requested_by}, timeout=10)
    reply.raise_for_status()
    return {**reply.json(), "location": reply.headers.get("Location"), "retryAfter": reply.headers.get("Retry-After")}


def poll_until_done(
    status_url: str,
    *,
    interval: float = 0.25,
    timeout: float = 120.0,
    on_progress: Callable[[dict, float], None] | None = None,
    session: requests.Session | None = None,
) -> dict:
    http = session or requests
    started = time.monotonic()
    while True:
        reply = http.get(status_url, timeout=10)
        reply.raise_for_status()
        job = reply.json()
        elapsed = time.monotonic() - started
        if on_progress:
            on_progress(job, elapsed)
        if job["status"] in TERMINAL:
            return job
        if elapsed > timeout:
            raise SyncTimedOut(f"sync {job['syncId']} still {job['status']} after {timeout:.0f}s")
        time.sleep(interval)
