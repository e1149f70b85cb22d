"""What the emulator saw: request counts, concurrency, throttling; and the limits it reports in headers."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RATE_LIMIT_PER_MINUTE = 50_000  # Zuora production tenants (zuora.md §5.2); reported, never enforced
RATE_LIMIT_HEADER = f"{RATE_LIMIT_PER_MINUTE}, {RATE_LIMIT_PER_MINUTE};w=60"  # the RateLimit-Limit header


@dataclass(frozen=True)
class EmulatorStats:
    """A snapshot. `by_route` counts requests per (HTTP method, route name), e.g. ("GET", "get_subscription")."""

    total_requests: int = 0
    token_requests: int = 0
    by_route: dict[tuple[str, str], int] = field(default_factory=dict)
    peak_in_flight: int = 0  # most /v1 + /object-query requests being handled at the same time
    throttled: int = 0  # 429 responses sent (concurrency limit and injected faults)

    def count(self, method: str, route: str) -> int:
        return self.by_route.get((method.upper(), route), 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total_requests": self.total_requests,
            "token_requests": self.token_requests,
            "by_route": {f"{method} {route}": count for (method, route), count in self.by_route.items()},
            "peak_in_flight": self.peak_in_flight,
            "throttled": self.throttled,
        }


class StatsRecorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_route: Counter[tuple[str, str]] = Counter()
        self._throttled = 0

    def record_request(self, method: str, route: str) -> None:
        with self._lock:
            self._by_route[(method.upper(), route)] += 1

    def record_status(self, status: int) -> None:
        if status == 429:
            with self._lock:
                self._throttled += 1

    def snapshot(self, peak_in_flight: int) -> EmulatorStats:
        with self._lock:
            return EmulatorStats(
                total_requests=sum(self._by_route.values()),
                token_requests=sum(n for (_, route), n in self._by_route.items() if route == "token"),
                by_route=dict(self._by_route),
                peak_in_flight=peak_in_flight,
                throttled=self._throttled,
            )

    def reset(self) -> None:
        with self._lock:
            self._by_route.clear()
            self._throttled = 0


class ConcurrencyGate:
    """Counts requests in flight and turns away those over the limit, as Zuora's concurrency limiter does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._peak = 0

    def try_enter(self, limit: int | None) -> int | None:
        """The number in flight including this request, or None when the limit is already reached."""
        with self._lock:
            if limit is not None and self._in_flight >= limit:
                return None
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
            return self._in_flight

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def peak(self) -> int:
        return self._peak

    def reset_peak(self) -> None:
        with self._lock:
            self._peak = self._in_flight


class RateWindow:
    """A fixed one-minute window of requests, for plausible RateLimit-Remaining / RateLimit-Reset headers."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, window_seconds: int = 60):
        self._clock = clock
        self._window_seconds = window_seconds
        self._lock = threading.Lock()
        self._window_start = clock()
        self._used = 0

    def hit(self) -> tuple[int, int]:
        """Counts one request; returns (remaining in this window, seconds until it resets)."""
        with self._lock:
            now = self._clock()
            if now - self._window_start >= self._window_seconds:
                self._window_start, self._used = now, 0
            self._used += 1
            reset_in = max(1, int(self._window_seconds - (now - self._window_start)))
            return max(0, RATE_LIMIT_PER_MINUTE - self._used), reset_in
