"""Signed calls to the local API, as LFS makes them, and waiting for a condition without a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from local.auth import SigV4RequestAuth


def post(service, body: dict, **headers) -> requests.Response:
    return requests.post(f"{service.api_url}/syncs", json=body, headers=headers, auth=SigV4RequestAuth(service.credentials), timeout=10)


def get_job(service, sync_id: str) -> dict:
    reply = requests.get(f"{service.api_url}/syncs/{sync_id}", auth=SigV4RequestAuth(service.credentials), timeout=10)
    reply.raise_for_status()
    return reply.json()


def wait_for(condition: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")
