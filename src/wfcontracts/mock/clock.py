"""Clocks for the mock: the real wall clock, and a virtual one that tests move explicitly."""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "RealClock", "VirtualClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the time in milliseconds since the epoch."""

    def now_ms(self) -> int:
        """Return the current time in milliseconds since the epoch."""
        ...


class RealClock:
    """The wall clock."""

    def now_ms(self) -> int:
        """Return the wall-clock time in milliseconds since the epoch."""
        return time.time_ns() // 1_000_000


class VirtualClock:
    """A clock that only moves when told to, so tests never sleep.

    Thread-safe: several threads may read and move it at once.
    """

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._lock = threading.Lock()
        self._now = start_ms

    def now_ms(self) -> int:
        """Return the virtual time."""
        with self._lock:
            return self._now

    def advance(self, ms: int) -> int:
        """Move the clock forward by ``ms`` milliseconds and return the new time."""
        if ms < 0:
            raise ValueError(f"a virtual clock only moves forward; got advance({ms})")
        with self._lock:
            self._now += ms
            return self._now

    def set(self, ms: int) -> None:
        """Set the clock to ``ms`` (may move it backwards; the mock tolerates that)."""
        with self._lock:
            self._now = ms
