"""The lifecycle model as data, and the lifecycle oracle on hand-made exchange sequences."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from wfcontracts.checks import CheckContext, Exchange, run_checks
from wfcontracts.checks.lifecycle import coverage_of, history_of
from wfcontracts.contract import Contract, load_contract
from wfcontracts.contract.lifecycle import (
    ILLEGAL_PROBES,
    INVARIANTS,
    LEGAL_TRANSITIONS,
    OBLIGATIONS,
    AttemptWatch,
    IllegalProbe,
    TransitionCoverage,
    describe,
    natural_transition,
    not_run_again,
    operation_transition,
    retried_attempts,
)
from wfcontracts.reporting import html

LIFECYCLE_CHECKS = ("cancel_reason", "lifecycle_transition", "task_effects")
ROOT = "http://target/api/v1/projects/p"
DEADLINE_S = 10.0


# --- the model -----------------------------------------------------------------------------


def test_legal_transitions_are_the_documented_state_machine() -> None:
    moves = {(t.source, t.operation, t.target) for t in LEGAL_TRANSITIONS}
    assert moves == {
        (None, "run", "RUNNING"),
        ("RUNNING", "complete", "COMPLETED"),
        ("RUNNING", "fail", "FAILED"),
        ("RUNNING", "time_out", "TIMED_OUT"),
        ("RUNNING", "cancel", "TERMINATED"),
        ("FAILED", "retry", "RUNNING"),
        ("TIMED_OUT", "retry", "RUNNING"),
        ("TERMINATED", "retry", "RUNNING"),
    }
    assert all(t.same_id for t in LEGAL_TRANSITIONS)


def test_illegal_probes_cover_cancel_of_finished_and_retry_of_running_or_completed() -> None:
    probes = {(p.source, p.operation) for p in ILLEGAL_PROBES}
    assert probes == {
        ("COMPLETED", "cancel"),
        ("FAILED", "cancel"),
        ("TIMED_OUT", "cancel"),
        ("TERMINATED", "cancel"),
        ("RUNNING", "retry"),
        ("COMPLETED", "retry"),
    }
    for probe in ILLEGAL_PROBES:
        assert operation_transition(probe.source, probe.operation) is None


def test_lookups() -> None:
    assert operation_transition("FAILED", "retry") is not None
    assert operation_transition("RUNNING", "cancel") is not None
    assert natural_transition("RUNNING", "COMPLETED") is not None
    assert natural_transition("TERMINATED", "RUNNING") is None
    assert natural_transition("RUNNING", "TERMINATED") is None  # only by cancel
    assert "start -run-> RUNNING" in list(describe())


def test_rules_come_in_two_kinds_each_reported_by_an_oracle_check() -> None:
    checks = {"lifecycle_transition", "task_effects"}
    assert {i.check for i in INVARIANTS} <= checks
    assert {o.check for o in OBLIGATIONS} <= checks
    assert {o.after for o in OBLIGATIONS} == {"cancel", "retry", "update", "update FAILED"}
    lines = list(describe())
    assert sum(line.startswith("always: ") for line in lines) == len(INVARIANTS)
    assert sum(line.startswith("after ") for line in lines) == len(OBLIGATIONS)


def _attempt(task_id: str, status: str, call: int, start: int = 1) -> dict[str, Any]:
    output = {"callId": call}
    return {"id": task_id, "externalId": "w", "status": status, "startTime": start} | {
        "output": output
    }


def test_a_lagging_attempt_is_neither_moved_on_nor_new() -> None:
    watch = AttemptWatch(_attempt("t1", "IN_PROGRESS", 1))
    assert not watch.moved_on([_attempt("t1", "IN_PROGRESS", 1)])
    assert watch.new_attempt([_attempt("t1", "IN_PROGRESS", 1)]) is None


@pytest.mark.parametrize(
    "later",
    [
        [_attempt("t1", "FAILED", 1), _attempt("t2", "IN_PROGRESS", 2, start=5)],  # appended
        [_attempt("t1", "IN_PROGRESS", 2)],  # in place: the function called again
        [_attempt("t1", "IN_PROGRESS", 1, start=5)],  # in place: started again
    ],
    ids=["appended", "new-call", "new-start"],
)
def test_a_new_attempt_is_a_new_id_or_the_same_id_started_again(
    later: list[dict[str, Any]],
) -> None:
    watch = AttemptWatch(_attempt("t1", "IN_PROGRESS", 1))
    assert watch.moved_on(later)
    assert watch.new_attempt(later) == later[-1]


def test_the_same_attempt_back_in_progress_after_leaving_is_new() -> None:
    watch = AttemptWatch(_attempt("t1", "IN_PROGRESS", 1))
    assert watch.new_attempt([_attempt("t1", "FAILED", 1)]) is None
    assert watch.new_attempt([_attempt("t1", "IN_PROGRESS", 1)]) is not None


def test_what_a_retry_must_run_again() -> None:
    tasks = [
        _attempt("a", "COMPLETED", 1) | {"externalId": "a"},
        _attempt("b", "FAILED", 2) | {"externalId": "b"},
    ]
    before = retried_attempts(tasks)
    assert set(before) == {"b"}
    assert not_run_again(tasks, before) == ["b"]
    assert not_run_again([tasks[0], {**tasks[1], "status": "IN_PROGRESS"}], before) == []


def test_the_report_draws_the_same_model() -> None:
    drawn = set(html.LEGAL_TRANSITIONS)
    assert drawn == {(t.source, t.operation, t.target) for t in LEGAL_TRANSITIONS}
    assert set(html.ILLEGAL_PROBES) == {(p.source, p.operation) for p in ILLEGAL_PROBES}


def test_coverage_lists_every_step_with_counts() -> None:
    coverage = TransitionCoverage()
    coverage.exercised(LEGAL_TRANSITIONS[0])
    coverage.exercised(LEGAL_TRANSITIONS[0], failed=True)
    coverage.exercised(IllegalProbe("COMPLETED", "retry"))
    data = coverage.as_dict()
    assert len(data["legal"]) == len(LEGAL_TRANSITIONS)
    assert len(data["illegal"]) == len(ILLEGAL_PROBES)
    assert data["legal"][0] == {
        "from": None, "operation": "run", "to": "RUNNING", "exercised": 2, "failed": 1
    }  # fmt: skip
    retry = next(
        e for e in data["illegal"] if e["from"] == "COMPLETED" and e["operation"] == "retry"
    )
    assert retry == {"from": "COMPLETED", "operation": "retry", "exercised": 1, "failed": 0}
    json.dumps(data)  # the summary writer stores it as is


# --- the oracle ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract()


class Oracle:
    """Feeds hand-made exchanges to the lifecycle checks of one context."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.ctx = CheckContext(contract)
        self.id = str(uuid.uuid4())
        self.now = 0.0
        history_of(self.ctx).use_clock(lambda: self.now, DEADLINE_S)

    def send(self, op: str, url: str, status: int, body: Any, request: Any = None) -> list[str]:
        exchange = Exchange(
            operation=self.contract.operation(op),
            method="post",
            url=f"{ROOT}/{url}",
            request_headers={},
            request_body=json.dumps(request).encode() if request is not None else b"",
            status=status,
            response_headers={"content-type": "application/json"},
            response_body=json.dumps(body).encode(),
        )
        return [f.check for f in run_checks(self.ctx, exchange, LIFECYCLE_CHECKS)]

    def run(self, status: str = "RUNNING") -> list[str]:
        return self.send(
            "TriggerRunOfSpecificVersionOfWorkflow", "workflows/w/versions/1/run", 202,
            self.execution(status),
        )  # fmt: skip

    def get(
        self, status: str, tasks: list[dict[str, Any]] | None = None, **extra: Any
    ) -> list[str]:
        body = {**self.execution(status), "executedTasks": tasks or [], **extra}
        return self.send(
            "ExecutionOfSpecificRunOfWorkflow", f"workflows/executions/{self.id}", 200, body
        )

    def cancel(self, status: int, body: Any, reason: str | None = None) -> list[str]:
        request = {"reason": reason} if reason is not None else {}
        url = f"workflows/executions/{self.id}/cancel"
        return self.send("WorkflowExecutionCancellation", url, status, body, request)

    def retry(self, status: int, body: Any) -> list[str]:
        request = {"authentication": {"nonce": "n"}}
        url = f"workflows/executions/{self.id}/retry"
        return self.send("WorkflowExecutionRetry", url, status, body, request)

    def update(self, task_id: str, status: str = "COMPLETED") -> list[str]:
        url = f"workflows/tasks/{task_id}/update"
        return self.send("UpdateTaskStatus", url, 200, {"id": task_id}, {"status": status})

    def execution(self, status: str, **extra: Any) -> dict[str, Any]:
        return {"id": self.id, "workflowExternalId": "w", "status": status, **extra}

    def coverage(self) -> dict[str, list[dict[str, Any]]]:
        return coverage_of(self.ctx).as_dict()


