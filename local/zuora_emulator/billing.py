"""`POST /v1/operations/billing-preview`: the invoice items Zuora would bill an account up to a target date.

A faithful simplification of Zuora's billing engine, computed from the stored subscriptions; its model and
limits are in docs/zuora-emulator.md ("Billing preview"). Request and item field names follow Zuora's
`PostBillingPreviewParam` and `POSTBillingPreviewInvoiceItem` (the operation's OpenAPI spec and zuora-sdk).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from local.zuora_emulator.charges import as_date, segments_of
from local.zuora_emulator.wire import BUSINESS_RULE, INVALID_VALUE, MALFORMED_REQUEST, MISSING_VALUE

CHARGE_TYPES = ("OneTime", "Recurring", "Usage")
MAX_PREVIEW_YEARS = 20  # Zuora's documented maximum preview duration

# Subscriptions with these statuses can produce items; Suspended ones produce none while suspended.
_BILLABLE_STATUSES = {"Active", "Cancelled", "Pending Activation", "Pending Acceptance"}
_MONTHS_PER_PERIOD = {
    "Month": 1,
    "Quarter": 3,
    "Semi_Annual": 6,
    "Annual": 12,
    "Eighteen_Months": 18,
    "Two_Years": 24,
    "Three_Years": 36,
    "Five_Years": 60,
}
_DISCOUNT_MODELS = {"DiscountPercentage", "DiscountFixedAmount"}
_CENT = Decimal("0.01")
# Item ids are derived from what identifies a billed period, so the same state always gives the same ids.
_ITEM_ID_NAMESPACE = uuid.UUID("0b5e3c1e-6f0a-4d8e-9a57-2f4d1c3b8e90")


class PreviewError(Exception):
    """A request or tenant state Zuora would answer with an error envelope; `code` is the Zuora error code."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


class _PreviewBody(BaseModel):
    """Null and absent mean the same for every field."""

    model_config = ConfigDict(extra="ignore")  # includingDraftItems, batch, ... are accepted and ignored

    accountId: str | None = None
    accountNumber: str | None = None
    targetDate: dt.date | None = None
    assumeRenewal: Literal["None", "Autorenew", "All"] | None = None
    chargeTypeToExclude: str | None = None
    includingEvergreenSubscription: bool | None = None


@dataclass(frozen=True)
class PreviewRequest:
    account_key: str
    target_date: dt.date
    assume_renewal: str = "None"
    excluded_charge_types: frozenset[str] = frozenset()
    include_evergreen: bool = False
    tax_rates: Mapping[str, Decimal] = field(default_factory=dict)  # percent by taxCode (the tenant's Zuora Tax table)


def parse_preview_request(body: bytes, *, today: dt.date, tax_rates: Mapping[str, Any] | None = None) -> PreviewRequest:
    """The request body, checked the way Zuora checks it; raises PreviewError (category 90, 22 or 20)."""
    try:
        checked = _PreviewBody.model_validate_json(body or b"")
    except ValidationError as exc:
        raise _request_error(exc) from None
    account_key = checked.accountId or checked.accountNumber
    if not account_key:
        raise PreviewError(MISSING_VALUE, "Either 'accountId' or 'accountNumber' is required.")
    if checked.targetDate is None:
        raise PreviewError(MISSING_VALUE, "'targetDate' is required.")
    if checked.targetDate > _add_months(today, 12 * MAX_PREVIEW_YEARS):
        raise PreviewError(INVALID_VALUE, f"'targetDate' must be at most {MAX_PREVIEW_YEARS} years from today.")
    excluded = [name.strip() for name in (checked.chargeTypeToExclude or "").split(",") if name.strip()]
    unknown = [name for name in excluded if name not in CHARGE_TYPES]
    if unknown:
        raise PreviewError(INVALID_VALUE, f"Invalid value for 'chargeTypeToExclude': {', '.join(unknown)} (use {', '.join(CHARGE_TYPES)}).")
    return PreviewRequest(
        account_key=account_key,
        target_date=checked.targetDate,
        assume_renewal=checked.assumeRenewal or "None",
        excluded_charge_types=frozenset(excluded),
        include_evergreen=bool(checked.includingEvergreenSubscription),
        tax_rates=_rates(tax_rates),
    )


