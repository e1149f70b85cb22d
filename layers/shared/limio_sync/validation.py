"""Validators for identifiers that arrive from outside (API bodies and paths)."""

from __future__ import annotations

import re
import unicodedata
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


# Unicode categories a name shown back to agents must not carry: controls (C0, DEL and C1: Cc), format characters
# (bidi embeddings, overrides and isolates, zero-width spaces and joiners, the BOM: Cf), surrogates, private use and
# unassigned code points (Cs, Co, Cn), and the line and paragraph separators (Zl, Zp), which break a log line as
# a newline does. https://www.unicode.org/reports/tr44/#General_Category_Values
_UNSHOWABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SALESFORCE_USER_ID_15 = re.compile(r"^005[A-Za-z0-9]{12}$")


def check_requester(value: str) -> str:
    """Who clicked Sync: a Salesforce user id (key prefix 005; a 15-character one is kept in its 18-character form, so
    one user reads the same in every job), or text that reads the same wherever it is shown: printable, without
    control, bidi or invisible characters."""
    if _SALESFORCE_USER_ID_15.fullmatch(value):
        return canonical_salesforce_id(value)
    for position, char in enumerate(value, start=1):
        category = unicodedata.category(char)
        if category in _UNSHOWABLE_CATEGORIES:
            name = unicodedata.name(char, "a control character").lower()
            raise ValueError(
                "must be printable text without control characters, bidi marks or invisible characters; "
                f"character {position} is U+{ord(char):04X} ({name})"
            )
    return value
