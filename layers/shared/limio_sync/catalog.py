"""The catalog mapping: which Limio offer or add-on each Zuora product rate plan is.

Limio cannot guess this (its docs say a sync cannot match externally created rate plans), so each deployment
configures it explicitly; a rate plan without a mapping fails its subscription with UNMAPPED_RATE_PLAN.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from limio_sync.errors import ErrorCode, PermanentSyncError


class OfferType(StrEnum):
    OFFER = "offer"
    ADDON = "addon"


class CatalogEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    offerPath: Annotated[str, StringConstraints(min_length=2, pattern=r"^/")]
    type: OfferType = OfferType.OFFER


class CatalogMapping(BaseModel):
    """{productRatePlanId: {offerPath, type}}."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ratePlans: dict[str, CatalogEntry] = {}

    def entry_for(self, product_rate_plan_id: str) -> CatalogEntry | None:
        return self.ratePlans.get(product_rate_plan_id)


class UnmappedRatePlan(PermanentSyncError):
    code = ErrorCode.UNMAPPED_RATE_PLAN