def _rates(tax_rates: Mapping[str, Any] | None) -> dict[str, Decimal]:
    return {code: Decimal(str(rate)) for code, rate in (tax_rates or {}).items()}


# POST /v1/subscriptions/{key}/preview (zuora-sdk PreviewExistingSubscriptionRequest / ...Response)


class _PreviewStartDate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    previewStartDatePolicy: Literal["startOfTerm", "today", "specificDate"]
    specificDate: dt.date | None = None


class _PreviewThroughDate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    previewThruDatePolicy: Literal["nextBillingPeriods", "endOfTerm", "specificDate"]
    nextBillingPeriods: int | None = None
    specificDate: dt.date | None = None


class _SubscriptionPreviewBody(BaseModel):
    model_config = ConfigDict(extra="ignore")  # quantityForUsageCharges, skipTax: the emulator has no usage and always taxes

    previewStartDate: _PreviewStartDate | None = None
    previewThroughDate: _PreviewThroughDate | None = None


@dataclass(frozen=True)
class SubscriptionPreview:
    start: dt.date  # items billed before it fall on the first invoice, dated `start`
    request: PreviewRequest
    periods: int | None = None  # nextBillingPeriods: that many items per charge


def parse_subscription_preview_request(
    body: bytes, subscription: dict[str, Any], *, today: dt.date, tax_rates: Mapping[str, Any] | None = None
) -> SubscriptionPreview:
    """The body checked as Zuora checks it (previewThroughDate required, each policy's own field required)."""
    try:
        checked = _SubscriptionPreviewBody.model_validate_json(body or b"")
    except ValidationError as exc:
        raise _request_error(exc) from None
    through = checked.previewThroughDate
    if through is None:
        raise PreviewError(MISSING_VALUE, "'previewThroughDate' is required.")
    start_policy = checked.previewStartDate or _PreviewStartDate(previewStartDatePolicy="today")
    if start_policy.previewStartDatePolicy == "specificDate":
        if start_policy.specificDate is None:
            raise PreviewError(MISSING_VALUE, "'previewStartDate.specificDate' is required when previewStartDatePolicy is specificDate.")
        start = start_policy.specificDate
    elif start_policy.previewStartDatePolicy == "startOfTerm":
        start = as_date(subscription.get("termStartDate")) or as_date(subscription.get("subscriptionStartDate")) or today
    else:
        start = today
    periods = None
    if through.previewThruDatePolicy == "specificDate":
        if through.specificDate is None:
            raise PreviewError(MISSING_VALUE, "'previewThroughDate.specificDate' is required when previewThruDatePolicy is specificDate.")
        target = through.specificDate
    elif through.previewThruDatePolicy == "endOfTerm":
        term_end = as_date(subscription.get("termEndDate"))
        if term_end is None:
            raise PreviewError(INVALID_VALUE, "previewThruDatePolicy endOfTerm needs a subscription with a term end (this one is evergreen).")
        target = term_end - dt.timedelta(days=1)
    else:
        if not through.nextBillingPeriods or through.nextBillingPeriods < 1:
            message = "'previewThroughDate.nextBillingPeriods' (at least 1) is required when previewThruDatePolicy is nextBillingPeriods."
            raise PreviewError(MISSING_VALUE, message)
        periods = through.nextBillingPeriods
        target = _add_months(start, 12 * MAX_PREVIEW_YEARS)
    if target > _add_months(today, 12 * MAX_PREVIEW_YEARS):
        raise PreviewError(INVALID_VALUE, f"The preview through date must be at most {MAX_PREVIEW_YEARS} years from today.")
    request = PreviewRequest(account_key="", target_date=target, include_evergreen=True, tax_rates=_rates(tax_rates))
    return SubscriptionPreview(start=start, request=request, periods=periods)


