"""Print the API's OpenAPI document, generated from the API handler's code (`make openapi`)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API_HANDLER = ROOT / "functions" / "api" / "app.py"


def openapi_document() -> dict:
    sys.path.insert(0, str(ROOT / "layers" / "shared"))
    spec = importlib.util.spec_from_file_location("api_handler_for_openapi", API_HANDLER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    document = json.loads(module.app.get_openapi_json_schema(title="Limio subscription sync API", version="1.0.0"))
    return _without_default_422(document)


def _without_default_422(document: dict) -> dict:
    """Powertools documents request validation as 422; this API answers 400 (documented per route) instead."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    return document


if __name__ == "__main__":
    print(json.dumps(openapi_document(), indent=2))
