"""A clock for tests of code that waits: time moves only when the code under test sleeps, so nothing sleeps for real."""

from __future__ import annotations


class SleepingClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
