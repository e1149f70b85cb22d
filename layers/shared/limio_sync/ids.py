"""Identifiers: unguessable sync ids, and Limio-style ids derived from stable Zuora/Salesforce keys.

Limio ids are derived (not random) so that a retried or concurrent sync of the same subscription or customer
always arrives at the same id: an idempotent upsert instead of create-then-retry duplicates.
"""

from __future__ import annotations

import hashlib
import secrets


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
