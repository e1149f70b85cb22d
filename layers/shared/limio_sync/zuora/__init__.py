"""Zuora adapter: the REST client, its errors and the values it returns."""

from limio_sync.zuora.client import MAX_SUBSCRIPTION_PAGE_SIZE, ZuoraClient
from limio_sync.zuora.errors import (
    ZuoraAuthError,
    ZuoraError,
    ZuoraMalformedResponse,
    ZuoraNotFound,
    ZuoraRateLimited,
    ZuoraRequestRejected,
    ZuoraServerError,
    ZuoraTimeout,
)
from limio_sync.zuora.models import ZuoraAccountRef, ZuoraCredentials
from limio_sync.zuora.token_cache import reset_token_cache

__all__ = [
    "MAX_SUBSCRIPTION_PAGE_SIZE",
    "ZuoraAccountRef",
    "ZuoraAuthError",
    "ZuoraClient",
    "ZuoraCredentials",
    "ZuoraError",
    "ZuoraMalformedResponse",
    "ZuoraNotFound",
    "ZuoraRateLimited",
    "ZuoraRequestRejected",
    "ZuoraServerError",
    "ZuoraTimeout",
    "reset_token_cache",
]
