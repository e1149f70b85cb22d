"""The unchanged fast path: a digest of what the rules make of Zuora's state, stored on the Limio record it
wrote, so a sync can tell a subscription is unchanged by reading three small attributes instead of the whole
record (offers, schedule, contacts) and comparing it field by field.

The digest covers the record the rules build from Zuora alone (no Limio record to merge with), without Limio's
own id and the bookkeeping fields. When it equals the digest stored with the record, the full comparison would
find nothing to change too: every field but the id and the schedule comes from Zuora's state alone, and merging
the same desired schedule into a schedule it was already merged into changes nothing (entries kept, the future
ones that no longer apply already cancelled, the past ones history). The digest is written in the same PutItem as
the record, so the two never disagree; a record without one (written before digests, or by hand) takes the full
comparison.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ConfigDict

from limio_sync.sync_rules import BOOKKEEPING_FIELDS, LimioSubscription

CONTENT_HASH_ATTRIBUTE = "contentHash"
# Limio's id is kept from the stored record; bookkeeping never makes content different (sync_rules.decide).
_NOT_HASHED = frozenset({"id"}) | BOOKKEEPING_FIELDS


class StoredDigest(BaseModel):
    """What the fast path reads of a Limio record (a projection): enough to answer UNCHANGED."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    subscriptionNumber: str
    id: str
    zuoraVersion: int
    contentHash: str | None = None


def content_hash(from_zuora_alone: LimioSubscription) -> str:
    """sha256 of the record's content as canonical JSON (sorted keys, no spaces)."""
    content = from_zuora_alone.model_dump(mode="json", exclude=set(_NOT_HASHED))
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def unchanged(stored: StoredDigest | None, digest: str) -> bool:
    return stored is not None and stored.contentHash is not None and stored.contentHash == digest
