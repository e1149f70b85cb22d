"""The sync rules: pure functions from a Zuora subscription (and what Limio holds) to the Limio record.

No I/O here. The adapters fetch and store; these functions decide what Limio should say and whether
anything has to be written at all.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from limio_sync import ids
from limio_sync.models import Outcome
from limio_sync.zuora.subscription import ZuoraStatus, ZuoraSubscription


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


class LimioSubscription(BaseModel):
    """Limio's copy of one subscription, keyed by the Zuora subscription number (Limio's `name`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    subscriptionNumber: str
    id: str
    name: str
    customerId: str
    owner: str
    status: LimioStatus
    zuoraStatus: str
    subscriptionStartDate: str
    termStartDate: str
    termEndDate: str | None = None
    autoRenew: bool
    currency: str | None = None
    zuoraAccountNumber: str
    salesforceAccountId: str | None = None
    zuoraSubscriptionId: str
    zuoraVersion: int
    lastSyncId: str | None = None
    lastSyncedAt: str | None = None

    def content(self) -> dict:
        return self.model_dump(mode="json", exclude=set(BOOKKEEPING_FIELDS))


class SyncDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    record: LimioSubscription
    write: bool
    changedFields: tuple[str, ...] = ()
    message: str | None = None


def desired_record(
    zuora: ZuoraSubscription,
    existing: LimioSubscription | None,
    *,
    salesforce_account_id: str | None,
    sync_id: str,
    synced_at: str,
) -> LimioSubscription:
    """What Limio must hold for this Zuora subscription. Limio's own ids are kept when it already has them."""
    customer_key = salesforce_account_id or zuora.accountNumber
    return LimioSubscription(
        subscriptionNumber=zuora.subscriptionNumber,
        id=existing.id if existing else ids.subscription_id(zuora.subscriptionNumber),
        name=zuora.subscriptionNumber,
        customerId=existing.customerId if existing else ids.customer_id(customer_key),
        owner=existing.owner if existing else ids.owner_id(customer_key),
        status=ZUORA_TO_LIMIO_STATUS[zuora.status],
        zuoraStatus=zuora.status.value,
        subscriptionStartDate=zuora.subscriptionStartDate.isoformat(),
        termStartDate=zuora.termStartDate.isoformat(),
        termEndDate=zuora.termEndDate.isoformat() if zuora.termEndDate else None,
        autoRenew=zuora.autoRenew,
        currency=zuora.currency,
        zuoraAccountNumber=zuora.accountNumber,
        salesforceAccountId=salesforce_account_id or (existing.salesforceAccountId if existing else None),
        zuoraSubscriptionId=zuora.id,
        zuoraVersion=zuora.version,
        lastSyncId=sync_id,
        lastSyncedAt=synced_at,
    )


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
    before, after = existing.content(), desired.content()
    changed = tuple(sorted(name for name in after if before.get(name) != after[name]))
    if not changed:
        return SyncDecision(outcome=Outcome.UNCHANGED, record=existing, write=False)
    return SyncDecision(outcome=Outcome.UPDATED, record=desired, write=True, changedFields=changed)
