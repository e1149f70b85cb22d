"""The sync rules: pure functions from Zuora's state (and what Limio holds) to the Limio record.

No I/O here. The adapters fetch and store; these functions decide what Limio should say and whether
anything has to be written at all. The field mapping is documented in README.md ("Zuora → Limio mapping").
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from limio_sync import ids
from limio_sync.catalog import CatalogMapping, OfferType, UnmappedRatePlan
from limio_sync.models import Outcome
from limio_sync.zuora.subscription import (
    TermType,
    ZuoraAccount,
    ZuoraCharge,
    ZuoraChargeSegment,
    ZuoraContact,
    ZuoraInvoiceItem,
    ZuoraRatePlan,
    ZuoraStatus,
    ZuoraSubscription,
    latest_billing_preview_date,
)

CENT = Decimal("0.01")


class LimioStatus(StrEnum):
    ACTIVE = "active"
    PENDING = "pending"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


ZUORA_TO_LIMIO_STATUS: dict[ZuoraStatus, LimioStatus] = {
    ZuoraStatus.DRAFT: LimioStatus.PENDING,
    ZuoraStatus.PENDING_ACTIVATION: LimioStatus.PENDING,
    ZuoraStatus.PENDING_ACCEPTANCE: LimioStatus.PENDING,
    ZuoraStatus.ACTIVE: LimioStatus.ACTIVE,
    ZuoraStatus.SUSPENDED: LimioStatus.SUSPENDED,
    ZuoraStatus.CANCELLED: LimioStatus.CANCELLED,
    ZuoraStatus.EXPIRED: LimioStatus.EXPIRED,
}

# Fields that record when and by which sync a record was written; they never make content "different".
BOOKKEEPING_FIELDS = frozenset({"lastSyncId", "lastSyncedAt"})


class ScheduleStatus(StrEnum):
    PENDING = "pending"
    CANCELLED = "cancelled"


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LimioContact(_Record):
    """Limio's contact and address fields (limio.md §1.2: email↔PersonalEmail, phone↔MobilePhone)."""

    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None
    workEmail: str | None = None
    phone: str | None = None
    workPhone: str | None = None
    otherPhone: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    county: str | None = None
    postalCode: str | None = None
    country: str | None = None


class LimioCharge(_Record):
    number: str
    name: str
    type: str
    model: str
    price: Decimal | None = None
    quantity: Decimal | None = None
    discountPercentage: Decimal | None = None
    discountAmount: Decimal | None = None
    billingPeriod: str | None = None


class LimioOffer(_Record):
    offerPath: str
    type: OfferType
    productName: str | None = None
    ratePlanName: str | None = None
    productRatePlanId: str
    start: str | None = None
    end: str | None = None
    quantity: Decimal | None = None
    charges: tuple[LimioCharge, ...] = ()


class ScheduleEntry(_Record):
    id: str
    date: str
    amount: Decimal
    currency: str | None = None
    description: str
    type: str = "payment"
    status: ScheduleStatus = ScheduleStatus.PENDING


class LimioSubscription(_Record):
    """Limio's copy of one subscription, keyed by the Zuora subscription number (Limio's `name`)."""

    subscriptionNumber: str
    id: str
    name: str
    customerId: str
    owner: str
    status: LimioStatus
    zuoraStatus: str
    outOfTerm: bool = False
    subscriptionStartDate: str
    subscriptionEndDate: str | None = None
    termStartDate: str
    termEndDate: str | None = None
    autoRenew: bool
    currency: str | None = None
    customerName: str | None = None
    customerEmail: str | None = None
    billingContact: LimioContact | None = None
    deliveryContact: LimioContact | None = None
    offers: tuple[LimioOffer, ...] = ()
    schedule: tuple[ScheduleEntry, ...] = ()
    zuoraAccountNumber: str
    salesforceAccountId: str | None = None
    zuoraSubscriptionId: str
    zuoraVersion: int
    lastSyncId: str | None = None
    lastSyncedAt: str | None = None

    def content(self) -> dict:
        return self.model_dump(mode="json", exclude=set(BOOKKEEPING_FIELDS))


class FieldChange(_Record):
    field: str
    before: Any = None
    after: Any = None


class SyncDecision(_Record):
    outcome: Outcome
    record: LimioSubscription
    write: bool
    changes: tuple[FieldChange, ...] = ()
    message: str | None = None

    @property
    def changed_fields(self) -> tuple[str, ...]:
        return tuple(change.field for change in self.changes)


