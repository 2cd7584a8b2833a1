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

from wfcontracts.checks import CheckFailure
from wfcontracts.checks.exchange import Exchange
from wfcontracts.contract import load_contract
from wfcontracts.contract import operations as ops
from wfcontracts.scenarios.boundaries import BoundaryCase, boundary_cases, set_path
from wfcontracts.scenarios.probes import Probe, succeed_task, wait_task

CONTRACT = load_contract()
CASES = boundary_cases(CONTRACT)
#: Limits the executions-API documentation states; the rest (`x-inferred`) are advisories.
DOCUMENTED = {
    (c.operation_id, c.path, c.constraint, c.limit) for c in boundary_cases(CONTRACT.documented)
}


def judge(case: BoundaryCase, exchange: Exchange) -> None:
    if case.expect == "accept":
        ok = 200 <= exchange.status < 300
        seen = f"a value at the limit was rejected with {exchange.status}: {exchange.excerpt(200)}"
    else:
        ok = 400 <= exchange.status < 500
        seen = f"a value past the limit got {exchange.status}, not a 4xx"
    if ok:
        return
    if (case.operation_id, case.path, case.constraint, case.limit) in DOCUMENTED:
        raise AssertionError(f"{case.id}: {seen} (a limit the documentation states)")
    raise CheckFailure(  # a limit the docs do not state: an advisory, never gating by default
        check="inferred_limits",
        operation=exchange.label,
        seen=f"{case.id}: {seen}",
        allowed="the contract's inferred limit (x-inferred: advisory)",
        severity="minor",
        reproduction=exchange.curl,
    )


def upsert_workflow(probe: Probe, case: BoundaryCase) -> None:
    value = case.build(probe.name(f"bnd{case.limit}"))
    body = set_path({"items": [{"externalId": probe.name("bnd-wf")}]}, case.path, value)
    exchange = probe.session.call(ops.UPSERT_WORKFLOW, json=body)
    judge(case, exchange)
    if case.expect == "reject":
        after = probe.session.call(ops.GET_WORKFLOW, path={"workflowExternalId": value}, checks=[])
        assert after.status != 200, f"{case.id}: the rejected workflow {value!r} was created anyway"


def run(probe: Probe, case: BoundaryCase) -> None:
    # A workflow of its own per case: the list then holds nothing but this case's runs.
    xid, version = probe.upsert(f"bnd-run-{slug(case)}", [succeed_task("ok")])
    body = set_path({"authentication": {"nonce": probe.nonce()}}, case.path, case.build(xid))
    exchange = probe.session.call(
        ops.RUN,
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
    exchange = probe.session.call(ops.CANCEL, path={"executionId": execution_id}, json=body)
    judge(case, exchange)
    if case.expect == "reject":
        assert probe.get(execution_id)["status"] == "RUNNING", f"{case.id}: state changed"
        probe.cancel(execution_id)


def list_executions(probe: Probe, case: BoundaryCase) -> None:
    base = {"filter": {"workflowFilters": [{"externalId": probe.name("bnd-list")}]}, "limit": 10}
    body = set_path(base, case.path, case.build(probe.prefix))
    judge(case, probe.session.call(ops.LIST, json=body))


def update_task(probe: Probe, case: BoundaryCase) -> None:
    execution_id, task = _held_execution(probe, case)
    body = set_path({"status": "COMPLETED"}, case.path, case.build(probe.prefix))
    exchange = probe.session.call(ops.UPDATE, path={"taskId": task["id"]}, json=body)
    judge(case, exchange)
    if case.expect == "reject":
        detail = probe.get(execution_id)
        statuses = [t["status"] for t in detail["executedTasks"] if t["externalId"] == "hold"]
        assert statuses and statuses[-1] == "IN_PROGRESS", (
            f"{case.id}: the task changed: {statuses}"
        )
        probe.cancel(execution_id)


ANCHORS: dict[str, Callable[[Probe, BoundaryCase], None]] = {
    ops.UPSERT_WORKFLOW: upsert_workflow,
    ops.RUN: run,
    ops.CANCEL: cancel,
    ops.LIST: list_executions,
    ops.UPDATE: update_task,
}


@pytest.mark.live_safe
@pytest.mark.severity("critical")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_boundary(case: BoundaryCase, wfc_probe: Probe, request: pytest.FixtureRequest) -> None:
    request.node.add_marker(pytest.mark.operation(case.operation_id))
    request.node.add_marker(pytest.mark.check(f"boundary_{case.expect}"))
    ANCHORS[case.operation_id](wfc_probe, case)
