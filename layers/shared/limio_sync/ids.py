"""Identifiers: unguessable sync ids, and Limio-style ids derived from stable Zuora/Salesforce keys.

Limio ids are derived (not random) so that a retried or concurrent sync of the same subscription or customer
always arrives at the same id: an idempotent upsert instead of create-then-retry duplicates.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from limio_sync.validation import salesforce_checksum

_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


def new_sync_id() -> str:
    """128 random bits: sync ids cannot be guessed or enumerated."""
    return f"sync-{secrets.token_hex(16)}"


def _derived(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"{prefix}-{digest}"


def subscription_id(subscription_number: str) -> str:
    return _derived("sub", "zuora-subscription", subscription_number)


def customer_id(customer_key: str) -> str:
    return _derived("cus", "customer", customer_key)


def owner_id(customer_key: str) -> str:
    return _derived("id", "identity", customer_key)


def salesforce_id_18(value: str) -> str:
    """The 18-character form of a Salesforce id, its checksum suffix in upper case: the one key a customer has
    whichever form it was given in (URLs and reports show 15 characters, Apex and LFS hold 18; the suffix is
    compared case-insensitively). The first 15 characters are case-sensitive and kept as they are."""
    if len(value) == 15:
        return value + salesforce_checksum(value)
    return value[:15] + value[15:].upper()


def salesforce_id_forms(value: str) -> tuple[str, str]:
    """(15-character form, 18-character form) of a Salesforce id: Zuora's crmId may hold either."""
    id18 = salesforce_id_18(value)
    return id18[:15], id18


def same_salesforce_id(crm_id: str | None, value: str) -> bool:
    """Whether a Zuora crmId names the same Salesforce record as `value`, exactly: the first 15 characters
    case-sensitively (two 15-character ids may differ only by case), the suffix case-insensitively."""
    if not crm_id or not _SALESFORCE_ID.fullmatch(crm_id):
        return False
    return salesforce_id_18(crm_id) == salesforce_id_18(value)


def customer_key_of(crm_id: str | None) -> str | None:
    """A Zuora account's crmId as the customer key Limio uses: the 18-character form when it is a Salesforce
    id, otherwise as Zuora holds it."""
    if crm_id and _SALESFORCE_ID.fullmatch(crm_id):
        return salesforce_id_18(crm_id)
    return crm_id
