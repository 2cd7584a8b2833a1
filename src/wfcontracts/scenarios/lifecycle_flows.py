"""Lifecycle scenarios as plain functions: each drives probe workflows through the public API.

Every function takes a :class:`LifecycleProbe` and raises :class:`CheckFailure` when the target
breaks the lifecycle: the lifecycle checks judge every response on the way (cancel, retry and
the observations after them), and each scenario adds the assertions that only it can make
(named by the scenario check, e.g. ``retry_attempts``). They run unchanged on real CDF, on the
mock served over HTTP (at any pace), embedded, and from cassettes; only :func:`task_times_out`
and :func:`execution_times_out` need the embedded mock's virtual clock.

A target is eventually consistent: each write of a scenario (cancel, retry, task update) waits,
polling with backoff up to the run's deadline, until the write shows, and the scenario judges
what it then sees. Every decision is taken on what a response shows, never on how long it took,
so a replay asks exactly the recorded requests. On a real-time target :class:`ScenarioPool`
runs independent scenarios at once, so a realistic pace does not add up over the suite.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from wfcontracts.checks import CheckedSession, CheckFailure
from wfcontracts.checks.exchange import Exchange
from wfcontracts.checks.session import Observer
from wfcontracts.contract.lifecycle import (
    ACTIVE_TASK_STATUSES,
    AttemptWatch,
    not_run_again,
    retried_attempts,
)
from wfcontracts.contract.operations import CANCEL, GET, LIST, RETRY
from wfcontracts.scenarios.probes import (
    TERMINAL,
    GaveUp,
    Probe,
    depends,
    fail_task,
    succeed_task,
    task_of,
    task_states,
    wait_task,
)

if TYPE_CHECKING:
    from wfcontracts.runtime import Runtime

__all__ = [
    "SCENARIOS",
    "LifecycleProbe",
    "Scenario",
    "ScenarioPool",
    "ScenarioRun",
    "scenario",
    "scenario_of",
]


Detail = dict[str, Any]
Predicate = Callable[[Detail], bool]


@dataclass
class LifecycleProbe(Probe):
    """A :class:`Probe` with scenario assertions, whose writes wait until they show.

    ``cancel`` returns once the execution is TERMINATED with no task active; ``retry`` once
    the tasks it re-runs show a new run; ``update_task`` once the reported attempt left
    IN_PROGRESS (or a new attempt appeared). Each gives up at the run's deadline.
    """

    last: Exchange | None = field(default=None, init=False)
    _details: dict[str, Detail] = field(default_factory=dict, init=False)
    _owners: dict[str, str] = field(default_factory=dict, init=False)
    _watches: dict[str, AttemptWatch] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.session.observers.append(self._remember)

    def _remember(self, exchange: Exchange, failures: list[CheckFailure]) -> None:
        self.last = exchange
        body = exchange.response_json if exchange.response_is_json else None
        if exchange.operation.operation_id != GET or exchange.status != 200:
            return
        if isinstance(body, dict) and isinstance(body.get("id"), str):
            self._details[body["id"]] = body
            for task in _tasks(body):
                self._owners[str(task.get("id"))] = body["id"]

    def latest(self, execution_id: str) -> Detail:
        """The last detailed observation of the execution (fetched when there is none)."""
        return self._details.get(execution_id) or self.get(execution_id)

    def failure(self, check: str, seen: str, allowed: str, operation: str = GET) -> CheckFailure:
        """A scenario-level failure, reproduced by the last request sent."""
        label = self.last.label if self.last is not None else operation
        return CheckFailure(
            check=check,
            operation=label,
            seen=seen,
            allowed=allowed,
            severity="critical",
            reproduction=self.last.curl if self.last is not None else None,
        )

    def expect(self, condition: bool, check: str, seen: str, allowed: str) -> None:
        if not condition:
            raise self.failure(check, seen, allowed)

    def expect_task(
        self, detail: Detail, task_id: str, status: str, check: str, allowed: str, context: str = ""
    ) -> None:
        """The task `task_id` of `detail` is in `status` (messages name what was seen)."""
        seen = (task_of(detail, task_id) or {}).get("status")
        self.expect(seen == status, check, f"task {task_id} {seen!r}{context}", allowed)

    def wait_for(
        self,
        execution_id: str,
        predicate: Predicate,
        what: str,
        check: str,
        *,
        give_up: Predicate | None = None,
    ) -> Detail:
        """Poll until ``predicate`` holds; fail at the deadline, or as soon as ``give_up``
        holds (by default: the execution ended without it)."""
        try:
            return self.poll(
                lambda: self.get(execution_id),
                predicate,
                what,
                give_up=_is_terminal if give_up is None else give_up,
            )
        except GaveUp as gave_up:
            detail: Detail = gave_up.last
            late = "" if _is_terminal(detail) else f" ({gave_up.waited:.0f} s later)"
            raise self.failure(check, describe(detail) + late, what) from None

    def task_in(self, execution_id: str, external_id: str, status: str, check: str) -> Detail:
        """Wait until the task ``external_id`` has an attempt in ``status``; return it."""
        detail = self.wait_for(
            execution_id,
            lambda d: task_of(d, external_id, status) is not None,
            f"task {external_id} {status}",
            check,
        )
        found = task_of(detail, external_id, status)
        assert found is not None
        return found

    def finished(self, execution_id: str, status: str, check: str) -> Detail:
        """Wait for the end of the execution and expect ``status``."""
        detail = self.wait_for(execution_id, _is_terminal, "a terminal status", check)
        self.expect(detail.get("status") == status, check, describe(detail), f"status {status}")
        return detail

    # -- writes that wait until they show ------------------------------------------------

    def cancel(self, execution_id: str, reason: str | None = None) -> dict[str, Any]:
        answer = super().cancel(execution_id, reason)
        self._expect_accepted("cancel of a RUNNING execution")
        self.wait_for(
            execution_id,
            lambda d: d.get("status") == "TERMINATED" and not _active(d),
            "TERMINATED with no task IN_PROGRESS or SCHEDULED",
            "task_effects",
            give_up=_never,
        )
        return answer

    def retry(self, execution_id: str) -> dict[str, Any]:
        before = retried_attempts(_tasks(self.latest(execution_id)))
        answer = super().retry(execution_id)
        self._expect_accepted("retry of a FAILED, TIMED_OUT or TERMINATED execution")
        self.wait_for(
            execution_id,
            lambda d: not not_run_again(_tasks(d), before),
            f"the retried task(s) {', '.join(sorted(before)) or '-'} to run again",
            "retry_attempts",
        )
        return answer

    def update_task(
        self, task_id: str, status: str, output: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        execution_id = self._owners.get(task_id)
        known = _tasks(self._details.get(execution_id or "") or {})
        task = next((t for t in known if str(t.get("id")) == task_id), None)
        answer = super().update_task(task_id, status, output)
        self._expect_accepted("an update of an IN_PROGRESS async task")
        if execution_id is None or task is None:
            return answer  # not a task of ours: nothing to wait for
        watch = self._watches[task_id] = AttemptWatch(task, known)
        self.wait_for(
            execution_id,
            lambda d: watch.moved_on(_tasks(d)),
            f"task {task.get('externalId')} to leave IN_PROGRESS",
            "lifecycle_transition",
            give_up=_never,
        )
        return answer

    def _expect_accepted(self, what: str) -> None:
        # A write refused by mistake would otherwise be waited for until the deadline.
        status = self.last.status if self.last is not None else 0
        allowed = f"2xx: {what}"
        self.expect(200 <= status < 300, "lifecycle_transition", f"answered {status}", allowed)

    def next_attempt(
        self, execution_id: str, task: Detail, check: str
    ) -> tuple[Detail, Detail | None]:
        """After a FAILED report on ``task``: wait for its next attempt IN_PROGRESS or the end
        of the execution; return the last detail and the new attempt (None: none came)."""
        watch = self._watches.get(str(task.get("id"))) or AttemptWatch(task)
        detail = self.wait_for(
            execution_id,
            lambda d: _is_terminal(d) or watch.new_attempt(_tasks(d)) is not None,
            f"a new attempt of task {task.get('externalId')} or the end of the execution",
            check,
        )
        return detail, watch.new_attempt(_tasks(detail))

    def refused(self, operation_id: str, execution_id: str, body: dict[str, Any]) -> Exchange:
        """Send an illegal cancel/retry; the lifecycle checks judge the answer."""
        exchange = self.session.call(operation_id, path={"executionId": execution_id}, json=body)
        self.expect(
            400 <= exchange.status < 500,
            "lifecycle_transition",
            f"{operation_id} answered {exchange.status}",
            "any 4xx with the CDF error envelope",
        )
        return exchange

    def list_executions(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.session.call(LIST, json=body).response_json)


def describe(detail: Detail) -> str:
    return f"execution {detail.get('status')} with tasks {task_states(detail)}"


def _tasks(detail: Detail) -> list[Detail]:
    return [t for t in detail.get("executedTasks") or [] if isinstance(t, dict)]


def _active(detail: Detail) -> list[Detail]:
    return [t for t in _tasks(detail) if t.get("status") in ACTIVE_TASK_STATUSES]


def _is_terminal(detail: Detail) -> bool:
    return detail.get("status") in TERMINAL


def _never(detail: Detail) -> bool:
    return False


def _started(task: Detail | None) -> bool:
    return task is not None and task.get("status") not in (None, "SCHEDULED")


# --- run -----------------------------------------------------------------------------------


def run_completes(p: LifecycleProbe) -> None:
    """run -> COMPLETED; input and metadata echoed; ${workflow.input...} resolved in task input."""
    reader = wait_task("read", p.async_function, **depends("first"))
    reader["parameters"]["function"]["data"] = {"limit": "${workflow.input.limit}"}
    xid, version = p.upsert("run-completes", [succeed_task("first"), reader])
    started = p.run(xid, version, input={"limit": 5, "note": "wfc"}, metadata={"case": "run"})
    task = p.task_in(started["id"], "read", "IN_PROGRESS", "lifecycle_transition")
    resolved = ((task.get("input") or {}).get("function") or {}).get("data")
    p.expect(
        resolved == {"limit": 5},
        "references_resolved",
        f"task read input.function.data {resolved!r}",
        "{'limit': 5}: ${workflow.input.limit} resolved from the run input",
    )
    p.update_task(task["id"], "COMPLETED")
    p.finished(started["id"], "COMPLETED", "lifecycle_transition")


def run_fails(p: LifecycleProbe) -> None:
    """run -> FAILED (abortWorkflow) with a reasonForIncompletion."""
    xid, version = p.upsert("run-fails", [fail_task("broken", p.missing_workflow, retries=0)])
    started = p.run(xid, version)
    detail = p.finished(started["id"], "FAILED", "lifecycle_transition")
    reason = detail.get("reasonForIncompletion")
    p.expect(
        isinstance(reason, str) and bool(reason.strip()),
        "failure_reason",
        f"FAILED execution with reasonForIncompletion {reason!r}",
        "a non-empty reason for a failed (abortWorkflow) execution",
    )
    p.expect_task(detail, "broken", "FAILED", "failure_reason", "FAILED (retries exhausted)")
    p.refused(CANCEL, started["id"], {"reason": "too late"})
    p.finished(started["id"], "FAILED", "lifecycle_transition")


# --- cancel --------------------------------------------------------------------------------


def _held_execution(p: LifecycleProbe, scenario: str, **extra: Any) -> tuple[str, Detail]:
    xid, version = p.upsert(scenario, [wait_task("hold", p.async_function, **extra)])
    execution_id = str(p.run(xid, version)["id"])
    return execution_id, p.task_in(execution_id, "hold", "IN_PROGRESS", "lifecycle_transition")


def cancel_with_reason(p: LifecycleProbe) -> None:
    """RUNNING -cancel-> TERMINATED; the running task CANCELED; the reason recorded."""
    execution_id, _ = _held_execution(p, "cancel-reason")
    p.cancel(execution_id, reason="wfcontracts: cancelled by the lifecycle suite")
    detail = p.latest(execution_id)
    p.expect_task(detail, "hold", "CANCELED", "task_effects", "CANCELED", " after cancel")


def cancel_default_reason(p: LifecycleProbe) -> None:
    """Cancel without a reason: reasonForIncompletion is some non-empty default."""
    execution_id, _ = _held_execution(p, "cancel-default")
    p.cancel(execution_id)


def cancel_twice(p: LifecycleProbe) -> None:
    """A second cancel is refused (any 4xx) and leaves the execution TERMINATED."""
    execution_id, _ = _held_execution(p, "cancel-twice")
    p.cancel(execution_id, reason="first")
    p.refused(CANCEL, execution_id, {"reason": "second"})
    detail = p.get(execution_id)
    p.expect(
        detail.get("status") == "TERMINATED",
        "lifecycle_transition",
        describe(detail),
        "TERMINATED, unchanged by the refused cancel",
    )


def cancel_completed(p: LifecycleProbe) -> None:
    """Cancel of a COMPLETED execution is refused and changes nothing."""
    xid, version = p.upsert("cancel-completed", [succeed_task("only")])
    execution_id = str(p.run(xid, version)["id"])
    p.finished(execution_id, "COMPLETED", "lifecycle_transition")
    p.refused(CANCEL, execution_id, {"reason": "too late"})
    p.finished(execution_id, "COMPLETED", "lifecycle_transition")


# --- retry ---------------------------------------------------------------------------------


def retry_after_cancel(p: LifecycleProbe) -> None:
    """TERMINATED -retry-> RUNNING, same id, the completed task not re-run; then COMPLETED."""
    tasks = [
        wait_task("first", p.async_function),
        wait_task("second", p.async_function, **depends("first")),
    ]
    xid, version = p.upsert("retry-cancel", tasks)
    execution_id = str(p.run(xid, version)["id"])
    first = p.task_in(execution_id, "first", "IN_PROGRESS", "lifecycle_transition")
    p.update_task(first["id"], "COMPLETED")
    p.task_in(execution_id, "second", "IN_PROGRESS", "lifecycle_transition")
    p.cancel(execution_id, reason="wfcontracts: cancel before retry")
    p.retry(execution_id)
    second = p.task_in(execution_id, "second", "IN_PROGRESS", "retry_attempts")
    p.update_task(second["id"], "COMPLETED")
    p.finished(execution_id, "COMPLETED", "lifecycle_transition")


def retry_after_failure(p: LifecycleProbe) -> None:
    """FAILED -retry-> RUNNING: the failed task runs again, the completed one does not."""
    tasks = [succeed_task("first"), wait_task("second", p.async_function, **depends("first"))]
    xid, version = p.upsert("retry-failure", tasks)
    execution_id = str(p.run(xid, version)["id"])
    second = p.task_in(execution_id, "second", "IN_PROGRESS", "lifecycle_transition")
    p.update_task(second["id"], "FAILED")
    p.finished(execution_id, "FAILED", "task_update_retry")
    p.retry(execution_id)
    again = p.task_in(execution_id, "second", "IN_PROGRESS", "retry_attempts")
    p.update_task(again["id"], "COMPLETED")
    p.finished(execution_id, "COMPLETED", "lifecycle_transition")


def _fail_attempt(p: LifecycleProbe, execution_id: str, task: Detail) -> tuple[Detail, Any]:
    """Report FAILED; return the detail once the task runs again (and that attempt) or the
    execution ended (and None)."""
    p.update_task(task["id"], "FAILED")
    return p.next_attempt(execution_id, task, "task_update_retry")


def _expect_exhausted(
    p: LifecycleProbe, detail: Detail, again: Detail | None, check: str, why: str
) -> None:
    p.expect(
        detail.get("status") == "FAILED" and again is None,
        check,
        describe(detail),
        f"FAILED with no further attempt ({why})",
    )


def retry_limits(p: LifecycleProbe) -> None:
    """A task that exhausted its retries gets exactly one more attempt per retry request."""
    execution_id, task = _held_execution(p, "retry-limits", retries=1)
    detail, retried = _fail_attempt(p, execution_id, task)
    p.expect(retried is not None, "task_update_retry", describe(detail), "a second attempt")
    assert retried is not None
    detail, again = _fail_attempt(p, execution_id, retried)
    _expect_exhausted(p, detail, again, "task_update_retry", "1+1")
    for _ in range(2):
        p.retry(execution_id)
        extra = p.task_in(execution_id, "hold", "IN_PROGRESS", "retry_attempts")
        detail, again = _fail_attempt(p, execution_id, extra)
        _expect_exhausted(p, detail, again, "retry_attempts", "one extra attempt per retry")
    p.retry(execution_id)
    last = p.task_in(execution_id, "hold", "IN_PROGRESS", "retry_attempts")
    p.update_task(last["id"], "COMPLETED")
    p.finished(execution_id, "COMPLETED", "lifecycle_transition")


# --- async task updates --------------------------------------------------------------------


def failed_update_retried(p: LifecycleProbe) -> None:
    """An async task reported FAILED with retries left gets a new attempt (IN_PROGRESS)."""
    execution_id, task = _held_execution(p, "update-failed", retries=1)
    detail, again = _fail_attempt(p, execution_id, task)
    p.expect(
        detail.get("status") == "RUNNING" and again is not None,
        "task_update_retry",
        describe(detail),
        "RUNNING with a new attempt IN_PROGRESS (FAILED is retried per `retries`)",
    )
    assert again is not None
    p.update_task(again["id"], "COMPLETED")
    p.finished(execution_id, "COMPLETED", "lifecycle_transition")


def terminal_error_not_retried(p: LifecycleProbe) -> None:
    """FAILED_WITH_TERMINAL_ERROR is not retried although retries are left: execution FAILED."""
    execution_id, task = _held_execution(p, "update-terminal", retries=1)
    p.update_task(task["id"], "FAILED_WITH_TERMINAL_ERROR")
    detail, again = p.next_attempt(execution_id, task, "task_update_retry")
    _expect_exhausted(p, detail, again, "task_update_retry", "FAILED_WITH_TERMINAL_ERROR")
    final = task_of(detail, "hold") or {}
    p.expect(
        final.get("status") in ("FAILED", "FAILED_WITH_TERMINAL_ERROR"),
        "task_update_retry",
        f"task hold {final.get('status')!r}",
        "FAILED or FAILED_WITH_TERMINAL_ERROR",
    )


def update_output_merged(p: LifecycleProbe) -> None:
    """A COMPLETED update's output is merged into the task output; the execution completes."""
    execution_id, task = _held_execution(p, "update-output")
    p.update_task(task["id"], "COMPLETED", output={"wfcontracts": "merged"})
    detail = p.finished(execution_id, "COMPLETED", "lifecycle_transition")
    output = (task_of(detail, "hold") or {}).get("output") or {}
    p.expect(
        isinstance(output, dict) and output.get("wfcontracts") == "merged",
        "update_output_merged",
        f"task output {output!r}",
        "the update's output merged in: {'wfcontracts': 'merged', ...}",
    )


