"""Executions list: filters, order, pagination, cursors; thread safety (no HTTP)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from wfcontracts.mock.models import DomainError

from .domain_helpers import (
    NONCE,
    PROJECT,
    async_task,
    function_task,
    make_backend,
    put_version,
    run,
)


def _populated() -> tuple[Any, Any, list[dict[str, Any]]]:
    backend, clock = make_backend()
    put_version(backend, [function_task("a")], xid="done", version="1")
    put_version(backend, [function_task("a")], xid="done", version="2")
    put_version(backend, [async_task("w")], xid="waits", version="1")
    created = []
    for i in range(9):
        xid, version = [("done", "1"), ("done", "2"), ("waits", "1")][i % 3]
        created.append(run(backend, xid, version))
        if i % 2:
            clock.advance(1)  # some executions share a createdTime
    backend.advance()
    return backend, clock, created


def _ids(page: dict[str, Any]) -> list[str]:
    return [e["id"] for e in page["items"]]


def _all_pages(backend: Any, body: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    page = backend.list_executions(PROJECT, body)
    ids += _ids(page)
    while "nextCursor" in page:
        page = backend.list_executions(PROJECT, {**body, "cursor": page["nextCursor"]})
        ids += _ids(page)
    return ids


def test_newest_first_with_stable_tie_break() -> None:
    backend, _, created = _populated()
    listed = backend.list_executions(PROJECT, {})["items"]
    assert [e["id"] for e in listed] == [e["id"] for e in reversed(created)]
    times = [e["createdTime"] for e in listed]
    assert times == sorted(times, reverse=True)


def test_pages_cover_everything_once() -> None:
    backend, _, created = _populated()
    ids = _all_pages(backend, {"limit": 2})
    assert ids == [e["id"] for e in reversed(created)]


def test_new_executions_do_not_shift_an_open_cursor() -> None:
    backend, _, created = _populated()
    first = backend.list_executions(PROJECT, {"limit": 4})
    run(backend, "done", "1")
    rest = _all_pages(backend, {"limit": 4, "cursor": first["nextCursor"]})
    assert _ids(first) + rest == [e["id"] for e in reversed(created)]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"workflowFilters": [{"externalId": "done"}]}, 6),
        ({"workflowFilters": [{"externalId": "done", "version": "2"}]}, 3),
        ({"workflowFilters": [{"externalId": "done", "version": "2"}, {"externalId": "waits"}]}, 6),
        ({"status": ["RUNNING"]}, 3),
        ({"status": ["COMPLETED", "RUNNING"]}, 9),
        ({"workflowFilters": [{"externalId": "waits"}], "status": ["COMPLETED"]}, 0),
    ],
)
def test_filters(filter_: dict[str, Any], expected: int) -> None:
    backend, _, _ = _populated()
    ids = _all_pages(backend, {"filter": filter_, "limit": 2})
    assert len(ids) == len(set(ids)) == expected


def test_created_time_bounds_are_inclusive() -> None:
    backend, _, created = _populated()
    start, end = created[2]["createdTime"], created[5]["createdTime"]
    body = {"filter": {"createdTimeStart": start, "createdTimeEnd": end}}
    listed = backend.list_executions(PROJECT, body)["items"]
    assert listed and all(start <= e["createdTime"] <= end for e in listed)
    assert {e["id"] for e in created if start <= e["createdTime"] <= end} == set(
        _ids({"items": listed})
    )


def test_filtered_pages_merge_workflows_in_order() -> None:
    backend, _, created = _populated()
    body = {
        "filter": {
            "workflowFilters": [{"externalId": "waits"}, {"externalId": "done", "version": "1"}]
        }
    }
    ids = _all_pages(backend, {**body, "limit": 1})
    wanted = [
        e["id"]
        for e in reversed(created)
        if e["workflowExternalId"] == "waits" or e["version"] == "1"
    ]
    assert ids == wanted


@pytest.mark.parametrize(
    "changed",
    [
        {"limit": 2, "filter": {"status": ["RUNNING"]}},
        {"filter": {"workflowFilters": [{"externalId": "x"}]}},
    ],
)
def test_cursor_with_another_filter_is_400(changed: dict[str, Any]) -> None:
    backend, _, _ = _populated()
    cursor = backend.list_executions(PROJECT, {"limit": 2})["nextCursor"]
    with pytest.raises(DomainError) as caught:
        backend.list_executions(PROJECT, {**changed, "cursor": cursor})
    assert caught.value.status == 400


def test_cursor_survives_a_smaller_limit() -> None:
    # The SDK lowers `limit` on its last page (1000, then the remainder) with the same cursor.
    backend, _, _ = _populated()
    cursor = backend.list_executions(PROJECT, {"limit": 2})["nextCursor"]
    assert len(backend.list_executions(PROJECT, {"limit": 1, "cursor": cursor})["items"]) == 1


def test_garbage_cursor_is_400() -> None:
    backend, _, _ = _populated()
    with pytest.raises(DomainError) as caught:
        backend.list_executions(PROJECT, {"cursor": "not a cursor!"})
    assert caught.value.status == 400


def test_default_limit_is_100() -> None:
    backend, _ = make_backend()
    put_version(backend, [function_task("a")])
    for _ in range(101):
        run(backend)
    page = backend.list_executions(PROJECT, {})
    assert len(page["items"]) == 100 and "nextCursor" in page


def test_list_items_are_plain_executions() -> None:
    backend, _, _ = _populated()
    item = backend.list_executions(PROJECT, {"limit": 1})["items"][0]
    assert "executedTasks" not in item and "workflowDefinition" not in item
    assert {
        "id",
        "workflowExternalId",
        "status",
        "engineExecutionId",
        "createdTime",
        "metadata",
    } <= set(item)


def test_concurrent_operations_lose_nothing() -> None:
    backend, clock = make_backend()
    put_version(backend, [async_task("w")])
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for i in range(200):
                if i % 4 == 3:
                    backend.list_executions(PROJECT, {"limit": 5})
                    clock.advance(1)
                else:
                    ex = run(backend)
                    if i % 4 == 1:
                        backend.cancel_execution(PROJECT, ex["id"], {})
                        backend.retry_execution(PROJECT, ex["id"], NONCE)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ids = _all_pages(backend, {"limit": 1000})
    assert len(ids) == len(set(ids)) == 8 * 150
    statuses = {e["status"] for e in backend.list_executions(PROJECT, {"limit": 1000})["items"]}
    assert statuses == {"RUNNING"}
