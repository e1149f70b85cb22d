"""The catalog mapping, one SSM parameter per Zuora product rate plan under a configured path:
`<path><productRatePlanId>` = `{"offerPath": "/offers/...", "type": "offer" | "addon"}`.
One parameter per rate plan keeps each small and lets a deployment's catalog grow without limit."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from pydantic import ValidationError

from limio_sync.catalog import CatalogMapping
from limio_sync.errors import ErrorCode, PermanentSyncError, TransientSyncError
from limio_sync.stores import aws

CACHE_SECONDS = 300


@cache
def _provider() -> parameters.SSMProvider:
    # One provider per process, on the shared client: building a boto3 client per call costs more than the call.
    return parameters.SSMProvider(boto3_client=aws.client("ssm"))


def clear_cache() -> None:
    _provider.cache_clear()


def load_catalog_mapping(path: str) -> CatalogMapping:
    try:
        entries = _provider().get_multiple(path, recursive=False, transform="json", max_age=CACHE_SECONDS)
    except (GetParameterError, TransformParameterError) as exc:
        raise TransientSyncError(
            f"The catalog mapping under {path} could not be read ({type(exc).__name__})", code=ErrorCode.STORE_UNAVAILABLE
        ) from exc
    try:
        return CatalogMapping.model_validate({"ratePlans": entries})
    except ValidationError as exc:
        raise PermanentSyncError(f"The catalog mapping under {path} is invalid: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}") from exc