# --- skipTask and dependsOn ----------------------------------------------------------------


def skip_task_continues(p: LifecycleProbe) -> None:
    """skipTask: COMPLETED_WITH_ERRORS, downstream continues; a retry leaves the task alone."""
    tasks = [
        wait_task("optional", p.async_function, onFailure="skipTask"),
        succeed_task("after", **depends("optional")),
        wait_task("last", p.async_function, **depends("after")),
    ]
    xid, version = p.upsert("skip-task", tasks)
    execution_id = str(p.run(xid, version)["id"])
    optional = p.task_in(execution_id, "optional", "IN_PROGRESS", "lifecycle_transition")
    p.update_task(optional["id"], "FAILED")
    last = p.task_in(execution_id, "last", "IN_PROGRESS", "skip_task")
    detail = p.get(execution_id)
    skipped = (task_of(detail, "optional") or {}).get("status")
    p.expect(
        skipped == "COMPLETED_WITH_ERRORS",
        "skip_task",
        f"task optional {skipped!r}",
        "COMPLETED_WITH_ERRORS, and the tasks after it run",
    )
    p.update_task(last["id"], "FAILED")
    p.finished(execution_id, "FAILED", "task_update_retry")
    p.retry(execution_id)
    again = p.task_in(execution_id, "last", "IN_PROGRESS", "retry_attempts")
    p.update_task(again["id"], "COMPLETED")
    p.finished(execution_id, "COMPLETED", "lifecycle_transition")


