"""The lifecycle model as data, and the lifecycle oracle on hand-made exchange sequences."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from wfcontracts.checks import CheckContext, Exchange, run_checks
from wfcontracts.checks.lifecycle import coverage_of
from wfcontracts.contract import Contract, load_contract
from wfcontracts.reporting import html
from wfcontracts.scenarios.lifecycle import (
    ILLEGAL_PROBES,
    LEGAL_TRANSITIONS,
    IllegalProbe,
    TransitionCoverage,
    describe,
    natural_transition,
    operation_transition,
)

LIFECYCLE_CHECKS = ("cancel_reason", "lifecycle_transition", "task_effects")
ROOT = "http://target/api/v1/projects/p"


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

    def update(self, task_id: str) -> list[str]:
        url = f"workflows/tasks/{task_id}/update"
        return self.send("UpdateTaskStatus", url, 200, {"id": task_id}, {"status": "COMPLETED"})

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


def test_cancel_leaves_no_task_running(oracle: Oracle) -> None:
    oracle.run()
    oracle.cancel(200, oracle.execution("TERMINATED", reasonForIncompletion="r"), reason="r")
    tasks = [task("a", "COMPLETED"), task("b", "IN_PROGRESS", waits=True)]
    assert oracle.get("TERMINATED", tasks, reasonForIncompletion="r") == ["task_effects"]
    assert counted(oracle, "legal", "RUNNING", "cancel") == (1, 1)


@pytest.mark.parametrize(("status", "verdict"), [("SCHEDULED", ["task_effects"]), ("CANCELED", [])])
def test_tasks_after_cancel(oracle: Oracle, status: str, verdict: list[str]) -> None:
    oracle.run()
    oracle.cancel(200, oracle.execution("TERMINATED", reasonForIncompletion="r"), reason="r")
    assert oracle.get("TERMINATED", [task("b", status)], reasonForIncompletion="r") == verdict


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


def test_list_items_are_observations(oracle: Oracle) -> None:
    oracle.run()
    oracle.get("COMPLETED")
    body = {"items": [oracle.execution("RUNNING")]}
    assert oracle.send("ListWorkflowExecutions", "workflows/executions/list", 200, body, {}) == [
        "lifecycle_transition"
    ]