ERROR = {"error": {"code": 409, "message": "not allowed"}}


def task(external_id: str, status: str, *, task_id: str | None = None, waits: bool = False,
         start: int = 1) -> dict[str, Any]:  # fmt: skip
    return {
        "id": task_id or f"{external_id}-{status}",
        "externalId": external_id,
        "status": status,
        "taskType": "function" if waits else "cdf",
        "input": {"asyncComplete": True} if waits else {},
        "startTime": start,
    }


def counted(oracle: Oracle, kind: str, source: str | None, operation: str) -> tuple[int, int]:
    for entry in oracle.coverage()[kind]:
        if entry["from"] == source and entry["operation"] == operation:
            return entry["exercised"], entry["failed"]
    raise AssertionError(f"{source} {operation} not in coverage")


@pytest.fixture
def oracle(contract: Contract) -> Oracle:
    return Oracle(contract)


def test_run_then_natural_completion_is_legal(oracle: Oracle) -> None:
    assert oracle.run() == []
    assert oracle.get("RUNNING") == []
    assert oracle.get("COMPLETED") == []
    assert counted(oracle, "legal", None, "run") == (1, 0)
    assert counted(oracle, "legal", "RUNNING", "complete") == (1, 0)


def test_run_must_answer_running(oracle: Oracle) -> None:
    assert oracle.run("COMPLETED") == ["lifecycle_transition"]
    assert counted(oracle, "legal", None, "run") == (1, 1)