def depends_on_order(p: LifecycleProbe) -> None:
    """A task does not start before the tasks it depends on are done."""
    tasks = [wait_task("first", p.async_function), succeed_task("second", **depends("first"))]
    xid, version = p.upsert("depends-on", tasks)
    execution_id = str(p.run(xid, version)["id"])
    first = p.task_in(execution_id, "first", "IN_PROGRESS", "lifecycle_transition")
    second = task_of(p.get(execution_id), "second")
    p.expect(
        not _started(second),
        "depends_on_order",
        f"task second {(second or {}).get('status')!r} while first is IN_PROGRESS",
        "not started (absent or SCHEDULED) until first is done",
    )
    p.update_task(first["id"], "COMPLETED")
    detail = p.finished(execution_id, "COMPLETED", "lifecycle_transition")
    done_first, done_second = task_of(detail, "first") or {}, task_of(detail, "second") or {}
    end, start = done_first.get("endTime"), done_second.get("startTime")
    if isinstance(end, int) and isinstance(start, int):
        p.expect(
            start >= end,
            "depends_on_order",
            f"second startTime {start} < first endTime {end}",
            "second starts after first ends",
        )


# --- illegal retries -----------------------------------------------------------------------


def _retry_body(p: LifecycleProbe) -> dict[str, Any]:
    return {"authentication": {"nonce": p.nonce()}}


