"""The lifecycle oracle: every observed response judged against the lifecycle model.

It keeps, per execution, what the run has seen so far (status, tasks, pending expectations) in
``CheckContext.extras["lifecycle"]`` and records transition coverage in
``CheckContext.extras["transitions"]``. Three checks report its verdicts:

- ``lifecycle_transition``: status changes follow the model; cancel/retry answers show the
  documented result (TERMINATED; RUNNING with the same id); illegal cancel/retry are refused
  and the next observation shows the state unchanged;
- ``task_effects``: after a cancel no task is IN_PROGRESS or SCHEDULED; after a retry no task
  that had finished (COMPLETED, COMPLETED_WITH_ERRORS) runs again — whether the server re-runs
  tasks in place or appends attempts, which the docs leave open;
- ``cancel_reason``: a TERMINATED execution carries the cancel reason, or a non-empty default.

Where the documentation is silent the oracle accepts every legitimate answer: any 4xx for an
illegal probe, either retry bookkeeping, absent optional fields. It judges an illegal probe
only when the last observation proves the execution could not have moved on by itself (a
finished execution, or a RUNNING one that only waits for our task updates).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from wfcontracts.checks.exchange import Exchange
from wfcontracts.checks.registry import CheckContext, check, get_check
from wfcontracts.contract.operations import CANCEL, GET, LIST, RETRY, RUN, UPDATE
from wfcontracts.scenarios.lifecycle import (
    ACTIVE_TASK_STATUSES,
    FINISHED_TASK_STATUSES,
    IllegalProbe,
    Transition,
    TransitionCoverage,
    illegal_probe,
    natural_transition,
    operation_transition,
)

__all__ = ["LifecycleHistory", "coverage_of", "history_of"]


TRANSITION = "lifecycle_transition"
TASKS = "task_effects"
REASON = "cancel_reason"
_NOTE = "lifecycle_verdicts"

_EXECUTION_PATH = re.compile(r"/workflows/executions/([^/]+)/(?:cancel|retry)$")
_TASK_PATH = re.compile(r"/workflows/tasks/([^/]+)/update$")
_REFUSED = "any 4xx with the CDF error envelope, and the execution unchanged"
_MOVES = (
    "RUNNING -> COMPLETED | FAILED | TIMED_OUT by itself; TERMINATED only by cancel; "
    "RUNNING again only by retry"
)

TaskKey = tuple[str, str, Any]  # (task id, status, startTime)


@dataclass
class _Verdict:
    check: str
    seen: str
    allowed: str


@dataclass
class _Seen:
    """What the run knows about one execution."""

    status: str | None = None
    # RUNNING and waiting only for our task updates: it cannot move on by itself.
    held: bool = False
    tasks: list[dict[str, Any]] = field(default_factory=list)
    unchanged: tuple[str, IllegalProbe] | None = None
    cancelled_by: Transition | None = None
    reason: tuple[str | None] | None = None  # (given reason,) while TERMINATED by our cancel
    frozen: dict[str, set[TaskKey]] = field(default_factory=dict)
    retried_by: Transition | None = None


@dataclass
class LifecycleHistory:
    """Per-execution observations of one run (thread-safe)."""

    executions: dict[str, _Seen] = field(default_factory=dict)
    task_owner: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self, execution_id: str) -> _Seen:
        return self.executions.setdefault(execution_id, _Seen())

    def status(self, execution_id: str) -> str | None:
        """The last observed status of an execution (None when never seen)."""
        with self.lock:
            known = self.executions.get(execution_id)
            return known.status if known else None


def history_of(ctx: CheckContext) -> LifecycleHistory:
    with ctx.lock:
        found = ctx.extras.setdefault("lifecycle", LifecycleHistory())
    assert isinstance(found, LifecycleHistory)
    return found


def coverage_of(ctx: CheckContext) -> TransitionCoverage:
    with ctx.lock:
        found = ctx.extras.setdefault("transitions", TransitionCoverage())
    assert isinstance(found, TransitionCoverage)
    return found


# --- the checks ---------------------------------------------------------------------------


@check(
    TRANSITION,
    severity="critical",
    description="Execution status changes follow the lifecycle model; illegal cancel/retry "
    "are refused with a 4xx and change nothing; retry keeps the execution id.",
)
def lifecycle_transition(ctx: CheckContext, ex: Exchange) -> None:
    _raise_first(ex, TRANSITION, _verdicts(ctx, ex))


@check(
    TASKS,
    severity="critical",
    description="Cancel leaves no task IN_PROGRESS or SCHEDULED; retry never re-runs a "
    "COMPLETED or COMPLETED_WITH_ERRORS task.",
)
def task_effects(ctx: CheckContext, ex: Exchange) -> None:
    _raise_first(ex, TASKS, _verdicts(ctx, ex))


@check(
    REASON,
    severity="major",
    description="A cancelled execution's reasonForIncompletion is the given reason, or a "
    "non-empty default when none was given.",
)
def cancel_reason(ctx: CheckContext, ex: Exchange) -> None:
    _raise_first(ex, REASON, _verdicts(ctx, ex))


def _raise_first(ex: Exchange, name: str, verdicts: list[_Verdict]) -> None:
    for verdict in verdicts:
        if verdict.check == name:
            raise get_check(name).fail(ex, verdict.seen, verdict.allowed)


def _verdicts(ctx: CheckContext, ex: Exchange) -> list[_Verdict]:
    """Judge the exchange once (the three checks share the result through ``ex.notes``)."""
    if _NOTE not in ex.notes:
        history = history_of(ctx)
        judge = _Judge(history, coverage_of(ctx), ex)
        with history.lock:
            judge.run()
        ex.notes[_NOTE] = judge.verdicts
    verdicts: list[_Verdict] = ex.notes[_NOTE]
    return verdicts


# --- judging one exchange -----------------------------------------------------------------


class _Judge:
    def __init__(self, history: LifecycleHistory, coverage: TransitionCoverage, ex: Exchange):
        self.history = history
        self.coverage = coverage
        self.ex = ex
        self.verdicts: list[_Verdict] = []

    def fail(self, name: str, seen: str, allowed: str) -> None:
        self.verdicts.append(_Verdict(name, seen, allowed))

    def run(self) -> None:
        op = self.ex.operation.operation_id
        body = self.ex.response_json if self.ex.response_is_json else None
        ok = 200 <= self.ex.status < 300
        if op == RUN and ok and isinstance(body, dict):
            self.on_run(body)
        elif op in (CANCEL, RETRY):
            self.on_operation(op, body if isinstance(body, dict) else {})
        elif op == UPDATE:
            self.on_update()
        elif op == GET and ok and isinstance(body, dict):
            self.observe(body, detailed=True)
        elif op == LIST and ok and isinstance(body, dict):
            for item in body.get("items") or []:
                if isinstance(item, dict):
                    self.observe(item, detailed=False)

    # -- run, cancel, retry, update ----------------------------------------------------------

    def on_run(self, body: dict[str, Any]) -> None:
        execution_id, status = body.get("id"), body.get("status")
        if not isinstance(execution_id, str):
            return
        step = operation_transition(None, "run")
        assert step is not None
        bad = status != "RUNNING"
        self.coverage.exercised(step, failed=bad)
        if bad:
            self.fail(TRANSITION, f"run answered an execution in status {status!r}", "RUNNING")
        self.history.executions[execution_id] = _Seen(status=str(status))

    def on_operation(self, op: str, body: dict[str, Any]) -> None:
        execution_id = _path_id(self.ex.url, _EXECUTION_PATH)
        if execution_id is None:
            return
        seen = self.history.seen(execution_id)
        name: Any = "cancel" if op == CANCEL else "retry"
        probe = self._provable_probe(seen, name)
        if probe is not None:
            self._judge_probe(seen, probe)
        elif 200 <= self.ex.status < 300:
            if name == "cancel":
                self._accepted_cancel(execution_id, seen, body)
            else:
                self._accepted_retry(execution_id, seen, body)

    def _provable_probe(self, seen: _Seen, operation: Any) -> IllegalProbe | None:
        # RUNNING counts only when held: otherwise it may have failed meanwhile (a legal retry).
        if seen.status is None or (seen.status == "RUNNING" and not seen.held):
            return None
        return illegal_probe(seen.status, operation)

    def _judge_probe(self, seen: _Seen, probe: IllegalProbe) -> None:
        refused = 400 <= self.ex.status < 500
        self.coverage.exercised(probe, failed=not refused)
        if refused:
            seen.unchanged = (probe.source, probe)
            return
        self.fail(
            TRANSITION,
            f"{probe.operation} of a {probe.source} execution answered {self.ex.status}",
            _REFUSED,
        )
        if 200 <= self.ex.status < 300:
            self._adopt_status(seen)

    def _accepted_cancel(self, execution_id: str, seen: _Seen, body: dict[str, Any]) -> None:
        step = operation_transition("RUNNING", "cancel")
        assert step is not None
        status = body.get("status")
        bad = self._expect_same_id(body, execution_id, "cancel")
        if status != "TERMINATED":
            bad = True
            self.fail(TRANSITION, f"cancel answered 200 with status {status!r}", "TERMINATED")
        self.coverage.exercised(step, failed=bad)
        sent = self.ex.request_json if isinstance(self.ex.request_json, dict) else {}
        given = sent.get("reason")
        seen.reason = (given if isinstance(given, str) and given else None,)
        # An accepted cancel moves the execution on: an earlier refusal no longer pins it.
        seen.cancelled_by, seen.held, seen.unchanged = step, False, None
        self._adopt_status(seen)
        if status == "TERMINATED":
            self._judge_reason(seen, body, required=True)

    def _accepted_retry(self, execution_id: str, seen: _Seen, body: dict[str, Any]) -> None:
        step = operation_transition(seen.status, "retry")
        status = body.get("status")
        bad = self._expect_same_id(body, execution_id, "retry")
        if status != "RUNNING":
            bad = True
            self.fail(TRANSITION, f"retry answered 200 with status {status!r}", "RUNNING")
        if step is not None:
            self.coverage.exercised(step, failed=bad)
        seen.frozen = _finished_tasks(seen.tasks)
        seen.retried_by, seen.cancelled_by, seen.reason = step, None, None
        seen.held, seen.unchanged = False, None
        self._adopt_status(seen)

    def _expect_same_id(self, body: dict[str, Any], execution_id: str, what: str) -> bool:
        returned = body.get("id")
        if returned is None or returned == execution_id:
            return False
        self.fail(
            TRANSITION,
            f"{what} of execution {execution_id} answered a different execution {returned}",
            f"the same execution id ({what} acts in place)",
        )
        return True

    def _adopt_status(self, seen: _Seen) -> None:
        body = self.ex.response_json if self.ex.response_is_json else None
        if isinstance(body, dict) and isinstance(body.get("status"), str):
            seen.status = body["status"]

    def on_update(self) -> None:
        task_id = _path_id(self.ex.url, _TASK_PATH)
        owner = self.history.task_owner.get(task_id or "")
        if owner is None:
            return
        seen = self.history.seen(owner)
        # Our update may move the execution on: it is no longer provably standing still.
        seen.held = False
        if seen.unchanged is not None and seen.unchanged[0] == "RUNNING":
            seen.unchanged = None

    # -- observations ------------------------------------------------------------------------

    def observe(self, body: dict[str, Any], *, detailed: bool) -> None:
        execution_id, status = body.get("id"), body.get("status")
        if not isinstance(execution_id, str) or not isinstance(status, str):
            return
        seen = self.history.seen(execution_id)
        if not self._judge_unchanged(seen, status):
            self._judge_move(seen, status)
        seen.status = status
        if status == "TERMINATED" and seen.reason is not None:
            self._judge_reason(seen, body, required=detailed)
        if detailed:
            tasks = [t for t in body.get("executedTasks") or [] if isinstance(t, dict)]
            self._judge_tasks(seen, status, tasks)
            seen.tasks, seen.held = tasks, status == "RUNNING" and _held(tasks)
            for task in tasks:
                if isinstance(task.get("id"), str):
                    self.history.task_owner[task["id"]] = execution_id

    def _judge_unchanged(self, seen: _Seen, status: str) -> bool:
        if seen.unchanged is None:
            return False
        expected, probe = seen.unchanged
        seen.unchanged = None
        if status == expected:
            return False
        self.coverage.failed(probe)
        self.fail(
            TRANSITION,
            f"after the refused {probe.operation} of a {expected} execution it is {status}",
            "the execution unchanged by a refused request",
        )
        return True

    def _judge_move(self, seen: _Seen, status: str) -> None:
        if seen.status is None or seen.status == status:
            return
        step = natural_transition(seen.status, status)
        if step is not None:
            self.coverage.exercised(step)
            return
        self.fail(
            TRANSITION,
            f"status changed {seen.status} -> {status} with no accepted cancel or retry",
            _MOVES,
        )

    def _judge_reason(self, seen: _Seen, body: dict[str, Any], *, required: bool) -> None:
        assert seen.reason is not None
        (given,) = seen.reason
        if "reasonForIncompletion" not in body and not required:
            return
        found = body.get("reasonForIncompletion")
        if given is not None and found != given:
            self._fail_cancel(seen, REASON, f"reasonForIncompletion {found!r}", f"{given!r}")
        elif given is None and not (isinstance(found, str) and found.strip()):
            allowed = "a non-empty default reason (no reason was given)"
            self._fail_cancel(seen, REASON, f"reasonForIncompletion {found!r}", allowed)

    def _judge_tasks(self, seen: _Seen, status: str, tasks: list[dict[str, Any]]) -> None:
        if seen.cancelled_by is not None and status == "TERMINATED":
            active = [t for t in tasks if t.get("status") in ACTIVE_TASK_STATUSES]
            if active:
                names = ", ".join(f"{t.get('externalId')} {t.get('status')}" for t in active)
                allowed = "no task IN_PROGRESS or SCHEDULED after a cancel (they become CANCELED)"
                self._fail_cancel(seen, TASKS, f"after cancel: {names}", allowed)
            seen.cancelled_by = None
        for external_id, before in list(seen.frozen.items()):
            now = {_key(t) for t in tasks if t.get("externalId") == external_id}
            if now != before:
                self._fail_rerun(seen, external_id, before, now)

    def _fail_cancel(self, seen: _Seen, name: str, what: str, allowed: str) -> None:
        step = operation_transition("RUNNING", "cancel")
        assert step is not None
        self.coverage.failed(step)
        self.fail(name, what, allowed)

    def _fail_rerun(
        self, seen: _Seen, external_id: str, before: set[TaskKey], now: set[TaskKey]
    ) -> None:
        status = next(iter(before))[1]
        if seen.retried_by is not None:
            self.coverage.failed(seen.retried_by)
        new = sorted(f"{k[1]}" for k in now - before)
        self.fail(
            TASKS,
            f"after retry, task {external_id} that was {status} ran again ({', '.join(new)})",
            "a retry re-runs only CANCELED, FAILED, FAILED_WITH_TERMINAL_ERROR and TIMED_OUT "
            "tasks; finished ones keep their id, status and start time",
        )
        seen.frozen.pop(external_id, None)


def _finished_tasks(tasks: list[dict[str, Any]]) -> dict[str, set[TaskKey]]:
    """Finished tasks by external id: every attempt listed, when the latest one has finished."""
    latest: dict[str, str] = {}
    attempts: dict[str, set[TaskKey]] = {}
    for task in tasks:
        external_id = task.get("externalId")
        if isinstance(external_id, str):
            latest[external_id] = str(task.get("status"))
            attempts.setdefault(external_id, set()).add(_key(task))
    return {x: attempts[x] for x, status in latest.items() if status in FINISHED_TASK_STATUSES}


def _key(task: dict[str, Any]) -> TaskKey:
    return (str(task.get("id")), str(task.get("status")), task.get("startTime"))


def _held(tasks: list[dict[str, Any]]) -> bool:
    """Only async tasks waiting for an update are in progress: nothing moves without us."""
    waiting = False
    for task in tasks:
        status = task.get("status")
        if status == "IN_PROGRESS" and _waits_for_update(task):
            waiting = True
        elif status not in FINISHED_TASK_STATUSES:
            return False
    return waiting


def _waits_for_update(task: dict[str, Any]) -> bool:
    given = task.get("input")
    if task.get("taskType") != "function" or not isinstance(given, dict):
        return False
    # The API spells it asyncComplete in task input, isAsyncComplete in definitions.
    return given.get("asyncComplete") is True or given.get("isAsyncComplete") is True


def _path_id(url: str, pattern: re.Pattern[str]) -> str | None:
    match = pattern.search(urlsplit(url).path)
    return unquote(match.group(1)) if match else None
