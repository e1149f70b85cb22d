"""One OAuth token per Zuora tenant and client id, shared by every client and thread of the process.

Zuora rate-limits `/oauth/token` per IP address and discourages minting many tokens, so a warm Lambda keeps
its token until it is close to expiry (reference §1.1).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

REFRESH_MARGIN_SECONDS = 300.0

TokenKey = tuple[str, str]  # (base URL, client id)


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float  # on the clock of the client that fetched it


class TokenCache:
    """Thread-safe: while one thread fetches a key's token, the others wait for it instead of fetching too."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._fetch_locks: dict[TokenKey, threading.Lock] = {}
        self._tokens: dict[TokenKey, AccessToken] = {}

    def get(self, key: TokenKey, fetch: Callable[[], AccessToken], clock: Callable[[], float]) -> AccessToken:
        with self._fetch_lock(key):
            token = self._tokens.get(key)
            if token is None or token.expires_at - clock() < REFRESH_MARGIN_SECONDS:
                token = fetch()
                self._tokens[key] = token
            return token

    def invalidate(self, key: TokenKey, rejected: AccessToken) -> None:
        """Forget `rejected`, unless another thread has already replaced it with a fresh token."""
        with self._fetch_lock(key):
            if self._tokens.get(key) is rejected:
                del self._tokens[key]

    def clear(self) -> None:
        with self._guard:
            self._tokens.clear()
            self._fetch_locks.clear()

    def _fetch_lock(self, key: TokenKey) -> threading.Lock:
        with self._guard:
            return self._fetch_locks.setdefault(key, threading.Lock())


shared_token_cache = TokenCache()


def reset_token_cache() -> None:
    """Forget every cached token (tests, or after rotating credentials)."""
    shared_token_cache.clear()