class ZuoraState(_Record):
    """Everything Zuora says about one subscription: the subscription, its account, its billing preview."""

    subscription: ZuoraSubscription
    account: ZuoraAccount | None = None
    invoiceItems: tuple[ZuoraInvoiceItem, ...] = ()


# ---------------------------------------------------------------- mapping


def limio_contact(contact: ZuoraContact | None) -> LimioContact | None:
    if contact is None:
        return None
    mapped = LimioContact(
        firstName=contact.firstName,
        lastName=contact.lastName,
        email=contact.personalEmail,
        workEmail=contact.workEmail,
        phone=contact.mobilePhone,
        workPhone=contact.workPhone,
        otherPhone=contact.otherPhone,
        address1=contact.address1,
        address2=contact.address2,
        city=contact.city,
        state=contact.state,
        county=contact.county,
        postalCode=contact.zipCode,
        country=contact.country,
    )
    return mapped if mapped.model_dump(exclude_none=True) else None


def limio_status(subscription: ZuoraSubscription, today: dt.date) -> tuple[LimioStatus, bool]:
    """Limio status, and whether the subscription is Active but past its term end ("Active (OUT OF TERM)")."""
    status = ZUORA_TO_LIMIO_STATUS[subscription.status]
    out_of_term = (
        subscription.status is ZuoraStatus.ACTIVE
        and subscription.termType is TermType.TERMED
        and subscription.termEndDate is not None
        and subscription.termEndDate <= today
    )
    return status, out_of_term


def service_day(subscription: ZuoraSubscription, today: dt.date) -> dt.date:
    """The day whose products Limio shows: today, or, once the subscription has ended (cancelled, expired, or
    past its term end), its last day of service, so that an ended subscription still shows what it had then
    rather than nothing (its charges all end on its end date)."""
    ends = [subscription.subscriptionEndDate]
    if subscription.termType is TermType.TERMED:
        ends.append(subscription.termEndDate)
    known = [end for end in ends if end is not None]
    end = min(known) if known else None
    return end - dt.timedelta(days=1) if end is not None and end <= today else today


def _limio_charge(charge: ZuoraCharge, segment: ZuoraChargeSegment) -> LimioCharge:
    return LimioCharge(
        number=charge.number,
        name=charge.name,
        type=charge.type,
        model=charge.model,
        price=segment.price,
        quantity=segment.quantity,
        discountPercentage=segment.discountPercentage,
        discountAmount=segment.discountAmount,
        billingPeriod=charge.billingPeriod,
    )


def offered_charges(rate_plan: ZuoraRatePlan, day: dt.date) -> list[tuple[ZuoraCharge, ZuoraChargeSegment]]:
    """The charges of a rate plan the customer has on `day`, each with its segment in effect that day.

    Zuora keeps what has ended on the subscription: a removed rate plan (`lastChangeType: Remove`) stays,
    its charges ending on the removal's effective date, and a charge stays after its effective end (a
    one-time fee, a fixed-period discount). Those are not what the customer has, so a charge counts only
    while `day` is inside its effective dates (Zuora's own rule for the segment "active on" a date). A plan
    none of whose charges is in effect yet but some start later (the new plan of a switch scheduled for a
    future date) is upcoming: its charges are given as they will start (their first segment), so Limio
    shows it with its future `start` beside the current plan, which keeps its offer until the switch. A plan
    whose charges have all ended (a removal that has taken effect) has none: it is not an offer.
    """
    charges = sorted(rate_plan.ratePlanCharges, key=lambda c: c.number)
    current = [(charge, segment) for charge in charges if (segment := charge.segment_on(day)) is not None]
    if current:
        return current
    return [(charge, charge.segments[0]) for charge in charges if charge.starts_after(day)]


