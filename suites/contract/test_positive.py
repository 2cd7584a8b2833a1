"""A positive example for every operation of the contract; each response judged by every check."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from wfcontracts.contract import load_contract
from wfcontracts.contract import operations as ops
from wfcontracts.scenarios.probes import Probe, succeed_task, wait_task

Example = Callable[[Probe], None]


def _version(probe: Probe, scenario: str) -> tuple[str, str]:
    return probe.upsert(scenario, [succeed_task("ok")])


def list_workflows(probe: Probe) -> None:
    _version(probe, "pos-list-wf")
    probe.session.call(ops.LIST_WORKFLOWS, query={"limit": 10})


def upsert_workflow(probe: Probe) -> None:
    item = {"externalId": probe.name("pos-upsert-wf"), "description": "wfcontracts probe"}
    exchange = probe.session.call(ops.UPSERT_WORKFLOW, json={"items": [item]})
    assert exchange.response_json["items"][0]["externalId"] == item["externalId"]


def delete_workflows(probe: Probe) -> None:
    xid, _ = _version(probe, "pos-delete-wf")
    probe.session.call(ops.DELETE_WORKFLOWS, json={"items": [{"externalId": xid}]})


def retrieve_workflow(probe: Probe) -> None:
    xid, _ = _version(probe, "pos-get-wf")
    exchange = probe.session.call(ops.GET_WORKFLOW, path={"workflowExternalId": xid})
    assert exchange.response_json["externalId"] == xid


def upsert_version(probe: Probe) -> None:
    xid, version = _version(probe, "pos-upsert-version")
    assert xid.startswith(probe.prefix) and version == "1"


def list_versions(probe: Probe) -> None:
    xid, version = _version(probe, "pos-list-versions")
    body = {"filter": {"workflowFilters": [{"externalId": xid}]}, "limit": 10}
    exchange = probe.session.call(ops.LIST_VERSIONS, json=body)
    versions = [(v["workflowExternalId"], v["version"]) for v in exchange.response_json["items"]]
    assert (xid, version) in versions


def delete_versions(probe: Probe) -> None:
    xid, version = _version(probe, "pos-delete-version")
    items = [{"workflowExternalId": xid, "version": version}]
    probe.session.call(ops.DELETE_VERSIONS, json={"items": items})


def retrieve_version(probe: Probe) -> None:
    xid, version = _version(probe, "pos-get-version")
    path = {"workflowExternalId": xid, "version": version}
    exchange = probe.session.call(ops.GET_VERSION, path=path)
    assert exchange.response_json["version"] == version


def run(probe: Probe) -> None:
    xid, version = _version(probe, "pos-run")
    execution = probe.run(xid, version, input={"n": 1}, metadata={"origin": "wfcontracts"})
    assert execution["status"] == "RUNNING"
    assert execution["workflowExternalId"] == xid


def list_executions(probe: Probe) -> None:
    xid, version = _version(probe, "pos-list-executions")
    execution = probe.run(xid, version)
    body = {"filter": {"workflowFilters": [{"externalId": xid}]}, "limit": 10}
    probe.session.call(ops.LIST, json=body)
    probe.wait_terminal(execution["id"])


def retrieve_execution(probe: Probe) -> None:
    xid, version = _version(probe, "pos-get-execution")
    execution = probe.run(xid, version)
    assert probe.get(execution["id"])["id"] == execution["id"]


def cancel(probe: Probe) -> None:
    xid, version = probe.upsert("pos-cancel", [wait_task("hold", probe.async_function)])
    execution = probe.run(xid, version)
    probe.wait_for_task(execution["id"], "hold")
    assert (
        probe.cancel(execution["id"], reason="wfcontracts positive example")["status"]
        == "TERMINATED"
    )


def retry(probe: Probe) -> None:
    xid, version = probe.upsert("pos-retry", [wait_task("hold", probe.async_function)])
    execution = probe.run(xid, version)
    probe.wait_for_task(execution["id"], "hold")
    probe.cancel(execution["id"])
    retried = probe.retry(execution["id"])
    assert retried["id"] == execution["id"]
    probe.cancel(execution["id"])


def update_task(probe: Probe) -> None:
    xid, version = probe.upsert("pos-update-task", [wait_task("hold", probe.async_function)])
    execution = probe.run(xid, version)
    task = probe.wait_for_task(execution["id"], "hold")
    assert probe.update_task(task["id"], "COMPLETED", {"done": True})["id"] == task["id"]
    probe.wait_until(execution["id"], lambda d: d["status"] == "COMPLETED", "COMPLETED")


def create_sessions(probe: Probe) -> None:
    assert probe.nonce()


EXAMPLES: dict[str, Example] = {
    ops.LIST_WORKFLOWS: list_workflows,
    ops.UPSERT_WORKFLOW: upsert_workflow,
    ops.DELETE_WORKFLOWS: delete_workflows,
    ops.GET_WORKFLOW: retrieve_workflow,
    ops.UPSERT_VERSION: upsert_version,
    ops.LIST_VERSIONS: list_versions,
    ops.DELETE_VERSIONS: delete_versions,
    ops.GET_VERSION: retrieve_version,
    ops.RUN: run,
    ops.LIST: list_executions,
    ops.GET: retrieve_execution,
    ops.CANCEL: cancel,
    ops.RETRY: retry,
    ops.UPDATE: update_task,
    ops.SESSIONS: create_sessions,
}
OPERATIONS = sorted(load_contract().operations)


@pytest.mark.live_safe
@pytest.mark.severity("critical")
@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_positive_example(
    operation_id: str, wfc_probe: Probe, request: pytest.FixtureRequest
) -> None:
    request.node.add_marker(pytest.mark.operation(operation_id))
    request.node.add_marker(pytest.mark.check("positive_example"))
    example = EXAMPLES.get(operation_id)
    assert example is not None, f"no positive example for contract operation {operation_id}"
    example(wfc_probe)