def retry_running_refused(p: LifecycleProbe) -> None:
    """Retry of a RUNNING execution is refused (any 4xx) and changes nothing."""
    execution_id, _ = _held_execution(p, "retry-running")
    p.refused(RETRY, execution_id, _retry_body(p))
    detail = p.get(execution_id)
    p.expect(
        detail.get("status") == "RUNNING",
        "lifecycle_transition",
        describe(detail),
        "RUNNING, unchanged",
    )
    p.cancel(execution_id, reason="wfcontracts: end of the retry-running probe")


def retry_completed_refused(p: LifecycleProbe) -> None:
    """Retry of a COMPLETED execution is refused (any 4xx) and changes nothing."""
    xid, version = p.upsert("retry-completed", [succeed_task("only")])
    execution_id = str(p.run(xid, version)["id"])
    p.finished(execution_id, "COMPLETED", "lifecycle_transition")
    p.refused(RETRY, execution_id, _retry_body(p))
    p.finished(execution_id, "COMPLETED", "lifecycle_transition")


# --- listing -------------------------------------------------------------------------------


def list_filters_and_pages(p: LifecycleProbe) -> None:
    """Status, workflow and createdTime filters, and limit + cursor pages, over our executions."""
    done_xid, version = p.upsert("list-done", [succeed_task("only")])
    held_xid, _ = p.upsert("list-held", [wait_task("hold", p.async_function)])
    done = [str(p.run(done_xid, version)["id"]) for _ in range(3)]
    held = str(p.run(held_xid, version)["id"])
    for execution_id in done:
        p.finished(execution_id, "COMPLETED", "lifecycle_transition")
    p.task_in(held, "hold", "IN_PROGRESS", "lifecycle_transition")
    both = [{"externalId": done_xid}, {"externalId": held_xid}]
    _expect_status_filter(p, both, held)
    _expect_workflow_filter(p, done_xid, done)
    _expect_time_window(p, both, done + [held])
    _expect_pages(p, done_xid, done)
    p.cancel(held, reason="wfcontracts: end of the list scenario")


