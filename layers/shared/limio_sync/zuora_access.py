"""Builds the Zuora client from configuration: base URL and version from the template, credentials from
Secrets Manager (fetched lazily, cached for a few minutes, never logged)."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.utilities import parameters

from limio_sync.config import Settings
from limio_sync.errors import ErrorCode, PermanentSyncError
from limio_sync.stores import aws
from limio_sync.stores.zuora_permits import ZuoraRequestPermits
from limio_sync.zuora.client import RemainingTime, ZuoraClient
from limio_sync.zuora.models import ZuoraCredentials

SECRET_CACHE_SECONDS = 300


@cache
def _secrets() -> parameters.SecretsProvider:
    # One provider per process, on the shared client (see stores/catalog.py).
    return parameters.SecretsProvider(boto3_client=aws.client("secretsmanager"))


def clear_cache() -> None:
    _secrets.cache_clear()
    _permits.cache_clear()


def credentials_from_secret(secret_arn: str) -> ZuoraCredentials:
    secret = _secrets().get(secret_arn, transform="json", max_age=SECRET_CACHE_SECONDS)
    if not isinstance(secret, dict) or not secret.get("clientId") or not secret.get("clientSecret"):
        raise PermanentSyncError("The Zuora credentials secret must be JSON with clientId and clientSecret", code=ErrorCode.ZUORA_AUTH_FAILED)
    return ZuoraCredentials(client_id=secret["clientId"], client_secret=secret["clientSecret"])


def zuora_client(settings: Settings, sync_id: str, remaining_time: RemainingTime | None = None) -> ZuoraClient:
    """The tenant's client for one sync. `remaining_time` is the calling Lambda's, in seconds (for example
    `lambda: context.get_remaining_time_in_millis() / 1000`): every Zuora timeout and retry then fits in it."""
    if not settings.zuora_secret_arn:
        raise PermanentSyncError("ZUORA_SECRET_ARN is not configured", code=ErrorCode.ZUORA_AUTH_FAILED)
    secret_arn = settings.zuora_secret_arn
    permits = _permits(settings.zuora_permits_table_name, settings.zuora_max_concurrent_requests) if settings.zuora_permits_table_name else None
    return ZuoraClient(
        settings.zuora_base_url,
        lambda: credentials_from_secret(secret_arn),
        api_version=settings.zuora_api_version,
        track_id=sync_id,
        connect_timeout=settings.zuora_connect_timeout_seconds,
        read_timeout=settings.zuora_read_timeout_seconds,
        max_attempts=settings.zuora_max_attempts,
        preview_read_timeout=settings.zuora_preview_read_timeout_seconds,
        remaining_time=remaining_time,
        entity_id=settings.zuora_entity_id,
        limiter=permits,
    )


@cache
def _permits(table_name: str, limit: int) -> ZuoraRequestPermits:
    # One per process: every client of the process shares the table resource.
    return ZuoraRequestPermits(table_name, limit)
