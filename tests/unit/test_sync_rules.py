"""The pure sync rules: what Limio must hold, and whether anything needs writing."""

from __future__ import annotations

import datetime as dt

import pytest

from limio_sync.catalog import CatalogMapping
from limio_sync.models import Outcome
from limio_sync.sync_rules import LimioStatus, ZuoraState, decide, desired_record
from limio_sync.zuora.subscription import ZuoraBadRecord, ZuoraSubscription, parse_subscription

TODAY = dt.date(2026, 11, 25)


def zuora_subscription(**changes) -> ZuoraSubscription:
    raw = {
        "id": "8ad0887e8f1b2a3c018f2b4c5d6e7f80",
        "subscriptionNumber": "A-S00012345",
        "version": 3,
        "status": "Active",
        "accountNumber": "A00001234",
        "termType": "TERMED",
        "subscriptionStartDate": "2024-03-01",
        "termStartDate": "2025-03-01",
        "termEndDate": "2026-03-01",
        "autoRenew": True,
        "currency": "GBP",
        "ratePlans": [],
        "SourceSystem__c": "Salesforce",
    }
    raw.update(changes)
    return parse_subscription(raw, raw["subscriptionNumber"])


def record_for(sub: ZuoraSubscription, existing=None, sync_id="sync-" + "0" * 32):
    return desired_record(
        ZuoraState(subscription=sub),
        existing,
        catalog=CatalogMapping(),
        salesforce_account_id="0015g00000Ab3XQAAZ",
        sync_id=sync_id,
        synced_at="2026-11-25T10:00:00Z",
        today=TODAY,
    )


def test_a_subscription_limio_does_not_have_is_created_with_limio_style_ids():
    desired = record_for(zuora_subscription())

    decision = decide(desired, None)

    assert decision.outcome is Outcome.CREATED and decision.write
    record = decision.record
    assert record.id.startswith("sub-") and len(record.id) == 36
    assert record.customerId.startswith("cus-") and record.owner.startswith("id-")
    assert record.name == "A-S00012345"
    assert (record.status, record.termStartDate, record.termEndDate, record.autoRenew) == (LimioStatus.ACTIVE, "2025-03-01", "2026-03-01", True)
    assert (record.zuoraAccountNumber, record.zuoraVersion) == ("A00001234", 3)


def test_the_same_zuora_state_again_writes_nothing():
    existing = decide(record_for(zuora_subscription()), None).record

    again = decide(record_for(zuora_subscription(), existing, sync_id="sync-" + "1" * 32), existing)

    assert again.outcome is Outcome.UNCHANGED and not again.write


def test_a_renewal_updates_term_dates_and_keeps_limio_ids():
    existing = decide(record_for(zuora_subscription()), None).record
    renewed = zuora_subscription(version=4, id="8ad0887e8f1b2a3c018f2b4c5d6e7f81", termStartDate="2026-03-01", termEndDate="2027-03-01")

    decision = decide(record_for(renewed, existing), existing)

    assert decision.outcome is Outcome.UPDATED
    assert {"termStartDate", "termEndDate", "zuoraVersion", "zuoraSubscriptionId"} <= set(decision.changed_fields)
    assert decision.record.id == existing.id and decision.record.customerId == existing.customerId


def test_an_older_zuora_version_never_overwrites_a_newer_one():
    newer = decide(record_for(zuora_subscription(version=5, autoRenew=False)), None).record

    decision = decide(record_for(zuora_subscription(version=3), newer), newer)

    assert decision.outcome is Outcome.UNCHANGED and not decision.write
    assert decision.record.zuoraVersion == 5
    assert "newer" in decision.message


@pytest.mark.parametrize(
    ("zuora_status", "limio_status"),
    [
        ("Draft", "pending"),
        ("Pending Activation", "pending"),
        ("Pending Acceptance", "pending"),
        ("Active", "active"),
        ("Suspended", "suspended"),
        ("Cancelled", "cancelled"),
        ("Expired", "expired"),
    ],
)
def test_every_zuora_status_has_a_limio_status(zuora_status, limio_status):
    assert record_for(zuora_subscription(status=zuora_status)).status.value == limio_status


def test_evergreen_subscriptions_have_no_term_end():
    record = record_for(zuora_subscription(termType="EVERGREEN", termEndDate=None))
    assert record.termEndDate is None


def test_a_broken_zuora_record_fails_with_a_message_naming_the_subscription_and_fields():
    with pytest.raises(ZuoraBadRecord) as caught:
        parse_subscription({"subscriptionNumber": "A-S1", "termType": "TERMED", "termEndDate": None}, "A-S1")

    error = caught.value
    assert error.code == "ZUORA_BAD_RESPONSE" and not error.retryable
    assert "A-S1" in error.message and "status" in error.message
