"""Injected faults: rules that answer a matching request with a failure before normal handling."""

from __future__ import annotations

import copy
import email.utils
import json
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from local.zuora_emulator.stats import RATE_LIMIT_HEADER
from local.zuora_emulator.wire import (
    JSON_CONTENT_TYPE,
    Reply,
    Request,
    decode_cursor,
    encode_cursor,
    error_envelope,
    json_reply,
    page_url,
    unauthorized_reply,
)

RATE_LIMITED = 50000070  # category 70: too many requests

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


class AlterSubscription(BaseModel):
    """Change how one subscription is served (listings and the single GET), not what is stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subscriptionNumber: str = Field(min_length=1)
    set: dict[str, Any] = Field(default_factory=dict)
    unset: list[str] = Field(default_factory=list)


class FaultRule(BaseModel):
    """One rule of the tenant file's `faults` list (documented in docs/zuora-emulator.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str | None = None
    path: str = ".*"
    account: str | None = None  # only requests about this account (in the path, or the body's accountNumber/accountId)
    times: int | None = Field(default=None, ge=1)
    status: int | None = Field(default=None, ge=100, le=599)
    body: Any = None
    retryAfter: float | None = Field(default=None, ge=0)
    retryAfterHttpDate: bool = False
    delaySeconds: float | None = Field(default=None, ge=0)
    malformed: bool = False
    reset: bool = False
    successFalse: SuccessFalseReason | None = None
    rateLimited: bool = False
    rateLimitResetSeconds: int = Field(default=60, ge=0)
    nextPage: Literal["repeat", "endless"] | None = None
    alterSubscription: AlterSubscription | None = None
    duplicateSubscription: str | None = None
    refusePreviewOf: str | None = None
    message: str | None = None

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
        outcomes = [name for name, chosen in self._outcomes() if chosen]
        if len(outcomes) > 1:
            raise ValueError(f"choose one of {', '.join(name for name, _ in self._outcomes())} (got {', '.join(outcomes)})")
        if not outcomes and self.delaySeconds is None:
            raise ValueError(f"the rule does nothing: give one of {', '.join(name for name, _ in self._outcomes())} or delaySeconds")
        if self.retryAfter is not None and self.status is None:
            raise ValueError("retryAfter needs a status")
        if self.retryAfterHttpDate and self.retryAfter is None:
            raise ValueError("retryAfterHttpDate needs retryAfter")
        if self.message is not None and self.refusePreviewOf is None:
            raise ValueError("message goes with refusePreviewOf")
        return self

    def _outcomes(self) -> list[tuple[str, bool]]:
        return [
            ("status/body", self.status is not None or self.body is not None),
            ("malformed", self.malformed),
            ("reset", self.reset),
            ("successFalse", self.successFalse is not None),
            ("rateLimited", self.rateLimited),
            ("nextPage", self.nextPage is not None),
            ("alterSubscription", self.alterSubscription is not None),
            ("duplicateSubscription", self.duplicateSubscription is not None),
            ("refusePreviewOf", self.refusePreviewOf is not None),
        ]

    @property
    def reshapes_the_answer(self) -> bool:
        """The request is answered normally, then its body is changed."""
        return self.nextPage is not None or self.alterSubscription is not None or self.duplicateSubscription is not None

    def matches(self, request: Request) -> bool:
        if self.refusePreviewOf is not None:
            return False  # decided by the preview itself, from the subscriptions it covers
        if self.method is not None and self.method.upper() != request.method.upper():
            return False
        if re.fullmatch(self.path, request.path) is None:
            return False
        return self.account is None or _concerns_account(request, self.account)


def _concerns_account(request: Request, account: str) -> bool:
    if account in request.path.split("/"):
        return True
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return False
    return isinstance(body, dict) and account in (body.get("accountNumber"), body.get("accountId"))


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

    def take(self, request: Request) -> FaultRule | None:
        """The rule that fires for this request, counting the use against its `times`."""
        with self._lock:
            for armed in self._armed:
                if armed.rule.matches(request):
                    self._spend(armed)
                    return armed.rule
        return None

    def preview_refusal(self, subscription_numbers: Iterable[str]) -> str | None:
        """The message of a `refusePreviewOf` rule naming one of the previewed subscriptions, counting the use."""
        numbers = set(subscription_numbers)
        with self._lock:
            for armed in self._armed:
                refused = armed.rule.refusePreviewOf
                if refused is not None and refused in numbers:
                    self._spend(armed)
                    return armed.rule.message or f"Cannot preview subscription {refused}: a charge of it cannot be billed."
        return None

    def _spend(self, armed: _ArmedRule) -> None:
        if armed.remaining is not None:
            armed.remaining -= 1
            if armed.remaining == 0:
                self._armed.remove(armed)


