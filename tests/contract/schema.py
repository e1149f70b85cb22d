"""A strict reading of zuora-sdk's models: every field a JSON document carries must be one the model defines.

The SDK's models accept anything (unknown keys land in `additional_properties`) and its `from_dict` skips type checks
in places, so parsing a response with them proves little. `problems(document, Model)` instead walks the model's
`model_fields` by their wire names (aliases) recursively — subscriptions → rate plans → charges → segments, accounts →
contacts, previews → items — and reports every key the model does not define and every value whose JSON type the
field's annotation rejects (pydantic strict JSON validation of the SDK's own annotation, `Strict`/`max_length`/enum
included). Custom fields (`Name__c`) pass only on the objects Zuora lets tenants extend.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, StrictFloat, StrictInt, StrictStr, TypeAdapter, ValidationError

# Zuora's Swagger spec (api-evangelist/zuora, openapi/zuora-{subscriptions,accounts}-api-openapi.yml, 2023-12-15)
# gives these objects `allOf: [..., <Object>CustomFields]`; no other object the client reads takes custom fields.
CUSTOM_FIELD_MODELS = {
    "GetSubscriptionResponse": "GETSubscriptionType: SubscriptionObjectCustomFields",
    "SubscriptionRatePlan": "GETSubscriptionRatePlanType: RatePlanObjectCustomFields",
    "GetSubscriptionRatePlanChargesWithAllSegments": "GETSubscriptionRatePlanChargesType: RatePlanChargeObjectCustomFields",
    "AccountBasicInfo": "GETAccountTypeBasicInfo: AccountObjectCustomFields",
    "Contact": "GETAccountTypeBillToContact / GETAccountTypeSoldToContact: ContactObjectCustomFields",
}
CUSTOM_FIELD_SUFFIX = "__c"

_DECIMAL_STRING = Annotated[str, Field(strict=True, pattern=r"^-?\d+(\.\d+)?$")]
_NUMBER_OR_DECIMAL_STRING = StrictFloat | StrictInt | _DECIMAL_STRING


@dataclass(frozen=True)
class TypeConflict:
    """A field whose SDK type (StrictStr in each case) contradicts Zuora's documentation or real responses."""

    accepted: Any
    example: Any  # a value Zuora documents that the SDK's type rejects
    source: str


# Where zuora-sdk 3.21.0's type for a field disagrees with Zuora's spec, docs or what production Zuora sends, the
# documented JSON type is accepted as well (test_sdk_type_conflicts_still_hold keeps each entry honest).
SDK_TYPE_CONFLICTS: dict[tuple[str, str], TypeConflict] = {
    ("FailedReason", "code"): TypeConflict(
        StrictInt | StrictStr,
        53100320,
        'developer.zuora.com error-codes guide and the Swagger spec\'s Error Handling section: "reasons": [{"code": 53100320, ...}] (an integer)',
    ),
    ("GetSubscriptionRatePlanChargesWithAllSegments", "dmrc"): TypeConflict(
        _NUMBER_OR_DECIMAL_STRING, 8.333333, "Swagger spec GETSubscriptionRatePlanChargesType.dmrc: type number (example 8.333333)"
    ),
    ("GetSubscriptionRatePlanChargesWithAllSegments", "dtcv"): TypeConflict(
        _NUMBER_OR_DECIMAL_STRING, 100, "Swagger spec GETSubscriptionRatePlanChargesType.dtcv: type number (example 100)"
    ),
    **{
        ("CreateBillingPreviewInvoiceItem", field): TypeConflict(
            _NUMBER_OR_DECIMAL_STRING,
            100,
            f"Swagger spec POSTBillingPreviewInvoiceItem.{field}: string, format decimal; its examples and production code "
            "(guardian/support-service-lambdas modules/zuora/src/types/objects/billingPreview.ts: chargeAmount, taxAmount "
            "z.number()) show JSON numbers",
        )
        for field in ("chargeAmount", "taxAmount", "quantity")
    },
}


# String fields whose values the SDK lists only in its descriptions (its type is a plain StrictStr). Checked
# case-sensitively unless the entry says otherwise.
@dataclass(frozen=True)
class DocumentedValues:
    values: frozenset[str]
    source: str
    case_sensitive: bool = True


DOCUMENTED_VALUES: dict[tuple[str, str], DocumentedValues] = {
    ("GetSubscriptionResponse", "termType"): DocumentedValues(frozenset({"TERMED", "EVERGREEN"}), "zuora-sdk GetSubscriptionResponse.term_type"),
    ("GetSubscriptionResponse", "renewalSetting"): DocumentedValues(
        frozenset({"RENEW_WITH_SPECIFIC_TERM", "RENEW_TO_EVERGREEN"}), "zuora-sdk GetSubscriptionResponse.renewal_setting"
    ),
    ("SubscriptionRatePlan", "lastChangeType"): DocumentedValues(
        frozenset({"Add", "Update", "Remove"}), "zuora-sdk SubscriptionRatePlan.last_change_type"
    ),
    ("CreateBillingPreviewInvoiceItem", "chargeType"): DocumentedValues(
        frozenset({"OneTime", "Recurring", "Usage"}), "zuora-sdk CreateBillingPreviewInvoiceItem.charge_type"
    ),
    # The SDK lists "charge, discount, prepayment, tax"; the Swagger spec's POST_BillingPreview examples send
    # "Charge" and "Discount". Case is left open; the client compares case-insensitively or it is a bug.
    ("CreateBillingPreviewInvoiceItem", "processingType"): DocumentedValues(
        frozenset({"charge", "discount", "prepayment", "tax"}), "zuora-sdk CreateBillingPreviewInvoiceItem.processing_type", case_sensitive=False
    ),
}


