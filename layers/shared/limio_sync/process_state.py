"""Everything the package keeps per process between invocations (what a warm Lambda reuses), in one place.

A new Lambda container starts without any of it. The local runtime runs every function in one long-lived
process, so it calls `reset()` whenever it starts a new stack, as a new deployment would.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from limio_sync import config, zuora_access
from limio_sync.stores import aws, catalog
from limio_sync.zuora.token_cache import reset_token_cache


def reset() -> None:
    config.get_settings.cache_clear()  # environment read once per process
    aws.reset()  # boto3 clients
    catalog.clear_cache()  # the catalog mapping (five-minute cache)
    zuora_access.clear_cache()  # the Zuora credentials (five-minute cache)
    reset_token_cache()  # Zuora OAuth tokens
    parameters.clear_caches()
