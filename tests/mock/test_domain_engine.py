"""Engine rules, driven through the backend with a virtual clock (no HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from wfcontracts.mock.models import DomainError

from .domain_helpers import (
    PROJECT,
    async_task,
    cdf_task,
    detail,
    function_task,
    make_backend,
    put_version,
    run,
    status_of,
    tasks_of,
    update,
)


def test_run_answers_running_and_tasks_start_on_the_next_operation() -> None:
    backend, _ = make_backend()
    put_version(backend, [function_task("a")])
    created = run(backend)
    assert created["status"] == "RUNNING"
    assert created["createdTime"] == created["startTime"]
    assert len(created["id"]) == 36 and created["id"][14] == "4"
    found = detail(backend, created["id"])
    assert found["status"] == "COMPLETED"
    assert found["endTime"] >= found["startTime"]
    assert "reasonForIncompletion" not in found


def test_tasks_start_only_after_their_dependencies_complete() -> None:
    backend, clock = make_backend(latency=1000)
    put_version(backend, [function_task("a"), function_task("b", "a"), function_task("c", "a")])
    ex = run(backend)
    assert set(tasks_of(backend, ex["id"])) == {"a"}
    clock.advance(1000)
    tasks = tasks_of(backend, ex["id"])
    assert tasks["a"]["status"] == "COMPLETED"
    assert {tasks["b"]["status"], tasks["c"]["status"]} == {"IN_PROGRESS"}
    assert tasks["b"]["startTime"] == tasks["a"]["endTime"]
    clock.advance(1000)
    assert status_of(backend, ex["id"]) == "COMPLETED"


def test_outputs_per_task_type() -> None:
    backend, _ = make_backend()
    tasks = [
        function_task("fn", data={"k": 1}),
        cdf_task("cdf"),
        {
            "externalId": "tr",
            "type": "transformation",
            "parameters": {"transformation": {"externalId": "t"}},
        },
        {
            "externalId": "sim",
            "type": "simulation",
            "parameters": {"simulation": {"routineExternalId": "r"}},
        },
    ]
    put_version(backend, tasks)
    ex = run(backend)
    found = tasks_of(backend, ex["id"])
    assert set(found["fn"]["output"]) == {"callId", "functionId", "response"}
    assert found["fn"]["output"]["response"] == {"k": 1}
    assert found["fn"]["input"] == {
        "asyncComplete": False,
        "function": {"externalId": "fn-fn", "data": {"k": 1}},
    }
    assert found["cdf"]["output"]["statusCode"] == 200
    assert found["cdf"]["output"]["response"]["items"][0]["externalId"] == "wf"
    assert set(found["tr"]["output"]) == {"jobId"}
    assert found["sim"]["output"]["statusMessage"] == "Success"
    assert {t["status"] for t in found.values()} == {"COMPLETED"}


def test_failed_attempts_are_retried_then_abort_fails_the_workflow() -> None:
    calls: list[str] = []

    def requester(project: str, method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
        calls.append(path)
        return 404, {"error": {"code": 404, "message": "nope"}}

    backend, _ = make_backend(cdf_request=requester)
    put_version(backend, [cdf_task("bad", retries=2), function_task("after", "bad")])
    ex = run(backend)
    found = detail(backend, ex["id"])
    assert len(calls) == 3  # 1 + retries
    assert found["status"] == "FAILED"
    assert "bad" in found["reasonForIncompletion"]
    tasks = {t["externalId"]: t for t in found["executedTasks"]}
    assert tasks["bad"]["status"] == "FAILED"
    assert tasks["bad"]["output"]["statusCode"] == 404
    assert "after" not in tasks


def test_default_retries_give_four_attempts() -> None:
    calls: list[str] = []

    def requester(project: str, method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
        calls.append(path)
        return 500, {}

    backend, _ = make_backend(cdf_request=requester)
    put_version(backend, [cdf_task("bad")])
    assert status_of(backend, run(backend)["id"]) == "FAILED"
    assert len(calls) == 4


def test_skip_task_completes_with_errors_and_downstream_continues() -> None:
    backend, _ = make_backend()
    put_version(
        backend,
        [cdf_task("opt", ok=False, retries=0, onFailure="skipTask"), function_task("next", "opt")],
    )
    ex = run(backend)
    tasks = tasks_of(backend, ex["id"])
    assert tasks["opt"]["status"] == "COMPLETED_WITH_ERRORS"
    assert tasks["next"]["status"] == "COMPLETED"
    assert status_of(backend, ex["id"]) == "COMPLETED"


def test_timeout_under_abort_is_not_retried() -> None:
    backend, clock = make_backend()
    put_version(backend, [async_task("slow", timeout=60, retries=3)])
    ex = run(backend)
    backend.advance()
    clock.advance(60_000)
    found = detail(backend, ex["id"])
    task = found["executedTasks"][0]
    assert task["status"] == "TIMED_OUT"
    assert found["status"] == "FAILED"
    assert "slow" in found["reasonForIncompletion"]


def test_timeout_under_skip_task_is_retried_until_exhausted() -> None:
    backend, clock = make_backend()
    put_version(backend, [async_task("slow", timeout=60, retries=1, onFailure="skipTask")])
    ex = run(backend)
    backend.advance()
    first_call = tasks_of(backend, ex["id"])["slow"]["output"]["callId"]
    clock.advance(60_000)
    retried = tasks_of(backend, ex["id"])["slow"]
    assert retried["status"] == "IN_PROGRESS"
    assert retried["output"]["callId"] != first_call
    clock.advance(60_000)
    assert tasks_of(backend, ex["id"])["slow"]["status"] == "COMPLETED_WITH_ERRORS"
    assert status_of(backend, ex["id"]) == "COMPLETED"


def test_synchronous_attempt_longer_than_timeout_times_out() -> None:
    backend, clock = make_backend(latency=120_000)
    put_version(backend, [function_task("a", timeout=60)])
    ex = run(backend)
    clock.advance(120_000)
    assert tasks_of(backend, ex["id"])["a"]["status"] == "TIMED_OUT"


def test_async_task_waits_for_update_then_merges_output() -> None:
    backend, clock = make_backend()
    put_version(backend, [async_task("wait"), function_task("after", "wait")])
    ex = run(backend)
    clock.advance(3_000_000)
    waiting = tasks_of(backend, ex["id"])["wait"]
    assert waiting["status"] == "IN_PROGRESS"
    assert waiting["input"]["asyncComplete"] is True
    answer = update(backend, ex["id"], "wait", "COMPLETED", output={"result": 7})
    assert answer["status"] == "COMPLETED"
    assert answer["output"]["result"] == 7
    assert answer["output"]["callId"] == waiting["output"]["callId"]
    assert tasks_of(backend, ex["id"])["after"]["status"] == "COMPLETED"
    assert status_of(backend, ex["id"]) == "COMPLETED"


def test_failed_update_is_retried_on_the_same_task() -> None:
    backend, _ = make_backend()
    put_version(backend, [async_task("wait", retries=1)])
    ex = run(backend)
    backend.advance()
    before = tasks_of(backend, ex["id"])["wait"]
    assert update(backend, ex["id"], "wait", "FAILED")["status"] == "FAILED"
    again = tasks_of(backend, ex["id"])["wait"]
    assert again["id"] == before["id"]
    assert again["status"] == "IN_PROGRESS"
    update(backend, ex["id"], "wait", "FAILED")
    assert tasks_of(backend, ex["id"])["wait"]["status"] == "FAILED"
    assert status_of(backend, ex["id"]) == "FAILED"


def test_terminal_error_update_is_not_retried() -> None:
    backend, _ = make_backend()
    put_version(backend, [async_task("wait", retries=3)])
    ex = run(backend)
    backend.advance()
    update(backend, ex["id"], "wait", "FAILED_WITH_TERMINAL_ERROR")
    assert tasks_of(backend, ex["id"])["wait"]["status"] == "FAILED_WITH_TERMINAL_ERROR"
    assert status_of(backend, ex["id"]) == "FAILED"


@pytest.mark.parametrize("kind", ["sync", "completed", "unknown"])
def test_update_refuses_tasks_that_cannot_be_updated(kind: str) -> None:
    backend, _ = make_backend()
    put_version(backend, [function_task("sync"), async_task("wait")])
    ex = run(backend)
    backend.advance()
    if kind == "completed":
        update(backend, ex["id"], "wait", "COMPLETED")
    task_id = {"sync": tasks_of(backend, ex["id"])["sync"]["id"], "unknown": "0" * 36}.get(
        kind, tasks_of(backend, ex["id"])["wait"]["id"]
    )
    with pytest.raises(DomainError) as caught:
        backend.update_task(PROJECT, task_id, {"status": "COMPLETED"})
    assert caught.value.status == (404 if kind == "unknown" else 400)


def test_references_are_resolved_whole_and_embedded() -> None:
    backend, _ = make_backend()
    first = function_task("first", data={"items": [1, 2], "name": "x"})
    second = function_task(
        "second",
        "first",
        data={
            "whole": "${workflow.input.deep.value}",
            "list": "${first.output.response.items}",
            "text": "id=${workflow.input.deep.value}/${first.input.function.data.name}",
            "missing": "${workflow.input.nope}",
        },
    )
    put_version(backend, [first, second])
    ex = run(backend, input={"deep": {"value": 42}})
    data = tasks_of(backend, ex["id"])["second"]["input"]["function"]["data"]
    assert data == {"whole": 42, "list": [1, 2], "text": "id=42/x", "missing": None}


def test_dynamic_task_expands_children_with_parent_and_dependencies() -> None:
    backend, clock = make_backend(latency=10)
    children = [
        function_task("child-1"),
        function_task("child-2", "child-1"),
    ]
    dispatcher = function_task("dispatch", data={"tasks": children})
    dynamic = {
        "externalId": "fan",
        "type": "dynamic",
        "parameters": {"dynamic": {"tasks": "${dispatch.output.response.tasks}"}},
        "dependsOn": [{"externalId": "dispatch"}],
    }
    put_version(backend, [dispatcher, dynamic, function_task("end", "fan")])
    ex = run(backend)
    clock.advance(10)
    tasks = tasks_of(backend, ex["id"])
    assert tasks["fan"]["status"] == "IN_PROGRESS"
    assert isinstance(tasks["fan"]["input"]["dynamic"]["tasks"], list)
    assert tasks["child-1"]["parentTaskExternalId"] == "fan"
    assert "child-2" not in tasks
    clock.advance(30)
    found = detail(backend, ex["id"])
    order = [t["externalId"] for t in found["executedTasks"]]
    assert order == ["dispatch", "fan", "child-1", "child-2", "end"]
    assert found["status"] == "COMPLETED"
    assert {t["externalId"]: t["output"] for t in found["executedTasks"]}["fan"] == {}


def test_dynamic_child_failure_fails_container_and_execution() -> None:
    backend, _ = make_backend()
    dynamic = {
        "externalId": "fan",
        "type": "dynamic",
        "parameters": {"dynamic": {"tasks": "${workflow.input.tasks}"}},
    }
    put_version(backend, [dynamic])
    ex = run(backend, input={"tasks": [cdf_task("bad", ok=False, retries=0)]})
    found = detail(backend, ex["id"])
    tasks = {t["externalId"]: t for t in found["executedTasks"]}
    assert tasks["bad"]["status"] == "FAILED"
    assert tasks["fan"]["status"] == "FAILED"
    assert found["status"] == "FAILED"
    assert "bad" in found["reasonForIncompletion"]


def test_dynamic_may_not_expand_into_containers() -> None:
    backend, _ = make_backend()
    nested = {"externalId": "inner", "type": "dynamic", "parameters": {"dynamic": {"tasks": "x"}}}
    dynamic = {
        "externalId": "fan",
        "type": "dynamic",
        "parameters": {"dynamic": {"tasks": "${workflow.input.tasks}"}},
    }
    put_version(backend, [dynamic])
    ex = run(backend, input={"tasks": [nested]})
    found = detail(backend, ex["id"])
    assert found["status"] == "FAILED"
    assert "inner" not in {t["externalId"] for t in found["executedTasks"]}


def test_subworkflow_inline_and_by_reference() -> None:
    backend, _ = make_backend()
    put_version(backend, [function_task("shared")], xid="lib", version="v")
    inline = {
        "externalId": "inline",
        "type": "subworkflow",
        "parameters": {
            "subworkflow": {"tasks": [function_task("in-1"), function_task("in-2", "in-1")]}
        },
    }
    referenced = {
        "externalId": "ref",
        "type": "subworkflow",
        "parameters": {"subworkflow": {"workflowExternalId": "lib", "version": "v"}},
        "dependsOn": [{"externalId": "inline"}],
    }
    put_version(backend, [inline, referenced])
    ex = run(backend)
    tasks = tasks_of(backend, ex["id"])
    assert tasks["in-2"]["parentTaskExternalId"] == "inline"
    assert tasks["shared"]["parentTaskExternalId"] == "ref"
    assert status_of(backend, ex["id"]) == "COMPLETED"


def test_subworkflow_reference_to_missing_version_fails() -> None:
    backend, _ = make_backend()
    referenced = {
        "externalId": "ref",
        "type": "subworkflow",
        "parameters": {"subworkflow": {"workflowExternalId": "lib", "version": "nope"}},
    }
    put_version(backend, [referenced])
    found = detail(backend, run(backend)["id"])
    assert found["status"] == "FAILED"
    assert "lib/nope" in found["reasonForIncompletion"]


def test_execution_times_out_after_24_hours() -> None:
    backend, clock = make_backend()
    put_version(backend, [async_task("wait", timeout=86_400, onFailure="skipTask")])
    ex = run(backend)
    clock.advance(24 * 3600 * 1000)
    found = detail(backend, ex["id"])
    assert found["status"] == "TIMED_OUT"
    assert found["executedTasks"][0]["status"] == "CANCELED"
    assert found["endTime"] - found["startTime"] == 24 * 3600 * 1000


def test_cdf_task_without_requester_answers_from_state() -> None:
    backend, _ = make_backend()
    put_version(
        backend, [cdf_task("ok"), cdf_task("missing", ok=False, retries=0, onFailure="skipTask")]
    )
    tasks = tasks_of(backend, run(backend)["id"])
    assert tasks["ok"]["output"]["statusCode"] == 200
    assert tasks["missing"]["output"]["statusCode"] == 404


def test_cdf_requester_may_call_back_into_the_backend() -> None:
    holder: dict[str, Any] = {}

    def requester(project: str, method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
        return 200, holder["backend"].retrieve_workflow(project, "wf")

    backend, _ = make_backend(cdf_request=requester)
    holder["backend"] = backend
    put_version(backend, [cdf_task("a")])
    tasks = tasks_of(backend, run(backend)["id"])
    assert tasks["a"]["output"] == {"response": tasks["a"]["output"]["response"], "statusCode": 200}
    assert tasks["a"]["output"]["response"]["externalId"] == "wf"


def test_a_crashing_requester_fails_the_attempt() -> None:
    def requester(project: str, method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
        raise RuntimeError("boom")

    backend, _ = make_backend(cdf_request=requester)
    put_version(backend, [cdf_task("a", retries=0)])
    assert status_of(backend, run(backend)["id"]) == "FAILED"


def test_the_python_sdk_can_load_the_bodies() -> None:
    workflows = pytest.importorskip("cognite.client.data_classes.workflows")
    backend, _ = make_backend()
    dynamic = {
        "externalId": "fan",
        "type": "dynamic",
        "parameters": {"dynamic": {"tasks": "${workflow.input.tasks}"}},
    }
    put_version(backend, [function_task("a"), async_task("w", "a"), cdf_task("c"), dynamic])
    ex = run(backend, input={"tasks": [function_task("k")]}, metadata={"m": "n"})
    loaded = workflows.WorkflowExecutionDetailed._load(detail(backend, ex["id"]))
    assert loaded.status == "running"
    assert {t.external_id: t.status for t in loaded.executed_tasks}["w"] == "in_progress"
    assert workflows.WorkflowExecution._load(ex).metadata == {"m": "n"}
    version = workflows.WorkflowVersion._load(backend.retrieve_version(PROJECT, "wf", "1"))
    assert version.workflow_definition.tasks[0].retries == 3
