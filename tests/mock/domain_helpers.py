"""Builders shared by the domain tests (no HTTP): task definitions, a backend on a virtual clock."""

from __future__ import annotations

from typing import Any

from wfcontracts.mock.backend import CdfRequester, WorkflowsBackend
from wfcontracts.mock.clock import Pace, VirtualClock
from wfcontracts.mock.faults import FaultSet

PROJECT = "proj"
NONCE = {"authentication": {"nonce": "not-a-real-nonce"}}


def make_backend(
    *faults: str,
    latency: int | None = None,
    cdf_request: CdfRequester | None = None,
    pace: str = "instant",
    seed: int = 0,
) -> tuple[WorkflowsBackend, VirtualClock]:
    clock = VirtualClock()
    backend = WorkflowsBackend(
        clock,
        FaultSet(faults),
        cdf_request=cdf_request,
        task_latency_ms=latency,
        pace=Pace(pace, seed),
    )
    return backend, clock


def _deps(deps: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"externalId": d} for d in deps]


def function_task(xid: str, *deps: str, data: Any = None, **extra: Any) -> dict[str, Any]:
    function: dict[str, Any] = {"externalId": f"fn-{xid}"}
    if data is not None:
        function["data"] = data
    return {
        "externalId": xid,
        "type": "function",
        "parameters": {"function": function},
        "dependsOn": _deps(deps),
        **extra,
    }


def async_task(xid: str, *deps: str, **extra: Any) -> dict[str, Any]:
    task = function_task(xid, *deps, **extra)
    task["parameters"]["isAsyncComplete"] = True
    return task


def cdf_task(xid: str, *deps: str, ok: bool = True, **extra: Any) -> dict[str, Any]:
    path = "/workflows" if ok else "/workflows/wfcontracts-missing"
    return {
        "externalId": xid,
        "type": "cdf",
        "parameters": {"cdfRequest": {"resourcePath": path, "method": "GET"}},
        "dependsOn": _deps(deps),
        **extra,
    }


def put_version(
    backend: WorkflowsBackend,
    tasks: list[dict[str, Any]],
    xid: str = "wf",
    version: str = "1",
    description: str | None = None,
) -> dict[str, Any]:
    definition: dict[str, Any] = {"tasks": tasks}
    if description is not None:
        definition["description"] = description
    item = {"workflowExternalId": xid, "version": version, "workflowDefinition": definition}
    created: dict[str, Any] = backend.upsert_version(PROJECT, item)
    return created


def run(
    backend: WorkflowsBackend, xid: str = "wf", version: str = "1", **body: Any
) -> dict[str, Any]:
    started: dict[str, Any] = backend.run_execution(PROJECT, xid, version, {**NONCE, **body})
    return started


def detail(backend: WorkflowsBackend, execution_id: str) -> dict[str, Any]:
    found: dict[str, Any] = backend.retrieve_execution(PROJECT, execution_id)
    return found


def tasks_of(backend: WorkflowsBackend, execution_id: str) -> dict[str, dict[str, Any]]:
    return {t["externalId"]: t for t in detail(backend, execution_id)["executedTasks"]}


def status_of(backend: WorkflowsBackend, execution_id: str) -> str:
    status: str = detail(backend, execution_id)["status"]
    return status


def update(
    backend: WorkflowsBackend, execution_id: str, task_xid: str, status: str, **body: Any
) -> dict[str, Any]:
    task_id = tasks_of(backend, execution_id)[task_xid]["id"]
    answer: dict[str, Any] = backend.update_task(PROJECT, task_id, {"status": status, **body})
    return answer
