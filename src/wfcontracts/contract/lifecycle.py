"""The execution lifecycle written once, as data: states, operations, legal and illegal moves.

Scenarios read it to know what to drive; the lifecycle checks read it to judge what a target
answered. Nothing here talks HTTP, so the model can be tested (and printed) on its own.

Sources: reference §2.4–2.6 and §5. Where the documentation is silent (the status code of an
illegal cancel or retry, whether a retried task is re-used in place or appended as a new
attempt) the model says only what must hold on every correct server.

Live CDF is eventually consistent: a write's effect shows a moment after its answer. So the
model's rules come in two kinds. :data:`INVARIANTS` hold on every observation, however much it
lags; :data:`OBLIGATIONS` are effects a server owes after an accepted write, shown by some later
observation within the run's deadline (``--deadline``), and failed with the last snapshot when
it passes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from wfcontracts.contract import vocabulary as vocab

__all__ = [
    "ACTIVE_TASK_STATUSES",
    "EXECUTION_STATES",
    "FINISHED_TASK_STATUSES",
    "ILLEGAL_PROBES",
    "INVARIANTS",
    "LEGAL_TRANSITIONS",
    "OBLIGATIONS",
    "RETRIED_TASK_STATUSES",
    "TERMINAL_STATES",
    "AttemptKey",
    "AttemptWatch",
    "IllegalProbe",
    "Invariant",
    "Obligation",
    "Operation",
    "Transition",
    "TransitionCoverage",
    "attempt_key",
    "attempts_of",
    "natural_transition",
    "not_run_again",
    "obligation",
    "operation_transition",
    "retried_attempts",
]

Operation = Literal["run", "complete", "fail", "time_out", "cancel", "retry"]

EXECUTION_STATES = vocab.EXECUTION_STATUSES
TERMINAL_STATES = vocab.TERMINAL_EXECUTION_STATUSES

# Task-level effects (reference §2.4, §2.5).
#: Tasks that cancel turns into CANCELED; none may remain in these states after a cancel.
ACTIVE_TASK_STATUSES = vocab.ACTIVE_TASK_STATUSES
#: The only task statuses a retry re-runs.
RETRIED_TASK_STATUSES = vocab.RETRIED_TASK_STATUSES
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


@dataclass(frozen=True)
class Invariant:
    """A rule every observation must hold, even one that lags behind the writes."""

    name: str
    check: str
    rule: str


@dataclass(frozen=True)
class Obligation:
    """An effect an accepted write owes: some observation within the deadline must show it.

    ``after`` is the write (``cancel``, ``retry``, ``update``, ``update FAILED``); ``promise``
    is what the failure message quotes as allowed. ``hopeless_when_terminal``: once the
    execution is seen finished the effect can no longer come, so it fails at once.
    """

    name: str
    after: str
    check: str
    promise: str
    hopeless_when_terminal: bool = False


INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "terminal_is_final",
        "lifecycle_transition",
        "a terminal status never goes back, except to RUNNING through an accepted retry",
    ),
    Invariant(
        "refusal_changes_nothing",
        "lifecycle_transition",
        "after a refused cancel or retry the execution shows the status it had",
    ),
    Invariant(
        "finished_task_is_final",
        "task_effects",
        "a COMPLETED or COMPLETED_WITH_ERRORS task keeps its id, status and start time: it is "
        "never run again, by a retry or otherwise",
    ),
    Invariant(
        "nothing_starts_after_cancel",
        "task_effects",
        "after a cancel no task starts: none has a startTime after the execution's endTime, "
        "and once no task is IN_PROGRESS or SCHEDULED none becomes so (until a retry)",
    ),
)

OBLIGATIONS: tuple[Obligation, ...] = (
    Obligation(
        "cancel_stops_tasks",
        "cancel",
        "task_effects",
        "every IN_PROGRESS or SCHEDULED task CANCELED (no task active after a cancel)",
    ),
    Obligation(
        "retry_reruns_tasks",
        "retry",
        "task_effects",
        "the CANCELED, FAILED, FAILED_WITH_TERMINAL_ERROR and TIMED_OUT tasks run again (a new "
        "attempt, or the same task id started again)",
    ),
    Obligation(
        "update_shows",
        "update",
        "lifecycle_transition",
        "the reported task leaves IN_PROGRESS (then the execution continues)",
    ),
    Obligation(
        "failed_task_retried",
        "update FAILED",
        "task_effects",
        "a new attempt of the task (it reported FAILED with retries left)",
        hopeless_when_terminal=True,
    ),
)


def obligation(name: str) -> Obligation:
    """The obligation called ``name``."""
    for rule in OBLIGATIONS:
        if rule.name == name:
            return rule
    raise KeyError(name)


# --- task attempts ---------------------------------------------------------------------------

#: What tells one attempt of a task from another: task id, start time and, for a function
#: task, its function call (a server that re-runs a task in place keeps the id, but calls the
#: function again).
AttemptKey = tuple[str, Any, Any]


def attempt_key(task: dict[str, Any]) -> AttemptKey:
    output = task.get("output")
    call = output.get("callId") if isinstance(output, dict) else None
    return (str(task.get("id")), task.get("startTime"), call)


def attempts_of(tasks: list[dict[str, Any]], external_id: str) -> list[dict[str, Any]]:
    """Every task execution of ``external_id``, oldest first (one when re-run in place)."""
    return [t for t in tasks if t.get("externalId") == external_id]


class AttemptWatch:
    """Follows one reported attempt through later observations.

    Until the report shows, a lagging observation still has the attempt IN_PROGRESS, exactly as
    before: that is neither the report nor a new attempt. The attempt *moved on* once it left
    IN_PROGRESS or a new attempt appeared; a *new attempt* is a task of the same external id
    not seen before, or the same task id started again (a new start or function call, or
    IN_PROGRESS again after it was seen leaving it).
    """

    def __init__(self, task: dict[str, Any], known: list[dict[str, Any]] | None = None) -> None:
        self.task_id = str(task.get("id"))
        self.external_id = str(task.get("externalId"))
        self.key = attempt_key(task)
        self.known = {attempt_key(t) for t in (known or [task])} | {self.key}
        self.left = False

    def see(self, tasks: list[dict[str, Any]]) -> None:
        """Take one observation into account (whether the attempt was seen leaving)."""
        mine = next((t for t in tasks if str(t.get("id")) == self.task_id), None)
        if mine is not None and mine.get("status") != "IN_PROGRESS":
            self.left = True

    def moved_on(self, tasks: list[dict[str, Any]]) -> bool:
        self.see(tasks)
        return self.left or self.new_attempt(tasks, active_only=False) is not None

    def new_attempt(
        self, tasks: list[dict[str, Any]], *, active_only: bool = True
    ) -> dict[str, Any] | None:
        """The newest attempt after the watched one (IN_PROGRESS only, by default)."""
        self.see(tasks)
        found = None
        for task in attempts_of(tasks, self.external_id):
            if active_only and task.get("status") != "IN_PROGRESS":
                continue
            fresh = attempt_key(task) not in self.known
            restarted = (
                str(task.get("id")) == self.task_id
                and self.left
                and task.get("status") == "IN_PROGRESS"
            )
            if fresh or restarted:
                found = task
        return found


def retried_attempts(tasks: list[dict[str, Any]]) -> dict[str, set[tuple[AttemptKey, Any]]]:
    """What a retry must re-run: each task whose latest attempt is CANCELED, FAILED,
    FAILED_WITH_TERMINAL_ERROR or TIMED_OUT, with its attempts (and their statuses) before."""
    latest: dict[str, str] = {}
    for task in tasks:
        if isinstance(task.get("externalId"), str):
            latest[task["externalId"]] = str(task.get("status"))
    return {
        xid: _attempt_states(tasks, xid)
        for xid, status in latest.items()
        if status in RETRIED_TASK_STATUSES
    }


def not_run_again(
    tasks: list[dict[str, Any]], before: dict[str, set[tuple[AttemptKey, Any]]]
) -> list[str]:
    """The tasks of ``before`` (see :func:`retried_attempts`) that show no new run yet."""
    return sorted(xid for xid, seen in before.items() if _attempt_states(tasks, xid) == seen)


def _attempt_states(tasks: list[dict[str, Any]], external_id: str) -> set[tuple[AttemptKey, Any]]:
    return {(attempt_key(t), t.get("status")) for t in attempts_of(tasks, external_id)}


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
    for i in INVARIANTS:
        yield f"always: {i.rule} [{i.check}]"
    for o in OBLIGATIONS:
        yield f"after {o.after}, within the deadline: {o.promise} [{o.check}]"
