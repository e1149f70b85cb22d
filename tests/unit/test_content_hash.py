"""The unchanged fast path: a subscription is UNCHANGED by its stored digest only when comparing the whole
record would also find nothing to write; any change Zuora made changes the digest."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from limio_sync.content_hash import StoredDigest, content_hash, unchanged
from limio_sync.models import Outcome
from tests.unit.test_sync_rules_properties import TWO_STATES, state_of, sync, zuora_raw


def digest_of(raw: dict) -> str:
    """What the sync task stores with the record it writes: the digest of the rules' record from Zuora alone."""
    return content_hash(sync(state_of(raw), None).record)


@TWO_STATES
@given(first=zuora_raw(version=1), second=zuora_raw(version=2), data=st.data())
def test_a_matching_digest_answers_unchanged_exactly_when_the_full_comparison_would(first, second, data):
    # Given Limio holds what a sync of `second` wrote over `first`, with its digest
    held = sync(state_of(second), sync(state_of(first), None).record, sync_number=2).record
    stored = StoredDigest(subscriptionNumber=held.subscriptionNumber, id=held.id, zuoraVersion=held.zuoraVersion, contentHash=digest_of(second))
    # When the next sync reads either the same Zuora state or another one
    now = data.draw(st.sampled_from([second, first]))

    full = sync(state_of(now), held, sync_number=3)

    # Then the digest says unchanged only if the whole record's comparison writes nothing
    if unchanged(stored, digest_of(now)):
        assert full.outcome is Outcome.UNCHANGED and not full.write
    if now is second:
        assert unchanged(stored, digest_of(now))


@TWO_STATES
@given(raw=zuora_raw())
def test_limios_own_id_and_the_bookkeeping_fields_never_change_the_digest(raw):
    record = sync(state_of(raw), None).record

    moved = record.model_copy(update={"id": "sub-other", "lastSyncId": "sync-" + "f" * 32, "lastSyncedAt": "2030-01-01T00:00:00.000Z"})

    assert content_hash(moved) == content_hash(record)
    assert content_hash(record.model_copy(update={"autoRenew": not record.autoRenew})) != content_hash(record)


def test_a_record_without_a_digest_takes_the_full_comparison():
    assert not unchanged(None, "abc")
    assert not unchanged(StoredDigest(subscriptionNumber="A-S1", id="sub-1", zuoraVersion=1), "abc")
    assert unchanged(StoredDigest(subscriptionNumber="A-S1", id="sub-1", zuoraVersion=1, contentHash="abc"), "abc")
