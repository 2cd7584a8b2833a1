"""Probe workflows: driving executions through their lifecycle with the public API only.

- a task that succeeds: `cdf` GET /workflows;
- a task that fails: `cdf` GET of a workflow that does not exist (404);
- a task that waits: an async `function` task, held IN_PROGRESS until the scenario updates it.

Names start with the run prefix so cleanup finds them; polling backs off against a deadline, and
on the embedded mock it advances the virtual clock instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wfcontracts.checks import CheckedSession

if TYPE_CHECKING:
    from wfcontracts.runtime import Runtime

TERMINAL = frozenset({"COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"})


class DeadlineExceeded(AssertionError):
    """The target did not reach the awaited state in time."""


def succeed_task(external_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "externalId": external_id,
        "type": "cdf",
        "parameters": {"cdfRequest": {"resourcePath": "/workflows", "method": "GET"}},
        "retries": 0,
        **extra,
    }


def fail_task(
    external_id: str, missing_workflow: str, retries: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "externalId": external_id,
        "type": "cdf",
        "parameters": {
            "cdfRequest": {"resourcePath": f"/workflows/{missing_workflow}", "method": "GET"}
        },
        "retries": retries,
        **extra,
    }


def wait_task(
    external_id: str, function_external_id: str, retries: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "externalId": external_id,
        "type": "function",
        "parameters": {
            "function": {"externalId": function_external_id, "data": {}},
            "isAsyncComplete": True,
        },
        "retries": retries,
        **extra,
    }


def depends(*task_ids: str) -> dict[str, Any]:
    return {"dependsOn": [{"externalId": t} for t in task_ids]}


@dataclass
class Probe:
    """Helpers bound to one runtime and one checked session."""

    runtime: Runtime
    session: CheckedSession

    @property
    def prefix(self) -> str:
        return self.runtime.run_prefix

    @property
    def async_function(self) -> str:
        return self.runtime.options.async_function_external_id

    @property
    def missing_workflow(self) -> str:
        return f"{self.prefix}-missing"

    def name(self, scenario: str) -> str:
        return f"{self.prefix}-{scenario}"

    def nonce(self) -> str:
        """A session nonce from the target's Sessions API (how the SDK gets one)."""
        exchange = self.session.call("createSessions", json={"items": [{"tokenExchange": True}]})
        return str(exchange.response_json["items"][0]["nonce"])

    def upsert(
        self, scenario: str, tasks: list[dict[str, Any]], version: str = "1"
    ) -> tuple[str, str]:
        xid = self.name(scenario)
        item = {
            "workflowExternalId": xid,
            "version": version,
            "workflowDefinition": {"tasks": tasks},
        }
        self.session.call("CreateOrUpdateWorkflowVersion", json={"items": [item]})
        return xid, version

    def run(
        self,
        xid: str,
        version: str = "1",
        *,
        input: dict[str, Any] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"authentication": {"nonce": self.nonce()}}
        if input is not None:
            body["input"] = input
        if metadata is not None:
            body["metadata"] = metadata
        exchange = self.session.call(
            "TriggerRunOfSpecificVersionOfWorkflow",
            path={"workflowExternalId": xid, "version": version},
            json=body,
        )
        return dict(exchange.response_json)

    def get(self, execution_id: str) -> dict[str, Any]:
        exchange = self.session.call(
            "ExecutionOfSpecificRunOfWorkflow", path={"executionId": execution_id}
        )
        return dict(exchange.response_json)

    def cancel(self, execution_id: str, reason: str | None = None) -> dict[str, Any]:
        body = {"reason": reason} if reason is not None else {}
        exchange = self.session.call(
            "WorkflowExecutionCancellation", path={"executionId": execution_id}, json=body
        )
        return dict(exchange.response_json)

    def retry(self, execution_id: str) -> dict[str, Any]:
        exchange = self.session.call(
            "WorkflowExecutionRetry",
            path={"executionId": execution_id},
            json={"authentication": {"nonce": self.nonce()}},
        )
        return dict(exchange.response_json)

    def update_task(
        self, task_id: str, status: str, output: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"status": status}
        if output is not None:
            body["output"] = output
        exchange = self.session.call("UpdateTaskStatus", path={"taskId": task_id}, json=body)
        return dict(exchange.response_json)

    def wait_until(
        self,
        execution_id: str,
        predicate: Callable[[dict[str, Any]], bool],
        what: str,
        timeout_s: float = 120.0,
    ) -> dict[str, Any]:
        """Poll the execution with backoff until `predicate` holds, or fail naming `what`."""
        deadline = time.monotonic() + timeout_s
        delay = 0.2
        while True:
            detail = self.get(execution_id)
            if predicate(detail):
                return detail
            if time.monotonic() > deadline:
                raise DeadlineExceeded(
                    f"execution {execution_id} did not reach {what} within {timeout_s:.0f} s "
                    f"(status {detail.get('status')}, tasks {task_states(detail)})"
                )
            self._pause(delay)
            delay = min(delay * 2, 5.0)

    def wait_for_task(
        self, execution_id: str, task_external_id: str, status: str = "IN_PROGRESS"
    ) -> dict[str, Any]:
        """Wait until the task is in `status`; return that task execution."""
        detail = self.wait_until(
            execution_id,
            lambda d: task_of(d, task_external_id, status) is not None,
            f"task {task_external_id} {status}",
        )
        task = task_of(detail, task_external_id, status)
        assert task is not None
        return task

    def wait_terminal(self, execution_id: str) -> dict[str, Any]:
        return self.wait_until(
            execution_id, lambda d: d.get("status") in TERMINAL, "a terminal status"
        )

    def _pause(self, seconds: float) -> None:
        mock = self.runtime.mock
        if mock is not None and mock.virtual_clock:
            mock.advance(int(seconds * 1000))
        else:
            time.sleep(seconds)


def task_of(
    detail: dict[str, Any], external_id: str, status: str | None = None
) -> dict[str, Any] | None:
    """The task execution with this external id (the newest matching one, if attempts repeat)."""
    found = None
    for task in detail.get("executedTasks") or []:
        if task.get("externalId") == external_id and (
            status is None or task.get("status") == status
        ):
            found = task
    return found


def task_states(detail: dict[str, Any]) -> dict[str, str]:
    return {
        t.get("externalId", "?"): t.get("status", "?") for t in detail.get("executedTasks") or []
    }
