"""Injected faults: rules that answer a matching request with a failure before normal handling."""


from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from local.zuora_emulator.wire import JSON_CONTENT_TYPE, Reply, error_envelope, json_reply, unauthorized_reply

# What a response cut off mid-body looks like: a JSON document that never ends.
MALFORMED_BODY = b'{"success": true, "subscriptions": [{"id": "8ad0887e8f1b2a3c'

_DEFAULT_REASON_BY_STATUS = {
    400: (50000020, "Invalid parameter value."),
    403: (50000010, "You do not have permission to perform this operation."),
    404: (50000040, "Cannot find entity by key."),
    409: (50000050, "Operation failed due to lock contention. Please retry later."),
    429: (50000070, "Your request was rejected because you exceeded the concurrent request limit. Retry later."),
    502: (50000061, "The service is temporarily unavailable. Please retry later."),
    503: (50000061, "The service is temporarily unavailable. Please retry later."),
    504: (50000061, "The request timed out at the gateway. Please retry later."),
}
_DEFAULT_REASON = (50000060, "An internal error occurred. Please retry later.")


class SuccessFalseReason(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: int
    message: str


class FaultRule(BaseModel):
    """One rule of the tenant file's `faults` list (documented in docs/zuora-emulator.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str | None = None
    path: str
    times: int | None = Field(default=None, ge=1)
    status: int | None = Field(default=None, ge=100, le=599)
    body: Any = None
    retryAfter: float | None = Field(default=None, ge=0)
    delaySeconds: float | None = Field(default=None, ge=0)
    malformed: bool = False
    reset: bool = False
    successFalse: SuccessFalseReason | None = None

    @field_validator("path")
    @classmethod
    def _path_is_a_regex(cls, path: str) -> str:
        try:
            re.compile(path)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return path

    @model_validator(mode="after")
    def _has_one_outcome(self) -> FaultRule:
        outcomes = [
            name
            for name, chosen in (
                ("status/body", self.status is not None or self.body is not None),
                ("malformed", self.malformed),
                ("reset", self.reset),
                ("successFalse", self.successFalse is not None),
            )
            if chosen
        ]
        if len(outcomes) > 1:
            raise ValueError(f"choose one of status/body, malformed, reset, successFalse (got {', '.join(outcomes)})")
        if not outcomes and self.delaySeconds is None:
            raise ValueError("the rule does nothing: give status, body, malformed, reset, successFalse or delaySeconds")
        if self.retryAfter is not None and self.status is None:
            raise ValueError("retryAfter needs a status")
        return self

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return re.fullmatch(self.path, path) is not None


@dataclass
class _ArmedRule:
    rule: FaultRule
    remaining: int | None  # None = fires on every match


class FaultBook:
    """The active rules, in order; the first matching rule that is not spent fires. Safe between threads."""

    def __init__(self, rules: Iterable[FaultRule | Mapping[str, Any]] = ()):
        self._lock = threading.Lock()
        self._armed: list[_ArmedRule] = []
        for rule in rules:
            self.add(rule)

    def add(self, rule: FaultRule | Mapping[str, Any]) -> FaultRule:
        """Arm a rule; a mapping is validated (pydantic.ValidationError, a ValueError, names the problem)."""
        checked = rule if isinstance(rule, FaultRule) else FaultRule.model_validate(rule)
        with self._lock:
            self._armed.append(_ArmedRule(checked, checked.times))
        return checked

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def take(self, method: str, path: str) -> FaultRule | None:
        """The rule that fires for this request, counting the use against its `times`."""
        with self._lock:
            for armed in self._armed:
                if armed.rule.matches(method, path):
                    if armed.remaining is not None:
                        armed.remaining -= 1
                        if armed.remaining == 0:
                            self._armed.remove(armed)
                    return armed.rule
        return None


def fault_reply(rule: FaultRule, request_id: str) -> Reply | None:
    """The answer a rule imposes, or None when it only delays and normal handling should follow."""
    if rule.reset:
        return Reply(status=0, reset=True)
    if rule.malformed:
        return Reply(200, MALFORMED_BODY, {"Content-Type": JSON_CONTENT_TYPE})
    if rule.successFalse is not None:
        return json_reply(200, error_envelope(rule.successFalse.code, rule.successFalse.message, request_id))
    if rule.status is None and rule.body is None:
        return None
    status = rule.status or 200
    reply = json_reply(status, rule.body) if rule.body is not None else _default_error_reply(status, request_id)
    if rule.retryAfter is not None:
        reply.headers["Retry-After"] = _seconds_header(rule.retryAfter)
    return reply


def _default_error_reply(status: int, request_id: str) -> Reply:
    if status == 401:
        return unauthorized_reply()
    if status < 400:
        return json_reply(status, {"success": True})
    code, message = _DEFAULT_REASON_BY_STATUS.get(status, _DEFAULT_REASON)
    return json_reply(status, error_envelope(code, message, request_id))


def _seconds_header(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)