def limio_offer(rate_plan: ZuoraRatePlan, catalog: CatalogMapping, subscription_number: str, day: dt.date) -> LimioOffer | None:
    """The Limio offer for a rate plan, or None when the plan is over on `day` (nothing of it is looked up in
    the catalog then, so an unmapped legacy plan removed long ago fails nothing)."""
    offered = offered_charges(rate_plan, day)
    if not offered:
        return None
    entry = catalog.entry_for(rate_plan.productRatePlanId)
    if entry is None:
        raise UnmappedRatePlan(
            f"Subscription {subscription_number} has rate plan '{rate_plan.ratePlanName}' of product '{rate_plan.productName}' "
            f"(productRatePlanId {rate_plan.productRatePlanId}) with no Limio offer in the catalog mapping"
        )
    # The plan's real start is its earliest charge segment's, whichever charges are still offered.
    starts = [c.start for c in rate_plan.ratePlanCharges if c.start]
    ends = [c.segments[-1].effectiveEndDate for c, _ in offered if c.segments[-1].effectiveEndDate]
    quantities = [segment.quantity for c, segment in offered if segment.quantity is not None and c.type == "Recurring"]
    return LimioOffer(
        offerPath=entry.offerPath,
        type=entry.type,
        productName=rate_plan.productName,
        ratePlanName=rate_plan.ratePlanName,
        productRatePlanId=rate_plan.productRatePlanId,
        start=min(starts).isoformat() if starts else None,
        end=max(ends).isoformat() if ends else None,
        quantity=max(quantities) if quantities else None,
        charges=tuple(_limio_charge(c, segment) for c, segment in offered),
    )


def limio_offers(subscription: ZuoraSubscription, catalog: CatalogMapping, today: dt.date) -> tuple[LimioOffer, ...]:
    """The offers the subscription has on its service day. Zuora sends rate plans in random order; sort so the
    same state always maps to the same record (the same product rate plan can appear twice: its charge
    numbers, unique in a subscription, break the tie)."""
    day = service_day(subscription, today)
    offers = [offer for rp in subscription.ratePlans if (offer := limio_offer(rp, catalog, subscription.subscriptionNumber, day))]
    return tuple(
        sorted(offers, key=lambda o: (o.type != OfferType.OFFER, o.start or "", o.productRatePlanId, o.offerPath, [c.number for c in o.charges]))
    )


def limio_currency(subscription: ZuoraSubscription, account: ZuoraAccount | None) -> str | None:
    """The subscription's currency, else its charges', else its account's. A subscription has `currency` only
    in tenants with Multiple Currencies; a charge's is "Currency used by the account" ([SPEC]
    GETSubscriptionType, GETSubscriptionRatePlanChargesType); the account's is `billingAndPayment.currency`.
    The record and every schedule entry use this one rule."""
    charges = sorted((c for rp in subscription.ratePlans for c in rp.ratePlanCharges), key=lambda c: c.number)
    from_charges = next((currency for c in charges if (currency := c.any_currency)), None)
    return subscription.currency or from_charges or (account.currency if account else None)


def schedule_entry_id(subscription_number: str, date: str, amount: Decimal, description: str) -> str:
    """A schedule entry is what is billed on a day: the same subscription, date, amount and description is the
    same entry. The currency is not part of it, so the id stays when a tenant's currency first shows up."""
    key = "\x1f".join([subscription_number, date, f"{amount:.2f}", description])
    return "schedule-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def schedule_horizon(subscription: ZuoraSubscription, today: dt.date, evergreen_horizon_days: int) -> dt.date:
    """How far ahead the schedule goes: the term end, or a configured horizon for evergreen subscriptions, and
    never further than Zuora's billing preview reaches (a 99-year term's schedule stops there)."""
    if subscription.termType is TermType.TERMED and subscription.termEndDate:
        horizon = subscription.termEndDate
    else:
        horizon = today + dt.timedelta(days=evergreen_horizon_days)
    return min(horizon, latest_billing_preview_date(today) + dt.timedelta(days=1))


def billing_date(item: ZuoraInvoiceItem, in_arrears: frozenset[str]) -> dt.date:
    """When Zuora bills an item. Its `chargeDate` is when the preview made it, not a billing date ([SPEC]
    POSTBillingPreviewInvoiceItem), so the service period says: an in-advance charge (Zuora's default) is
    billed when its period starts; an in-arrears one (`billingTiming: IN_ARREARS` on the charge the item's
    `chargeNumber` names, or its `productRatePlanChargeId` when it has no number) once its period is over,
    the day after `serviceEndDate`."""
    charge = item.chargeNumber or item.productRatePlanChargeId
    if charge in in_arrears and item.serviceEndDate is not None:
        return item.serviceEndDate + dt.timedelta(days=1)
    return item.serviceStartDate


