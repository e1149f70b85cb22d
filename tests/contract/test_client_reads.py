"""Every field the client reads from Zuora is one Zuora's model defines, with a type the client can take as Zuora
sends it.

The fields are not listed here: they are read from the client's own pydantic models by introspection (fields,
aliases, nested models), so a field added to `ZuoraSubscription`, `ZuoraCharge`, `ZuoraInvoiceItem`... is held to
zuora-sdk 3.21.0 the moment it is added. A new model in `limio_sync.zuora` must be placed in `READ_MODELS` (or
`NOT_READ_FROM_ZUORA`) before the suite passes.
"""

from __future__ import annotations

import ast
import datetime as dt
import enum
import inspect
import types
import typing
from decimal import Decimal
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from limio_sync.zuora import client as client_module
from limio_sync.zuora import errors as errors_module
from limio_sync.zuora import models as models_module
from limio_sync.zuora import subscription as subscription_module
from tests.contract import endpoints as ep
from tests.contract import schema, sdk

ZUORA_MODULES = (client_module, models_module, subscription_module)


class Sources(typing.NamedTuple):
    sdk_models: tuple[str, ...]
    every: bool  # True: each source must define every field; False: each field must come from at least one source
    why: str


# Client model → the zuora-sdk models of the JSON it is validated from (nested models are paired by walking both).
READ_MODELS: dict[str, Sources] = {
    "_TokenResponse": Sources(("TokenResponse",), True, "POST /oauth/token (OAuthApi.create_token)"),
    "ZuoraAccountRef": Sources(
        ("ExpandedAccount", "AccountBasicInfo"),
        True,
        "GET /object-query/accounts data[] (ObjectQueriesApi.query_accounts) and GET /v1/accounts/{key} basicInfo",
    ),
    "ZuoraSubscription": Sources(
        ("GetSubscriptionResponse",), True, "GET /v1/subscriptions/{key} and GET /v1/subscriptions/accounts/{key} subscriptions[]"
    ),
    "ZuoraAccount": Sources(("AccountDetailResponse",), True, "GET /v1/accounts/{key}, reshaped by ZuoraAccount.from_response"),
    # The schedule's items: billing preview invoice and credit memo items, and (per-subscription preview) the
    # items of its invoices and credit memos.
    "ZuoraInvoiceItem": Sources(
        (
            "CreateBillingPreviewInvoiceItem",
            "CreateBillingPreviewCreditMemoItem",
            "PreviewExistingSubscriptionInvoiceItemResult",
            "PreviewExistingSubscriptionCreditMemoItemResult",
        ),
        False,
        "POST /v1/operations/billing-preview invoiceItems[]/creditMemoItems[], POST /v1/subscriptions/{key}/preview items",
    ),
}
NOT_READ_FROM_ZUORA = {
    "ZuoraCredentials": "the OAuth client's id and secret, from Secrets Manager",
    "_Zuora": "the common base of the models below (configuration only, no fields)",
}

# Fields the client sets on Zuora's items itself before validating them (for example a per-subscription preview
# item gets the subscription's number when Zuora's item lacks it). Each must still also be defined by one source.
CLIENT_SET_FIELDS: dict[tuple[str, str], str] = {}


def client_models() -> dict[str, type[BaseModel]]:
    found = {}
    for module in ZUORA_MODULES:
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseModel) and value.__module__ == module.__name__:
                found[name] = value
    return found


def wire_name(name: str, info: Any) -> str:
    alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
    return alias or name


def nested_models(annotation: Any) -> list[type[BaseModel]]:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    return [found for arg in typing.get_args(annotation) for found in nested_models(arg)]


