"""The part of a Zuora subscription the sync consumes, validated (unknown fields ignored)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from limio_sync.errors import ErrorCode, PermanentSyncError


class ZuoraStatus(StrEnum):
    DRAFT = "Draft"
    PENDING_ACTIVATION = "Pending Activation"
    PENDING_ACCEPTANCE = "Pending Acceptance"
    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    CANCELLED = "Cancelled"
    EXPIRED = "Expired"


class TermType(StrEnum):
    TERMED = "TERMED"
    EVERGREEN = "EVERGREEN"


class ZuoraSubscription(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    subscriptionNumber: str
    version: int = Field(ge=1)
    status: ZuoraStatus
    accountNumber: str
    termType: TermType
    subscriptionStartDate: dt.date
    termStartDate: dt.date
    termEndDate: dt.date | None = None
    subscriptionEndDate: dt.date | None = None
    autoRenew: bool = False
    currency: str | None = None

    @model_validator(mode="after")
    def _termed_has_end(self) -> ZuoraSubscription:
        if self.termType is TermType.TERMED and self.termEndDate is None:
            raise ValueError("a TERMED subscription must have a termEndDate")
        return self


class ZuoraBadRecord(PermanentSyncError):
    """Zuora answered, but the subscription record cannot be used as it is."""

    code = ErrorCode.ZUORA_BAD_RESPONSE


def parse_subscription(raw: dict, subscription_number: str) -> ZuoraSubscription:
    """Validate a raw Zuora subscription; a broken record fails with a message naming its fields."""
    try:
        return ZuoraSubscription.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'record'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise ZuoraBadRecord(f"Zuora returned an unusable record for subscription {subscription_number} ({problems})") from None