def desired_schedule(
    subscription: ZuoraSubscription, items: tuple[ZuoraInvoiceItem, ...], horizon: dt.date, account: ZuoraAccount | None = None
) -> list[ScheduleEntry]:
    """One entry per billing date: the sum of what Zuora will bill that day, tax, discounts and credits
    included. An item belongs to the schedule when its service period starts before the horizon, so an
    in-arrears charge's last period of the term is in it although it is billed on the term end."""
    charges = [c for rp in subscription.ratePlans for c in rp.ratePlanCharges]
    in_arrears = frozenset(key for c in charges if c.in_arrears for key in (c.number, c.productRatePlanChargeId) if key)
    # A credit memo item has no chargeName: the charge it names says what it is.
    charge_names = {c.number: c.name for c in charges}
    by_date: dict[dt.date, list[ZuoraInvoiceItem]] = defaultdict(list)
    for item in items:
        if item.subscriptionNumber == subscription.subscriptionNumber and item.serviceStartDate < horizon:
            by_date[billing_date(item, in_arrears)].append(item)
    currency = limio_currency(subscription, account)
    entries = []
    for date, day_items in sorted(by_date.items()):
        amount = sum((i.billed for i in day_items), Decimal(0)).quantize(CENT, ROUND_HALF_UP)
        names = sorted({i.chargeName or charge_names.get(i.chargeNumber or "") or i.chargeNumber or "charge" for i in day_items})
        description = ", ".join(names)
        entries.append(
            ScheduleEntry(
                id=schedule_entry_id(subscription.subscriptionNumber, date.isoformat(), amount, description),
                date=date.isoformat(),
                amount=amount,
                currency=currency,
                description=description,
            )
        )
    return entries


def _content(entry: ScheduleEntry) -> tuple[str, Decimal, str]:
    return entry.date, entry.amount, entry.description


def merge_schedule(existing: tuple[ScheduleEntry, ...], desired: list[ScheduleEntry], today: dt.date) -> tuple[ScheduleEntry, ...]:
    """Keep every entry Limio has: one that is still billed keeps its id (and takes the desired currency),
    future ones that no longer apply are cancelled (never deleted), and those dated today or earlier are
    history (billed, or being billed today), left as they are.

    "Still billed" is by content (date, amount, description), not only by id: entries written before the
    currency left the id (or by Limio itself) carry other ids, and cancelling and re-creating each of them
    would churn every schedule for nothing. Such an entry keeps its id; an active one is preferred over a
    cancelled one with the same content.
    """
    desired_by_id = {entry.id: entry for entry in desired}
    held_ids = {entry.id for entry in existing}
    unclaimed: dict[tuple, ScheduleEntry] = {}
    for entry in sorted(existing, key=lambda e: (e.status is ScheduleStatus.CANCELLED, e.id)):
        if entry.id not in desired_by_id:
            unclaimed.setdefault(_content(entry), entry)
    adopted: dict[str, ScheduleEntry] = {}  # held id -> the desired entry it stands for
    for entry in desired:
        if entry.id not in held_ids and (held := unclaimed.pop(_content(entry), None)) is not None:
            adopted[held.id] = entry
    adopting = {entry.id for entry in adopted.values()}
    merged: dict[str, ScheduleEntry] = {}
    for entry in existing:
        if entry.id in desired_by_id:
            merged[entry.id] = desired_by_id[entry.id]
        elif entry.id in adopted:
            merged[entry.id] = adopted[entry.id].model_copy(update={"id": entry.id})
        elif entry.status is not ScheduleStatus.CANCELLED and dt.date.fromisoformat(entry.date) > today:
            merged[entry.id] = entry.model_copy(update={"status": ScheduleStatus.CANCELLED})
        else:
            merged[entry.id] = entry
    for entry in desired:
        if entry.id not in adopting:
            merged.setdefault(entry.id, entry)
    return tuple(sorted(merged.values(), key=lambda e: (e.date, e.id)))


def _full_name(contact: LimioContact | None) -> str | None:
    if contact is None:
        return None
    return " ".join(part for part in (contact.firstName, contact.lastName) if part) or None


