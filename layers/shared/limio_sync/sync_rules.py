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


def _limio_charge(charge: ZuoraCharge) -> LimioCharge:
    return LimioCharge(
        number=charge.number,
        name=charge.name,
        type=charge.type,
        model=charge.model,
        price=charge.price,
        quantity=charge.quantity,
        discountPercentage=charge.discountPercentage,
        discountAmount=charge.discountAmount,
        billingPeriod=charge.billingPeriod,
    )


def limio_offer(rate_plan: ZuoraRatePlan, catalog: CatalogMapping, subscription_number: str) -> LimioOffer:
    entry = catalog.entry_for(rate_plan.productRatePlanId)
    if entry is None:
        raise UnmappedRatePlan(
            f"Subscription {subscription_number} has rate plan '{rate_plan.ratePlanName}' of product '{rate_plan.productName}' "
            f"(productRatePlanId {rate_plan.productRatePlanId}) with no Limio offer in the catalog mapping"
        )
    charges = sorted(rate_plan.ratePlanCharges, key=lambda c: c.number)
    starts = [c.effectiveStartDate for c in charges if c.effectiveStartDate]
    ends = [c.effectiveEndDate for c in charges if c.effectiveEndDate]
    quantities = [c.quantity for c in charges if c.quantity is not None and c.type == "Recurring"]
    return LimioOffer(
        offerPath=entry.offerPath,
        type=entry.type,
        productName=rate_plan.productName,
        ratePlanName=rate_plan.ratePlanName,
        productRatePlanId=rate_plan.productRatePlanId,
        start=min(starts).isoformat() if starts else None,
        end=max(ends).isoformat() if ends else None,
        quantity=max(quantities) if quantities else None,
        charges=tuple(_limio_charge(c) for c in charges),
    )


def limio_offers(subscription: ZuoraSubscription, catalog: CatalogMapping) -> tuple[LimioOffer, ...]:
    """Zuora sends rate plans in random order; sort so the same state always maps to the same record (the same
    product rate plan can appear twice: its charge numbers, unique in a subscription, break the tie)."""
    offers = [limio_offer(rp, catalog, subscription.subscriptionNumber) for rp in subscription.ratePlans]
    return tuple(
        sorted(offers, key=lambda o: (o.type != OfferType.OFFER, o.start or "", o.productRatePlanId, o.offerPath, [c.number for c in o.charges]))
    )


def schedule_entry_id(subscription_number: str, date: str, amount: Decimal, currency: str | None, description: str) -> str:
    key = "\x1f".join([subscription_number, date, f"{amount:.2f}", currency or "", description])
    return "schedule-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def schedule_horizon(subscription: ZuoraSubscription, today: dt.date, evergreen_horizon_days: int) -> dt.date:
    """How far ahead the schedule goes: the term end, or a configured horizon for evergreen subscriptions, and
    never further than Zuora's billing preview reaches (a 99-year term's schedule stops there)."""
    if subscription.termType is TermType.TERMED and subscription.termEndDate:
        horizon = subscription.termEndDate
    else:
        horizon = today + dt.timedelta(days=evergreen_horizon_days)
    return min(horizon, latest_billing_preview_date(today) + dt.timedelta(days=1))


def desired_schedule(subscription: ZuoraSubscription, items: tuple[ZuoraInvoiceItem, ...], horizon: dt.date) -> list[ScheduleEntry]:
    """One entry per billing date: the sum of what Zuora will bill that day, discounts included."""
    by_date: dict[dt.date, list[ZuoraInvoiceItem]] = defaultdict(list)
    for item in items:
        if item.subscriptionNumber == subscription.subscriptionNumber and item.billing_date < horizon:
            by_date[item.billing_date].append(item)
    entries = []
    for date, day_items in sorted(by_date.items()):
        amount = sum((i.amount for i in day_items), Decimal(0)).quantize(CENT, ROUND_HALF_UP)
        names = sorted({i.chargeName or i.chargeNumber or "charge" for i in day_items})
        description = ", ".join(names)
        entries.append(
            ScheduleEntry(
                id=schedule_entry_id(subscription.subscriptionNumber, date.isoformat(), amount, subscription.currency, description),
                date=date.isoformat(),
                amount=amount,
                currency=subscription.currency,
                description=description,
            )
        )
    return entries


def merge_schedule(existing: tuple[ScheduleEntry, ...], desired: list[ScheduleEntry], today: dt.date) -> tuple[ScheduleEntry, ...]:
    """Keep every entry Limio has: identical ones keep their ids, future ones that no longer apply are cancelled
    (never deleted), and those dated today or earlier are history (billed, or being billed today), left as
    they are."""
    desired_by_id = {entry.id: entry for entry in desired}
    merged: dict[str, ScheduleEntry] = {}
    for entry in existing:
        if entry.id in desired_by_id:
            merged[entry.id] = entry.model_copy(update={"status": ScheduleStatus.PENDING})
        elif entry.status is not ScheduleStatus.CANCELLED and dt.date.fromisoformat(entry.date) > today:
            merged[entry.id] = entry.model_copy(update={"status": ScheduleStatus.CANCELLED})
        else:
            merged[entry.id] = entry
    for entry in desired:
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
    schedule = merge_schedule(existing.schedule if existing else (), desired_schedule(subscription, zuora.invoiceItems, horizon), today)
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
        currency=subscription.currency or (account.currency if account else None),
        customerName=_full_name(billing),
        customerEmail=(billing.email or billing.workEmail) if billing else None,
        billingContact=billing,
        deliveryContact=delivery,
        offers=limio_offers(subscription, catalog),
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
