"""The published OpenAPI document is the one the code generates."""

from __future__ import annotations

import json
from pathlib import Path

from local.openapi import openapi_document

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_docs_openapi_json_matches_the_code():
    assert json.loads(PUBLISHED.read_text()) == openapi_document(), "run `make openapi` and commit docs/openapi.json"


def test_every_error_reply_is_documented_as_the_error_shape():
    document = openapi_document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, reply in operation["responses"].items():
                if status.startswith(("4", "5")):
                    schema = reply["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, f"{method} {path} {status}"