def desired_record(
    zuora: ZuoraState,
    existing: LimioSubscription | None,
    *,
    catalog: CatalogMapping,
    salesforce_account_id: str | None,
    sync_id: str,
    synced_at: str,
    today: dt.date,
    evergreen_horizon_days: int = 365,
) -> LimioSubscription:
    """What Limio must hold for this Zuora state. Limio's own subscription id is kept when it has one; the
    customer follows the Zuora account's owner (an owner transfer moves the subscription to the new customer)."""
    subscription = zuora.subscription
    account = zuora.account
    crm_id = (account.crmId if account else None) or salesforce_account_id
    customer_key = crm_id or subscription.accountNumber
    billing = limio_contact(subscription.billToContact) or limio_contact(account.billToContact if account else None)
    delivery = limio_contact(subscription.soldToContact) or limio_contact(account.soldToContact if account else None)
    status, out_of_term = limio_status(subscription, today)
    horizon = schedule_horizon(subscription, today, evergreen_horizon_days)
    schedule = merge_schedule(existing.schedule if existing else (), desired_schedule(subscription, zuora.invoiceItems, horizon, account), today)
    return LimioSubscription(
        subscriptionNumber=subscription.subscriptionNumber,
        id=existing.id if existing else ids.subscription_id(subscription.subscriptionNumber),
        name=subscription.subscriptionNumber,
        customerId=ids.customer_id(customer_key),
        owner=ids.owner_id(customer_key),
        status=status,
        zuoraStatus=subscription.status.value,
        outOfTerm=out_of_term,
        subscriptionStartDate=subscription.subscriptionStartDate.isoformat(),
        subscriptionEndDate=subscription.subscriptionEndDate.isoformat() if subscription.subscriptionEndDate else None,
        termStartDate=subscription.termStartDate.isoformat(),
        termEndDate=subscription.termEndDate.isoformat() if subscription.termEndDate else None,
        autoRenew=subscription.autoRenew,
        currency=limio_currency(subscription, account),
        customerName=_full_name(billing),
        customerEmail=(billing.email or billing.workEmail) if billing else None,
        billingContact=billing,
        deliveryContact=delivery,
        offers=limio_offers(subscription, catalog, today),
        schedule=schedule,
        zuoraAccountNumber=subscription.accountNumber,
        salesforceAccountId=crm_id,
        zuoraSubscriptionId=subscription.id,
        zuoraVersion=subscription.version,
        lastSyncId=sync_id,
        lastSyncedAt=synced_at,
    )


# ---------------------------------------------------------------- deciding


def _summarise_list(name: str, before: list, after: list) -> FieldChange:
    """Lists (offers, schedule) are summarised in the audit trail rather than copied whole."""
    if name == "schedule":
        before_by_id = {e["id"]: e for e in before}
        added = [e["id"] for e in after if e["id"] not in before_by_id]
        cancelled = [e["id"] for e in after if e["id"] in before_by_id and e["status"] == "cancelled" != before_by_id[e["id"]]["status"]]
        return FieldChange(field=name, before=f"{len(before)} entries", after=f"{len(added)} added, {len(cancelled)} cancelled")
    return FieldChange(
        field=name,
        before=[o.get("offerPath") for o in before],
        after=[o.get("offerPath") for o in after],
    )


def field_changes(before: dict, after: dict) -> tuple[FieldChange, ...]:
    changes = []
    for name in sorted(after):
        if before.get(name) == after[name]:
            continue
        if isinstance(after[name], list):
            changes.append(_summarise_list(name, before.get(name) or [], after[name]))
        else:
            changes.append(FieldChange(field=name, before=before.get(name), after=after[name]))
    return tuple(changes)


def decide(desired: LimioSubscription, existing: LimioSubscription | None) -> SyncDecision:
    """Create, update, or leave alone: never older over newer, never a write that changes nothing."""
    if existing is None:
        return SyncDecision(outcome=Outcome.CREATED, record=desired, write=True)
    if existing.zuoraVersion > desired.zuoraVersion:
        return SyncDecision(
            outcome=Outcome.UNCHANGED,
            record=existing,
            write=False,
            message=(
                f"Limio already holds version {existing.zuoraVersion} of subscription {existing.subscriptionNumber}, "
                f"newer than the version {desired.zuoraVersion} read from Zuora"
            ),
        )
    changes = field_changes(existing.content(), desired.content())
    if not changes:
        return SyncDecision(outcome=Outcome.UNCHANGED, record=existing, write=False)
    return SyncDecision(outcome=Outcome.UPDATED, record=desired, write=True, changes=changes)
