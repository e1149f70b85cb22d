"""OAuth bearer tokens: issued by /oauth/token, valid for the tenant's TTL or until revoked."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable


class TokenIssuer:
    def __init__(self, ttl_seconds: int, clock: Callable[[], float] = time.monotonic):
        self.ttl_seconds = ttl_seconds
        self._clock = clock  # monotonic, so wall-clock changes cannot revive or kill tokens
        self._lock = threading.Lock()
        self._expiry_by_token: dict[str, float] = {}
        self._issued: list[str] = []

    def issue(self) -> str:
        token = secrets.token_hex(16)
        with self._lock:
            self._expiry_by_token[token] = self._clock() + self.ttl_seconds
            self._issued.append(token)
        return token

    def issued(self) -> tuple[str, ...]:
        """Every token issued so far, expired and revoked ones included, oldest first."""
        with self._lock:
            return tuple(self._issued)

    def is_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._expiry_by_token.get(token)
            if expiry is not None and self._clock() >= expiry:
                del self._expiry_by_token[token]
                return False
            return expiry is not None

    def revoke_all(self) -> None:
        with self._lock:
            self._expiry_by_token.clear()
