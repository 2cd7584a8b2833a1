"""Eight clients hammer one served mock with mixed operations; no execution is lost or broken."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from wfcontracts.mock.models import EXECUTION_STATUSES, TASK_STATUSES, TERMINAL_EXECUTION_STATUSES
from wfcontracts.mock.server import BackgroundServer, serve_in_background
from wfcontracts.mock.service import MockService

TOKEN = "concurrency-token"
API = "/api/v1/projects/p"
AUTH = {"authorization": f"Bearer {TOKEN}"}
THREADS = 8
OPERATIONS_PER_THREAD = 200
RUN_BODY = {"authentication": {"nonce": "n"}, "input": {"k": 1}}
# What each operation may answer while other clients race it (409: illegal transition,
# 400: the task is no longer IN_PROGRESS). Anything else, a 5xx above all, is a failure.
ALLOWED = {
    "run": {202},
    "cancel": {200, 409},
    "retry": {200, 409},
    "retrieve": {200},
    "update": {200, 400},
    "list": {200},
}


@dataclass
class Worker:
    """One client thread's view: what it created and what it saw go wrong."""

    http: httpx.Client
    rng: random.Random
    shared_ids: list[str]
    lock: threading.Lock
    created: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def call(self, kind: str, method: str, path: str, body: Any = None) -> httpx.Response:
        response = self.http.request(method, API + path, json=body, headers=AUTH)
        if response.status_code not in ALLOWED[kind]:
            self.unexpected.append(f"{kind} {path}: {response.status_code} {response.text[:200]}")
        return response

    def pick(self) -> str | None:
        with self.lock:
            return self.rng.choice(self.shared_ids) if self.shared_ids else None

    def run(self) -> None:
        workflow = self.rng.choice(["async-wf", "sync-wf"])
        response = self.call("run", "POST", f"/workflows/{workflow}/versions/1/run", RUN_BODY)
        if response.status_code == 202:
            execution_id = response.json()["id"]
            self.created.append(execution_id)
            with self.lock:
                self.shared_ids.append(execution_id)

    def cancel(self) -> None:
        if (execution_id := self.pick()) is not None:
            body = self.rng.choice([{}, {"reason": "load test"}])
            self.call("cancel", "POST", f"/workflows/executions/{execution_id}/cancel", body)

    def retry(self) -> None:
        if (execution_id := self.pick()) is not None:
            body = {"authentication": {"nonce": "n"}}
            self.call("retry", "POST", f"/workflows/executions/{execution_id}/retry", body)

    def update(self) -> None:
        if (execution_id := self.pick()) is None:
            return
        detailed = self.call("retrieve", "GET", f"/workflows/executions/{execution_id}")
        waiting = [
            t for t in detailed.json().get("executedTasks", []) if t["status"] == "IN_PROGRESS"
        ]
        if waiting:
            status = self.rng.choice(["COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR"])
            body = {"status": status, "output": {"by": "load"}}
            self.call("update", "POST", f"/workflows/tasks/{waiting[0]['id']}/update", body)

    def list(self) -> None:
        body = self.rng.choice(
            [{"limit": 50}, {"filter": {"status": ["RUNNING"]}, "limit": 20}, {"limit": 1000}]
        )
        self.call("list", "POST", "/workflows/executions/list", body)

    def work(self, operations: int) -> None:
        actions: list[Callable[[], None]] = [
            self.run,
            self.run,
            self.cancel,
            self.retry,
            self.update,
            self.list,
        ]
        for _ in range(operations):
            self.rng.choice(actions)()


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with serve_in_background(MockService(tokens=[TOKEN], task_latency_ms=0)) as running:
        yield running


def _seed_versions(http: httpx.Client) -> None:
    for workflow, is_async in (("async-wf", True), ("sync-wf", False)):
        task = {
            "externalId": "t",
            "type": "function",
            "retries": 1,
            "parameters": {"function": {"externalId": "fn"}, "isAsyncComplete": is_async},
        }
        item = {
            "workflowExternalId": workflow,
            "version": "1",
            "workflowDefinition": {"tasks": [task]},
        }
        response = http.post(f"{API}/workflows/versions", json={"items": [item]}, headers=AUTH)
        assert response.status_code == 200, response.text


def _list_all(http: httpx.Client, filter_: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    body: dict[str, Any] = {"limit": 1000, **({"filter": filter_} if filter_ else {})}
    while True:
        page = http.post(f"{API}/workflows/executions/list", json=body, headers=AUTH)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        if "nextCursor" not in page.json():
            return items
        body["cursor"] = page.json()["nextCursor"]


def _hammer(base_url: str) -> list[Worker]:
    shared_ids: list[str] = []
    lock = threading.Lock()
    workers = [
        Worker(httpx.Client(base_url=base_url, timeout=30), random.Random(seed), shared_ids, lock)
        for seed in range(THREADS)
    ]
    threads = [
        threading.Thread(target=w.work, args=(OPERATIONS_PER_THREAD,), name=f"load-{i}")
        for i, w in enumerate(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker.http.close()
    return workers


def test_mixed_load_loses_nothing_and_keeps_invariants(server: BackgroundServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        _seed_versions(http)
        workers = _hammer(server.base_url)
        assert [problem for w in workers for problem in w.unexpected] == []
        created = [execution_id for w in workers for execution_id in w.created]
        assert len(created) == len(set(created)) > 0

        listed = _list_all(http)
        listed_ids = [item["id"] for item in listed]
        assert len(listed_ids) == len(set(listed_ids))
        assert set(listed_ids) == set(created)

        # Exactly one status each: the per-status lists partition the full list.
        by_status = {
            s: {e["id"] for e in _list_all(http, {"status": [s]})} for s in EXECUTION_STATUSES
        }
        assert sum(len(ids) for ids in by_status.values()) == len(created)
        assert set().union(*by_status.values()) == set(created)

        for execution_id in created:
            response = http.get(f"{API}/workflows/executions/{execution_id}", headers=AUTH)
            assert response.status_code == 200, response.text
            _assert_invariants(response.json())


def _assert_invariants(execution: dict[str, Any]) -> None:
    status = execution["status"]
    assert status in EXECUTION_STATUSES
    assert all(task["status"] in TASK_STATUSES for task in execution["executedTasks"])
    if status in TERMINAL_EXECUTION_STATUSES:
        assert execution["endTime"] >= execution["startTime"], execution
        active = [
            t for t in execution["executedTasks"] if t["status"] in ("IN_PROGRESS", "SCHEDULED")
        ]
        assert active == [], execution
    else:
        assert "endTime" not in execution, execution
