"""Cancel and retry semantics (no HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from wfcontracts.mock.models import DomainError

from .domain_helpers import (
    NONCE,
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


def _running_with_waiting_task() -> tuple[Any, Any, dict[str, Any]]:
    backend, clock = make_backend()
    put_version(backend, [async_task("wait"), function_task("after", "wait")])
    ex = run(backend, metadata={"k": "v"})
    backend.advance()
    return backend, clock, ex


def test_cancel_terminates_with_reason_and_cancels_active_tasks() -> None:
    backend, clock, ex = _running_with_waiting_task()
    clock.advance(5)
    answer = backend.cancel_execution(PROJECT, ex["id"], {"reason": "stop it"})
    assert answer["status"] == "TERMINATED"
    assert answer["reasonForIncompletion"] == "stop it"
    assert answer["endTime"] == clock.now_ms()
    assert answer["metadata"] == {"k": "v"}
    tasks = tasks_of(backend, ex["id"])
    assert tasks["wait"]["status"] == "CANCELED"
    assert "after" not in tasks


def test_cancel_without_reason_says_cancelled() -> None:
    backend, _, ex = _running_with_waiting_task()
    answer = backend.cancel_execution(PROJECT, ex["id"], {})
    assert answer["reasonForIncompletion"] == "cancelled"


def test_cancel_of_a_finished_execution_is_refused_and_changes_nothing() -> None:
    backend, _ = make_backend()
    put_version(backend, [function_task("a")])
    ex = run(backend)
    before = detail(backend, ex["id"])
    with pytest.raises(DomainError) as caught:
        backend.cancel_execution(PROJECT, ex["id"], {"reason": "late"})
    assert caught.value.status == 409
    assert detail(backend, ex["id"]) == before


@pytest.mark.parametrize("operation", ["cancel_execution", "retry_execution"])
def test_cancel_and_retry_of_unknown_ids_are_404(operation: str) -> None:
    backend, _ = make_backend()
    with pytest.raises(DomainError) as caught:
        getattr(backend, operation)(PROJECT, "00000000-0000-4000-8000-000000000000", NONCE)
    assert caught.value.status == 404
    assert caught.value.missing == [{"id": "00000000-0000-4000-8000-000000000000"}]


def test_retrieve_of_unknown_id_is_400() -> None:
    backend, _ = make_backend()
    with pytest.raises(DomainError) as caught:
        backend.retrieve_execution(PROJECT, "integration_test-non_existing_workflow_execution")
    assert caught.value.status == 400


def test_retry_after_cancel_resumes_in_place() -> None:
    backend, clock, ex = _running_with_waiting_task()
    waiting_id = tasks_of(backend, ex["id"])["wait"]["id"]
    backend.cancel_execution(PROJECT, ex["id"], {})
    clock.advance(10)
    answer = backend.retry_execution(PROJECT, ex["id"], NONCE)
    assert answer["id"] == ex["id"]
    assert answer["status"] == "RUNNING"
    assert "endTime" not in answer and "reasonForIncompletion" not in answer
    tasks = tasks_of(backend, ex["id"])
    assert tasks["wait"]["id"] == waiting_id
    assert tasks["wait"]["status"] == "IN_PROGRESS"
    update(backend, ex["id"], "wait", "COMPLETED")
    assert status_of(backend, ex["id"]) == "COMPLETED"


@pytest.mark.parametrize("state", ["running", "completed"])
def test_retry_of_running_or_completed_is_refused(state: str) -> None:
    backend, _, ex = _running_with_waiting_task()
    if state == "completed":
        update(backend, ex["id"], "wait", "COMPLETED")
    before = detail(backend, ex["id"])
    with pytest.raises(DomainError) as caught:
        backend.retry_execution(PROJECT, ex["id"], NONCE)
    assert caught.value.status == 409
    assert detail(backend, ex["id"]) == before


def _failed_workflow(*faults: str) -> tuple[Any, dict[str, Any], list[str]]:
    """ok -> (bad: abort, 0 retries) and skip (skipTask, fails); bad fails the execution."""
    calls: list[str] = []
    fail_paths = {"/workflows/wfcontracts-missing"}

    def requester(project: str, method: str, path: str, query: Any, body: Any) -> tuple[int, Any]:
        calls.append(path)
        return (404, {}) if path in fail_paths else (200, {})

    backend, _ = make_backend(*faults, cdf_request=requester)
    tasks = [
        function_task("ok"),
        cdf_task("skip", "ok", ok=False, retries=0, onFailure="skipTask"),
        cdf_task("bad", "skip", ok=False, retries=0),
        function_task("end", "bad"),
    ]
    put_version(backend, tasks)
    ex = run(backend)
    assert status_of(backend, ex["id"]) == "FAILED"
    return backend, ex, calls


def test_retry_reruns_only_failed_tasks_with_one_extra_attempt() -> None:
    backend, ex, calls = _failed_workflow()
    before = tasks_of(backend, ex["id"])
    calls.clear()
    backend.retry_execution(PROJECT, ex["id"], NONCE)
    after = tasks_of(backend, ex["id"])
    assert calls == ["/workflows/wfcontracts-missing"]  # exactly one more attempt for "bad"
    assert after["ok"] == before["ok"]  # COMPLETED: untouched
    assert after["skip"] == before["skip"]  # skipTask COMPLETED_WITH_ERRORS: untouched
    assert after["bad"]["id"] == before["bad"]["id"]
    assert after["bad"]["status"] == "FAILED"
    assert status_of(backend, ex["id"]) == "FAILED"


def test_retry_then_success_completes_the_workflow() -> None:
    backend, _ = make_backend()
    put_version(backend, [async_task("wait", retries=0), function_task("end", "wait")])
    ex = run(backend)
    backend.advance()
    update(backend, ex["id"], "wait", "FAILED")
    assert status_of(backend, ex["id"]) == "FAILED"
    backend.retry_execution(PROJECT, ex["id"], NONCE)
    assert tasks_of(backend, ex["id"])["wait"]["status"] == "IN_PROGRESS"
    update(backend, ex["id"], "wait", "COMPLETED")
    assert status_of(backend, ex["id"]) == "COMPLETED"
    assert list(tasks_of(backend, ex["id"])) == ["wait", "end"]


def test_retry_of_a_timed_out_task() -> None:
    backend, clock = make_backend()
    put_version(backend, [async_task("wait", timeout=60)])
    ex = run(backend)
    backend.advance()
    clock.advance(60_000)
    assert status_of(backend, ex["id"]) == "FAILED"
    backend.retry_execution(PROJECT, ex["id"], NONCE)
    assert tasks_of(backend, ex["id"])["wait"]["status"] == "IN_PROGRESS"


def test_retry_reruns_nested_children_not_the_container() -> None:
    backend, _ = make_backend()
    dynamic = {
        "externalId": "fan",
        "type": "dynamic",
        "parameters": {"dynamic": {"tasks": "${workflow.input.tasks}"}},
    }
    put_version(backend, [dynamic])
    children = [function_task("fine"), async_task("waits", retries=0)]
    ex = run(backend, input={"tasks": children})
    backend.advance()
    update(backend, ex["id"], "waits", "FAILED")
    before = tasks_of(backend, ex["id"])
    assert before["fan"]["status"] == "FAILED"
    backend.retry_execution(PROJECT, ex["id"], NONCE)
    after = tasks_of(backend, ex["id"])
    assert after["fan"]["status"] == "IN_PROGRESS"
    assert after["fan"]["id"] == before["fan"]["id"]
    assert after["fine"] == before["fine"]
    assert after["waits"]["status"] == "IN_PROGRESS"
    update(backend, ex["id"], "waits", "COMPLETED")
    assert status_of(backend, ex["id"]) == "COMPLETED"