def subscription_preview_body(subscription: dict[str, Any], preview: SubscriptionPreview, *, invoice_settlement: bool) -> dict[str, Any]:
    """`invoices` (and, with Invoice Settlement, `creditMemos`), one per bill date, computed like the billing preview.

    Each document's `targetDate` is the day a bill run would produce it: the item's bill date (`chargeDate`), or the
    preview start for what is still unbilled from before it. Existing invoices are not reproduced.
    """
    items = preview_invoice_items([subscription], preview.request)
    if preview.periods is not None:
        kept: dict[str, int] = {}
        limited = []
        for item in items:
            kept[item["chargeNumber"]] = kept.get(item["chargeNumber"], 0) + 1
            if kept[item["chargeNumber"]] <= preview.periods:
                limited.append(item)
        items = limited
    credits = [item for item in items if invoice_settlement and item.get(CREDIT_BACK)]
    invoice_items = [item for item in items if not (invoice_settlement and item.get(CREDIT_BACK))]
    body: dict[str, Any] = {"invoices": _documents(invoice_items, preview.start, number="Preview Invoice", items_key="invoiceItems", sign=1)}
    if invoice_settlement:
        body["creditMemos"] = _documents(credits, preview.start, number="Preview Credit Memo", items_key="creditMemoItems", sign=-1)
    return body


def _documents(items: list[dict[str, Any]], start: dt.date, *, number: str, items_key: str, sign: int) -> list[dict[str, Any]]:
    by_date: dict[dt.date, list[dict[str, Any]]] = {}
    for item in items:
        by_date.setdefault(max(dt.date.fromisoformat(item["chargeDate"][:10]), start), []).append(item)
    documents = []
    for target_date in sorted(by_date):
        lines = [_document_line(item, sign) for item in by_date[target_date]]
        without_tax = sum(Decimal(str(line["amountWithoutTax"])) for line in lines)
        tax = sum(Decimal(str(line["taxAmount"])) for line in lines)
        number_key = "invoiceNumber" if items_key == "invoiceItems" else "creditMemoNumber"
        existing_key = "isFromExistingInvoice" if items_key == "invoiceItems" else "isFromExistingCreditMemo"
        documents.append(
            {
                number_key: number,
                "amount": float(without_tax + tax),
                "amountWithoutTax": float(without_tax),
                "taxAmount": float(tax),
                "targetDate": target_date.isoformat(),
                "status": None,
                existing_key: False,
                items_key: lines,
            }
        )
    return documents


def _document_line(item: dict[str, Any], sign: int) -> dict[str, Any]:
    """PreviewExistingSubscriptionInvoiceItemResult (or ...CreditMemoItemResult: the same fields, credits positive)."""
    source: _Charge = item[_SOURCE]
    tax = Decimal(str(item["taxAmount"])) + item.get(EXCLUSIVE_TAX, Decimal(0))
    return {
        "serviceStartDate": item["serviceStartDate"],
        "serviceEndDate": item["serviceEndDate"],
        "amountWithoutTax": float(sign * Decimal(str(item["chargeAmount"]))),
        "taxAmount": float(sign * tax),
        "chargeDescription": item["chargeDescription"],
        "chargeName": item["chargeName"],
        "chargeNumber": item["chargeNumber"],
        "productName": item["productName"],
        "productRatePlanChargeId": source.fields.get("productRatePlanChargeId"),
        "processingType": item["processingType"],
        "unitPrice": item["_unitPrice"],
        "quantity": item["quantity"],
        "unitOfMeasure": item["unitOfMeasure"] or None,
    }


def _request_error(exc: ValidationError) -> PreviewError:
    error = exc.errors()[0]
    field_name = ".".join(str(part) for part in error["loc"])
    if error["type"] == "json_invalid" or (error["type"] == "model_type" and not field_name):
        return PreviewError(MALFORMED_REQUEST, "The request body is not a JSON object.")
    return PreviewError(INVALID_VALUE, f"Invalid value for '{field_name}': {error['msg']}.")


def preview_invoice_items(subscriptions: Iterable[dict[str, Any]], request: PreviewRequest) -> list[dict[str, Any]]:
    """Every item the subscriptions would bill up to the target date, in a stable order.

    Credit-backs (a period billed in advance, then cancelled or removed) are items with a negative
    `chargeAmount` and `CREDIT_BACK` set; `billing_preview_body` decides how Zuora shows them. Raises
    PreviewError (business rule) for a charge the emulator cannot price, naming it.
    """
    items: list[dict[str, Any]] = []
    for subscription in subscriptions:
        items.extend(_subscription_items(subscription, request))
    items.sort(key=lambda item: (item["subscriptionNumber"], item["chargeDate"], item["chargeNumber"], item["serviceStartDate"], item["id"]))
    return items


