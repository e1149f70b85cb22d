"""Charge segments and the `charge-detail` / `exclude-rate-plans-with-no-charges` views of a subscription.

A stored charge may carry `chargeSegments` (Zuora's `RatePlanChargeSegment` shape): each segment holds what an
amendment changed (price, quantity, dates...) and inherits every other field from the charge. A charge without
`chargeSegments` is its own single segment. How Zuora serves them — `GET /v1/subscriptions/{key}` and
`GET /v1/subscriptions/accounts/{key}`, query parameters `charge-detail`, `as-of-date` and
`exclude-rate-plans-with-no-charges` — is described in zuora-sdk 3.21.0 `SubscriptionsApi.get_subscriptions_by_key`
and https://developer.zuora.com/v1-api-reference/api/operation/GET_SubscriptionsByKey/ ; the emulator's reading of
them is in docs/zuora-emulator.md ("Charge segments").
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

CHARGE_DETAILS = ("last-segment", "current-segment", "all-segments", "specific-segment")
REMOVED = "Remove"  # GETSubscriptionRatePlanType.lastChangeType: Add, Update or Remove

# The fields of zuora-sdk's RatePlanChargeSegment the emulator serves inside `chargeSegments`; the others
# (name, number, model, billingPeriod, ...) belong to the charge and are the same in every segment.
SEGMENT_FIELDS = (
    "id",
    "segment",
    "isLastSegment",
    "price",
    "quantity",
    "tiers",
    "discountAmount",
    "discountPercentage",
    "applyDiscountTo",
    "discountLevel",
    "discountClass",
    "includedUnits",
    "overagePrice",
    "currency",
    "description",
    "effectiveStartDate",
    "effectiveEndDate",
    "chargedThroughDate",
    "processedThroughDate",
    "triggerDate",
    "triggerEvent",
    "endDateCondition",
    "upToPeriods",
    "upToPeriodsType",
    "specificEndDate",
    "billingPeriodAlignment",
    "priceChangeOption",
    "priceIncreasePercentage",
    "pricingSummary",
    "originalListPrice",
    "salesPrice",
    "mrr",
    "tcv",
    "dmrc",
    "dtcv",
    "done",
    "taxable",
    "taxCode",
    "taxMode",
    "amendedByOrderOn",
    "originalOrderDate",
)


class ChargeDetailError(ValueError):
    """A `charge-detail`, `as-of-date` or `exclude-rate-plans-with-no-charges` value Zuora would reject."""


@dataclass(frozen=True)
class ChargeView:
    detail: str = "last-segment"
    as_of: dt.date | None = None  # the day current-segment / specific-segment look at
    exclude_rate_plans_with_no_charges: bool = False


def parse_charge_view(charge_detail: str | None, as_of_date: str | None, exclude: str | None, *, today: dt.date) -> ChargeView:
    detail = charge_detail or "last-segment"
    if detail not in CHARGE_DETAILS:
        raise ChargeDetailError(f"Invalid value for 'charge-detail': {detail!r} (use {', '.join(CHARGE_DETAILS)}).")
    as_of: dt.date | None = None
    if detail == "specific-segment":
        if not as_of_date:
            raise ChargeDetailError("'as-of-date' is required when 'charge-detail' is specific-segment.")
        try:
            as_of = dt.date.fromisoformat(as_of_date)
        except ValueError:
            raise ChargeDetailError(f"Invalid value for 'as-of-date': {as_of_date!r} (use YYYY-MM-DD).") from None
    elif detail == "current-segment":
        as_of = today
    flag = (exclude or "false").lower()
    if flag not in ("true", "false"):
        raise ChargeDetailError(f"Invalid value for 'exclude-rate-plans-with-no-charges': {exclude!r} (use true or false).")
    return ChargeView(detail, as_of, flag == "true")


def segments_of(charge: dict[str, Any]) -> list[dict[str, Any]]:
    """Each segment as a full charge (the charge's fields overlaid with the segment's), oldest first, numbered."""
    own = {name: value for name, value in charge.items() if name != "chargeSegments"}
    stored = charge.get("chargeSegments")
    if not isinstance(stored, list) or not stored:
        return [own]
    ordered = sorted(stored, key=lambda segment: (str(segment.get("effectiveStartDate") or ""), segment.get("segment") or 0))
    last = len(ordered)
    return [{**own, **copy.deepcopy(segment), "segment": index, "isLastSegment": index == last} for index, segment in enumerate(ordered, 1)]


def render_subscription(subscription: dict[str, Any], view: ChargeView) -> dict[str, Any]:
    """The subscription as Zuora serves it under `view` (the stored record is not changed)."""
    served = dict(subscription)
    rate_plans = []
    for rate_plan in subscription.get("ratePlans") or []:
        removed = rate_plan.get("lastChangeType") == REMOVED
        charges = [rendered for charge in rate_plan.get("ratePlanCharges") or [] if (rendered := _render_charge(charge, view, removed)) is not None]
        if view.exclude_rate_plans_with_no_charges and not charges:
            continue
        rate_plans.append({**rate_plan, "ratePlanCharges": charges})
    if "ratePlans" in subscription:
        served["ratePlans"] = rate_plans
    return served


def _render_charge(charge: dict[str, Any], view: ChargeView, removed: bool) -> dict[str, Any] | None:
    segments = segments_of(charge)
    last = segments[-1]
    # Zuora: with the flag, a charge removed before its last segment starts is left out (it never took effect).
    if view.exclude_rate_plans_with_no_charges and removed and _never_took_effect(last):
        return None
    if view.detail == "all-segments":
        return {**last, "chargeSegments": [_segment_shape(segment) for segment in segments]}
    if view.detail == "last-segment":
        return copy.deepcopy(charge) if "chargeSegments" not in charge else last
    chosen = next((segment for segment in segments if _in_effect(segment, view.as_of)), None)
    return chosen


def _segment_shape(segment: dict[str, Any]) -> dict[str, Any]:
    return {name: segment[name] for name in SEGMENT_FIELDS if name in segment}


def _in_effect(segment: dict[str, Any], day: dt.date | None) -> bool:
    """effectiveStartDate <= day < effectiveEndDate (an open end runs forever)."""
    start, end = as_date(segment.get("effectiveStartDate")), as_date(segment.get("effectiveEndDate"))
    return day is not None and start is not None and start <= day and (end is None or day < end)


def _never_took_effect(segment: dict[str, Any]) -> bool:
    start, end = as_date(segment.get("effectiveStartDate")), as_date(segment.get("effectiveEndDate"))
    return start is not None and end is not None and end <= start


def as_date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