def test_status_change_without_operation_must_be_natural(oracle: Oracle) -> None:
    oracle.run()
    oracle.get("COMPLETED")
    assert oracle.get("RUNNING") == ["lifecycle_transition"]
    assert oracle.get("TERMINATED") == ["lifecycle_transition"]


def test_cancel_must_terminate_and_record_the_reason(oracle: Oracle) -> None:
    oracle.run()
    body = oracle.execution("TERMINATED", reasonForIncompletion="because")
    assert oracle.cancel(200, body, reason="because") == []
    assert counted(oracle, "legal", "RUNNING", "cancel") == (1, 0)
    assert oracle.get("TERMINATED", reasonForIncompletion="because") == []
    assert oracle.get("TERMINATED", reasonForIncompletion="cancelled") == ["cancel_reason"]


def test_cancel_answered_running_fails(oracle: Oracle) -> None:
    oracle.run()
    assert oracle.cancel(200, oracle.execution("RUNNING")) == ["lifecycle_transition"]
    assert counted(oracle, "legal", "RUNNING", "cancel") == (1, 1)


@pytest.mark.parametrize(
    ("given", "stored", "verdict"),
    [
        ("why", "why", []),
        ("why", "cancelled", ["cancel_reason"]),
        (None, "cancelled", []),
        (None, "anything at all", []),
        (None, "", ["cancel_reason"]),
        (None, None, ["cancel_reason"]),
    ],
)
def test_cancel_reason(
    oracle: Oracle, given: str | None, stored: str | None, verdict: list[str]
) -> None:
    oracle.run()
    body = oracle.execution("TERMINATED", reasonForIncompletion=stored)
    assert oracle.cancel(200, body, reason=given) == verdict


def _cancelled(oracle: Oracle) -> None:
    oracle.run()
    oracle.cancel(200, oracle.execution("TERMINATED", reasonForIncompletion="r"), reason="r")


def _after_cancel(oracle: Oracle, *tasks: dict[str, Any], end: int = 100) -> list[str]:
    return oracle.get("TERMINATED", list(tasks), reasonForIncompletion="r", endTime=end)