# Internal item keys, never served: how an item was made, which charge it bills, the tax Zuora Tax would add.
CREDIT_BACK = "_creditBack"
EXCLUSIVE_TAX = "_exclusiveTax"
_SOURCE = "_source"


def billing_preview_body(items: list[dict[str, Any]], *, invoice_settlement: bool) -> dict[str, Any]:
    """`invoiceItems` and, with Invoice Settlement, `creditMemoItems` (zuora-sdk CreateBillingPreviewResponse).

    With Invoice Settlement, credit-backs become credit memo items (POSTBillingPreviewCreditMemoItem: a positive
    `amount` with tax, `amountWithoutTax`); without it Zuora has no credit memos and bills them as negative invoice
    items (the spec: credit memo items "are only available if you have Invoice Settlement feature enabled").
    """
    body: dict[str, Any] = {"invoiceItems": [_served(item) for item in items if not (invoice_settlement and item.get(CREDIT_BACK))]}
    if invoice_settlement:
        body["creditMemoItems"] = [credit_memo_item(item) for item in items if item.get(CREDIT_BACK)]
    return body


def credit_memo_item(item: dict[str, Any]) -> dict[str, Any]:
    source: _Charge = item[_SOURCE]
    without_tax = -Decimal(str(item["chargeAmount"]))
    tax = -Decimal(str(item["taxAmount"]))
    return {
        "id": item["id"],
        "amount": float(without_tax + tax),
        "amountWithoutTax": float(without_tax),
        "appliedToItemId": None,
        "chargeDate": item["chargeDate"],
        "chargeNumber": item["chargeNumber"],
        "chargeType": item["chargeType"],
        "comment": "",
        "processingType": item["processingType"],
        "quantity": item["quantity"],
        "ratePlanChargeId": item["chargeId"],
        "serviceStartDate": item["serviceStartDate"],
        "serviceEndDate": item["serviceEndDate"],
        "sku": source.rate_plan.get("productSku"),
        "skuName": source.rate_plan.get("productName"),
        "subscriptionId": item["subscriptionId"],
        "subscriptionNumber": item["subscriptionNumber"],
        "unitOfMeasure": item["unitOfMeasure"],
    }


def _served(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if not name.startswith("_")}


# One subscription


@dataclass(frozen=True)
class _Window:
    """When a subscription's charges may bill: up to `end` (exclusive; None = open-ended)."""

    end: dt.date | None
    term_end: dt.date | None  # the current term end before any assumed renewal
    renewed: bool


@dataclass
class _Charge:
    subscription: dict[str, Any]
    rate_plan: dict[str, Any]
    fields: dict[str, Any]  # the last segment, as a full charge
    segments: list[dict[str, Any]] = field(default_factory=list)  # every segment as a full charge, oldest first
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def charged_through(self) -> dt.date | None:
        days = [day for segment in self.segments if (day := as_date(segment.get("chargedThroughDate")))]
        return max(days) if days else None

    @property
    def number(self) -> str:
        return str(self.fields.get("number") or self.fields.get("id") or "")

    def describe(self) -> str:
        return f"charge {self.number} of subscription {self.subscription.get('subscriptionNumber')}"


def _subscription_items(subscription: dict[str, Any], request: PreviewRequest) -> list[dict[str, Any]]:
    window = _billing_window(subscription, request)
    if window is None:
        return []
    charges = [
        _Charge(subscription, rate_plan, segments[-1], segments)
        for rate_plan in subscription.get("ratePlans") or []
        for charge in rate_plan.get("ratePlanCharges") or []
        if charge.get("type") in ("OneTime", "Recurring") and charge.get("type") not in request.excluded_charge_types
        for segments in [segments_of(charge)]
    ]
    for charge in charges:
        if charge.fields.get("model") not in _DISCOUNT_MODELS and _triggered(charge):
            charge.items = [_taxed(item, charge, request.tax_rates) for item in _charge_items(charge, window, request.target_date)]
    for discount in charges:
        if discount.fields.get("model") in _DISCOUNT_MODELS and _triggered(discount):
            discount.items = _discount_items(discount, charges, window)
    return [item for charge in charges for item in charge.items]


