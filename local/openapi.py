"""Print the API's OpenAPI 3.0.3 document (`make openapi`), for Salesforce External Services.

The document is generated from the API handler's code (Powertools writes OpenAPI 3.1 from the routes and the
pydantic models) and then converted where Salesforce needs it. External Services read OpenAPI 2.0 and 3.0 only
(Salesforce Help, "OpenAPI 2.0 and 3.0 support in External Services"), so:
- every 3.1-only construct becomes its 3.0.3 form: `anyOf: [X, {"type": "null"}]` → X with `nullable: true`
  (a `$ref` wrapped in `allOf`, as 3.0 ignores a `$ref`'s siblings), `const` → a one-value `enum`, `examples`
  → `example`, a numeric `exclusiveMinimum`/`exclusiveMaximum` → `minimum`/`maximum` with the boolean flag;
- each operation gets a stable `operationId` (the Flow action and Apex method name an admin sees; derived
  names like `start_sync_syncs_post` change when a route's Python name does);
- each operation declares `4XX` and `5XX` with the error body, since Flow only maps declared status codes
  (an undeclared error body is unreadable in Flow);
- `securitySchemes` describes SigV4 the way API Gateway's own OpenAPI export does (an `apiKey` scheme on the
  Authorization header with `x-amazon-apigateway-authtype: awsSigv4`; AWS API Gateway developer guide,
  "x-amazon-apigateway-authtype"); External Services ignore `security` and sign with the Named Credential;
- the `Prefer` request header (RFC 7240 `wait=N`) is declared on the routes that honour it.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
API_HANDLER = ROOT / "functions" / "api" / "app.py"
OPENAPI_VERSION = "3.0.3"
ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorResponse"}
SIGV4_SCHEME = "sigv4"

# (method, path) → operationId. A route missing here fails the build of the document: its name is a contract.
OPERATION_IDS = {
    ("post", "/syncs"): "startSync",
    ("get", "/syncs"): "listSyncs",
    ("get", "/syncs/{syncId}"): "getSync",
    ("get", "/subscriptions"): "listSubscriptions",
    ("get", "/subscriptions/{subscriptionNumber}/events"): "getSubscriptionEvents",
}
PREFER_ROUTES = {("post", "/syncs"), ("get", "/syncs/{syncId}")}
PREFER_HEADER = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "description": "RFC 7240 `wait=N`: hold the reply up to N seconds (the API may wait less) until the sync has ended, so "
    "one call can return the finished job; without it the reply is immediate. A Salesforce callout may wait up to 120 seconds.",
    "schema": {"type": "string", "example": "wait=20"},
}
GENERIC_ERRORS = {
    "4XX": "The request was refused; `error.code` says why (see the API's error codes)",
    "5XX": "The API could not answer; `error.code` says whether trying again can help",
}


def openapi_document() -> dict:
    sys.path.insert(0, str(ROOT / "layers" / "shared"))
    spec = importlib.util.spec_from_file_location("api_handler_for_openapi", API_HANDLER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generated = json.loads(module.app.get_openapi_json_schema(title="Limio subscription sync API", version="1.0.0"))
    return for_salesforce(generated)


def for_salesforce(generated: dict) -> dict:
    """The generated 3.1 document as the 3.0.3 one External Services import."""
    document = _openapi_30(_without_default_422(copy.deepcopy(generated)))
    document["openapi"] = OPENAPI_VERSION
    document.setdefault("info", {})["description"] = (
        "Start a sync of every subscription of one customer from Zuora into Limio, poll it, read the customer's subscriptions and "
        "a subscription's audit trail. Every reply body carries what a caller needs (headers such as Location and Retry-After "
        "repeat it). Requests are signed with AWS Signature Version 4 (service execute-api)."
    )
    document.setdefault("components", {})["securitySchemes"] = {
        SIGV4_SCHEME: {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "description": "AWS Signature Version 4 for service execute-api in the API's region (API Gateway AWS_IAM authorization).",
            "x-amazon-apigateway-authtype": "awsSigv4",
        }
    }
    document["security"] = [{SIGV4_SCHEME: []}]
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if (method, path) not in OPERATION_IDS:
                raise KeyError(f"{method.upper()} {path} has no operationId in local/openapi.py OPERATION_IDS")
            operation["operationId"] = OPERATION_IDS[(method, path)]
            # Powertools names a header parameter in lower case; the document declares Prefer once, as RFC 7240 spells it.
            parameters = [p for p in operation.get("parameters", []) if not (p.get("in") == "header" and p.get("name", "").lower() == "prefer")]
            if (method, path) in PREFER_ROUTES:
                parameters.append(copy.deepcopy(PREFER_HEADER))
            operation["parameters"] = parameters
            if not parameters:
                del operation["parameters"]
            for status, description in GENERIC_ERRORS.items():
                operation["responses"].setdefault(status, {"description": description, "content": {"application/json": {"schema": ERROR_SCHEMA}}})
    return document


def _without_default_422(document: dict) -> dict:
    """Powertools documents request validation as 422; this API answers 400 (documented per route) instead."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    return document


def _is_null(schema: Any) -> bool:
    return schema == {"type": "null"}


def _openapi_30(node: Any) -> Any:
    """Rewrite, depth first, each JSON Schema 2020-12 construct that OpenAPI 3.0 does not have."""
    if isinstance(node, list):
        return [_openapi_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _openapi_30(value) for key, value in node.items()}
    for keyword in ("anyOf", "oneOf"):
        options = node.get(keyword)
        if isinstance(options, list) and any(_is_null(option) for option in options):
            rest = [option for option in options if not _is_null(option)]
            del node[keyword]
            if len(rest) == 1:
                only = rest[0]
                node.update({"allOf": [only]} if "$ref" in only else only)
            else:
                node[keyword] = rest
            node["nullable"] = True
    if isinstance(node.get("type"), list):
        types = [t for t in node["type"] if t != "null"]
        if len(types) < len(node["type"]):
            node["nullable"] = True
        node["type"] = types[0] if len(types) == 1 else types
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if isinstance(node.get("examples"), list):
        examples = node.pop("examples")
        if examples:
            node["example"] = examples[0]
    for exclusive, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(exclusive), int | float) and not isinstance(node.get(exclusive), bool):
            node[inclusive] = node.pop(exclusive)
            node[exclusive] = True
    return node


if __name__ == "__main__":
    print(json.dumps(openapi_document(), indent=2))