@pytest.mark.parametrize("active", ["IN_PROGRESS", "SCHEDULED"])
def test_tasks_may_stay_active_for_a_while_after_cancel(oracle: Oracle, active: str) -> None:
    # Obligation: running tasks become CANCELED, but a lagging observation may not show it yet.
    _cancelled(oracle)
    oracle.now = DEADLINE_S - 1
    assert _after_cancel(oracle, task("a", "COMPLETED"), task("b", active, waits=True)) == []
    assert _after_cancel(oracle, task("a", "COMPLETED"), task("b", "CANCELED", waits=True)) == []
    oracle.now = 10 * DEADLINE_S
    assert _after_cancel(oracle, task("a", "COMPLETED"), task("b", "CANCELED", waits=True)) == []
    assert counted(oracle, "legal", "RUNNING", "cancel") == (1, 0)


def test_tasks_still_active_at_the_deadline_after_cancel_fail(oracle: Oracle) -> None:
    _cancelled(oracle)
    oracle.now = DEADLINE_S
    tasks = [task("a", "COMPLETED"), task("b", "IN_PROGRESS", waits=True)]
    exchange_checks = _after_cancel(oracle, *tasks)
    assert exchange_checks == ["task_effects"]
    assert counted(oracle, "legal", "RUNNING", "cancel") == (1, 1)
    assert _after_cancel(oracle, *tasks) == []  # failed once, with that snapshot


def test_the_deadline_failure_names_what_was_seen_and_the_deadline(oracle: Oracle) -> None:
    _cancelled(oracle)
    oracle.now = DEADLINE_S + 2
    body = {
        **oracle.execution("TERMINATED", reasonForIncompletion="r"),
        "executedTasks": [task("hold", "IN_PROGRESS", waits=True)],
    }
    exchange = Exchange(
        operation=oracle.contract.operation("ExecutionOfSpecificRunOfWorkflow"),
        method="get",
        url=f"{ROOT}/workflows/executions/{oracle.id}",
        request_headers={},
        request_body=b"",
        status=200,
        response_headers={"content-type": "application/json"},
        response_body=json.dumps(body).encode(),
    )
    (failure,) = run_checks(oracle.ctx, exchange, LIFECYCLE_CHECKS)
    assert "after cancel: hold IN_PROGRESS, 12 s later" in failure.message
    assert f"within {DEADLINE_S:g} s" in failure.message


def test_no_task_starts_after_a_cancel(oracle: Oracle) -> None:
    # Invariant: judged at once, however early.
    _cancelled(oracle)
    assert _after_cancel(oracle, task("b", "IN_PROGRESS", start=150), end=100) == ["task_effects"]


def test_no_task_becomes_active_again_once_the_cancel_showed(oracle: Oracle) -> None:
    _cancelled(oracle)
    assert _after_cancel(oracle, task("b", "CANCELED", task_id="b1")) == []
    assert _after_cancel(oracle, task("b", "IN_PROGRESS", task_id="b1")) == ["task_effects"]


@pytest.mark.parametrize("finished", ["COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"])
def test_cancel_of_a_finished_execution_must_be_refused(oracle: Oracle, finished: str) -> None:
    oracle.run()
    oracle.get(finished)
    assert oracle.cancel(200, oracle.execution("TERMINATED")) == ["lifecycle_transition"]
    assert counted(oracle, "illegal", finished, "cancel") == (1, 1)


def test_refused_cancel_must_leave_the_state_unchanged(oracle: Oracle) -> None:
    oracle.run()
    oracle.get("COMPLETED")
    assert oracle.cancel(409, ERROR) == []
    assert counted(oracle, "illegal", "COMPLETED", "cancel") == (1, 0)
    assert oracle.get("TERMINATED") == ["lifecycle_transition"]
    assert counted(oracle, "illegal", "COMPLETED", "cancel") == (1, 1)


def test_any_4xx_refusal_is_accepted(oracle: Oracle) -> None:
    oracle.run()
    oracle.get("COMPLETED")
    for status in (400, 404, 409, 422):
        assert oracle.cancel(status, ERROR) == []
        assert oracle.get("COMPLETED") == []