def _listed(p: LifecycleProbe, body: dict[str, Any], wanted: set[str], check: str) -> list[Detail]:
    """List until every wanted id shows up (a new execution may take a moment to be listed)."""

    def items() -> list[Detail]:
        found = p.list_executions(body).get("items") or []
        return [i for i in found if isinstance(i, dict)]

    try:
        return p.poll(
            items,
            lambda found: wanted <= {str(i.get("id")) for i in found},
            f"{len(wanted)} execution(s) to be listed",
        )
    except GaveUp as gave_up:
        missing = sorted(wanted - {str(i.get("id")) for i in gave_up.last})
        raise p.failure(check, f"executions {missing} missing", "listed", LIST) from None


def _expect_status_filter(p: LifecycleProbe, workflows: list[Detail], held: str) -> None:
    body = {"filter": {"workflowFilters": workflows, "status": ["RUNNING"]}, "limit": 100}
    items = _listed(p, body, {held}, "list_filters")
    wrong = sorted({str(i.get("status")) for i in items} - {"RUNNING"})
    p.expect(not wrong, "list_filters", f"status filter RUNNING listed {wrong}", "only RUNNING")


def _expect_workflow_filter(p: LifecycleProbe, xid: str, ours: list[str]) -> None:
    body = {"filter": {"workflowFilters": [{"externalId": xid}]}, "limit": 100}
    items = _listed(p, body, set(ours), "list_filters")
    other = sorted({str(i.get("workflowExternalId")) for i in items} - {xid})
    p.expect(not other, "list_filters", f"workflow filter {xid} listed {other}", f"only {xid}")


