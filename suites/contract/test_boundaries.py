"""Every documented limit, generated from the contract: at the limit accepted, past it rejected
with a 4xx carrying the CDF envelope, and the state unchanged after a rejection.

"Unchanged" is proven against a server whose list lags: a rejected run created nothing when a
control run started after it is listed and nothing else is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from wfcontracts.checks.exchange import Exchange
from wfcontracts.contract import load_contract
from wfcontracts.scenarios.boundaries import BoundaryCase, boundary_cases, set_path
from wfcontracts.scenarios.probes import Probe, succeed_task, wait_task

CASES = boundary_cases(load_contract())


def judge(case: BoundaryCase, exchange: Exchange) -> None:
    if case.expect == "accept":
        assert 200 <= exchange.status < 300, (
            f"{case.id}: a value at the documented limit was rejected with {exchange.status}: "
            f"{exchange.excerpt(200)}"
        )
    else:
        assert 400 <= exchange.status < 500, (
            f"{case.id}: a value past the documented limit got {exchange.status}, not a 4xx"
        )


def upsert_workflow(probe: Probe, case: BoundaryCase) -> None:
    value = case.build(probe.name(f"bnd{case.limit}"))
    body = set_path({"items": [{"externalId": probe.name("bnd-wf")}]}, case.path, value)
    exchange = probe.session.call("CreateOrUpdateWorkflow", json=body)
    judge(case, exchange)
    if case.expect == "reject":
        after = probe.session.call(
            "fetchWorkflowDetails", path={"workflowExternalId": value}, checks=[]
        )
        assert after.status != 200, f"{case.id}: the rejected workflow {value!r} was created anyway"


def run(probe: Probe, case: BoundaryCase) -> None:
    # A workflow of its own per case: the list then holds nothing but this case's runs.
    xid, version = probe.upsert(f"bnd-run-{slug(case)}", [succeed_task("ok")])
    body = set_path({"authentication": {"nonce": probe.nonce()}}, case.path, case.build(xid))
    exchange = probe.session.call(
        "TriggerRunOfSpecificVersionOfWorkflow",
        path={"workflowExternalId": xid, "version": version},
        json=body,
    )
    judge(case, exchange)
    if case.expect == "reject":
        probe.nothing_created(xid, version, f"{case.id}: the rejected run")


def slug(case: BoundaryCase) -> str:
    where = "-".join(str(p) for p in case.path)
    return re.sub(r"[^A-Za-z0-9]+", "-", f"{where}-{case.constraint}-{case.expect}")


def _held_execution(probe: Probe, case: BoundaryCase) -> tuple[str, dict[str, Any]]:
    xid, version = probe.upsert(
        f"bnd-hold-{case.operation_id[:6]}-{case.expect}", [wait_task("hold", probe.async_function)]
    )
    execution = probe.run(xid, version)
    return execution["id"], probe.wait_for_task(execution["id"], "hold")


def cancel(probe: Probe, case: BoundaryCase) -> None:
    execution_id, _ = _held_execution(probe, case)
    body = set_path({}, case.path, case.build(probe.prefix))
    exchange = probe.session.call(
        "WorkflowExecutionCancellation", path={"executionId": execution_id}, json=body
    )
    judge(case, exchange)
    if case.expect == "reject":
        assert probe.get(execution_id)["status"] == "RUNNING", f"{case.id}: state changed"
        probe.cancel(execution_id)


def list_executions(probe: Probe, case: BoundaryCase) -> None:
    base = {"filter": {"workflowFilters": [{"externalId": probe.name("bnd-list")}]}, "limit": 10}
    body = set_path(base, case.path, case.build(probe.prefix))
    judge(case, probe.session.call("ListWorkflowExecutions", json=body))


def update_task(probe: Probe, case: BoundaryCase) -> None:
    execution_id, task = _held_execution(probe, case)
    body = set_path({"status": "COMPLETED"}, case.path, case.build(probe.prefix))
    exchange = probe.session.call("UpdateTaskStatus", path={"taskId": task["id"]}, json=body)
    judge(case, exchange)
    if case.expect == "reject":
        detail = probe.get(execution_id)
        statuses = [t["status"] for t in detail["executedTasks"] if t["externalId"] == "hold"]
        assert statuses and statuses[-1] == "IN_PROGRESS", (
            f"{case.id}: the task changed: {statuses}"
        )
        probe.cancel(execution_id)


ANCHORS: dict[str, Callable[[Probe, BoundaryCase], None]] = {
    "CreateOrUpdateWorkflow": upsert_workflow,
    "TriggerRunOfSpecificVersionOfWorkflow": run,
    "WorkflowExecutionCancellation": cancel,
    "ListWorkflowExecutions": list_executions,
    "UpdateTaskStatus": update_task,
}


@pytest.mark.live_safe
@pytest.mark.severity("critical")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_boundary(case: BoundaryCase, wfc_probe: Probe, request: pytest.FixtureRequest) -> None:
    request.node.add_marker(pytest.mark.operation(case.operation_id))
    request.node.add_marker(pytest.mark.check(f"boundary_{case.expect}"))
    ANCHORS[case.operation_id](wfc_probe, case)
