"""Workflows, versions, sessions, clock and fault registry (no HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from wfcontracts.errors import WfcontractsError
from wfcontracts.mock.clock import Clock, RealClock, VirtualClock
from wfcontracts.mock.faults import FAULTS, FaultSet, UnknownFaultError
from wfcontracts.mock.models import DomainError

from .domain_helpers import (
    PROJECT,
    async_task,
    function_task,
    make_backend,
    put_version,
    run,
)


def test_workflow_upsert_replaces_and_keeps_created_time() -> None:
    backend, clock = make_backend()
    first = backend.upsert_workflow(
        PROJECT, {"externalId": "wf", "description": "d", "dataSetId": 1}
    )
    clock.advance(10)
    second = backend.upsert_workflow(PROJECT, {"externalId": "wf"})
    assert first["description"] == "d" and first["dataSetId"] == 1
    assert "description" not in second and "dataSetId" not in second
    assert second["createdTime"] == first["createdTime"]
    assert second["lastUpdatedTime"] == first["lastUpdatedTime"] + 10
    assert backend.retrieve_workflow(PROJECT, "wf") == second


def test_unknown_workflow_is_404_with_missing() -> None:
    backend, _ = make_backend()
    with pytest.raises(DomainError) as caught:
        backend.retrieve_workflow(PROJECT, "nope")
    assert (caught.value.status, caught.value.missing) == (404, [{"externalId": "nope"}])


def test_projects_are_isolated() -> None:
    backend, _ = make_backend()
    backend.upsert_workflow("other", {"externalId": "wf"})
    assert backend.list_workflows(PROJECT, 100, None) == {"items": []}


def test_workflow_list_pages() -> None:
    backend, _ = make_backend()
    for name in ["c", "a", "b"]:
        backend.upsert_workflow(PROJECT, {"externalId": name})
    first = backend.list_workflows(PROJECT, 2, None)
    second = backend.list_workflows(PROJECT, 2, first["nextCursor"])
    assert [w["externalId"] for w in first["items"] + second["items"]] == ["a", "b", "c"]
    assert "nextCursor" not in second


def test_delete_workflows_is_all_or_nothing_and_cascades() -> None:
    backend, _ = make_backend()
    put_version(backend, [function_task("a")])
    ex = run(backend)
    backend.advance()
    with pytest.raises(DomainError) as caught:
        backend.delete_workflows(PROJECT, ["wf", "ghost"], ignore_unknown_ids=False)
    assert caught.value.status == 404
    assert caught.value.missing == [{"externalId": "ghost"}]
    assert "workflows were not found" in caught.value.message
    backend.retrieve_workflow(PROJECT, "wf")
    backend.delete_workflows(PROJECT, ["wf", "ghost"], ignore_unknown_ids=True)
    with pytest.raises(DomainError):
        backend.retrieve_version(PROJECT, "wf", "1")
    with pytest.raises(DomainError):
        backend.retrieve_execution(PROJECT, ex["id"])
    assert backend.list_executions(PROJECT, {}) == {"items": []}


def test_delete_workflow_with_running_execution_is_refused() -> None:
    backend, _ = make_backend()
    put_version(backend, [async_task("wait")])
    run(backend)
    with pytest.raises(DomainError) as caught:
        backend.delete_workflows(PROJECT, ["wf"], ignore_unknown_ids=False)
    assert caught.value.status == 409
    assert "running executions" in caught.value.message
    backend.retrieve_version(PROJECT, "wf", "1")


def test_version_upsert_fills_defaults_creates_workflow_and_hashes() -> None:
    backend, clock = make_backend()
    created = put_version(backend, [function_task("a")], description="first")
    task = created["workflowDefinition"]["tasks"][0]
    assert task["retries"] == 3 and task["timeout"] == 3600
    assert task["onFailure"] == "abortWorkflow" and task["dependsOn"] == []
    assert task["parameters"]["isAsyncComplete"] is False
    definition = created["workflowDefinition"]
    assert len(definition["hash"]) == 40 and definition["hash"] == definition["hash"].upper()
    assert definition["description"] == "first"
    assert backend.retrieve_workflow(PROJECT, "wf")["externalId"] == "wf"
    clock.advance(5)
    same = put_version(backend, [function_task("a", retries=3)], description="first")
    assert same["workflowDefinition"]["hash"] == definition["hash"]
    assert same["createdTime"] == created["createdTime"]
    assert same["lastUpdatedTime"] == created["lastUpdatedTime"] + 5
    other_tasks = put_version(backend, [function_task("b")], description="first")
    other_text = put_version(backend, [function_task("a")], description="second")
    hashes = {other_tasks["workflowDefinition"]["hash"], other_text["workflowDefinition"]["hash"]}
    assert definition["hash"] not in hashes and len(hashes) == 2


@pytest.mark.parametrize(
    ("tasks", "words"),
    [
        ([function_task("a"), function_task("a")], "duplicated"),
        ([function_task("workflow")], "reserved"),
        ([function_task("__x")], "reserved"),
        ([function_task("a", "ghost")], "ghost"),
        ([function_task("a", "b"), function_task("b", "a")], "circular"),
        ([function_task("a", "a")], "circular"),
        (
            [
                {
                    "externalId": "s",
                    "type": "subworkflow",
                    "parameters": {
                        "subworkflow": {
                            "tasks": [
                                {
                                    "externalId": "d",
                                    "type": "dynamic",
                                    "parameters": {"dynamic": {"tasks": "x"}},
                                }
                            ]
                        }
                    },
                }
            ],
            "cannot contain",
        ),
    ],
)
def test_version_semantic_validation(tasks: list[dict[str, object]], words: str) -> None:
    backend, _ = make_backend()
    with pytest.raises(DomainError) as caught:
        put_version(backend, tasks)
    assert caught.value.status == 400
    assert words in caught.value.message
    with pytest.raises(DomainError):
        backend.retrieve_workflow(PROJECT, "wf")


def test_version_list_filters_and_pages() -> None:
    backend, _ = make_backend()
    for xid, version in [("a", "1"), ("a", "2"), ("b", "1")]:
        put_version(backend, [function_task("t")], xid=xid, version=version)
    only_a = backend.list_versions(PROJECT, [{"externalId": "a"}], 100, None)
    assert [v["version"] for v in only_a["items"]] == ["1", "2"]
    exact = backend.list_versions(PROJECT, [{"externalId": "a", "version": "2"}], 100, None)
    assert len(exact["items"]) == 1
    first = backend.list_versions(PROJECT, [], 2, None)
    rest = backend.list_versions(PROJECT, [], 2, first["nextCursor"])
    keys = [(v["workflowExternalId"], v["version"]) for v in first["items"] + rest["items"]]
    assert keys == [("a", "1"), ("a", "2"), ("b", "1")]


def test_delete_versions() -> None:
    backend, _ = make_backend()
    put_version(backend, [function_task("t")])
    item = {"workflowExternalId": "wf", "version": "1"}
    ghost = {"workflowExternalId": "wf", "version": "9"}
    with pytest.raises(DomainError) as caught:
        backend.delete_versions(PROJECT, [item, ghost], ignore_unknown_ids=False)
    assert caught.value.status == 404 and caught.value.missing == [ghost]
    backend.retrieve_version(PROJECT, "wf", "1")
    backend.delete_versions(PROJECT, [item, ghost], ignore_unknown_ids=True)
    with pytest.raises(DomainError):
        backend.retrieve_version(PROJECT, "wf", "1")


def test_run_of_unknown_version_is_404_with_missing() -> None:
    backend, _ = make_backend()
    with pytest.raises(DomainError) as caught:
        run(backend, "ghost", "1")
    assert caught.value.status == 404
    assert caught.value.missing == [{"workflowExternalId": "ghost", "version": "1"}]


def test_sessions_have_types_and_fresh_nonces() -> None:
    backend, _ = make_backend()
    items: list[dict[str, Any]] = [
        {"tokenExchange": True},
        {"clientId": "c", "clientSecret": "s"},
        {"oneshotTokenExchange": True},
    ]
    answer = backend.create_sessions(PROJECT, items)["items"]
    assert [s["type"] for s in answer] == [
        "TOKEN_EXCHANGE",
        "CLIENT_CREDENTIALS",
        "ONESHOT_TOKEN_EXCHANGE",
    ]
    assert len({s["nonce"] for s in answer}) == 3 and {s["status"] for s in answer} == {"READY"}
    assert "clientSecret" not in answer[1]


def test_reset_forgets_everything() -> None:
    backend, _ = make_backend()
    put_version(backend, [function_task("a")])
    run(backend)
    backend.reset()
    assert backend.list_workflows(PROJECT, 100, None) == {"items": []}
    assert backend.list_executions(PROJECT, {}) == {"items": []}


def test_clocks() -> None:
    clock = VirtualClock(start_ms=5)
    assert isinstance(clock, Clock) and isinstance(RealClock(), Clock)
    assert clock.advance(10) == 15
    clock.set(3)
    assert clock.now_ms() == 3
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert RealClock().now_ms() > 1_600_000_000_000


def test_fault_registry() -> None:
    assert list(FAULTS) == sorted(FAULTS)
    assert {f.layer for f in FAULTS.values()} == {"domain", "http"}
    assert all(f.description and "\n" not in f.description for f in FAULTS.values())
    faults = FaultSet(["dependson_ignored"])
    assert "dependson_ignored" in faults and "end_before_start" not in faults
    faults.enable("end_before_start")
    faults.disable("dependson_ignored")
    assert faults.names == ["end_before_start"]
    faults.clear()
    assert len(faults) == 0


def test_unknown_fault_names_the_fault_and_the_valid_ones() -> None:
    with pytest.raises(UnknownFaultError) as caught:
        FaultSet(["nope"])
    assert isinstance(caught.value, WfcontractsError)
    message = str(caught.value)
    assert "'nope'" in message and "dependson_ignored" in message and "\n" not in message
    with pytest.raises(UnknownFaultError):
        FaultSet().enable("nope")


@pytest.mark.parametrize("cursor", ["eyJwIjogNSwgInMiOiAiIn0", "!!", "e30"])
def test_foreign_cursors_are_400_on_workflow_and_version_lists(cursor: str) -> None:
    backend, _ = make_backend()
    with pytest.raises(DomainError) as caught:
        backend.list_workflows(PROJECT, 10, cursor)
    assert caught.value.status == 400
    with pytest.raises(DomainError) as caught:
        backend.list_versions(PROJECT, [], 10, cursor)
    assert caught.value.status == 400