def wire_fields(model: type[BaseModel]) -> dict[str, Any]:
    """The model's fields by the names Zuora sends (their aliases); `additional_properties` is the SDK's catch-all."""
    return {(info.alias or name): info for name, info in model.model_fields.items() if name != "additional_properties"}


def sdk_annotation(model: type[BaseModel], wire_name: str) -> Any:
    """The SDK's annotation of a field, with its constraints (`Field(le=...)`, `max_length`...)."""
    info = wire_fields(model)[wire_name]
    return info.annotation if not info.metadata else Annotated[(info.annotation, *info.metadata)]


def field_annotation(model: type[BaseModel], wire_name: str) -> Any:
    """The annotation a value of `model.wire_name` is held to: the SDK's, or the documented type of a known conflict."""
    conflict = SDK_TYPE_CONFLICTS.get((model.__name__, wire_name))
    info = wire_fields(model)[wire_name]
    if conflict is None:
        return sdk_annotation(model, wire_name)
    return conflict.accepted if info.is_required() else conflict.accepted | None


def problems(document: Any, model: type[BaseModel], path: str = "$") -> list[str]:
    """Every way `document` (parsed JSON) departs from `model`; empty when Zuora's model defines all of it."""
    found: list[str] = []
    _check(document, model, path, found)
    return found


def _check(value: Any, annotation: Any, path: str, found: list[str]) -> None:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        if _holds_model(args[0]):
            _check(value, args[0], path, found)
        else:
            _check_leaf(value, annotation, path, found)
    elif origin in (Union, types.UnionType):
        _check_union(value, args, annotation, path, found)
    elif origin is list:
        if not isinstance(value, list):
            found.append(f"{path}: expected a JSON array, got {_show(value)}")
            return
        for index, item in enumerate(value):
            _check(item, args[0], f"{path}[{index}]", found)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        _check_object(value, annotation, path, found)
    else:
        _check_leaf(value, annotation, path, found)


def _check_union(value: Any, args: tuple[Any, ...], annotation: Any, path: str, found: list[str]) -> None:
    if value is None and type(None) in args:
        return
    choices = [arg for arg in args if arg is not type(None)]
    if len(choices) == 1:
        _check(value, choices[0], path, found)
        return
    if not any(_holds_model(choice) for choice in choices):
        _check_leaf(value, annotation, path, found)
        return
    attempts = []
    for choice in choices:  # a oneOf: the document must fit one alternative entirely
        attempt: list[str] = []
        _check(value, choice, path, attempt)
        if not attempt:
            return
        attempts.append(attempt)
    found.extend(min(attempts, key=len))


def _check_object(value: Any, model: type[BaseModel], path: str, found: list[str]) -> None:
    if not isinstance(value, dict):
        found.append(f"{path}: expected a {model.__name__} object, got {_show(value)}")
        return
    fields = wire_fields(model)
    for key, item in value.items():
        if key in fields:
            _check(item, field_annotation(model, key), f"{path}.{key}", found)
            _check_documented_value(item, DOCUMENTED_VALUES.get((model.__name__, key)), f"{path}.{key}", found)
        elif key.endswith(CUSTOM_FIELD_SUFFIX) and model.__name__ in CUSTOM_FIELD_MODELS:
            continue
        else:
            found.append(f"{path}.{key}: zuora-sdk {model.__name__} has no field {key!r}")
    for key, info in fields.items():
        if info.is_required() and key not in value:
            found.append(f"{path}.{key}: required by zuora-sdk {model.__name__}, missing")


def _check_documented_value(value: Any, documented: DocumentedValues | None, path: str, found: list[str]) -> None:
    if documented is None or not isinstance(value, str):
        return
    allowed = documented.values if documented.case_sensitive else {choice.lower() for choice in documented.values}
    if (value if documented.case_sensitive else value.lower()) not in allowed:
        found.append(f"{path}: {value!r} is none of {sorted(documented.values)} ({documented.source})")


def leaf_problem(value: Any, annotation: Any) -> str | None:
    """Why a JSON value does not fit a (non-model) annotation, or None when it fits."""
    found: list[str] = []
    _check_leaf(value, annotation, "value", found)
    return found[0] if found else None


def _check_leaf(value: Any, annotation: Any, path: str, found: list[str]) -> None:
    try:
        _adapter(annotation).validate_json(json.dumps(value), strict=True)
    except ValidationError as error:
        found.append(f"{path}: {_show(value)} does not fit zuora-sdk's {_name(annotation)} ({error.errors()[0]['msg']})")


@functools.cache
def _adapter(annotation: Any) -> TypeAdapter:
    return TypeAdapter(annotation)


def _holds_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_model(arg) for arg in typing.get_args(annotation))


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _name(annotation: Any) -> str:
    return repr(annotation).replace("typing.", "").replace("pydantic.types.", "")
