"""Thin handlers: one per contract operation, each a call into the domain backend.

Bodies arrive validated against the contract (the lenient profile: its documented view only;
what they then cannot read raises, and the dispatcher answers 400); handlers only unwrap and
wrap `items`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wfcontracts.contract import operations as ops
from wfcontracts.mock.backend import WorkflowsBackend

Handler = Callable[[WorkflowsBackend, str, dict[str, str], dict[str, Any], Any], tuple[int, Any]]


def _items(body: Any) -> list[dict[str, Any]]:
    return list((body or {}).get("items", []))


#: What a page holds at most; a limit outside 1..MAX_LIMIT (which only the lenient profile lets
#: in: the bounds of some limits are not documented) is read as the nearest it can serve.
MAX_LIMIT = 1000


def _limit(value: Any) -> int:
    return min(max(int(value), 1), MAX_LIMIT)


def _list_args(body: Any) -> tuple[dict[str, Any], int, str | None]:
    body = body or {}
    return body.get("filter") or {}, _limit(body.get("limit", 100)), body.get("cursor")


def list_workflows(
    b: WorkflowsBackend, p: str, _: dict[str, str], q: dict[str, Any], __: Any
) -> tuple[int, Any]:
    limit = _limit(q.get("limit", b.profile.default_list_limit))
    return 200, b.list_workflows(p, limit, q.get("cursor"))


def upsert_workflow(
    b: WorkflowsBackend, p: str, _: dict[str, str], __: dict[str, Any], body: Any
) -> tuple[int, Any]:
    return 200, {"items": [b.upsert_workflow(p, item) for item in _items(body)]}


def delete_workflows(
    b: WorkflowsBackend, p: str, _: dict[str, str], q: dict[str, Any], body: Any
) -> tuple[int, Any]:
    ids = [item["externalId"] for item in _items(body)]
    b.delete_workflows(p, ids, bool(q.get("ignoreUnknownIds", False)))
    return 200, {}


def retrieve_workflow(
    b: WorkflowsBackend, p: str, path: dict[str, str], _: dict[str, Any], __: Any
) -> tuple[int, Any]:
    return 200, b.retrieve_workflow(p, path["workflowExternalId"])


def upsert_version(
    b: WorkflowsBackend, p: str, _: dict[str, str], __: dict[str, Any], body: Any
) -> tuple[int, Any]:
    return 200, {"items": [b.upsert_version(p, item) for item in _items(body)]}


def list_versions(
    b: WorkflowsBackend, p: str, _: dict[str, str], __: dict[str, Any], body: Any
) -> tuple[int, Any]:
    filter_, limit, cursor = _list_args(body)
    return 200, b.list_versions(p, list(filter_.get("workflowFilters") or []), limit, cursor)


def delete_versions(
    b: WorkflowsBackend, p: str, _: dict[str, str], q: dict[str, Any], body: Any
) -> tuple[int, Any]:
    b.delete_versions(p, _items(body), bool(q.get("ignoreUnknownIds", False)))
    return 200, {}


def retrieve_version(
    b: WorkflowsBackend, p: str, path: dict[str, str], _: dict[str, Any], __: Any
) -> tuple[int, Any]:
    return 200, b.retrieve_version(p, path["workflowExternalId"], path["version"])


def run_execution(
    b: WorkflowsBackend, p: str, path: dict[str, str], _: dict[str, Any], body: Any
) -> tuple[int, Any]:
    return 202, b.run_execution(p, path["workflowExternalId"], path["version"], body or {})


def list_executions(
    b: WorkflowsBackend, p: str, _: dict[str, str], __: dict[str, Any], body: Any
) -> tuple[int, Any]:
    return 200, b.list_executions(p, body or {})


def retrieve_execution(
    b: WorkflowsBackend, p: str, path: dict[str, str], _: dict[str, Any], __: Any
) -> tuple[int, Any]:
    return 200, b.retrieve_execution(p, path["executionId"])


def cancel_execution(
    b: WorkflowsBackend, p: str, path: dict[str, str], _: dict[str, Any], body: Any
) -> tuple[int, Any]:
    return 200, b.cancel_execution(p, path["executionId"], body or {})


def retry_execution(
    b: WorkflowsBackend, p: str, path: dict[str, str], _: dict[str, Any], body: Any
) -> tuple[int, Any]:
    return 200, b.retry_execution(p, path["executionId"], body or {})


def update_task(
    b: WorkflowsBackend, p: str, path: dict[str, str], _: dict[str, Any], body: Any
) -> tuple[int, Any]:
    return 200, b.update_task(p, path["taskId"], body or {})


def create_sessions(
    b: WorkflowsBackend, p: str, _: dict[str, str], __: dict[str, Any], body: Any
) -> tuple[int, Any]:
    return 200, b.create_sessions(p, _items(body))


HANDLERS: dict[str, Handler] = {
    ops.LIST_WORKFLOWS: list_workflows,
    ops.UPSERT_WORKFLOW: upsert_workflow,
    ops.DELETE_WORKFLOWS: delete_workflows,
    ops.GET_WORKFLOW: retrieve_workflow,
    ops.UPSERT_VERSION: upsert_version,
    ops.LIST_VERSIONS: list_versions,
    ops.DELETE_VERSIONS: delete_versions,
    ops.GET_VERSION: retrieve_version,
    ops.RUN: run_execution,
    ops.LIST: list_executions,
    ops.GET: retrieve_execution,
    ops.CANCEL: cancel_execution,
    ops.RETRY: retry_execution,
    ops.UPDATE: update_task,
    ops.SESSIONS: create_sessions,
}