# A charge waiting for its trigger event bills nothing until the subscription records that event (audit E2;
# docs.zuora.com: a Pending Activation subscription needs an activation date to be activated).
_TRIGGER_DATE_FIELD = {"ServiceActivation": "serviceActivationDate", "CustomerAcceptance": "customerAcceptanceDate"}


def _triggered(charge: _Charge) -> bool:
    date_field = _TRIGGER_DATE_FIELD.get(str(charge.segments[0].get("triggerEvent")))
    return date_field is None or as_date(charge.subscription.get(date_field)) is not None


def _billing_window(subscription: dict[str, Any], request: PreviewRequest) -> _Window | None:
    """None when the subscription bills nothing: not billable now, or evergreen and not asked for."""
    status = subscription.get("status")
    evergreen = subscription.get("termType") == "EVERGREEN"
    if status not in _BILLABLE_STATUSES or (evergreen and not request.include_evergreen):
        return None
    if status == "Cancelled":
        end = as_date(subscription.get("subscriptionEndDate")) or as_date(subscription.get("termEndDate"))
        return _Window(end, end, renewed=False) if end else None
    if evergreen:
        end = as_date(subscription.get("subscriptionEndDate"))
        return _Window(end, end, renewed=False)
    term_end = as_date(subscription.get("termEndDate")) or as_date(subscription.get("subscriptionEndDate"))
    if term_end is None:
        return None  # a TERMED subscription without a term end cannot be billed
    if not _assumed_to_renew(subscription, request.assume_renewal):
        return _Window(term_end, term_end, renewed=False)
    if subscription.get("renewalSetting") == "RENEW_TO_EVERGREEN":
        return _Window(None, term_end, renewed=True)
    end = term_end
    while end <= request.target_date:
        end = add_term(end, subscription.get("renewalTerm"), subscription.get("renewalTermPeriodType"))
    return _Window(end, term_end, renewed=end != term_end)


def _assumed_to_renew(subscription: dict[str, Any], assume_renewal: str) -> bool:
    if not subscription.get("renewalTerm") and subscription.get("renewalSetting") != "RENEW_TO_EVERGREEN":
        return False  # Zuora: assumeRenewal needs a renewal term other than 0
    return assume_renewal == "All" or (assume_renewal == "Autorenew" and subscription.get("autoRenew") is True)


def add_term(day: dt.date, length: Any, period_type: Any) -> dt.date:
    length = int(length)
    if period_type == "Day":
        return day + dt.timedelta(days=length)
    if period_type == "Week":
        return day + dt.timedelta(weeks=length)
    if period_type == "Year":
        return _add_months(day, 12 * length)
    return _add_months(day, length)


def _charge_end(charge: _Charge, window: _Window) -> dt.date | None:
    """The exclusive end of the charge's billing: its own end, the subscription's, whichever comes first.

    A charge that runs to the subscription end moves with it when a renewal is assumed.
    """
    own_end = as_date(charge.fields.get("effectiveEndDate"))
    runs_to_subscription_end = charge.fields.get("endDateCondition") in (None, "Subscription_End")
    if window.renewed and runs_to_subscription_end and (own_end is None or window.term_end is None or own_end >= window.term_end):
        own_end = None
    ends = [day for day in (own_end, window.end) if day is not None]
    return min(ends) if ends else None


# Charges


def _charge_items(charge: _Charge, window: _Window, target_date: dt.date) -> Iterator[dict[str, Any]]:
    if charge.fields.get("type") == "OneTime":
        yield from _one_time_items(charge, window, target_date)
        return
    anchor = as_date(charge.segments[0].get("effectiveStartDate"))
    if anchor is None:
        raise PreviewError(BUSINESS_RULE, f"The emulator cannot preview {charge.describe()}: it has no effectiveStartDate.")
    unbilled_from = charge.charged_through or anchor
    end = _charge_end(charge, window)
    cadence = _cadence(charge)
    in_arrears = charge.fields.get("billingTiming") == "IN_ARREARS"
    for index, segment in enumerate(charge.segments):
        last = index == len(charge.segments) - 1
        segment_start = max(as_date(segment.get("effectiveStartDate")) or anchor, unbilled_from)
        segment_end = end if last else _earliest(as_date(segment.get("effectiveEndDate")), end)
        amount = _period_amount(charge, segment)
        for period_start, period_end in _periods(anchor, cadence, segment_start, segment_end):
            service_start, service_end = max(period_start, segment_start), _earliest(period_end, segment_end)
            charge_date = service_end if in_arrears else service_start
            if charge_date > target_date:
                break
            billed = _prorated(amount, (service_end - service_start).days, (period_end - period_start).days)
            yield _item(charge, segment, service_start, service_end - dt.timedelta(days=1), charge_date, billed)
    yield from _credit_backs(charge, end, anchor, cadence, target_date)


