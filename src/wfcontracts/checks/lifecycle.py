"""The lifecycle oracle: every observed response judged against the lifecycle model.

It keeps, per execution, what the run has seen so far (status, tasks, owed effects) in
``CheckContext.extras["lifecycle"]`` and records transition coverage in
``CheckContext.extras["transitions"]``. Three checks report its verdicts:

- ``lifecycle_transition``: status changes follow the model; cancel/retry answers show the
  documented result (TERMINATED; RUNNING with the same id); illegal cancel/retry are refused
  and the next observation shows the state unchanged; an accepted task update shows in time;
- ``task_effects``: after a cancel the running tasks become CANCELED and nothing starts; a
  retry re-runs the tasks that did not finish, never a COMPLETED or COMPLETED_WITH_ERRORS one
  (whether the server re-runs tasks in place or appends attempts, which the docs leave open);
  a task reported FAILED with retries left gets a new attempt;
- ``cancel_reason``: a TERMINATED execution carries the cancel reason, or a non-empty default.

A live server is eventually consistent, so the rules come in the model's two kinds
(``wfcontracts.contract.lifecycle``): *invariants* are judged on every observation, lagging
or not; *obligations* are effects owed after an accepted write, discharged by any later
observation that shows them and failed, with that observation as evidence, by the first one
after the deadline (or at once when the execution ended without them, where that makes them
impossible). Only the detailed GET of an execution is an observation: list items may lag
further and never drive a verdict, and a task update's answer shows the report before the
execution does.

Where the documentation is silent the oracle accepts every legitimate answer: any 4xx for an
illegal probe, either retry bookkeeping, absent optional fields. It judges an illegal probe
only when the last observation proves the execution could not have moved on by itself (a
finished execution, or a RUNNING one that only waits for our task updates, none in flight).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from wfcontracts.checks.exchange import Exchange
from wfcontracts.checks.executions import made_by_run
from wfcontracts.checks.registry import CheckContext, check, get_check
from wfcontracts.contract.lifecycle import (
    ACTIVE_TASK_STATUSES,
    FINISHED_TASK_STATUSES,
    TERMINAL_STATES,
    AttemptKey,
    AttemptWatch,
    IllegalProbe,
    Obligation,
    Transition,
    TransitionCoverage,
    attempts_of,
    illegal_probe,
    natural_transition,
    not_run_again,
    obligation,
    operation_transition,
    retried_attempts,
)
from wfcontracts.contract.operations import CANCEL, GET, RETRY, RUN, UPDATE

__all__ = ["DEFAULT_DEADLINE_S", "LifecycleHistory", "coverage_of", "history_of"]


TRANSITION = "lifecycle_transition"
TASKS = "task_effects"
REASON = "cancel_reason"
_NOTE = "lifecycle_verdicts"
#: Used until a probe tells the history the run's deadline (``--deadline``).
DEFAULT_DEADLINE_S = 60.0

_EXECUTION_PATH = re.compile(r"/workflows/executions/([^/]+)/(?:cancel|retry)$")
_TASK_PATH = re.compile(r"/workflows/tasks/([^/]+)/update$")
_REFUSED = "any 4xx with the CDF error envelope, and the execution unchanged"
_MOVES = (
    "RUNNING -> COMPLETED | FAILED | TIMED_OUT by itself; TERMINATED only by cancel; "
    "RUNNING again only by retry"
)

TaskKey = tuple[str, str, Any]  # (task id, status, startTime)
Tasks = list[dict[str, Any]]


@dataclass
class _Verdict:
    check: str
    seen: str
    allowed: str


@dataclass
class _Owed:
    """One obligation of one execution: what it waits for and since when."""

    rule: Obligation
    since: float
    due: float
    # update / update FAILED: the reported attempt.
    watch: AttemptWatch | None = None
    # retry: the attempts of each task the retry must re-run, as they were before it.
    rerun: dict[str, set[tuple[AttemptKey, Any]]] = field(default_factory=dict)
    # The coverage step a failure counts against.
    step: Transition | None = None


@dataclass
class _AfterCancel:
    """What a cancel left: judged until an accepted retry."""

    quiet: bool = False  # an observation showed no task active since the cancel


@dataclass
class _Seen:
    """What the run knows about one execution."""

    status: str | None = None
    # RUNNING and waiting only for our task updates: it cannot move on by itself.
    held: bool = False
    tasks: Tasks = field(default_factory=list)
    unchanged: tuple[str, IllegalProbe] | None = None
    reason: tuple[str | None] | None = None  # (given reason,) while TERMINATED by our cancel
    cancelled: _AfterCancel | None = None
    # Finished tasks by external id: their attempts, which must never change.
    frozen: dict[str, set[TaskKey]] = field(default_factory=dict)
    retried_by: Transition | None = None
    # Retries left per task external id, for the FAILED reports we send (from the definition).
    retries_left: dict[str, int] | None = None
    owed: list[_Owed] = field(default_factory=list)


@dataclass
class LifecycleHistory:
    """Per-execution observations of one run (thread-safe).

    ``clock`` (seconds, any origin) and ``deadline_s`` time the obligations; a probe sets them
    from its runtime (the embedded mock's virtual clock, the wall clock, a replay's count).
    """

    executions: dict[str, _Seen] = field(default_factory=dict)
    task_owner: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    clock: Callable[[], float] = time.monotonic
    deadline_s: float = DEFAULT_DEADLINE_S

    def seen(self, execution_id: str) -> _Seen:
        return self.executions.setdefault(execution_id, _Seen())

    def status(self, execution_id: str) -> str | None:
        """The last observed status of an execution (None when never seen)."""
        with self.lock:
            known = self.executions.get(execution_id)
            return known.status if known else None

    def use_clock(self, clock: Callable[[], float], deadline_s: float) -> None:
        """Time the obligations by ``clock`` and give each ``deadline_s`` to show."""
        with self.lock:
            self.clock, self.deadline_s = clock, deadline_s

    def owed(self, execution_id: str) -> list[str]:
        """The names of the obligations an execution still owes."""
        with self.lock:
            known = self.executions.get(execution_id)
            return [o.rule.name for o in known.owed] if known else []


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
    "are refused with a 4xx and change nothing; retry keeps the execution id; an accepted "
    "task update shows within the deadline.",
)
def lifecycle_transition(ctx: CheckContext, ex: Exchange) -> None:
    _raise_first(ex, TRANSITION, _verdicts(ctx, ex))


@check(
    TASKS,
    severity="critical",
    description="Cancel turns running tasks CANCELED and starts nothing; retry re-runs the "
    "unfinished tasks, never a COMPLETED or COMPLETED_WITH_ERRORS one; a FAILED report with "
    "retries left gets a new attempt (owed effects within the deadline).",
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
        judge = _Judge(history, coverage_of(ctx), ex, lambda body: made_by_run(ctx, body))
        with history.lock:
            judge.run()
        ex.notes[_NOTE] = judge.verdicts
    verdicts: list[_Verdict] = ex.notes[_NOTE]
    return verdicts


# --- judging one exchange -----------------------------------------------------------------


class _Judge:
    def __init__(
        self,
        history: LifecycleHistory,
        coverage: TransitionCoverage,
        ex: Exchange,
        made_by_run: Callable[[dict[str, Any]], bool] = lambda body: True,
    ):
        self.history = history
        self.coverage = coverage
        self.ex = ex
        self.made_by_run = made_by_run
        self.verdicts: list[_Verdict] = []
        self.now = history.clock()

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
            self.on_update(ok)
        elif op == GET and ok and isinstance(body, dict):
            self.observe(body)
        # List items are not observations: a list may lag further than GET, in either
        # direction, and the docs promise nothing about how far.

    def ours(self, execution_id: str, body: dict[str, Any]) -> bool:
        """Only the run's executions are judged (a run answer it saw, or its prefix): any
        other one in a shared project may be cancelled or retried by its owner at any time."""
        return execution_id in self.history.executions or self.made_by_run(body)

    def owe(self, seen: _Seen, name: str, **details: Any) -> None:
        due = self.now + self.history.deadline_s
        seen.owed.append(_Owed(obligation(name), self.now, due, **details))

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
        if execution_id is None or not self.ours(execution_id, body):
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
        seen.held, seen.unchanged = False, None
        # A cancel stops new attempts: what a retry or a FAILED report owed is void.
        seen.owed = [o for o in seen.owed if o.rule.after not in ("retry", "update FAILED")]
        if status == "TERMINATED":
            seen.cancelled = _AfterCancel()
            self.owe(seen, "cancel_stops_tasks", step=step)
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
        seen.retried_by, seen.reason, seen.cancelled = step, None, None
        seen.held, seen.unchanged = False, None
        seen.owed = [o for o in seen.owed if o.rule.name != "cancel_stops_tasks"]
        rerun = retried_attempts(seen.tasks)
        if status == "RUNNING" and rerun:
            self.owe(seen, "retry_reruns_tasks", rerun=rerun, step=step)
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

    def on_update(self, accepted: bool) -> None:
        task_id = _path_id(self.ex.url, _TASK_PATH)
        owner = self.history.task_owner.get(task_id or "")
        if owner is None or not accepted:
            return
        seen = self.history.seen(owner)
        # Our update may move the execution on: it is no longer provably standing still.
        seen.held = False
        if seen.unchanged is not None and seen.unchanged[0] == "RUNNING":
            seen.unchanged = None
        task = next((t for t in seen.tasks if t.get("id") == task_id), None)
        if task is None:
            return
        sent = self.ex.request_json if isinstance(self.ex.request_json, dict) else {}
        reported = sent.get("status")
        self.owe(seen, "update_shows", watch=AttemptWatch(task, seen.tasks))
        external_id = str(task.get("externalId"))
        left = (seen.retries_left or {}).get(external_id, 0)
        if reported == "FAILED" and left > 0:
            self.owe(seen, "failed_task_retried", watch=AttemptWatch(task, seen.tasks))
        if seen.retries_left is not None and reported in ("FAILED", "FAILED_WITH_TERMINAL_ERROR"):
            # After a terminal error the docs do not say what a re-run may retry: owe nothing.
            seen.retries_left[external_id] = max(left - 1, 0) if reported == "FAILED" else 0

    # -- observations ------------------------------------------------------------------------

    def observe(self, body: dict[str, Any]) -> None:
        execution_id, status = body.get("id"), body.get("status")
        if not isinstance(execution_id, str) or not isinstance(status, str):
            return
        if not self.ours(execution_id, body):
            return
        seen = self.history.seen(execution_id)
        if not self._judge_unchanged(seen, status):
            self._judge_move(seen, status)
        seen.status = status
        if status == "TERMINATED" and seen.reason is not None:
            self._judge_reason(seen, body, required=True)
        tasks = [t for t in body.get("executedTasks") or [] if isinstance(t, dict)]
        if seen.retries_left is None:
            seen.retries_left = _retries(body)
        self._judge_frozen(seen, tasks)
        self._judge_after_cancel(seen, body, status, tasks)
        self._judge_owed(seen, status, tasks)
        seen.tasks = tasks
        seen.held = status == "RUNNING" and _held(tasks) and not seen.owed
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
            self._fail_cancel(REASON, f"reasonForIncompletion {found!r}", f"{given!r}")
        elif given is None and not (isinstance(found, str) and found.strip()):
            allowed = "a non-empty default reason (no reason was given)"
            self._fail_cancel(REASON, f"reasonForIncompletion {found!r}", allowed)

    # -- invariants --------------------------------------------------------------------------

    def _judge_frozen(self, seen: _Seen, tasks: Tasks) -> None:
        """A finished task never runs again (by a retry or otherwise)."""
        for external_id, before in list(seen.frozen.items()):
            now = {_key(t) for t in attempts_of(tasks, external_id)}
            # A task missing altogether did not run again: that is the schema's matter.
            if now and now != before:
                self._fail_rerun(seen, external_id, before, now)
        for external_id, attempts in _finished_tasks(tasks).items():
            seen.frozen.setdefault(external_id, attempts)

    def _fail_rerun(
        self, seen: _Seen, external_id: str, before: set[TaskKey], now: set[TaskKey]
    ) -> None:
        status = next(iter(before))[1]
        if seen.retried_by is not None:
            self.coverage.failed(seen.retried_by)
        new = sorted(f"{k[1]}" for k in now - before)
        self.fail(
            TASKS,
            f"task {external_id} that was {status} ran again ({', '.join(new)})",
            "a retry re-runs only CANCELED, FAILED, FAILED_WITH_TERMINAL_ERROR and TIMED_OUT "
            "tasks; finished ones keep their id, status and start time",
        )
        seen.frozen.pop(external_id, None)

    def _judge_after_cancel(
        self, seen: _Seen, body: dict[str, Any], status: str, tasks: Tasks
    ) -> None:
        """After our cancel nothing starts: a lagging task may still show IN_PROGRESS (the
        obligation's matter), but none starts after the execution ended, and once none is
        active none becomes so."""
        after = seen.cancelled
        if after is None or status != "TERMINATED":
            return
        ended = body.get("endTime")
        late = [
            t
            for t in tasks
            if isinstance(ended, int) and isinstance(t.get("startTime"), int)
            and t["startTime"] > ended
        ]  # fmt: skip
        active = [t for t in tasks if t.get("status") in ACTIVE_TASK_STATUSES]
        allowed = "no task starts after a cancel (running ones become CANCELED)"
        if late:
            names = ", ".join(f"{t.get('externalId')} at {t.get('startTime')}" for t in late)
            self._fail_cancel(TASKS, f"after cancel (endTime {ended}) started: {names}", allowed)
        elif active and after.quiet:
            self._fail_cancel(TASKS, f"after cancel, started again: {_names(active)}", allowed)
        after.quiet = after.quiet or not active

    def _fail_cancel(self, name: str, what: str, allowed: str) -> None:
        step = operation_transition("RUNNING", "cancel")
        assert step is not None
        self.coverage.failed(step)
        self.fail(name, what, allowed)

    # -- obligations -------------------------------------------------------------------------

    def _judge_owed(self, seen: _Seen, status: str, tasks: Tasks) -> None:
        still: list[_Owed] = []
        for owed in seen.owed:
            if self._discharged(owed, status, tasks):
                continue
            hopeless = owed.rule.hopeless_when_terminal and status in TERMINAL_STATES
            if hopeless or self.now >= owed.due:
                self._fail_owed(owed, status, tasks, hopeless=hopeless)
            else:
                still.append(owed)
        seen.owed = still

    def _discharged(self, owed: _Owed, status: str, tasks: Tasks) -> bool:
        name = owed.rule.name
        if name == "cancel_stops_tasks":
            return status == "TERMINATED" and not _active(tasks)
        if name == "retry_reruns_tasks":
            return not not_run_again(tasks, owed.rerun)
        assert owed.watch is not None
        if name == "update_shows":
            return owed.watch.moved_on(tasks)
        return owed.watch.new_attempt(tasks, active_only=False) is not None

    def _fail_owed(self, owed: _Owed, status: str, tasks: Tasks, *, hopeless: bool) -> None:
        if owed.step is not None:
            self.coverage.failed(owed.step)
        when = "" if hopeless else f", {self.now - owed.since:.0f} s later"
        name = owed.rule.name
        if name == "cancel_stops_tasks":
            seen = f"after cancel: {_names(_active(tasks))}{when}"
        elif name == "retry_reruns_tasks":
            seen = f"after retry: {', '.join(not_run_again(tasks, owed.rerun))} not run again"
            seen += f", execution {status}{when}"
        else:
            assert owed.watch is not None
            mine = next((t for t in tasks if t.get("id") == owed.watch.task_id), {})
            report = "the FAILED report" if name == "failed_task_retried" else "the update"
            seen = (
                f"after {report}: task {owed.watch.external_id} {mine.get('status', 'absent')}"
                f" and no new attempt, execution {status}{when}"
            )
        deadline = "" if hopeless else f" within {self.history.deadline_s:g} s (--deadline)"
        self.fail(owed.rule.check, seen, f"{owed.rule.promise}{deadline}")


def _retries(body: dict[str, Any]) -> dict[str, int] | None:
    """Retries per task from the execution's definition (None when it does not say)."""
    definition = body.get("workflowDefinition")
    defined = definition.get("tasks") if isinstance(definition, dict) else None
    if not isinstance(defined, list):
        return None
    found: dict[str, int] = {}
    for task in defined:
        if isinstance(task, dict) and isinstance(task.get("externalId"), str):
            retries = task.get("retries", 3)  # the documented default
            found[task["externalId"]] = retries if isinstance(retries, int) else 0
    return found


def _finished_tasks(tasks: Tasks) -> dict[str, set[TaskKey]]:
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


def _active(tasks: Tasks) -> Tasks:
    return [t for t in tasks if t.get("status") in ACTIVE_TASK_STATUSES]


def _names(tasks: Tasks) -> str:
    return ", ".join(f"{t.get('externalId')} {t.get('status')}" for t in tasks) or "-"


def _held(tasks: Tasks) -> bool:
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
