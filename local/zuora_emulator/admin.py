"""Changes made in Zuora between two syncs: renew, amend, cancel, suspend, resume (pure rules over a stored record).

Each action returns the subscription's next state; the store saves it as a new version (new id, version + 1,
updated now), as Zuora does for every amendment or order. Owner transfers and contact changes need the tenant's
accounts and are done by the store. The actions and their bodies are documented in docs/zuora-emulator.md
("Changing Zuora"); field names are zuora-sdk 3.21.0's `GetSubscriptionResponse` / `GetSubscriptionRatePlan` /
`RatePlanChargeSegment`.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from local.zuora_emulator.billing import add_term
from local.zuora_emulator.charges import REMOVED, SEGMENT_FIELDS, as_date, segments_of
from local.zuora_emulator.wire import Request

ACTIONS = ("renew", "amend", "cancel", "suspend", "resume", "transfer-owner", "transfer-invoice-owner", "contacts")


class AdminError(ValueError):
    """The change cannot be made; the message says why (HTTP 400 on the admin endpoint)."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RenewBody(_Body):
    pass


class AmendBody(_Body):
    """Exactly one change: a charge's price and/or quantity, a rate plan added, or one removed."""

    effectiveDate: dt.date | None = None  # default: today; a later date makes a new charge segment from then on
    chargeNumber: str | None = None
    price: float | None = None
    quantity: float | None = None
    addRatePlan: dict[str, Any] | None = None
    removeRatePlan: str | None = None  # its id, subscriptionRatePlanNumber or productRatePlanId

    @model_validator(mode="after")
    def _one_change(self) -> AmendBody:
        changes = (("chargeNumber", self.chargeNumber), ("addRatePlan", self.addRatePlan), ("removeRatePlan", self.removeRatePlan))
        chosen = [name for name, given in changes if given]
        if len(chosen) != 1:
            raise ValueError("give exactly one of chargeNumber (with price and/or quantity), addRatePlan, removeRatePlan")
        if self.chargeNumber and self.price is None and self.quantity is None:
            raise ValueError("chargeNumber needs a new price and/or quantity")
        if not self.chargeNumber and (self.price is not None or self.quantity is not None):
            raise ValueError("price and quantity go with chargeNumber")
        return self


class CancelBody(_Body):
    effectiveDate: dt.date | None = None
    cancelReason: str | None = None


class SuspendBody(_Body):
    suspendDate: dt.date | None = None


class ResumeBody(_Body):
    resumeDate: dt.date | None = None


class TransferBody(_Body):
    accountNumber: str = Field(min_length=1)


class ContactsBody(_Body):
    billToContact: dict[str, Any] | None = None
    soldToContact: dict[str, Any] | None = None
    on: Literal["account", "subscription"] = "account"  # the owner account's contacts, or the subscription's own

    @model_validator(mode="after")
    def _some_contact(self) -> ContactsBody:
        if self.billToContact is None and self.soldToContact is None:
            raise ValueError("give billToContact and/or soldToContact")
        return self


_BODIES: dict[str, type[_Body]] = {
    "renew": RenewBody,
    "amend": AmendBody,
    "cancel": CancelBody,
    "suspend": SuspendBody,
    "resume": ResumeBody,
    "transfer-owner": TransferBody,
    "transfer-invoice-owner": TransferBody,
    "contacts": ContactsBody,
}


def parse_action(action: str, body: Mapping[str, Any] | None) -> _Body:
    if action not in _BODIES:
        raise AdminError(f"Unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    try:
        return _BODIES[action].model_validate(dict(body or {}))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}" for error in exc.errors())
        raise AdminError(f"Invalid {action} body: {problems}") from None


def changed_subscription(subscription: dict[str, Any], body: _Body, *, today: dt.date) -> dict[str, Any]:
    """The next state of the subscription (a copy) for the lifecycle actions: renew, amend, cancel, suspend, resume."""
    changed = copy.deepcopy(subscription)
    if isinstance(body, RenewBody):
        _renew(changed)
    elif isinstance(body, AmendBody):
        _amend(changed, body, body.effectiveDate or today)
    elif isinstance(body, CancelBody):
        _cancel(changed, body, body.effectiveDate or today)
    elif isinstance(body, SuspendBody):
        _suspend(changed, body.suspendDate or today, today)
    elif isinstance(body, ResumeBody):
        _resume(changed, body.resumeDate or today, today)
    else:
        raise AdminError(f"{type(body).__name__} is not a lifecycle change")
    return changed


# Renew: the next term, and the charges that end with the term move with it