def _credit_backs(charge: _Charge, end: dt.date | None, anchor: dt.date, cadence: tuple[int, int], target_date: dt.date) -> Iterator[dict[str, Any]]:
    """Service billed in advance past the charge's end (a cancellation or removal) is credited back, per period.

    The credit is priced by the segment in effect just before the end; it is dated on the end, when Zuora's next
    bill run would issue it.
    """
    billed_through = charge.charged_through
    if end is None or billed_through is None or billed_through <= end or end > target_date:
        return
    before_end = [segment for segment in charge.segments if (as_date(segment.get("effectiveStartDate")) or anchor) < end] or charge.segments[:1]
    amount = _period_amount(charge, before_end[-1])
    for period_start, period_end in _periods(anchor, cadence, end, billed_through):
        service_start, service_end = max(period_start, end), min(period_end, billed_through)
        credit = _prorated(amount, (service_end - service_start).days, (period_end - period_start).days)
        item = _item(charge, before_end[-1], service_start, service_end - dt.timedelta(days=1), end, -credit)
        item["id"] = _item_id(item["subscriptionNumber"], charge.number, service_start.isoformat(), "credit")
        item[CREDIT_BACK] = True
        yield item


def _periods(anchor: dt.date, cadence: tuple[int, int], start: dt.date, end: dt.date | None) -> Iterator[tuple[dt.date, dt.date]]:
    """The billing periods (counted from `anchor`) that overlap [start, end); an open end never stops."""
    months, days = cadence
    period = 0
    while True:
        period_start = _add_months(anchor, months * period) + dt.timedelta(days=days * period)
        period_end = _add_months(anchor, months * (period + 1)) + dt.timedelta(days=days * (period + 1))
        period += 1
        if end is not None and period_start >= end:
            return
        if period_end <= start:
            continue
        if end is not None and start >= end:
            return
        yield period_start, period_end


def _earliest(day: dt.date | None, other: dt.date | None) -> dt.date | None:
    days = [value for value in (day, other) if value is not None]
    return min(days) if days else None


def _one_time_items(charge: _Charge, window: _Window, target_date: dt.date) -> Iterator[dict[str, Any]]:
    if charge.charged_through:
        return  # already billed
    day = as_date(charge.fields.get("triggerDate")) or as_date(charge.segments[0].get("effectiveStartDate"))
    if day is None or day > target_date or (window.end is not None and day >= window.end):
        return
    yield _item(charge, charge.fields, day, day, day, _rounded(_period_amount(charge, charge.fields)))


def _cadence(charge: _Charge) -> tuple[int, int]:
    """(months, days) per billing period."""
    period = charge.fields.get("billingPeriod")
    specific = charge.fields.get("specificBillingPeriod")
    if period in _MONTHS_PER_PERIOD:
        return _MONTHS_PER_PERIOD[period], 0
    if period == "Week":
        return 0, 7
    if period in ("Specific_Months", "Specific_Weeks") and isinstance(specific, int) and specific > 0:
        return (specific, 0) if period == "Specific_Months" else (0, 7 * specific)
    raise PreviewError(BUSINESS_RULE, f"The emulator cannot preview {charge.describe()}: billing period {period!r} is not supported.")


def _period_amount(charge: _Charge, segment: dict[str, Any]) -> Decimal:
    """What one full billing period (or the one-time charge) costs under a segment's terms, before rounding."""
    model = charge.fields.get("model")
    quantity = _decimal(segment.get("quantity"), default=Decimal(1))
    if model == "FlatFee":
        return _required_price(charge, segment)
    if model == "PerUnit":
        return _required_price(charge, segment) * quantity
    if model in ("Volume", "Tiered"):
        return _tiered_amount(charge, segment, quantity, volume=model == "Volume")
    raise PreviewError(BUSINESS_RULE, f"The emulator cannot preview {charge.describe()}: charge model {model!r} is not supported.")


