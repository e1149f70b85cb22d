"""What LFS's subscription table shows, computed from Limio's records (pure).

LFS picks the "current" schedule item as the latest one dated today or earlier, and the next one after it
(limio.md §2.3); cancelled entries are not charges any more and are skipped.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from limio_sync.catalog import OfferType
from limio_sync.sync_rules import LimioOffer, LimioStatus, LimioSubscription, ScheduleEntry, ScheduleStatus


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class ChargeView(_View):
    date: str
    amount: str
    currency: str | None = None
    description: str


class OfferView(_View):
    offerPath: str
    productName: str | None = None
    ratePlanName: str | None = None
    quantity: str | None = None


class SubscriptionView(_View):
    id: str
    name: str
    status: str
    outOfTerm: bool
    zuoraStatus: str
    startDate: str
    termStartDate: str
    termEndDate: str | None = None
    autoRenew: bool
    currentOffer: OfferView | None = None
    addOns: list[OfferView] = []
    latestCharge: ChargeView | None = None
    nextCharge: ChargeView | None = None
    customerName: str | None = None
    zuoraAccountNumber: str
    zuoraVersion: int
    lastSyncedAt: str | None = None


def _charge(entry: ScheduleEntry | None) -> ChargeView | None:
    if entry is None:
        return None
    return ChargeView(date=entry.date, amount=f"{entry.amount:.2f}", currency=entry.currency, description=entry.description)


def _offer(offer: LimioOffer) -> OfferView:
    quantity = None if offer.quantity is None else f"{offer.quantity.normalize():f}"
    return OfferView(offerPath=offer.offerPath, productName=offer.productName, ratePlanName=offer.ratePlanName, quantity=quantity)


def current_offer(record: LimioSubscription, today: dt.date) -> LimioOffer | None:
    """The base offer in effect today, else the latest one to start."""
    offers = [o for o in record.offers if o.type is OfferType.OFFER]
    in_effect = [o for o in offers if (o.start or "") <= today.isoformat() < (o.end or "9999-12-31")]
    candidates = in_effect or offers
    return max(candidates, key=lambda o: o.start or "") if candidates else None


def latest_and_next_charge(record: LimioSubscription, today: dt.date) -> tuple[ScheduleEntry | None, ScheduleEntry | None]:
    live = [e for e in record.schedule if e.status is not ScheduleStatus.CANCELLED]
    past = [e for e in live if e.date <= today.isoformat()]
    future = [e for e in live if e.date > today.isoformat()]
    return (past[-1] if past else None), (future[0] if future else None)


def subscription_view(record: LimioSubscription, today: dt.date) -> SubscriptionView:
    latest, upcoming = latest_and_next_charge(record, today)
    offer = current_offer(record, today)
    return SubscriptionView(
        id=record.id,
        name=record.name,
        status=record.status.value,
        outOfTerm=record.status is LimioStatus.ACTIVE and record.termEndDate is not None and record.termEndDate <= today.isoformat(),
        zuoraStatus=record.zuoraStatus,
        startDate=record.subscriptionStartDate,
        termStartDate=record.termStartDate,
        termEndDate=record.termEndDate,
        autoRenew=record.autoRenew,
        currentOffer=_offer(offer) if offer else None,
        addOns=[_offer(o) for o in record.offers if o.type is OfferType.ADDON and today.isoformat() < (o.end or "9999-12-31")],
        latestCharge=_charge(latest),
        nextCharge=_charge(upcoming),
        customerName=record.customerName,
        zuoraAccountNumber=record.zuoraAccountNumber,
        zuoraVersion=record.zuoraVersion,
        lastSyncedAt=record.lastSyncedAt,
    )