def _renew(subscription: dict[str, Any]) -> None:
    if subscription.get("termType") != "TERMED":
        raise AdminError(f"{subscription['subscriptionNumber']} is not TERMED; only termed subscriptions renew")
    old_end = as_date(subscription.get("termEndDate"))
    if old_end is None or not subscription.get("renewalTerm"):
        raise AdminError(f"{subscription['subscriptionNumber']} has no termEndDate or renewalTerm to renew by")
    new_end = add_term(old_end, subscription["renewalTerm"], subscription.get("renewalTermPeriodType"))
    subscription.update(
        termStartDate=old_end.isoformat(),
        termEndDate=new_end.isoformat(),
        subscriptionEndDate=new_end.isoformat(),
        currentTerm=subscription["renewalTerm"],
        currentTermPeriodType=subscription.get("renewalTermPeriodType"),
    )
    if subscription.get("status") == "Expired":
        subscription["status"] = "Active"
    for charge in _charges(subscription):
        segments = segments_of(charge)
        last = segments[-1]
        if as_date(last.get("effectiveEndDate")) == old_end and last.get("endDateCondition") in (None, "Subscription_End"):
            last["effectiveEndDate"] = new_end.isoformat()
            _store_segments(charge, segments)


# Amend


def _amend(subscription: dict[str, Any], body: AmendBody, day: dt.date) -> None:
    if body.addRatePlan is not None:
        subscription.setdefault("ratePlans", []).append(_added_rate_plan(body.addRatePlan, subscription, day))
        return
    if body.removeRatePlan is not None:
        rate_plan = _rate_plan(subscription, body.removeRatePlan)
        rate_plan["lastChangeType"] = REMOVED
        for charge in rate_plan.get("ratePlanCharges") or []:
            _end_charge(charge, day)
        return
    rate_plan, charge = _charge(subscription, str(body.chargeNumber))
    segments = segments_of(charge)
    index = next((i for i, segment in enumerate(segments) if _in_effect(segment, day)), None)
    if index is None:
        raise AdminError(f"charge {body.chargeNumber} is not in effect on {day}; amend it on a day between its start and end")
    current = segments[index]
    changes = {name: value for name, value in (("price", body.price), ("quantity", body.quantity)) if value is not None}
    if as_date(current.get("effectiveStartDate")) == day:
        current.update(changes)
    else:
        following = {**copy.deepcopy(current), **changes, "id": uuid.uuid4().hex, "effectiveStartDate": day.isoformat()}
        current["effectiveEndDate"] = day.isoformat()
        segments.insert(index + 1, following)
    _store_segments(charge, segments)
    if rate_plan.get("lastChangeType") != REMOVED:
        rate_plan["lastChangeType"] = "Update"


def _added_rate_plan(rate_plan: dict[str, Any], subscription: dict[str, Any], day: dt.date) -> dict[str, Any]:
    added = copy.deepcopy(rate_plan)
    added.setdefault("id", uuid.uuid4().hex)
    added["lastChangeType"] = "Add"
    end = subscription.get("termEndDate") or subscription.get("subscriptionEndDate")
    for charge in added.get("ratePlanCharges") or []:
        charge.setdefault("id", uuid.uuid4().hex)
        charge.setdefault("effectiveStartDate", day.isoformat())
        charge.setdefault("effectiveEndDate", end)
        charge.setdefault("chargedThroughDate", None)
    return added


# Cancel, suspend, resume


def _cancel(subscription: dict[str, Any], body: CancelBody, day: dt.date) -> None:
    """Cancelled from now on, ending on the effective date; the charges end then too. chargedThroughDate stays: a
    period already billed past that date is what Zuora credits back."""
    if subscription.get("status") == "Cancelled":
        raise AdminError(f"{subscription['subscriptionNumber']} is already cancelled")
    subscription.update(status="Cancelled", subscriptionEndDate=day.isoformat(), cancelReason=body.cancelReason)
    for charge in _charges(subscription):
        _end_charge(charge, day)


def _suspend(subscription: dict[str, Any], day: dt.date, today: dt.date) -> None:
    if subscription.get("status") != "Active":
        raise AdminError(f"only an Active subscription can be suspended; {subscription['subscriptionNumber']} is {subscription.get('status')}")
    if day > today:
        subscription["scheduledSuspendDate"] = day.isoformat()
    else:
        subscription.update(status="Suspended", scheduledSuspendDate=None)


def _resume(subscription: dict[str, Any], day: dt.date, today: dt.date) -> None:
    if subscription.get("status") != "Suspended":
        raise AdminError(f"only a Suspended subscription can be resumed; {subscription['subscriptionNumber']} is {subscription.get('status')}")
    if day > today:
        subscription["scheduledResumeDate"] = day.isoformat()
    else:
        subscription.update(status="Active", scheduledResumeDate=None)


