"""The execution lifecycle written once, as data: states, operations, legal and illegal moves.

Scenarios read it to know what to drive; the lifecycle checks read it to judge what a target
answered. Nothing here talks HTTP, so the model can be tested (and printed) on its own.

Sources: reference §2.4–2.6 and §5. Where the documentation is silent (the status code of an
illegal cancel or retry, whether a retried task is re-used in place or appended as a new
attempt) the model says only what must hold on every correct server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ACTIVE_TASK_STATUSES",
    "EXECUTION_STATES",
    "FINISHED_TASK_STATUSES",
    "ILLEGAL_PROBES",
    "LEGAL_TRANSITIONS",
    "RETRIED_TASK_STATUSES",
    "TERMINAL_STATES",
    "IllegalProbe",
    "Operation",
    "Transition",
    "TransitionCoverage",
    "natural_transition",
    "operation_transition",
]

Operation = Literal["run", "complete", "fail", "time_out", "cancel", "retry"]

EXECUTION_STATES = ("RUNNING", "COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED")
TERMINAL_STATES = frozenset({"COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"})

# Task-level effects (reference §2.4, §2.5).
#: Tasks that cancel turns into CANCELED; none may remain in these states after a cancel.
ACTIVE_TASK_STATUSES = frozenset({"IN_PROGRESS", "SCHEDULED"})
#: The only task statuses a retry re-runs.
RETRIED_TASK_STATUSES = frozenset({"CANCELED", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT"})
#: Tasks a retry must leave alone (COMPLETED_WITH_ERRORS = an optional, skipTask, task).
FINISHED_TASK_STATUSES = frozenset({"COMPLETED", "COMPLETED_WITH_ERRORS"})
#: What cancel stores when no reason is given: any non-empty text (the SDK says "cancelled").
DEFAULT_CANCEL_REASON_RULE = "any non-empty string"


@dataclass(frozen=True)
class Transition:
    """A legal move: ``source`` (None = not yet started) --operation--> ``target``.

    ``driven`` operations are requests a client sends; the others happen on the server.
    ``same_id`` says the execution keeps its id across the move.
    """

    source: str | None
    operation: Operation
    target: str
    driven: bool
    same_id: bool = True


@dataclass(frozen=True)
class IllegalProbe:
    """A request the server must refuse: any 4xx with the CDF envelope, and no state change."""

    source: str
    operation: Operation


LEGAL_TRANSITIONS: tuple[Transition, ...] = (
    Transition(None, "run", "RUNNING", driven=True),
    Transition("RUNNING", "complete", "COMPLETED", driven=False),
    Transition("RUNNING", "fail", "FAILED", driven=False),
    Transition("RUNNING", "time_out", "TIMED_OUT", driven=False),
    Transition("RUNNING", "cancel", "TERMINATED", driven=True),
    Transition("FAILED", "retry", "RUNNING", driven=True),
    Transition("TIMED_OUT", "retry", "RUNNING", driven=True),
    Transition("TERMINATED", "retry", "RUNNING", driven=True),
)

ILLEGAL_PROBES: tuple[IllegalProbe, ...] = (
    IllegalProbe("COMPLETED", "cancel"),
    IllegalProbe("FAILED", "cancel"),
    IllegalProbe("TIMED_OUT", "cancel"),
    IllegalProbe("TERMINATED", "cancel"),
    IllegalProbe("RUNNING", "retry"),
    IllegalProbe("COMPLETED", "retry"),
)


def natural_transition(source: str, target: str) -> Transition | None:
    """The server-side move from ``source`` to ``target``, or None when no such move exists."""
    for transition in LEGAL_TRANSITIONS:
        if not transition.driven and (transition.source, transition.target) == (source, target):
            return transition
    return None


def operation_transition(source: str | None, operation: Operation) -> Transition | None:
    """The legal move ``operation`` makes from ``source``, or None when it is not allowed."""
    for transition in LEGAL_TRANSITIONS:
        if transition.driven and (transition.source, transition.operation) == (source, operation):
            return transition
    return None


def illegal_probe(source: str, operation: Operation) -> IllegalProbe | None:
    """The illegal probe ``operation`` from ``source`` is, if the model lists it."""
    for probe in ILLEGAL_PROBES:
        if (probe.source, probe.operation) == (source, operation):
            return probe
    return None


@dataclass
class _Tally:
    exercised: int = 0
    failed: int = 0


@dataclass
class TransitionCoverage:
    """Which legal transitions and illegal probes a run exercised, and how many failed.

    Lives in ``CheckContext.extras["transitions"]``; the summary writer calls :meth:`as_dict`.
    Thread-safe.
    """

    _legal: dict[Transition, _Tally] = field(default_factory=dict)
    _illegal: dict[IllegalProbe, _Tally] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def exercised(self, step: Transition | IllegalProbe, *, failed: bool = False) -> None:
        """Count one use of ``step`` (and one failure when ``failed``)."""
        with self._lock:
            tally = self._tally(step)
            tally.exercised += 1
            tally.failed += int(failed)

    def failed(self, step: Transition | IllegalProbe) -> None:
        """Count a failure found after the step was counted (e.g. on a later observation)."""
        with self._lock:
            self._tally(step).failed += 1

    def count(self, step: Transition | IllegalProbe) -> tuple[int, int]:
        """(exercised, failed) for ``step``."""
        with self._lock:
            tally = self._tally(step)
            return tally.exercised, tally.failed

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        """Every transition and probe of the model, with its counts (zero when not exercised)."""
        with self._lock:
            legal = [self._legal_entry(t) for t in LEGAL_TRANSITIONS]
            illegal = [self._illegal_entry(p) for p in ILLEGAL_PROBES]
        return {"legal": legal, "illegal": illegal}

    def _tally(self, step: Transition | IllegalProbe) -> _Tally:
        if isinstance(step, Transition):
            return self._legal.setdefault(step, _Tally())
        return self._illegal.setdefault(step, _Tally())

    def _legal_entry(self, transition: Transition) -> dict[str, Any]:
        tally = self._legal.get(transition, _Tally())
        return {
            "from": transition.source,
            "operation": transition.operation,
            "to": transition.target,
            "exercised": tally.exercised,
            "failed": tally.failed,
        }

    def _illegal_entry(self, probe: IllegalProbe) -> dict[str, Any]:
        tally = self._illegal.get(probe, _Tally())
        return {
            "from": probe.source,
            "operation": probe.operation,
            "exercised": tally.exercised,
            "failed": tally.failed,
        }


def describe() -> Iterator[str]:
    """The model as text lines (docs, debugging)."""
    for t in LEGAL_TRANSITIONS:
        yield f"{t.source or 'start'} -{t.operation}-> {t.target}"
    for p in ILLEGAL_PROBES:
        yield f"{p.source} -{p.operation}-> refused (4xx, unchanged)"
