"""The parts of Zuora's records the sync consumes, validated (unknown fields ignored).

Zuora sends unset text fields as "" or null, inconsistently, even within one record: both become None here,
so "nothing" compares equal to "nothing" whichever way Zuora spelled it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from limio_sync.errors import ErrorCode, PermanentSyncError


def _blank_is_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


Text = Annotated[str | None, BeforeValidator(_blank_is_none)]


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


class _Zuora(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ZuoraContact(_Zuora):
    firstName: Text = None
    lastName: Text = None
    workEmail: Text = None
    personalEmail: Text = None
    mobilePhone: Text = None
    workPhone: Text = None
    otherPhone: Text = None
    address1: Text = None
    address2: Text = None
    city: Text = None
    state: Text = None
    county: Text = None
    zipCode: Text = None
    country: Text = None


class ZuoraCharge(_Zuora):
    number: str
    name: str
    type: str
    model: str
    price: Decimal | None = None
    quantity: Decimal | None = None
    discountPercentage: Decimal | None = None
    discountAmount: Decimal | None = None
    currency: Text = None
    billingPeriod: Text = None
    effectiveStartDate: dt.date | None = None
    effectiveEndDate: dt.date | None = None


class ZuoraRatePlan(_Zuora):
    productRatePlanId: str
    productName: Text = None
    ratePlanName: Text = None
    subscriptionRatePlanNumber: Text = None
    ratePlanCharges: list[ZuoraCharge] = Field(default_factory=list)


class ZuoraSubscription(_Zuora):
    id: str
    subscriptionNumber: str
    version: int = Field(ge=1)
    status: ZuoraStatus
    accountNumber: str
    termType: TermType
    subscriptionStartDate: dt.date
    subscriptionEndDate: dt.date | None = None
    termStartDate: dt.date
    termEndDate: dt.date | None = None
    autoRenew: bool = False
    currency: Text = None
    billToContact: ZuoraContact | None = None
    soldToContact: ZuoraContact | None = None
    ratePlans: list[ZuoraRatePlan] = Field(default_factory=list)

    @model_validator(mode="after")
    def _termed_has_end(self) -> ZuoraSubscription:
        if self.termType is TermType.TERMED and self.termEndDate is None:
            raise ValueError("a TERMED subscription must have a termEndDate")
        return self


class ZuoraAccount(_Zuora):
    """GET /v1/accounts/{key}: who the customer is and where to reach them."""

    accountNumber: str
    name: Text = None
    crmId: Text = None
    currency: Text = None
    billToContact: ZuoraContact | None = None
    soldToContact: ZuoraContact | None = None

    @classmethod
    def from_response(cls, body: dict) -> ZuoraAccount:
        basic = body.get("basicInfo") or {}
        billing = body.get("billingAndPayment") or {}
        return cls.model_validate(
            {
                "accountNumber": basic.get("accountNumber"),
                "name": basic.get("name"),
                "crmId": basic.get("crmId"),
                "currency": billing.get("currency"),
                "billToContact": body.get("billToContact"),
                "soldToContact": body.get("soldToContact"),
            }
        )


class ZuoraInvoiceItem(_Zuora):
    """One item of Zuora's billing preview: what Zuora will bill, when."""

    subscriptionNumber: str
    chargeAmount: Decimal
    serviceStartDate: dt.date
    chargeName: Text = None
    chargeNumber: Text = None
    processingType: Text = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            data.setdefault("subscriptionNumber", data.get("subscriptionName"))
        return data

    @property
    def billing_date(self) -> dt.date:
        """Zuora's `chargeDate` on a preview item is when the preview ran, not when the charge is billed;
        the service period start is the billing date of an in-advance charge."""
        return self.serviceStartDate

    @property
    def amount(self) -> Decimal:
        """Discounts reduce what is billed whichever sign Zuora gives them."""
        if self.processingType == "Discount":
            return -abs(self.chargeAmount)
        return self.chargeAmount


# Zuora refuses a billing preview whose target date is more than 20 years after the current date
# (developer.zuora.com, POST_BillingPreviewRun: "The maximum supported preview duration is 20 years"). The
# synchronous preview documents no limit of its own, so the same cap is applied to it; 99-year terms are common.
MAX_BILLING_PREVIEW_YEARS = 20


def latest_billing_preview_date(today: dt.date) -> dt.date:
    """The furthest target date a billing preview may ask for (and so the furthest a schedule can reach)."""
    try:
        return today.replace(year=today.year + MAX_BILLING_PREVIEW_YEARS) - dt.timedelta(days=1)
    except ValueError:  # 29 February
        return today.replace(year=today.year + MAX_BILLING_PREVIEW_YEARS, day=28) - dt.timedelta(days=1)


class ZuoraBadRecord(PermanentSyncError):
    """Zuora answered, but the record cannot be used as it is."""

    code = ErrorCode.ZUORA_BAD_RESPONSE


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'record'}: {err['msg']}" for err in exc.errors()[:5])


def parse_subscription(raw: dict, subscription_number: str) -> ZuoraSubscription:
    """Validate a raw Zuora subscription; a broken record fails with a message naming its fields."""
    try:
        return ZuoraSubscription.model_validate(raw)
    except ValidationError as exc:
        raise ZuoraBadRecord(f"Zuora returned an unusable record for subscription {subscription_number} ({_problems(exc)})") from None


def parse_account(raw: dict, account_number: str) -> ZuoraAccount:
    try:
        return ZuoraAccount.from_response(raw)
    except ValidationError as exc:
        raise ZuoraBadRecord(f"Zuora returned an unusable record for account {account_number} ({_problems(exc)})") from None


def parse_invoice_items(raw_items: list[dict], subscription_number: str) -> list[ZuoraInvoiceItem]:
    try:
        return [ZuoraInvoiceItem.model_validate(item) for item in raw_items]
    except ValidationError as exc:
        raise ZuoraBadRecord(f"Zuora's billing preview for subscription {subscription_number} is unusable ({_problems(exc)})") from None
