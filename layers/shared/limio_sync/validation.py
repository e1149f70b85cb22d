"""Validators for identifiers that arrive from outside (API bodies and paths)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_SALESFORCE_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_checksum(id15: str) -> str:
    """The 3-character suffix Salesforce appends to a 15-character id (one char per 5-char chunk,
    encoding which of its letters are upper case)."""
    suffix = ""
    for start in range(0, 15, 5):
        bits = sum(1 << i for i, ch in enumerate(id15[start : start + 5]) if "A" <= ch <= "Z")
        suffix += _CHECKSUM_ALPHABET[bits]
    return suffix


def check_salesforce_id(value: str) -> str:
    if not _SALESFORCE_ID.fullmatch(value):
        raise ValueError("must be a Salesforce id: 15 or 18 letters and digits")
    if len(value) == 18 and value[15:].upper() != salesforce_checksum(value[:15]):
        raise ValueError(f"is not a valid 18-character Salesforce id (its checksum should be {salesforce_checksum(value[:15])})")
    return value


def canonical_salesforce_id(value: str) -> str:
    """A valid id in its 18-character form (checksum suffix upper case), the customer's one key everywhere."""
    id15 = check_salesforce_id(value)[:15]
    return id15 + salesforce_checksum(id15)


SalesforceId = Annotated[str, AfterValidator(canonical_salesforce_id)]