def test_retry_keeps_the_id_and_answers_running(oracle: Oracle) -> None:
    oracle.run()
    oracle.get("FAILED", [task("a", "FAILED")])
    assert oracle.retry(200, oracle.execution("RUNNING")) == []
    assert counted(oracle, "legal", "FAILED", "retry") == (1, 0)
    other = {**oracle.execution("RUNNING"), "id": str(uuid.uuid4())}
    oracle.get("FAILED", [task("a", "FAILED")])
    assert oracle.retry(200, other) == ["lifecycle_transition"]


def test_retry_of_completed_must_be_refused(oracle: Oracle) -> None:
    oracle.run()
    oracle.get("COMPLETED")
    assert oracle.retry(200, oracle.execution("RUNNING")) == ["lifecycle_transition"]
    assert counted(oracle, "illegal", "COMPLETED", "retry") == (1, 1)


def test_retry_of_a_held_running_execution_must_be_refused(oracle: Oracle) -> None:
    oracle.run()
    oracle.get("RUNNING", [task("a", "COMPLETED"), task("w", "IN_PROGRESS", waits=True)])
    assert oracle.retry(200, oracle.execution("RUNNING")) == ["lifecycle_transition"]
    oracle.get("RUNNING", [task("a", "COMPLETED"), task("w", "IN_PROGRESS", waits=True)])
    assert oracle.retry(400, ERROR) == []
    assert oracle.get("RUNNING") == []


def test_retry_of_a_running_execution_that_may_have_failed_is_not_judged(oracle: Oracle) -> None:
    # A cdf task in progress may fail the execution any moment: a retry may then be legal.
    oracle.run()
    oracle.get("RUNNING", [task("c", "IN_PROGRESS")])
    assert oracle.retry(200, oracle.execution("RUNNING")) == []


def test_a_task_update_releases_a_held_execution(oracle: Oracle) -> None:
    oracle.run()
    oracle.get("RUNNING", [task("w", "IN_PROGRESS", task_id="t1", waits=True)])
    oracle.update("t1")
    assert oracle.retry(200, oracle.execution("RUNNING")) == []


def test_a_lagging_observation_after_an_update_does_not_hold_the_execution(oracle: Oracle) -> None:
    # The update is in flight: the execution may move on any moment, a retry may be legal.
    held = [task("w", "IN_PROGRESS", task_id="t1", waits=True)]
    oracle.run()
    oracle.get("RUNNING", held)
    oracle.update("t1")
    assert oracle.get("RUNNING", held) == []
    assert oracle.retry(200, oracle.execution("RUNNING")) == []


def _updated(oracle: Oracle, status: str, retries: int = 0) -> list[dict[str, Any]]:
    held = [task("w", "IN_PROGRESS", task_id="t1", waits=True) | {"output": {"callId": 1}}]
    definition = {"tasks": [{"externalId": "w", "retries": retries}]}
    oracle.run()
    oracle.get("RUNNING", held, workflowDefinition=definition)
    assert oracle.update("t1", status) == []
    return held


def test_an_update_may_show_late_but_within_the_deadline(oracle: Oracle) -> None:
    held = _updated(oracle, "COMPLETED")
    oracle.now = DEADLINE_S - 1
    assert oracle.get("RUNNING", held) == []
    done = [{**held[0], "status": "COMPLETED"}]
    assert oracle.get("RUNNING", done) == []
    oracle.now = 10 * DEADLINE_S
    assert oracle.get("COMPLETED", done) == []


def test_an_update_that_never_shows_fails_at_the_deadline(oracle: Oracle) -> None:
    held = _updated(oracle, "COMPLETED")
    oracle.now = DEADLINE_S
    assert oracle.get("RUNNING", held) == ["lifecycle_transition"]


def test_a_failed_report_with_retries_left_owes_a_new_attempt(oracle: Oracle) -> None:
    held = _updated(oracle, "FAILED", retries=1)
    assert oracle.get("RUNNING", held) == []  # lagging: still the reported attempt
    again = [{**held[0], "output": {"callId": 2}}]  # the same task, the function called again
    assert oracle.get("RUNNING", again) == []
    oracle.now = 10 * DEADLINE_S
    assert oracle.get("RUNNING", again) == []