# Charges and their segments


def _charges(subscription: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for rate_plan in subscription.get("ratePlans") or []:
        yield from rate_plan.get("ratePlanCharges") or []


def _charge(subscription: dict[str, Any], number: str) -> tuple[dict[str, Any], dict[str, Any]]:
    for rate_plan in subscription.get("ratePlans") or []:
        for charge in rate_plan.get("ratePlanCharges") or []:
            if charge.get("number") == number:
                return rate_plan, charge
    raise AdminError(f"{subscription['subscriptionNumber']} has no charge {number}")


def _rate_plan(subscription: dict[str, Any], key: str) -> dict[str, Any]:
    for rate_plan in subscription.get("ratePlans") or []:
        if key in (rate_plan.get("id"), rate_plan.get("subscriptionRatePlanNumber"), rate_plan.get("productRatePlanId")):
            if rate_plan.get("lastChangeType") == REMOVED:
                raise AdminError(f"rate plan {key} of {subscription['subscriptionNumber']} is already removed")
            return rate_plan
    raise AdminError(f"{subscription['subscriptionNumber']} has no rate plan {key}")


def _end_charge(charge: dict[str, Any], day: dt.date) -> None:
    """Every segment ends by `day`; one that would start on or after it is left with no time at all (start = end)."""
    segments = segments_of(charge)
    for segment in segments:
        start, end = as_date(segment.get("effectiveStartDate")), as_date(segment.get("effectiveEndDate"))
        if end is None or end > day:
            segment["effectiveEndDate"] = max(start, day).isoformat() if start else day.isoformat()
    _store_segments(charge, segments)


def _store_segments(charge: dict[str, Any], segments: list[dict[str, Any]]) -> None:
    """A single segment stays a plain charge; several become `chargeSegments`, the charge showing the last one."""
    for index, segment in enumerate(segments, 1):
        segment.update(segment=index, isLastSegment=index == len(segments))
    charge.update({name: value for name, value in segments[-1].items() if name != "chargeSegments"})
    if len(segments) == 1 and "chargeSegments" not in charge:
        return
    charge["chargeSegments"] = [{name: segment[name] for name in SEGMENT_FIELDS if name in segment} for segment in segments]


def _in_effect(segment: dict[str, Any], day: dt.date) -> bool:
    start, end = as_date(segment.get("effectiveStartDate")), as_date(segment.get("effectiveEndDate"))
    return start is not None and start <= day and (end is None or day < end)


# Changes armed to happen while a client reads Zuora (between two page reads of a listing, say)


class ChangeStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subscription: str = Field(min_length=1)
    action: str
    body: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _body_fits_the_action(self) -> ChangeStep:
        parse_action(self.action, self.body)  # an AdminError is a ValueError: the trigger is refused when armed
        return self


class ChangeTrigger(BaseModel):
    """After the `afterRequests`-th request matching method and path has been answered, make the change (once)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str | None = None
    path: str
    afterRequests: int = Field(default=1, ge=1)
    then: ChangeStep

    @field_validator("path")
    @classmethod
    def _path_is_a_regex(cls, path: str) -> str:
        try:
            re.compile(path)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return path

    def matches(self, request: Request) -> bool:
        if self.method is not None and self.method.upper() != request.method.upper():
            return False
        return re.fullmatch(self.path, request.path) is not None


@dataclass
class _ArmedTrigger:
    trigger: ChangeTrigger
    seen: int = 0


class TriggerBook:
    """Armed triggers; safe between threads. `observe` returns the changes now due (each fires once)."""

    def __init__(self, triggers: Iterable[ChangeTrigger | Mapping[str, Any]] = ()):
        self._lock = threading.Lock()
        self._armed: list[_ArmedTrigger] = []
        for trigger in triggers:
            self.add(trigger)

    def add(self, trigger: ChangeTrigger | Mapping[str, Any]) -> ChangeTrigger:
        checked = trigger if isinstance(trigger, ChangeTrigger) else ChangeTrigger.model_validate(trigger)
        with self._lock:
            self._armed.append(_ArmedTrigger(checked))
        return checked

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def observe(self, request: Request) -> list[ChangeStep]:
        due: list[ChangeStep] = []
        with self._lock:
            for armed in list(self._armed):
                if armed.trigger.matches(request):
                    armed.seen += 1
                    if armed.seen >= armed.trigger.afterRequests:
                        due.append(armed.trigger.then)
                        self._armed.remove(armed)
        return due
