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


class ZuoraChargeSegment(_Zuora):
    """One segment of a charge (zuora-sdk RatePlanChargeSegment): what the charge is between its effective
    dates. Zuora makes a new segment whenever an amendment changes the charge (a price rise, new quantity).
    The end is exclusive: Zuora's own "segment active on a date" is effectiveStartDate <= date <
    effectiveEndDate (zuora-sdk subscriptions_api, `charge-detail=current-segment`)."""

    price: Decimal | None = None
    quantity: Decimal | None = None
    discountPercentage: Decimal | None = None
    discountAmount: Decimal | None = None
    currency: Text = None
    effectiveStartDate: dt.date | None = None
    effectiveEndDate: dt.date | None = None

    def in_effect_on(self, day: dt.date) -> bool:
        started = self.effectiveStartDate is None or self.effectiveStartDate <= day
        return started and (self.effectiveEndDate is None or day < self.effectiveEndDate)


class ZuoraCharge(ZuoraChargeSegment):
    """A rate plan charge (zuora-sdk GetSubscriptionRatePlanChargesWithAllSegments). Read with
    `charge-detail=all-segments`, it carries every segment in `chargeSegments`; its own price and dates are
    then one segment's, so the segments are what count. Without them the charge is its only segment."""

    number: str
    name: str
    type: str
    model: str
    billingPeriod: Text = None
    billingTiming: Text = None  # IN_ADVANCE (Zuora's default) or IN_ARREARS
    productRatePlanChargeId: Text = None
    chargeSegments: tuple[ZuoraChargeSegment, ...] = ()

    @property
    def segments(self) -> tuple[ZuoraChargeSegment, ...]:
        """Earliest first; a segment without a start counts as having always been in effect."""
        segments = self.chargeSegments or (self,)
        return tuple(sorted(segments, key=lambda s: s.effectiveStartDate or dt.date.min))

    @property
    def start(self) -> dt.date | None:
        """When the charge really started: its first segment's start."""
        return self.segments[0].effectiveStartDate

    @property
    def end(self) -> dt.date | None:
        """When its last segment ends (exclusive), or None while any segment has no end."""
        ends = [segment.effectiveEndDate for segment in self.segments]
        known = [end for end in ends if end is not None]
        return max(known) if len(known) == len(ends) else None

    def segment_on(self, day: dt.date) -> ZuoraChargeSegment | None:
        return next((segment for segment in self.segments if segment.in_effect_on(day)), None)

    def has_ended_by(self, day: dt.date) -> bool:
        return self.end is not None and self.end <= day

    def starts_after(self, day: dt.date) -> bool:
        return self.start is not None and self.start > day

    @property
    def in_arrears(self) -> bool:
        return (self.billingTiming or "").upper() == "IN_ARREARS"

    @property
    def any_currency(self) -> str | None:
        return self.currency or next((segment.currency for segment in self.segments if segment.currency), None)


class ZuoraRatePlan(_Zuora):
    productRatePlanId: str
    productName: Text = None
    ratePlanName: Text = None
    subscriptionRatePlanNumber: Text = None
    lastChangeType: Text = None  # Add, Update or Remove (zuora-sdk SubscriptionRatePlan); Zuora keeps removed plans
    ratePlanCharges: list[ZuoraCharge] = Field(default_factory=list)

    @property
    def removed(self) -> bool:
        return (self.lastChangeType or "").lower() == "remove"


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
    """One item of a billing preview: what Zuora will bill, or credit, when. Three shapes, told apart by their
    fields as Zuora defines them:
    - the account billing preview's invoice item (zuora-sdk CreateBillingPreviewInvoiceItem): `chargeAmount`,
      which never includes tax, and `taxAmount`, the tax of a tax-inclusive charge under Zuora Tax (else 0);
    - its credit memo item (CreateBillingPreviewCreditMemoItem, Invoice Settlement tenants): `amount`, the
      credit (with tax for a tax-inclusive charge), and `amountWithoutTax`, with no `chargeAmount`;
    - the subscription preview's invoice item (PreviewExistingSubscriptionInvoiceItemResult): `amountWithoutTax`
      and `taxAmount`, with neither `chargeAmount` nor `amount` (`ZuoraClient.preview_subscription` gives its
      credit memo items `amount`, so they read as credits).
    """

    subscriptionNumber: str
    serviceStartDate: dt.date
    serviceEndDate: dt.date | None = None
    chargeAmount: Decimal | None = None
    amount: Decimal | None = None
    amountWithoutTax: Decimal | None = None
    taxAmount: Decimal | None = None
    chargeName: Text = None
    chargeNumber: Text = None
    # The subscription preview's items name their charge only by its product charge, unless amended by an order
    # (zuora-sdk PreviewExistingSubscriptionInvoiceItemResult: charge_number, product_rate_plan_charge_id).
    productRatePlanChargeId: Text = None
    processingType: Text = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            data.setdefault("subscriptionNumber", data.get("subscriptionName"))
        return data

    @model_validator(mode="after")
    def _has_an_amount(self) -> ZuoraInvoiceItem:
        if self.chargeAmount is None and self.amount is None and self.amountWithoutTax is None:
            raise ValueError("an item needs chargeAmount (invoice item), amount (credit memo item) or amountWithoutTax")
        return self

    @property
    def is_credit(self) -> bool:
        return self.chargeAmount is None and self.amount is not None

    @property
    def billed_without_tax(self) -> Decimal:
        """What this item adds to the bill before tax: a credit takes away, discounts reduce whichever sign
        Zuora gives them (the spec lists `processingType` in lower case, real payloads say "Discount")."""
        if self.is_credit:
            return -_first_given(self.amountWithoutTax, self.amount)
        net = _first_given(self.chargeAmount, self.amountWithoutTax)
        return -abs(net) if self._is_discount else net

    @property
    def billed(self) -> Decimal:
        """What this item adds to the bill, tax included: what the customer pays."""
        if self.is_credit:
            return -_first_given(self.amount)
        tax = self.taxAmount or Decimal(0)
        return self.billed_without_tax + (-abs(tax) if self._is_discount else tax)

    @property
    def _is_discount(self) -> bool:
        return (self.processingType or "").lower() == "discount"


def _first_given(*amounts: Decimal | None) -> Decimal:
    """The first of `amounts` Zuora gave: ZuoraInvoiceItem._has_an_amount makes sure each way an item is read has one."""
    for amount in amounts:
        if amount is not None:
            return amount
    raise ValueError("an invoice item has none of the amounts it is read from")


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