def _tiered_amount(charge: _Charge, segment: dict[str, Any], quantity: Decimal, *, volume: bool) -> Decimal:
    """Volume: the tier holding the whole quantity prices all of it. Tiered: each tier prices its own units."""
    tiers = sorted(segment.get("tiers") or [], key=lambda tier: _decimal(tier.get("startingUnit")))
    total = Decimal(0)
    for tier in tiers:
        first = _decimal(tier.get("startingUnit"))
        last = _decimal(tier["endingUnit"]) if tier.get("endingUnit") is not None else None
        price = _decimal(tier.get("price"))
        flat = tier.get("priceFormat") == "FlatFee"
        if volume:
            if first <= quantity and (last is None or quantity <= last):
                return price if flat else price * quantity
            continue
        units = (quantity if last is None else min(quantity, last)) - max(first - 1, Decimal(0))
        if units > 0:
            total += price if flat else price * units
    if volume or not tiers:
        raise PreviewError(BUSINESS_RULE, f"The emulator cannot preview {charge.describe()}: no tier holds quantity {quantity}.")
    return total


def _required_price(charge: _Charge, segment: dict[str, Any]) -> Decimal:
    if segment.get("price") is None:
        raise PreviewError(BUSINESS_RULE, f"The emulator cannot preview {charge.describe()}: it has no price.")
    return _decimal(segment["price"])


# Discounts


def _discount_items(discount: _Charge, charges: list[_Charge], window: _Window) -> list[dict[str, Any]]:
    """One negative item per discounted item whose service starts while the discount is unbilled and in effect."""
    start = discount.charged_through or as_date(discount.segments[0].get("effectiveStartDate"))
    end = _charge_end(discount, window)
    applies_to = _discounted_charge_types(discount.fields.get("applyDiscountTo"))
    same_rate_plan_only = str(discount.fields.get("discountLevel") or "").lower() == "rateplan"
    targets = [
        item
        for charge in charges
        if charge.fields.get("model") not in _DISCOUNT_MODELS
        and charge.fields.get("type") in applies_to
        and (not same_rate_plan_only or charge.rate_plan is discount.rate_plan)
        for item in charge.items
        if not item.get(CREDIT_BACK)
        and (start is None or item["serviceStartDate"] >= start.isoformat())
        and (end is None or item["serviceStartDate"] < end.isoformat())
    ]
    if discount.fields.get("model") == "DiscountPercentage":
        percentage = _decimal(discount.fields.get("discountPercentage"))
        return [_discount_item(discount, item, _rounded(Decimal(str(item["chargeAmount"])) * percentage / 100)) for item in targets]
    return _fixed_discount_items(discount, targets)