def test_a_failed_report_with_retries_left_fails_when_the_execution_ends(oracle: Oracle) -> None:
    held = _updated(oracle, "FAILED", retries=1)
    failed = [{**held[0], "status": "FAILED"}]
    assert oracle.get("FAILED", failed) == ["task_effects"]  # at once: no attempt can follow


def test_a_failed_report_with_retries_left_fails_at_the_deadline(oracle: Oracle) -> None:
    held = _updated(oracle, "FAILED", retries=1)
    oracle.now = DEADLINE_S
    assert oracle.get("RUNNING", held) == ["lifecycle_transition", "task_effects"]


@pytest.mark.parametrize(("status", "retries"), [("FAILED", 0), ("FAILED_WITH_TERMINAL_ERROR", 3)])
def test_no_attempt_is_owed_without_retries_left(oracle: Oracle, status: str, retries: int) -> None:
    held = _updated(oracle, status, retries=retries)
    assert oracle.get("FAILED", [{**held[0], "status": status}]) == []


def test_a_retry_owes_the_rerun_of_what_did_not_finish(oracle: Oracle) -> None:
    before = [task("a", "COMPLETED", task_id="a1"), task("b", "FAILED", task_id="b1")]
    _retried(oracle, before)
    assert oracle.get("RUNNING", before) == []  # lagging: nothing re-run yet
    oracle.now = DEADLINE_S
    assert oracle.get("RUNNING", before) == ["task_effects"]
    assert counted(oracle, "legal", "FAILED", "retry") == (1, 1)


def test_a_finished_task_never_runs_again_even_without_a_retry(oracle: Oracle) -> None:
    oracle.run()
    oracle.get("RUNNING", [task("a", "COMPLETED", task_id="a1")])
    assert oracle.get("RUNNING", [task("a", "IN_PROGRESS", task_id="a1")]) == ["task_effects"]


def _retried(oracle: Oracle, before: list[dict[str, Any]]) -> None:
    oracle.run()
    oracle.get("FAILED", before)
    assert oracle.retry(200, oracle.execution("RUNNING")) == []


def test_retry_in_place_and_appended_attempts_are_both_accepted(oracle: Oracle) -> None:
    before = [task("a", "COMPLETED", task_id="a1"), task("b", "FAILED", task_id="b1")]
    _retried(oracle, before)
    in_place = [task("a", "COMPLETED", task_id="a1"), task("b", "IN_PROGRESS", task_id="b1")]
    assert oracle.get("RUNNING", in_place) == []
    appended = [*before, task("b", "IN_PROGRESS", task_id="b2", start=5)]
    assert oracle.get("RUNNING", appended) == []


@pytest.mark.parametrize("finished", ["COMPLETED", "COMPLETED_WITH_ERRORS"])
def test_retry_must_not_rerun_finished_tasks_in_place(oracle: Oracle, finished: str) -> None:
    _retried(oracle, [task("a", finished, task_id="a1"), task("b", "FAILED", task_id="b1")])
    rerun = [task("a", "IN_PROGRESS", task_id="a1"), task("b", "IN_PROGRESS", task_id="b1")]
    assert oracle.get("RUNNING", rerun) == ["task_effects"]
    assert counted(oracle, "legal", "FAILED", "retry") == (1, 1)


def test_retry_must_not_append_attempts_of_finished_tasks(oracle: Oracle) -> None:
    before = [task("a", "COMPLETED", task_id="a1"), task("b", "FAILED", task_id="b1")]
    _retried(oracle, before)
    appended = [*before, task("a", "COMPLETED", task_id="a2", start=9)]
    assert oracle.get("RUNNING", appended) == ["task_effects"]


def test_refusals_of_unknown_executions_are_not_judged(oracle: Oracle) -> None:
    assert oracle.cancel(404, ERROR) == []
    assert oracle.retry(404, ERROR) == []


def test_list_items_never_drive_a_verdict(oracle: Oracle) -> None:
    # A list may lag further than GET: an older status there is no move backwards.
    oracle.run()
    oracle.get("COMPLETED")
    body = {"items": [oracle.execution("RUNNING")]}
    assert oracle.send("ListWorkflowExecutions", "workflows/executions/list", 200, body, {}) == []
    assert oracle.get("COMPLETED") == []
