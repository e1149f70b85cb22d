"""The tenant file: who may log in, how the emulator behaves, and the Zuora data it serves.

Only the structure the emulator relies on is validated; every other key (including `__c` custom fields) is
kept verbatim and served as it is.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from local.zuora_emulator.admin import ChangeTrigger
from local.zuora_emulator.faults import FaultRule


class TenantError(ValueError):
    """The tenant cannot be used; the message names its source and every problem found."""


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    clientId: str = Field(min_length=36, max_length=36)
    clientSecret: str = Field(min_length=1, max_length=42)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    latencyMs: float = Field(default=0, ge=0)
    latencyJitterMs: float = Field(default=0, ge=0)
    concurrencyLimit: int | None = Field(default=None, ge=1)
    retryAfterSeconds: int = Field(default=1, ge=0)
    tokenTtlSeconds: int = Field(default=3599, ge=1)
    defaultApiVersion: str = "211.0"
    seed: int | None = None
    # Tenant features (docs/zuora-emulator.md "Tenant features"): subscription `currency` exists only with
    # Multiple Currencies; credit memos only with Invoice Settlement; Zuora Tax rates in percent by tax code.
    multipleCurrencies: bool = True
    invoiceSettlement: bool = False
    taxRates: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)


# The settings that model how the tenant is set up, which a test may change while the emulator serves.
TENANT_FEATURES = ("multipleCurrencies", "invoiceSettlement", "taxRates")


class _BasicInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    accountNumber: str = Field(min_length=1)
    id: str | None = None


class _Account(BaseModel):
    model_config = ConfigDict(extra="allow")

    basicInfo: _BasicInfo


class _Subscription(BaseModel):
    model_config = ConfigDict(extra="allow")

    subscriptionNumber: str = Field(min_length=1)
    accountNumber: str = Field(min_length=1)


class _TenantFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    credentials: Credentials
    settings: Settings = Field(default_factory=Settings)
    accounts: list[_Account] = []
    subscriptions: list[_Subscription] = []
    faults: list[FaultRule] = []
    triggers: list[ChangeTrigger] = []

    @model_validator(mode="after")
    def _references_hold(self) -> _TenantFile:
        account_numbers = [account.basicInfo.accountNumber for account in self.accounts]
        problems = [f"account {number} appears more than once" for number in _repeated(account_numbers)]
        problems += [f"subscription {number} appears more than once" for number in _repeated(sub.subscriptionNumber for sub in self.subscriptions)]
        problems += [
            f"subscription {sub.subscriptionNumber} belongs to unknown account {sub.accountNumber}"
            for sub in self.subscriptions
            if sub.accountNumber not in account_numbers
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self


@dataclass(frozen=True)
class Tenant:
    credentials: Credentials
    settings: Settings
    accounts: list[dict[str, Any]]  # GET /v1/accounts/{key} bodies without "success"
    subscriptions: list[dict[str, Any]]  # GET /v1/subscriptions/{key} bodies without "success"
    faults: list[FaultRule]
    triggers: list[ChangeTrigger]


def load_tenant(source: str | Path | Mapping[str, Any] | Tenant) -> Tenant:
    """Read and validate a tenant from a JSON file path or an already-parsed dict; raises TenantError."""
    if isinstance(source, Tenant):
        return source
    if isinstance(source, Mapping):
        raw, origin = source, "(tenant dict)"
    elif isinstance(source, str | Path):
        raw, origin = _read_json(Path(source)), str(source)
    else:
        raise TenantError(f"A tenant is a JSON file path or a dict, not {type(source).__name__}")
    try:
        checked = _TenantFile.model_validate(raw)
    except ValidationError as exc:
        raise TenantError(f"Invalid Zuora emulator tenant {origin}: {_describe(exc)}") from None
    return Tenant(
        credentials=checked.credentials,
        settings=checked.settings,
        accounts=copy.deepcopy(list(raw.get("accounts", []))),
        subscriptions=copy.deepcopy(list(raw.get("subscriptions", []))),
        faults=list(checked.faults),
        triggers=list(checked.triggers),
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TenantError(f"Cannot read Zuora emulator tenant {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise TenantError(f"Zuora emulator tenant {path} is not valid JSON: {exc}") from None


def _describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(part) for part in error['loc']) or 'file'}: {error['msg']}" for error in exc.errors())


def _repeated(values: Any) -> list[str]:
    return [value for value, count in Counter(values).items() if count > 1]
