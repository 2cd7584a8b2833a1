"""Every domain fault changes what the backend does (the checks' teeth depend on it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from wfcontracts.mock.backend import WorkflowsBackend
from wfcontracts.mock.clock import VirtualClock
from wfcontracts.mock.faults import FAULTS

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

Scenario = Callable[[WorkflowsBackend, VirtualClock], Any]


def _completed(backend: WorkflowsBackend) -> dict[str, Any]:
    put_version(backend, [function_task("a")])
    ex = run(backend, input={"x": 1}, metadata={"k": "v"})
    return detail(backend, ex["id"])


def _waiting(backend: WorkflowsBackend, **extra: Any) -> dict[str, Any]:
    put_version(backend, [async_task("w", **extra)])
    ex = run(backend)
    backend.advance()
    return ex


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as error:
        return type(error).__name__


def _cancel_completed(b: WorkflowsBackend, c: VirtualClock) -> Any:
    ex = _completed(b)
    return _outcome(lambda: b.cancel_execution(PROJECT, ex["id"], {})["status"])


def _retry_running(b: WorkflowsBackend, c: VirtualClock) -> Any:
    ex = _waiting(b)
    return _outcome(lambda: b.retry_execution(PROJECT, ex["id"], NONCE)["status"])


def _retry_id(b: WorkflowsBackend, c: VirtualClock) -> Any:
    ex = _waiting(b)
    b.cancel_execution(PROJECT, ex["id"], {})
    return b.retry_execution(PROJECT, ex["id"], NONCE)["id"] == ex["id"]


def _rerun_completed(b: WorkflowsBackend, c: VirtualClock) -> Any:
    put_version(b, [function_task("ok"), async_task("w", "ok")])
    ex = run(b)
    b.advance()
    call = tasks_of(b, ex["id"])["ok"]["output"]["callId"]
    b.cancel_execution(PROJECT, ex["id"], {})
    b.retry_execution(PROJECT, ex["id"], NONCE)
    return tasks_of(b, ex["id"])["ok"]["output"]["callId"] == call


def _exhausted_retry(b: WorkflowsBackend, c: VirtualClock) -> Any:
    ex = _waiting(b, retries=1)
    update(b, ex["id"], "w", "FAILED")
    update(b, ex["id"], "w", "FAILED")
    b.retry_execution(PROJECT, ex["id"], NONCE)
    b.advance()
    if tasks_of(b, ex["id"])["w"]["status"] != "IN_PROGRESS":
        return "no attempt"
    update(b, ex["id"], "w", "FAILED")
    return status_of(b, ex["id"])


def _rerun_skipped(b: WorkflowsBackend, c: VirtualClock) -> Any:
    put_version(
        b,
        [async_task("skip", retries=0, onFailure="skipTask"), async_task("bad", "skip", retries=0)],
    )
    ex = run(b)
    b.advance()
    update(b, ex["id"], "skip", "FAILED")
    update(b, ex["id"], "bad", "FAILED")
    b.retry_execution(PROJECT, ex["id"], NONCE)
    return tasks_of(b, ex["id"])["skip"]["status"]


def _update_status_after(status: str) -> Scenario:
    def scenario(b: WorkflowsBackend, c: VirtualClock) -> Any:
        ex = _waiting(b, retries=1)
        update(b, ex["id"], "w", status)
        return tasks_of(b, ex["id"])["w"]["status"]

    return scenario


def _list_count(filter_: dict[str, Any]) -> Scenario:
    def scenario(b: WorkflowsBackend, c: VirtualClock) -> Any:
        _completed(b)
        put_version(b, [async_task("w")], xid="other")
        run(b, "other")
        return len(b.list_executions(PROJECT, {"filter": filter_})["items"])

    return scenario


def _many(b: WorkflowsBackend, count: int = 10) -> None:
    put_version(b, [function_task("a")])
    for _ in range(count):
        run(b)


def _limit(b: WorkflowsBackend, c: VirtualClock) -> Any:
    _many(b)
    return len(b.list_executions(PROJECT, {"limit": 2})["items"])


def _pages_overlap(b: WorkflowsBackend, c: VirtualClock) -> Any:
    _many(b)
    first = b.list_executions(PROJECT, {"limit": 2})
    second = b.list_executions(PROJECT, {"limit": 2, "cursor": first["nextCursor"]})
    return {e["id"] for e in first["items"]} & {e["id"] for e in second["items"]}


def _cancel(view: Callable[[WorkflowsBackend, dict[str, Any]], Any]) -> Scenario:
    def scenario(b: WorkflowsBackend, c: VirtualClock) -> Any:
        ex = _waiting(b)
        b.cancel_execution(PROJECT, ex["id"], {"reason": "why"})
        return view(b, ex)

    return scenario


def _dependencies(b: WorkflowsBackend, c: VirtualClock) -> Any:
    put_version(b, [async_task("a"), function_task("b", "a")])
    return sorted(tasks_of(b, run(b)["id"]))


def _references(b: WorkflowsBackend, c: VirtualClock) -> Any:
    put_version(b, [function_task("a", data={"v": "${workflow.input.v}"})])
    return tasks_of(b, run(b, input={"v": 3})["id"])["a"]["input"]["function"]["data"]


def _skip_failure(b: WorkflowsBackend, c: VirtualClock) -> Any:
    put_version(b, [cdf_task("s", ok=False, retries=0, onFailure="skipTask")])
    return status_of(b, run(b)["id"])


def _failure_reason(b: WorkflowsBackend, c: VirtualClock) -> Any:
    put_version(b, [cdf_task("s", ok=False, retries=0)])
    return detail(b, run(b)["id"]).get("reasonForIncompletion")


def _merged(b: WorkflowsBackend, c: VirtualClock) -> Any:
    ex = _waiting(b)
    return update(b, ex["id"], "w", "COMPLETED", output={"r": 1})["output"].get("r")


def _completed_update_shows(b: WorkflowsBackend, c: VirtualClock) -> Any:
    ex = _waiting(b)
    update(b, ex["id"], "w", "COMPLETED")
    return tasks_of(b, ex["id"])["w"]["status"], status_of(b, ex["id"])


def _retried_task(b: WorkflowsBackend, c: VirtualClock) -> Any:
    ex = _waiting(b)
    b.cancel_execution(PROJECT, ex["id"], {})
    b.retry_execution(PROJECT, ex["id"], NONCE)
    c.advance(60_000)
    return tasks_of(b, ex["id"])["w"]["status"]


def _run_unknown(b: WorkflowsBackend, c: VirtualClock) -> Any:
    return _outcome(lambda: run(b, "ghost")["status"])


def _retrieve_unknown(b: WorkflowsBackend, c: VirtualClock) -> Any:
    return _outcome(lambda: b.retrieve_execution(PROJECT, "00000000-0000-4000-8000-000000000000"))


SCENARIOS: dict[str, Scenario] = {
    "short_execution_id": lambda b, c: len(_completed(b)["id"]),
    "non_uuid4_ids": lambda b, c: _completed(b)["id"][14],
    "negative_timestamps": lambda b, c: _completed(b)["createdTime"] >= 0,
    "end_before_start": lambda b, c: (lambda d: d["endTime"] >= d["startTime"])(_completed(b)),
    "unknown_execution_status": lambda b, c: _completed(b)["status"],
    "unknown_task_status": lambda b, c: _completed(b)["executedTasks"][0]["status"],
    "missing_required_field": lambda b, c: "workflowExternalId" in _completed(b),
    "string_timestamps": lambda b, c: type(_completed(b)["createdTime"]),
    "metadata_not_echoed": lambda b, c: _completed(b)["metadata"],
    "input_not_echoed": lambda b, c: _completed(b).get("input"),
    "list_ignores_status_filter": _list_count({"status": ["RUNNING"]}),
    "list_ignores_workflow_filter": _list_count({"workflowFilters": [{"externalId": "other"}]}),
    "list_limit_ignored": _limit,
    "cursor_repeats_items": _pages_overlap,
    "cancel_not_terminating": _cancel(lambda b, ex: status_of(b, ex["id"])),
    "cancel_leaves_tasks_running": _cancel(lambda b, ex: tasks_of(b, ex["id"])["w"]["status"]),
    "cancel_ignores_reason": _cancel(lambda b, ex: detail(b, ex["id"])["reasonForIncompletion"]),
    "cancel_finished_accepted": _cancel_completed,
    "retry_running_accepted": _retry_running,
    "retry_new_id": _retry_id,
    "retry_reruns_completed": _rerun_completed,
    "retry_no_extra_attempt": _exhausted_retry,
    "retry_resets_attempts": _exhausted_retry,
    "retry_reruns_skipped": _rerun_skipped,
    "skiptask_aborts": _skip_failure,
    "terminal_error_retried": _update_status_after("FAILED_WITH_TERMINAL_ERROR"),
    "failed_update_not_retried": _update_status_after("FAILED"),
    "dependson_ignored": _dependencies,
    "references_unresolved": _references,
    "abort_without_reason": _failure_reason,
    "update_output_not_merged": _merged,
    "unknown_version_runs": _run_unknown,
    "server_error_on_unknown_id": _retrieve_unknown,
    # paced faults (at every pace; tests/mock/test_pace.py shows them at the real pace)
    "update_never_applied": _completed_update_shows,
    "cancel_tasks_stuck": _cancel(lambda b, ex: tasks_of(b, ex["id"])["w"]["status"]),
    "retry_never_reruns": _retried_task,
}


def test_every_domain_fault_has_a_scenario() -> None:
    domain = {name for name, fault in FAULTS.items() if fault.layer == "domain"}
    assert set(SCENARIOS) == domain


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fault_changes_behaviour(name: str) -> None:
    clean = SCENARIOS[name](*make_backend())
    faulty = SCENARIOS[name](*make_backend(name))
    assert clean != faulty, f"{name}: same observation {clean!r} with and without the fault"