def _fixed_discount_items(discount: _Charge, targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fixed amount is granted once per service period, spread over its items and never above them."""
    items: list[dict[str, Any]] = []
    remaining_by_period: dict[str, Decimal] = {}
    for target in sorted(targets, key=lambda item: (item["serviceStartDate"], item["chargeNumber"])):
        remaining = remaining_by_period.setdefault(target["serviceStartDate"], _decimal(discount.fields.get("discountAmount")))
        granted = min(remaining, Decimal(str(target["chargeAmount"])))
        if granted > 0:
            items.append(_discount_item(discount, target, _rounded(granted)))
            remaining_by_period[target["serviceStartDate"]] = remaining - granted
    return items


def _discounted_charge_types(apply_discount_to: Any) -> set[str]:
    """Zuora's values concatenate ONETIME, RECURRING and USAGE (e.g. ONETIMERECURRING); unset means recurring."""
    text = str(apply_discount_to or "RECURRING").upper()
    return {name for name, marker in (("OneTime", "ONETIME"), ("Recurring", "RECURRING"), ("Usage", "USAGE")) if marker in text}


# Items


def _item(
    charge: _Charge, segment: dict[str, Any], service_start: dt.date, service_end: dt.date, charge_date: dt.date, amount: Decimal
) -> dict[str, Any]:
    subscription, fields = charge.subscription, charge.fields
    number = subscription.get("subscriptionNumber")
    return {
        "id": _item_id(number, charge.number, service_start.isoformat()),
        "subscriptionName": number,
        "subscriptionId": subscription.get("id"),
        "subscriptionNumber": number,
        "serviceStartDate": service_start.isoformat(),
        "serviceEndDate": service_end.isoformat(),
        "chargeAmount": float(amount),
        "chargeDescription": fields.get("description") or "",
        "chargeName": fields.get("name"),
        "chargeNumber": charge.number,
        "chargeId": fields.get("id"),
        "productName": charge.rate_plan.get("productName"),
        "quantity": _number(segment.get("quantity"), default=1),
        "taxAmount": 0,
        "unitOfMeasure": fields.get("uom") or "",
        "chargeDate": f"{charge_date.isoformat()} 00:00:00",
        "chargeType": fields.get("type"),
        "processingType": "Charge",
        "appliedToItemId": None,
        _SOURCE: charge,
        "_unitPrice": _number(segment.get("price"), default=0),
    }


def _taxed(item: dict[str, Any], charge: _Charge, tax_rates: Mapping[str, Decimal]) -> dict[str, Any]:
    """Zuora Tax on an item: `chargeAmount` never includes tax (POSTBillingPreviewInvoiceItem.chargeAmount).

    A tax-inclusive charge's price holds the tax: the item splits it into `chargeAmount` and `taxAmount`. A
    tax-exclusive charge's tax is added on the invoice; the billing preview reports `taxAmount` 0 for it (the
    spec: "Otherwise, the value of this field is 0"), the subscription preview adds it (EXCLUSIVE_TAX).
    """
    mode = charge.fields.get("taxMode")
    if charge.fields.get("taxable") is False or mode not in ("TaxInclusive", "TaxExclusive"):
        return item
    code = charge.fields.get("taxCode")
    if code not in tax_rates:
        raise PreviewError(BUSINESS_RULE, f"The emulator cannot preview {charge.describe()}: no tax rate for tax code {code!r} (settings.taxRates).")
    rate = tax_rates[code] / 100
    amount = Decimal(str(item["chargeAmount"]))
    if mode == "TaxInclusive":
        net = _rounded(amount / (1 + rate))
        return {**item, "chargeAmount": float(net), "taxAmount": float(amount - net)}
    return {**item, EXCLUSIVE_TAX: _rounded(amount * rate)}


def _discount_item(discount: _Charge, target: dict[str, Any], amount: Decimal) -> dict[str, Any]:
    fields = discount.fields
    return {
        **target,
        "id": _item_id(target["subscriptionNumber"], discount.number, target["id"]),
        "chargeAmount": float(-amount),
        "chargeDescription": fields.get("description") or "",
        "chargeName": fields.get("name"),
        "chargeNumber": discount.number,
        "chargeId": fields.get("id"),
        "productName": discount.rate_plan.get("productName"),
        "quantity": _number(fields.get("quantity"), default=0),
        "unitOfMeasure": fields.get("uom") or "",
        "chargeType": fields.get("type"),
        "processingType": "Discount",
        "appliedToItemId": target["id"],
        "taxAmount": 0,
        _SOURCE: discount,
        "_unitPrice": 0,
        EXCLUSIVE_TAX: Decimal(0),
    }


def _item_id(*parts: str | None) -> str:
    return uuid.uuid5(_ITEM_ID_NAMESPACE, json.dumps(parts)).hex


# Dates and money


def _add_months(day: dt.date, months: int) -> dt.date:
    """Calendar months later, clamped to the month's last day (Jan 31 + 1 month = Feb 28)."""
    year, month_index = divmod(day.year * 12 + day.month - 1 + months, 12)
    month = month_index + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _decimal(value: Any, default: Decimal = Decimal(0)) -> Decimal:
    if value is None or isinstance(value, bool):
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return default


def _number(value: Any, default: int) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else default


def _prorated(amount: Decimal, days_billed: int, days_in_period: int) -> Decimal:
    if days_billed >= days_in_period:
        return _rounded(amount)
    return _rounded(amount * days_billed / days_in_period)


def _rounded(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)
