"""Values the Zuora client takes and returns (only the fields the sync consumes; unknown fields ignored)."""

# Field names are Zuora's own (camelCase), so a record validates without aliases.

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class ZuoraCredentials(BaseModel):
    """An OAuth client of one Zuora tenant. The secret is masked in repr, str and logs."""

    model_config = ConfigDict(frozen=True)

    client_id: str = Field(min_length=1)
    client_secret: SecretStr


class ZuoraAccountRef(BaseModel):
    """Who a Zuora account is: enough to list its subscriptions and to report it to a person."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    accountNumber: str
    name: str
    status: str
    crmId: str | None = None

    @field_validator("crmId", mode="before")
    @classmethod
    def _unset_crm_id_is_none(cls, value: Any) -> Any:
        # Zuora sends "" for an account without a Salesforce id, and Object Query omits it entirely.
        return None if value == "" else value