def _expect_time_window(p: LifecycleProbe, workflows: list[Detail], ours: list[str]) -> None:
    times = [int(p.get(e)["createdTime"]) for e in ours]
    # Bounds widened by 1 ms: whether they are inclusive is not documented.
    start, end = min(times) - 1, max(times) + 1
    window = {"workflowFilters": workflows, "createdTimeStart": start, "createdTimeEnd": end}
    items = _listed(p, {"filter": window, "limit": 100}, set(ours), "list_filters")
    outside = [i.get("createdTime") for i in items if not start <= int(i["createdTime"]) <= end]
    allowed = f"createdTime within [{start}, {end}]"
    p.expect(not outside, "list_filters", f"createdTime window listed {outside}", allowed)


def _expect_pages(p: LifecycleProbe, xid: str, ours: list[str]) -> None:
    query: dict[str, Any] = {"filter": {"workflowFilters": [{"externalId": xid}]}, "limit": 2}
    _listed(p, {**query, "limit": 100}, set(ours), "list_pagination")
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(50):
        page = p.list_executions({**query, **({"cursor": cursor} if cursor else {})})
        ids = [str(i.get("id")) for i in page.get("items") or [] if isinstance(i, dict)]
        size = f"a page of {len(ids)} items for limit 2"
        p.expect(len(ids) <= 2, "list_pagination", size, "at most `limit` items per page")
        repeated = sorted(set(ids) & set(seen))
        p.expect(not repeated, "list_pagination", f"ids repeated {repeated}", "no duplicates")
        seen += ids
        cursor = page.get("nextCursor")
        if not cursor:
            break
    missing = sorted(set(ours) - set(seen))
    p.expect(not missing, "list_pagination", f"pages never listed {missing}", "every execution")


