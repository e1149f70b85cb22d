"""The one shape every API error takes: {"error": {"code", "message", ...}}."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field


def error_body(code: str, message: str, **extra: Any) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


def _field_name(location: Sequence[Any]) -> str:
    parts = [str(p) for p in location if p not in ("body", "path", "query", "header")]
    return ".".join(parts) or str(location[0] if location else "body")


def _problem(error: Mapping[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        return "is not a known field"
    if error.get("type") == "missing":
        return "is required"
    message = str(error.get("msg", "is invalid"))
    return message.removeprefix("Value error, ")


def validation_error_body(errors: Sequence[Mapping[str, Any]]) -> dict:
    """A 400 body that names every wrong field and why, in words a person can act on."""
    details = [{"field": _field_name(e.get("loc", ())), "problem": _problem(e)} for e in errors]
    summary = "; ".join(f"{d['field']} {d['problem']}" for d in details) or "the request is invalid"
    return error_body("VALIDATION_ERROR", f"Invalid request: {summary}.", details=details)


class FieldProblem(BaseModel):
    field: str
    problem: str


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable error code, e.g. VALIDATION_ERROR, SYNC_NOT_FOUND")
    message: str = Field(description="What went wrong, in words a person can act on")
    details: list[FieldProblem] | None = Field(default=None, description="For validation errors: each wrong field and why")


class ErrorResponse(BaseModel):
    """The body of every error reply."""

    error: ErrorInfo
