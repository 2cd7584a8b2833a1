"""The official cognite-sdk, unmodified, against the mock served over loopback HTTP.

Acceptance of the mock backend: every Workflows call a user makes through the SDK works,
including the session nonce the SDK creates itself and pagination across list pages.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

import pytest
from cognite.client import ClientConfig, CogniteClient
from cognite.client.credentials import Token
from cognite.client.data_classes import (
    FunctionTaskOutput,
    FunctionTaskParameters,
    WorkflowDefinitionUpsert,
    WorkflowExecutionDetailed,
    WorkflowTask,
    WorkflowUpsert,
    WorkflowVersionId,
    WorkflowVersionUpsert,
)

from wfcontracts.mock.server import BackgroundServer, serve_in_background
from wfcontracts.mock.service import MockService

TOKEN = "sdk-test-token"
PROJECT = "sdk-project"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
POLL_DEADLINE_S = 5.0
_names = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    service = MockService(tokens=[TOKEN], task_latency_ms=0)
    with serve_in_background(service) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: BackgroundServer) -> CogniteClient:
    config = ClientConfig(
        client_name="wfcontracts-mock-tests",
        project=PROJECT,
        credentials=Token(TOKEN),
        base_url=server.base_url,
    )
    return CogniteClient(config)


def _unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def _function_task(external_id: str, *, is_async: bool = False, retries: int = 3) -> WorkflowTask:
    return WorkflowTask(
        external_id=external_id,
        parameters=FunctionTaskParameters(
            external_id="probe-function",
            data={"echo": "${workflow.input.value}"},
            is_async_complete=is_async,
        ),
        retries=retries,
    )


def _version(client: CogniteClient, tasks: list[WorkflowTask], prefix: str = "wf") -> str:
    workflow_id = _unique(prefix)
    client.workflows.versions.upsert(
        WorkflowVersionUpsert(
            workflow_external_id=workflow_id,
            version="1",
            workflow_definition=WorkflowDefinitionUpsert(tasks=tasks, description="sdk test"),
        )
    )
    return workflow_id


def _poll(
    client: CogniteClient, execution_id: str, done: Callable[[WorkflowExecutionDetailed], bool]
) -> WorkflowExecutionDetailed:
    """Retrieve until ``done`` holds; the real clock moves the engine on every request."""
    deadline = time.monotonic() + POLL_DEADLINE_S
    while True:
        detailed = client.workflows.executions.retrieve_detailed(execution_id)
        assert detailed is not None
        if done(detailed) or time.monotonic() > deadline:
            return detailed
        time.sleep(0.02)


def _task_in_progress(detailed: WorkflowExecutionDetailed) -> bool:
    return any(t.status == "in_progress" for t in detailed.executed_tasks)


def _status(detailed: WorkflowExecutionDetailed) -> str:
    return str(detailed.status)


# -- workflows and versions --------------------------------------------------------------------


def test_workflow_upsert_retrieve_list_delete(client: CogniteClient) -> None:
    workflow_id = _unique("crud")
    created = client.workflows.upsert(WorkflowUpsert(external_id=workflow_id, description="one"))
    assert created.external_id == workflow_id
    assert created.description == "one"

    updated = client.workflows.upsert(WorkflowUpsert(external_id=workflow_id, description="two"))
    assert updated.created_time == created.created_time

    retrieved = client.workflows.retrieve(workflow_id)
    assert retrieved is not None and retrieved.description == "two"
    assert workflow_id in {w.external_id for w in client.workflows.list(limit=None)}

    client.workflows.delete(workflow_id)
    assert client.workflows.retrieve(workflow_id) is None
    client.workflows.delete(workflow_id, ignore_unknown_ids=True)


def test_workflow_list_pages_through_every_workflow(client: CogniteClient) -> None:
    prefix = _unique("many")
    for index in range(30):
        client.workflows.upsert(WorkflowUpsert(external_id=f"{prefix}-{index:02d}"))
    listed = [w.external_id for w in client.workflows.list(limit=None)]
    mine = [x for x in listed if x.startswith(prefix + "-")]
    assert len(listed) == len(set(listed))
    assert sorted(mine) == [f"{prefix}-{index:02d}" for index in range(30)]
    assert len(client.workflows.list(limit=7)) == 7


def test_version_upsert_retrieve_list_delete(client: CogniteClient) -> None:
    workflow_id = _version(client, [_function_task("a")], prefix="versions")
    version_id = WorkflowVersionId(workflow_id, "1")

    retrieved = client.workflows.versions.retrieve(version_id)
    assert retrieved is not None
    assert retrieved.workflow_definition.tasks[0].external_id == "a"
    first_hash = retrieved.workflow_definition.hash_

    client.workflows.versions.upsert(
        WorkflowVersionUpsert(
            workflow_external_id=workflow_id,
            version="2",
            workflow_definition=WorkflowDefinitionUpsert(tasks=[_function_task("b")]),
        )
    )
    assert client.workflows.retrieve(workflow_id) is not None  # upsert created the parent
    listed = client.workflows.versions.list(workflow_id, limit=None)
    assert sorted(v.version for v in listed) == ["1", "2"]
    only_two = client.workflows.versions.list(WorkflowVersionId(workflow_id, "2"))
    assert [v.version for v in only_two] == ["2"]
    assert only_two[0].workflow_definition.hash_ != first_hash

    client.workflows.versions.delete(version_id)
    assert client.workflows.versions.retrieve(version_id) is None
    assert [v.version for v in client.workflows.versions.list(workflow_id)] == ["2"]


# -- executions --------------------------------------------------------------------------------


def test_run_creates_session_and_completes(client: CogniteClient) -> None:
    workflow_id = _version(client, [_function_task("a"), _function_task("b")])
    run = client.workflows.executions.run(
        workflow_id, "1", input={"value": 7}, metadata={"origin": "sdk"}
    )
    assert run.status == "running"
    assert run.metadata == {"origin": "sdk"}

    done = _poll(client, run.id, lambda d: d.status != "running")
    assert done.status == "completed"
    assert done.input == {"value": 7}
    assert {t.external_id: t.status for t in done.executed_tasks} == {
        "a": "completed",
        "b": "completed",
    }
    first = done.executed_tasks[0]
    assert isinstance(first.input, FunctionTaskParameters)
    assert first.input.data == {"echo": 7}  # ${workflow.input.value} resolved
    assert done.end_time is not None and done.start_time is not None
    assert done.end_time >= done.start_time


def test_retrieve_detailed_of_unknown_id_is_none(client: CogniteClient) -> None:
    assert client.workflows.executions.retrieve_detailed(UNKNOWN_ID) is None


def test_cancel_with_reason_and_default_reason(client: CogniteClient) -> None:
    workflow_id = _version(client, [_function_task("wait", is_async=True)])
    with_reason = client.workflows.executions.run(workflow_id, "1")
    without_reason = client.workflows.executions.run(workflow_id, "1")
    _poll(client, with_reason.id, _task_in_progress)

    cancelled = client.workflows.executions.cancel(with_reason.id, reason="operator said so")
    assert cancelled.status == "terminated"
    assert cancelled.reason_for_incompletion == "operator said so"
    defaulted = client.workflows.executions.cancel(without_reason.id, reason=None)
    assert defaulted.reason_for_incompletion == "cancelled"

    detailed = client.workflows.executions.retrieve_detailed(with_reason.id)
    assert detailed is not None
    assert [t.status for t in detailed.executed_tasks] == ["canceled"]


def test_retry_after_cancel_resumes_same_execution(client: CogniteClient) -> None:
    workflow_id = _version(client, [_function_task("first"), _function_task("wait", is_async=True)])
    run = client.workflows.executions.run(workflow_id, "1", input={"value": 1})
    running = _poll(client, run.id, lambda d: len(d.executed_tasks) == 2 and _task_in_progress(d))
    first_task = next(t for t in running.executed_tasks if t.external_id == "first")
    client.workflows.executions.cancel(run.id, reason=None)

    retried = client.workflows.executions.retry(run.id)
    assert retried.id == run.id
    assert retried.status == "running"

    resumed = _poll(client, run.id, _task_in_progress)
    waiting = next(t for t in resumed.executed_tasks if t.external_id == "wait")
    again = next(t for t in resumed.executed_tasks if t.external_id == "first")
    assert again.id == first_task.id and again.end_time == first_task.end_time  # not re-run
    client.workflows.tasks.update(waiting.id, "completed", output={"ok": True})
    assert _status(_poll(client, run.id, lambda d: d.status != "running")) == "completed"


def test_task_update_completed_and_failed(client: CogniteClient) -> None:
    workflow_id = _version(client, [_function_task("wait", is_async=True, retries=0)])
    completes = client.workflows.executions.run(workflow_id, "1")
    fails = client.workflows.executions.run(workflow_id, "1")

    cases: list[tuple[str, Literal["completed", "failed"]]] = [
        (completes.id, "completed"),
        (fails.id, "failed"),
    ]
    for execution_id, status in cases:
        detailed = _poll(client, execution_id, _task_in_progress)
        task_id = detailed.executed_tasks[0].id
        output = {"response": {"answer": status}}
        updated = client.workflows.tasks.update(task_id, status, output=output)
        assert updated.id == task_id
        assert updated.status == status
        assert isinstance(updated.output, FunctionTaskOutput)
        assert updated.output.response == {"answer": status}

    assert _status(_poll(client, completes.id, lambda d: d.status != "running")) == "completed"
    failed = _poll(client, fails.id, lambda d: d.status != "running")
    assert failed.status == "failed"
    assert failed.reason_for_incompletion


# -- listing -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def listed_workflows(client: CogniteClient) -> dict[str, Any]:
    """Two workflows: one with executions completed, one with executions left running."""
    done_id = _version(client, [_function_task("a")], prefix="list-done")
    wait_id = _version(client, [_function_task("wait", is_async=True)], prefix="list-wait")
    done = [client.workflows.executions.run(done_id, "1") for _ in range(3)]
    waiting = [client.workflows.executions.run(wait_id, "1") for _ in range(4)]
    for execution in done:
        _poll(client, execution.id, lambda d: d.status != "running")
    return {"done_id": done_id, "wait_id": wait_id, "done": done, "waiting": waiting}


def test_list_by_workflow_version(client: CogniteClient, listed_workflows: dict[str, Any]) -> None:
    wait_id = listed_workflows["wait_id"]
    listed = client.workflows.executions.list(workflow_version_ids=(wait_id, "1"), limit=None)
    assert {e.id for e in listed} == {e.id for e in listed_workflows["waiting"]}
    both = client.workflows.executions.list(
        workflow_version_ids=[wait_id, listed_workflows["done_id"]], limit=None
    )
    assert len(both) == 7
    assert not client.workflows.executions.list(workflow_version_ids=(wait_id, "2"))


def test_list_by_status(client: CogniteClient, listed_workflows: dict[str, Any]) -> None:
    ids = [listed_workflows["wait_id"], listed_workflows["done_id"]]
    completed = client.workflows.executions.list(
        workflow_version_ids=ids, statuses="completed", limit=None
    )
    assert {e.id for e in completed} == {e.id for e in listed_workflows["done"]}
    running = client.workflows.executions.list(
        workflow_version_ids=ids, statuses=["running", "failed"], limit=None
    )
    assert {e.id for e in running} == {e.id for e in listed_workflows["waiting"]}


def test_list_by_created_time(client: CogniteClient, listed_workflows: dict[str, Any]) -> None:
    waiting = listed_workflows["waiting"]
    times = sorted(e.created_time for e in waiting)
    wait_id = listed_workflows["wait_id"]
    window = client.workflows.executions.list(
        workflow_version_ids=(wait_id, "1"),
        created_time_start=times[1],
        created_time_end=times[2],
        limit=None,
    )
    expected = {e.id for e in waiting if times[1] <= e.created_time <= times[2]}
    assert {e.id for e in window} == expected
    later = client.workflows.executions.list(created_time_start=times[-1] + 10**9)
    assert not later


def test_list_pagination_over_many_executions(
    server: BackgroundServer, client: CogniteClient
) -> None:
    # Filled in-process for speed; listing goes through the SDK, which pages by 1 000 and
    # shrinks `limit` on its last page (the cursor must survive that).
    backend = server.service.backend
    workflow_id = _version(client, [], prefix="paged")
    created = {
        backend.run_execution(PROJECT, workflow_id, "1", {"authentication": {"nonce": "n"}})["id"]
        for _ in range(1_150)
    }
    version_id = (workflow_id, "1")

    everything = client.workflows.executions.list(version_id, limit=None)
    ids = [e.id for e in everything]
    assert len(ids) == len(set(ids)) == 1_150
    assert set(ids) == created

    partial = [e.id for e in client.workflows.executions.list(version_id, limit=1_075)]
    assert partial == ids[:1_075]
    assert [e.id for e in client.workflows.executions.list(version_id, limit=120)] == ids[:120]
