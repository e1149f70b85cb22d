"""Secrets never reach a log: a full sync of the demo tenant at DEBUG everywhere (our logger, botocore, urllib3,
moto, the local runtime) writes neither the Zuora client secret nor any access token Zuora issued, and the API's
answers carry neither."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, quote_plus

import pytest

from limio_sync.observability import logger as service_logger
from local.demo import demo_customer
from local.lfs_client import poll_until_done, start_sync
from local.service import DEMO_TENANT, LocalSyncService

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


class _EveryRecord(logging.Handler):
    """Keeps each record as it would be written, with its arguments, extra keys and traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.lines.append(repr({key: value for key, value in vars(record).items() if key not in ("exc_info", "msg", "args")}))


@contextmanager
def debug_logging_everywhere() -> Iterator[_EveryRecord]:
    """Root at DEBUG (what Lambda's log level DEBUG does), botocore and urllib3 at DEBUG, POWERTOOLS_LOG_LEVEL=DEBUG;
    the capture also hangs on every logger that does not propagate (Powertools' does not)."""
    capture = _EveryRecord()
    root = logging.getLogger()
    chatty = [root, logging.getLogger("botocore"), logging.getLogger("boto3"), logging.getLogger("urllib3"), service_logger]
    levels = [(item, item.level) for item in chatty]
    for item in chatty:
        item.setLevel(logging.DEBUG)
    root.addHandler(capture)
    service_logger.addHandler(capture)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        service_logger.removeHandler(capture)
        for item, level in levels:
            item.setLevel(level)


def forms_of(secret: str) -> set[str]:
    """The secret as it could appear: raw, form- or URL-encoded, or inside a JSON string."""
    return {secret, quote_plus(secret), quote(secret, safe=""), json.dumps(secret)[1:-1]}


def test_a_debug_sync_of_the_demo_tenant_logs_no_zuora_secret_and_no_access_token(capfd):
    debug_service = LocalSyncService(DEMO_TENANT, parameter_overrides={"LogLevel": "DEBUG"}, environment_overrides={"POWERTOOLS_LOG_LEVEL": "DEBUG"})
    with debug_logging_everywhere() as records, debug_service as service:
        started = start_sync(service.api_url, demo_customer(DEMO_TENANT), credentials=service.credentials)
        job = poll_until_done(started["statusUrl"], timeout=90, credentials=service.credentials)
        client_secret = service.emulator.client_secret
        tokens = service.emulator.issued_tokens
        api_secret = service.credentials.secret_access_key
    printed = capfd.readouterr()
    logged = "\n".join([*records.lines, printed.out, printed.err])

    assert job["status"] != "RUNNING" and job["total"] > 0, "the sync must have run for this test to mean anything"
    assert tokens, "the sync must have authenticated with Zuora"
    assert "Subscription synced" in logged and "botocore" in logged and "urllib3" in logged, "DEBUG logging was not captured"
    answered = json.dumps([started, job])
    for name, secret in [("the Zuora client secret", client_secret), ("the local API secret key", api_secret)] + [
        (f"Zuora access token #{n}", token) for n, token in enumerate(tokens, 1)
    ]:
        assert not [form for form in forms_of(secret) if form in logged], f"{name} appears in the logs"
        assert not [form for form in forms_of(secret) if form in answered], f"{name} appears in an API response"