# --- timeouts (virtual clock) --------------------------------------------------------------


def task_times_out(p: LifecycleProbe) -> None:
    """An async task with timeout 60 s, 61 s later: task TIMED_OUT, execution FAILED."""
    mock = p.runtime.mock
    if mock is None or not mock.virtual_clock:
        raise RuntimeError("task_times_out needs the embedded mock's virtual clock")
    execution_id, _ = _held_execution(p, "timeout", timeout=60)
    mock.advance(61_000)
    detail = p.finished(execution_id, "FAILED", "task_timeout")
    p.expect_task(
        detail,
        "hold",
        "TIMED_OUT",
        "task_timeout",
        "TIMED_OUT (timeouts are not retried under abortWorkflow)",
    )


def execution_times_out(p: LifecycleProbe) -> None:
    """Past the 24 h execution limit: TIMED_OUT; cancel refused; retry resumes it in place."""
    mock = p.runtime.mock
    if mock is None or not mock.virtual_clock:
        raise RuntimeError("execution_times_out needs the embedded mock's virtual clock")
    execution_id, _ = _held_execution(p, "execution-timeout", timeout=86_400)
    mock.advance(86_400_000 + 1)
    p.finished(execution_id, "TIMED_OUT", "lifecycle_transition")
    p.refused(CANCEL, execution_id, {"reason": "too late"})
    p.retry(execution_id)
    task = p.task_in(execution_id, "hold", "IN_PROGRESS", "retry_attempts")
    p.update_task(task["id"], "COMPLETED")
    p.finished(execution_id, "COMPLETED", "lifecycle_transition")


Scenario = Callable[[LifecycleProbe], None]

#: Every scenario by name, in the order the suite runs them.
SCENARIOS: dict[str, Scenario] = {
    fn.__name__: fn
    for fn in (
        run_completes,
        run_fails,
        cancel_with_reason,
        cancel_default_reason,
        cancel_twice,
        cancel_completed,
        retry_after_cancel,
        retry_after_failure,
        retry_limits,
        failed_update_retried,
        terminal_error_not_retried,
        update_output_merged,
        skip_task_continues,
        depends_on_order,
        retry_running_refused,
        retry_completed_refused,
        list_filters_and_pages,
        task_times_out,
        execution_times_out,
    )
}


