"""Time in the mock: the real wall clock, a virtual one that tests move explicitly, and the
pace (how long runs, tasks, updates, cancels and retries take to show)."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from wfcontracts.errors import WfcontractsError

__all__ = [
    "PACES",
    "SERVE_PACE",
    "Clock",
    "Pace",
    "PaceProfile",
    "RealClock",
    "UnknownPaceError",
    "VirtualClock",
    "Window",
]


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


# ---------------------------------------------------------------------------------------------
# Pace: how long things take


Window = tuple[int, int]
"""An inclusive range of milliseconds a delay is drawn from."""

_NONE: Window = (0, 0)


class UnknownPaceError(WfcontractsError, ValueError):
    """A pace name that is not one of :data:`PACES`."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown pace {name!r}; valid paces: {', '.join(PACES)}")


@dataclass(frozen=True, slots=True)
class PaceProfile:
    """The delay windows of one pace (all in ms; ``(0, 0)`` means inside the request)."""

    name: str
    response: Window = _NONE
    pickup: Window = _NONE
    tasks: Mapping[str, Window] = field(default_factory=dict)
    update: Window = _NONE
    cancel: Window = _NONE
    retry: Window = _NONE
    listing: Window = _NONE

    def task(self, task_type: str) -> Window:
        """How long one attempt of a synchronous task of ``task_type`` works."""
        return self.tasks.get(task_type, self.tasks.get("*", _NONE))

    def scaled(self, name: str, divisor: int) -> PaceProfile:
        """The same shape with every delay divided by ``divisor``."""

        def scale(window: Window) -> Window:
            return (window[0] // divisor, window[1] // divisor)

        return PaceProfile(
            name,
            response=scale(self.response),
            pickup=scale(self.pickup),
            tasks={kind: scale(window) for kind, window in self.tasks.items()},
            update=scale(self.update),
            cancel=scale(self.cancel),
            retry=scale(self.retry),
            listing=scale(self.listing),
        )


# What live CDF shows (issue 14); "*" covers task types without their own window.
_REAL = PaceProfile(
    "real",
    response=(60, 120),
    pickup=(500, 1500),
    tasks={
        "cdf": (1000, 2000),
        "function": (2000, 3000),
        "transformation": (3000, 4000),
        "simulation": (3000, 4000),
        "*": (1000, 2000),
    },
    update=(300, 1000),
    cancel=(300, 1000),
    retry=(300, 1000),
    listing=(400, 600),
)

PACES: dict[str, PaceProfile] = {
    "instant": PaceProfile("instant"),
    "fast": _REAL.scaled("fast", 10),
    "real": _REAL,
}
# `wfcontracts mock serve` runs at live CDF's pace, so a client that runs and at once cancels
# finds the execution RUNNING, as it would on CDF (the embedded mock stays instant).
SERVE_PACE = "real"


class Pace:
    """A pace profile plus the seed its jitter is drawn from.

    Draws are pure functions of ``(seed, project, k, purpose)`` — the k-th execution of a project
    gets the same delays on every run, however requests interleave — and need no state per
    execution beyond one integer key, so 100k stored executions cost nothing extra.
    """

    def __init__(self, name: str = "instant", seed: int = 0) -> None:
        profile = PACES.get(name)
        if profile is None:
            raise UnknownPaceError(name)
        self.name = name
        self.seed = seed
        self.profile = profile

    def __repr__(self) -> str:
        return f"Pace({self.name!r}, seed={self.seed})"

    @property
    def instant(self) -> bool:
        """True when every effect is applied inside the request (no delay is drawn)."""
        return self.name == "instant"

    def execution_key(self, project: str, ordinal: int) -> int:
        """The key of the ``ordinal``-th execution of ``project`` that its draws derive from."""
        if self.instant:
            return 0
        return _hash(f"{self.seed}\x00{project}\x00{ordinal}")

    def draw(self, key: int, purpose: str, window: Window) -> int:
        """A delay from ``window``, the same for the same ``(key, purpose)`` on every run."""
        low, high = window
        if high <= low:
            return low
        return low + _hash(f"{key}\x00{purpose}") % (high - low + 1)

    def responses(self) -> Iterator[float]:
        """Per-response latencies in seconds, in a sequence fixed by the seed."""
        low, high = self.profile.response
        generator = random.Random(f"{self.seed}\x00responses")
        while True:
            yield generator.randint(low, high) / 1000 if high > 0 else 0.0


def _hash(text: str) -> int:
    # blake2b rather than hash(): the same on every run whatever PYTHONHASHSEED is.
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