def _json_kinds(annotation: Any) -> set[str]:
    """The JSON kinds a value of this annotation is, or (for the client's models) may arrive as."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return {"string", "number", "boolean", "array", "object"}
    if origin is Annotated:
        return _json_kinds(args[0])
    if origin in (typing.Union, types.UnionType):
        return {kind for arg in args if arg is not type(None) for kind in _json_kinds(arg)}
    if origin in (list, tuple) or annotation in (list, tuple):
        return {"array"}
    if origin is dict or annotation is dict or (inspect.isclass(annotation) and issubclass(annotation, BaseModel)):
        return {"object"}
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        return {"string"}
    if annotation is bool:
        return {"boolean"}
    if annotation in (int, float):
        return {"number"}
    if annotation is Decimal:
        return {"number", "string"}  # pydantic takes a decimal string too
    if annotation in (str, dt.date, dt.datetime):
        return {"string"}
    raise TypeError(f"no JSON kind known for {annotation!r}")


def _is(annotation: Any, kind: type) -> bool:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _is(args[0], kind)
    if args and origin is not list:
        return any(_is(arg, kind) for arg in args if arg is not type(None))
    return inspect.isclass(annotation) and issubclass(annotation, kind)


def _enum_values(annotation: Any) -> set[str] | None:
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        return {member.value for member in annotation}
    for arg in typing.get_args(annotation):
        found = _enum_values(arg)
        if found is not None:
            return found
    return None


def field_mismatch(client_model: type[BaseModel], name: str, sdk_model: type[BaseModel]) -> str | None:
    """Why the client's field cannot be read from the SDK model's, or None when it can."""
    info = client_model.model_fields[name]
    key = wire_name(name, info)
    fields = schema.wire_fields(sdk_model)
    if key not in fields:
        return f"{client_model.__name__}.{name} reads {key!r}, which zuora-sdk {sdk_model.__name__} does not define"
    zuora = schema.field_annotation(sdk_model, key)
    sent, taken = _json_kinds(zuora), _json_kinds(info.annotation)
    if not sent <= taken:
        return f"{client_model.__name__}.{name} takes {sorted(taken)}, but Zuora sends {key!r} as {sorted(sent)} ({sdk_model.__name__})"
    if _is(info.annotation, dt.date) and not _is(zuora, dt.date):
        return f"{client_model.__name__}.{name} parses a date, but zuora-sdk {sdk_model.__name__}.{key} is not one"
    ours = _enum_values(info.annotation)
    theirs = _enum_values(zuora)
    documented = schema.DOCUMENTED_VALUES.get((sdk_model.__name__, key))
    if ours is not None and (theirs or (documented and documented.values)):
        allowed = theirs or documented.values
        if not ours <= allowed:
            never_sent = sorted(ours - allowed)
            return f"{client_model.__name__}.{name} expects {never_sent}, which Zuora never sends ({sdk_model.__name__}.{key}: {sorted(allowed)})"
    return None


def read_problems(client_model: type[BaseModel], sources: Sources) -> list[str]:
    """Every field of `client_model` (and of the models nested in it) that its SDK sources cannot provide."""
    sdk_models = [sdk.model(name) for name in sources.sdk_models]
    found: list[str] = []
    for name, info in client_model.model_fields.items():
        if (client_model.__name__, name) in CLIENT_SET_FIELDS and not sources.every:
            continue
        mismatches = {sdk_model.__name__: field_mismatch(client_model, name, sdk_model) for sdk_model in sdk_models}
        failing = [why for why in mismatches.values() if why]
        if (sources.every and failing) or (not sources.every and len(failing) == len(sdk_models)):
            found += failing
            continue
        for nested in nested_models(info.annotation):
            for sdk_model in sdk_models:
                if mismatches[sdk_model.__name__] is None:
                    inner = nested_models(schema.field_annotation(sdk_model, wire_name(name, info)))
                    found += read_problems(nested, Sources(tuple(model.__name__ for model in inner), sources.every, sources.why))
    return found


def probe_document(model: type[BaseModel], path: str, depth: int = 2) -> dict[str, Any]:
    """A document of `model` whose every text field holds its own path, so a reshaping reader shows what it read."""
    document: dict[str, Any] = {}
    for key in schema.wire_fields(model):
        annotation = schema.field_annotation(model, key)
        nested = nested_models(annotation)
        if nested and depth and "array" not in _json_kinds(annotation):
            document[key] = probe_document(nested[0], f"{path}.{key}", depth - 1)
        elif _json_kinds(annotation) == {"string"} and not _is(annotation, dt.date) and _enum_values(annotation) is None:
            document[key] = f"{path}.{key}"
    return document


def reshaped_read_problems(client_model: type[BaseModel], sdk_model: type[BaseModel]) -> list[str]:
    """For a model built by `from_response`: each of its text fields must come from a field of the SDK model."""
    parsed = client_model.from_response(probe_document(sdk_model, sdk_model.__name__))
    found = []

    def trace(value: Any, where: str) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                trace(getattr(value, name), f"{where}.{name}")
        elif not (isinstance(value, str) and value.startswith(sdk_model.__name__ + ".")):
            found.append(f"{where} is not read from a field of zuora-sdk {sdk_model.__name__} (got {value!r})")

    trace(parsed, client_model.__name__)
    return found


@pytest.mark.parametrize("client_model_name", sorted(READ_MODELS))
def test_every_field_the_client_reads_is_one_zuora_defines(client_model_name):
    # Given a model the client validates Zuora's JSON with, and the zuora-sdk models of that JSON
    client_model, sources = client_models()[client_model_name], READ_MODELS[client_model_name]
    # Then each of its fields (nested ones too) is a field Zuora defines, of a JSON type the client takes
    if hasattr(client_model, "from_response"):
        found = [problem for name in sources.sdk_models for problem in reshaped_read_problems(client_model, sdk.model(name))]
    else:
        found = read_problems(client_model, sources)
    assert not found, f"{sources.why}:\n" + "\n".join(found)


def _with_nested(model: type[BaseModel]) -> set[str]:
    names = {model.__name__}
    for info in model.model_fields.values():
        for nested in nested_models(info.annotation):
            names |= _with_nested(nested)
    return names


def test_every_zuora_model_of_the_client_is_checked():
    # Each model is a root of READ_MODELS or nested in one (ZuoraRatePlan in ZuoraSubscription.ratePlans...).
    models = client_models()
    checked = {name for root in READ_MODELS for name in _with_nested(models[root])}
    unplaced = set(models) - checked - set(NOT_READ_FROM_ZUORA)
    assert not unplaced, f"new models in limio_sync.zuora: map each to its zuora-sdk model(s) in READ_MODELS: {sorted(unplaced)}"


def test_reads_are_traced_to_zuoras_fields():
    # The checks fail on a read of something Zuora does not send: a field Zuora lacks, a wrong type, a wrong enum.
    class Invented(BaseModel):
        subscriptionNumber: str
        priceWithTax: Decimal

    class WrongType(BaseModel):
        chargeDate: dt.date  # Zuora's chargeDate is "yyyy-mm-dd hh:mm:ss", not a date

    class WrongEnum(BaseModel):
        termType: enum.Enum("Term", {"FIXED": "FIXED"})

    preview_item = Sources(("CreateBillingPreviewInvoiceItem",), True, "")
    assert read_problems(Invented, preview_item) == [
        "Invented.priceWithTax reads 'priceWithTax', which zuora-sdk CreateBillingPreviewInvoiceItem does not define"
    ]
    assert read_problems(WrongType, preview_item) == [
        "WrongType.chargeDate parses a date, but zuora-sdk CreateBillingPreviewInvoiceItem.chargeDate is not one"
    ]
    assert read_problems(WrongEnum, Sources(("GetSubscriptionResponse",), True, "")) == [
        "WrongEnum.termType expects ['FIXED'], which Zuora never sends (GetSubscriptionResponse.termType: ['EVERGREEN', 'TERMED'])"
    ]


# Keys the client looks up that are not fields of a Zuora JSON body: the response headers Zuora documents
# (developer.zuora.com error-handling and rate-limits guides, and HTTP's own Date for an HTTP-date Retry-After),
# the query parameters of nextPage (GetSubscriptionsResponse.nextPage is a URL), and pydantic's error keys.
RESPONSE_HEADERS = {
    "Zuora-Request-Id",
    "Zuora-Track-Id",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "Concurrency-Limit-Type",
    "Concurrency-Limit-Limit",
    "Concurrency-Limit-Remaining",
    "Date",
}
NOT_BODY_KEYS = RESPONSE_HEADERS | {"page", "pageSize"} | {"loc", "msg"}


def looked_up_keys(module: Any) -> set[str]:
    """String keys the module reads from dicts: `x.get("k")`, `x.setdefault("k", ...)`, `x["k"]` (reads only)."""
    tree = ast.parse(inspect.getsource(module))
    keys = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "setdefault") and node.args:
            key = node.args[0]
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            key = node.slice
        else:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            keys.add(key.value)
    return keys


def _all_wire_names(model: type[BaseModel], seen: set[str]) -> set[str]:
    if model.__name__ in seen:
        return set()
    seen.add(model.__name__)
    names = set(schema.wire_fields(model))
    for key in schema.wire_fields(model):
        for nested in nested_models(schema.field_annotation(model, key)):
            names |= _all_wire_names(nested, seen)
    return names


def test_every_key_the_client_looks_up_is_a_zuora_field():
    # Raw lookups on Zuora's JSON outside the models above (nextPage, basicInfo, reasons...) are Zuora's fields too:
    # fields of some answer, at any depth, of an endpoint the client uses.
    seen: set[str] = set()
    zuora_fields: set[str] = set()
    for endpoint in ep.CLIENT_ENDPOINTS:
        for model_name in sdk.response_models(endpoint.sdk_api, endpoint.sdk_method).values():
            zuora_fields |= _all_wire_names(sdk.model(model_name), seen)
    keys = {key for module in (*ZUORA_MODULES, errors_module) for key in looked_up_keys(module)}
    invented = sorted(keys - zuora_fields - set(NOT_BODY_KEYS))
    assert not invented, f"the client looks up keys no zuora-sdk answer of its endpoints defines: {invented}"
    assert {"nextPage", "basicInfo", "reasons"} <= keys  # the scan sees the client's lookups
