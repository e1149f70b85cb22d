"""Configuration: environment variables set by template.yaml, validated once per process."""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache

from pydantic import BaseModel, Field

from limio_sync.retries import RetryPolicy


class Settings(BaseModel):
    jobs_table_name: str = Field(min_length=1)
    subscriptions_table_name: str = Field(min_length=1)
    customers_table_name: str = Field(min_length=1)
    work_bucket_name: str = Field(min_length=1)
    state_machine_arn: str | None = None
    zuora_base_url: str = Field(min_length=1)
    zuora_api_version: str = "2025-08-12"
    zuora_secret_arn: str | None = None
    zuora_page_size: int = Field(default=40, ge=1, le=40)
    map_max_concurrency: int = Field(default=10, ge=1, le=40)
    inline_map_threshold: int = Field(default=0, ge=0, description="Customers of at most this many subscriptions run the inline Map")
    inline_map_max_concurrency: int = Field(default=20, ge=1, le=40)
    zuora_connect_timeout_seconds: float = Field(default=3.05, gt=0)
    zuora_read_timeout_seconds: float = Field(default=20.0, gt=0)
    zuora_max_attempts: int = Field(default=4, ge=1, le=10)
    # Zuora's gateway allows a request 120 s; a preview is retried at most once (zuora/client.py).
    zuora_preview_read_timeout_seconds: float = Field(default=120.0, gt=0, le=120)
    # Multi-entity tenants only: the entity every call acts in, sent as Zuora-Entity-Ids (template ZuoraEntityId).
    zuora_entity_id: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{32}$")
    # Retry-After carries whole seconds (RFC 9110 §10.2.3): 1 s finds an ended job ~0.6 s late on average, 2 s ~1.1 s.
    poll_after_seconds: int = Field(default=1, ge=1)
    catalog_mapping_path: str = Field(default="/limio-subscription-sync/catalog", pattern=r"^(/[A-Za-z0-9_.-]+)+$")
    evergreen_horizon_days: int = Field(default=365, ge=1, le=3660)
    dead_letter_queue_url: str | None = None
    retry_interval_minutes: float = Field(default=5, gt=0)
    retry_max_attempts: int = Field(default=5, ge=0)
    unstarted_job_grace_seconds: float = Field(default=120, ge=0)
    zuora_permits_table_name: str | None = None
    zuora_max_concurrent_requests: int = Field(default=20, ge=1, le=40)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(interval=dt.timedelta(minutes=self.retry_interval_minutes), max_attempts=self.retry_max_attempts)

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {name: env[name.upper()] for name in cls.model_fields if env.get(name.upper())}
        return cls.model_validate(values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environ()
