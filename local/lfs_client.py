"""What LFS does after the Sync button: start the sync, poll until it ends, read the result.

Every call is SigV4-signed with `credentials`, as LFS's Named Credential signs for API Gateway (AWS_IAM).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from local.auth import ApiCredentials, SigV4RequestAuth

TERMINAL = {"SUCCEEDED", "PARTIALLY_FAILED", "FAILED"}


class SyncTimedOut(Exception):
    pass


def start_sync(
    api_url: str,
    customer: dict,
    *,
    credentials: ApiCredentials | None = None,
    requested_by: str = "demo-agent",
    session: requests.Session | None = None,
    wait: int = 0,
) -> dict:
    """POST /syncs. With `wait`, as `Prefer: wait=<wait>`: a job that ends within it comes back whole (200, no
    statusUrl; `location` still names it)."""
    http = session or requests
    headers = {"Prefer": f"wait={wait}"} if wait else {}
    timeout = 10 + wait
    reply = http.post(f"{api_url}/syncs", json={**customer, "requestedBy": requested_by}, auth=_signed(credentials), headers=headers, timeout=timeout)
    reply.raise_for_status()
    return {**reply.json(), "location": reply.headers.get("Location"), "retryAfter": reply.headers.get("Retry-After")}


def poll_until_done(
    status_url: str,
    *,
    interval: float = 0.25,
    timeout: float = 120.0,
    on_progress: Callable[[dict, float], None] | None = None,
    credentials: ApiCredentials | None = None,
    session: requests.Session | None = None,
    wait: int = 0,
) -> dict:
    """GET the job until it has ended, every `interval` seconds, or, with `wait`, as long-polls (`Prefer: wait`)
    one after another."""
    http = session or requests
    started = time.monotonic()
    headers = {"Prefer": f"wait={wait}"} if wait else {}
    while True:
        reply = http.get(status_url, auth=_signed(credentials), headers=headers, timeout=10 + wait)
        reply.raise_for_status()
        job = reply.json()
        elapsed = time.monotonic() - started
        if on_progress:
            on_progress(job, elapsed)
        if job["status"] in TERMINAL:
            return job
        if elapsed > timeout:
            raise SyncTimedOut(f"sync {job['syncId']} still {job['status']} after {timeout:.0f}s")
        if not wait:
            time.sleep(interval)


def _signed(credentials: ApiCredentials | None) -> SigV4RequestAuth | None:
    """None leaves a session's own auth in place (and sends unsigned requests without one)."""
    return SigV4RequestAuth(credentials) if credentials else None