# --- running scenarios at once -------------------------------------------------------------

_Test = TypeVar("_Test", bound=Callable[..., Any])


def scenario(fn: Scenario) -> Callable[[_Test], _Test]:
    """Name the scenario a suite test drives (so a :class:`ScenarioPool` can start it early)."""

    def mark(test: _Test) -> _Test:
        setattr(test, "wfc_scenario", fn)  # noqa: B010 - an attribute mypy does not know
        return test

    return mark


def scenario_of(test: Any) -> Scenario | None:
    """The scenario :func:`scenario` named for ``test`` (None: not a scenario test)."""
    found = getattr(test, "wfc_scenario", None)
    return found if callable(found) else None


@dataclass
class Outcome:
    """How one scenario ran: every exchange with its check failures, and what it raised."""

    exchanges: list[tuple[Exchange, list[CheckFailure]]]
    error: Exception | None
    wall_s: float

    def replay(self, observers: list[Observer]) -> None:
        """Tell ``observers`` every exchange (reports, per test) and raise what the scenario
        raised, as if it had run right here."""
        for exchange, failures in self.exchanges:
            for observer in observers:
                observer(exchange, failures)
        if self.error is not None:
            raise self.error


class ScenarioPool:
    """Independent scenarios running at once on a thread pool, each on its own session.

    Scenarios share nothing but the target and the run's check context (thread-safe); each
    gets its own probe and workflows. Only a real-time target qualifies: the embedded mock's
    virtual clock is one clock every scenario would move, and a cassette (replay, recording)
    belongs to the one test running. Each scenario's exchanges are kept until its test asks for
    the outcome, so reports still attribute every exchange to its test.
    """

    def __init__(self, runtime: Runtime, workers: int = 16) -> None:
        self.runtime = runtime
        self.stop = threading.Event()
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="wfcontracts-scenario")
        self._futures: dict[str, Future[Outcome]] = {}

    @staticmethod
    def fits(runtime: Runtime) -> bool:
        """Whether scenarios may run at once on this runtime's target."""
        return runtime.mock is None and runtime.config.kind == "live" and runtime.recorder is None

    def start(self, key: str, fn: Scenario) -> None:
        if key not in self._futures:
            self._futures[key] = self._executor.submit(self._run, fn)

    def started(self, key: str) -> bool:
        return key in self._futures

    def outcome(self, key: str) -> Outcome:
        """Wait for the scenario started under ``key``."""
        return self._futures.pop(key).result()

    def close(self) -> None:
        """Stop every scenario still waiting, and wait for the pool to drain."""
        self.stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _run(self, fn: Scenario) -> Outcome:
        kept: list[tuple[Exchange, list[CheckFailure]]] = []
        session = self.runtime.session()
        # Only kept here: the test's own observers hear them when it asks for the outcome.
        session.observers = [lambda exchange, failures: kept.append((exchange, failures))]
        started = time.perf_counter()
        error: Exception | None = None
        try:
            fn(LifecycleProbe(self.runtime, session, stop=self.stop, label=fn.__name__))
        except Exception as exc:  # re-raised in its test's thread
            error = exc
        return Outcome(kept, error, time.perf_counter() - started)


class ScenarioRun:
    """One suite test's scenario: its outcome from the pool, or run here and now."""

    def __init__(
        self,
        key: str,
        test: Any,
        runtime: Runtime,
        session: CheckedSession,
        pool: ScenarioPool | None = None,
    ) -> None:
        self.key = key
        self.test = test
        self.runtime = runtime
        self.session = session
        self.pool = pool

    def verify(self) -> None:
        """Raise what the scenario found (a CheckFailure naming the check), if anything."""
        if self.pool is not None and self.pool.started(self.key):
            self.pool.outcome(self.key).replay(self.session.observers)
            return
        fn = scenario_of(self.test)
        if fn is None:
            raise TypeError(f"{self.key} names no scenario (decorate it with @scenario)")
        fn(LifecycleProbe(self.runtime, self.session, label=fn.__name__))