def fault_reply(rule: FaultRule, request_id: str) -> Reply | None:
    """The answer a rule imposes, or None when it only delays and normal handling should follow."""
    if rule.reset:
        return Reply(status=0, reset=True)
    if rule.malformed:
        return Reply(200, MALFORMED_BODY, {"Content-Type": JSON_CONTENT_TYPE})
    if rule.successFalse is not None:
        return json_reply(200, error_envelope(rule.successFalse.code, rule.successFalse.message, request_id))
    if rule.rateLimited:
        return _rate_limited_reply(rule, request_id)
    if rule.status is None and rule.body is None:
        return None
    status = rule.status or 200
    reply = json_reply(status, rule.body) if rule.body is not None else _default_error_reply(status, request_id)
    if rule.retryAfter is not None:
        reply.headers["Retry-After"] = _http_date(rule.retryAfter) if rule.retryAfterHttpDate else _seconds_header(rule.retryAfter)
    return reply


def _rate_limited_reply(rule: FaultRule, request_id: str) -> Reply:
    """The rate-limit 429 of https://developer.zuora.com/docs/guides/rate-limits/: `ratelimit-remaining: 0` and
    `ratelimit-reset`, no `Retry-After` (unlike the concurrency limit's 429)."""
    message = "Your request was rejected because you exceeded the rate limit. Retry after the rate limit resets."
    reply = json_reply(429, error_envelope(RATE_LIMITED, message, request_id))
    reply.headers.update({"RateLimit-Limit": RATE_LIMIT_HEADER, "RateLimit-Remaining": "0", "RateLimit-Reset": str(rule.rateLimitResetSeconds)})
    return reply


def reshape_reply(rule: FaultRule, reply: Reply, request: Request) -> Reply:
    """A normal answer changed as the rule says: a broken `nextPage`, a record served wrongly, a duplicate."""
    if reply.status != 200:
        return reply
    body = json.loads(reply.body)
    if rule.nextPage is not None:
        _break_next_page(body, rule.nextPage, request)
    records = body.get("subscriptions") if isinstance(body.get("subscriptions"), list) else [body] if "subscriptionNumber" in body else []
    if rule.alterSubscription is not None:
        for record in records:
            if record.get("subscriptionNumber") == rule.alterSubscription.subscriptionNumber:
                for name in rule.alterSubscription.unset:
                    record.pop(name, None)
                record.update(copy.deepcopy(rule.alterSubscription.set))
    if rule.duplicateSubscription is not None and isinstance(body.get("subscriptions"), list):
        older = [_older_version(record) for record in records if record.get("subscriptionNumber") == rule.duplicateSubscription]
        body["subscriptions"].extend(older)
    return json_reply(reply.status, body, {name: value for name, value in reply.headers.items() if name != "Content-Type"})


def _break_next_page(body: dict[str, Any], mode: str, request: Request) -> None:
    """`repeat`: the link (or cursor) leads back to this same page; `endless`: there is always one more page."""
    if "data" in body:  # Object Query: an opaque cursor
        offset = decode_cursor(request.param("cursor"))
        page_size = len(body["data"]) or 1
        body["nextPage"] = encode_cursor(offset) if mode == "repeat" else encode_cursor(offset + page_size)
        return
    page = int(request.param("page") or 1)
    body["nextPage"] = page_url(request, page if mode == "repeat" else page + 1)


def _older_version(record: dict[str, Any]) -> dict[str, Any]:
    """The same subscription one version earlier, as a listing caught between two versions would show it."""
    older = copy.deepcopy(record)
    version = int(record.get("version") or 1)
    older.update(id=uuid.uuid5(uuid.NAMESPACE_OID, f"{record.get('id')}-older").hex, version=max(1, version - 1), isLatestVersion=False)
    return older


def _http_date(seconds: float) -> str:
    """Retry-After as an HTTP-date (RFC 9110 §10.2.3), `seconds` from now."""
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


def _default_error_reply(status: int, request_id: str) -> Reply:
    if status == 401:
        return unauthorized_reply()
    if status < 400:
        return json_reply(status, {"success": True})
    code, message = _DEFAULT_REASON_BY_STATUS.get(status, _DEFAULT_REASON)
    return json_reply(status, error_envelope(code, message, request_id))


def _seconds_header(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)
