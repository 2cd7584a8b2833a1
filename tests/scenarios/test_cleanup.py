"""Cleanup by record: what a live run created is cancelled, deleted and revoked at the end —
by record and by run prefix, never anything else — and neither a broken target nor a second
Ctrl-C stops it from reporting what is left.

Against the real mock served over loopback, through the client a live run uses.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType, SimpleNamespace
from typing import Any, cast

import httpx
import pytest

from wfcontracts.mock.server import BackgroundServer, serve_in_background
from wfcontracts.mock.service import MockService
from wfcontracts.scenarios import cleanup as cleanup_module
from wfcontracts.scenarios.cleanup import CleanupReport, cleanup, delete_run_resources
from wfcontracts.target.client import build_client, preflight
from wfcontracts.target.config import resolve_target
from wfcontracts.target.ledger import ResourceLedger
from wfcontracts.target.retry import RetryPolicy

TOKEN = "wfcontracts-cleanup-token"
PREFIX = "wfcontracts-c1ean"
INSTANT = RetryPolicy(sleep=lambda seconds: None)


def hold_task() -> dict[str, Any]:
    """An async task: it stays IN_PROGRESS, so its execution stays RUNNING."""
    return {
        "externalId": "hold",
        "type": "function",
        "parameters": {"function": {"externalId": "fn", "data": {}}, "isAsyncComplete": True},
        "retries": 0,
    }


@dataclass
class Target:
    server: BackgroundServer
    client: httpx.Client  # the run's client, with its ledger installed
    other: httpx.Client  # someone else's client on the same project: nothing recorded
    ledger: ResourceLedger

    def client_with(self, transport: httpx.BaseTransport) -> httpx.Client:
        client = build_client(_config(self.server), transport=transport, retry=INSTANT)
        self.ledger.install(client)
        return client


def _config(server: BackgroundServer) -> Any:
    return resolve_target(base_url=server.base_url, project="p", token=TOKEN, env={})


@pytest.fixture
def target() -> Iterator[Target]:
    with serve_in_background(MockService(tokens=[TOKEN])) as server:
        client = build_client(_config(server), retry=INSTANT)
        other = build_client(_config(server), retry=INSTANT)
        preflight(client)
        ledger = ResourceLedger()
        ledger.install(client)
        try:
            yield Target(server, client, other, ledger)
        finally:
            client.close()
            other.close()


def upsert(client: httpx.Client, xid: str, tasks: list[dict[str, Any]] | None = None) -> None:
    if tasks is None:
        response = client.post("workflows", json={"items": [{"externalId": xid}]})
    else:
        item = {"workflowExternalId": xid, "version": "1", "workflowDefinition": {"tasks": tasks}}
        response = client.post("workflows/versions", json={"items": [item]})
    assert response.status_code == 200, response.text


def start(client: httpx.Client, xid: str) -> str:
    upsert(client, xid, [hold_task()])
    session = client.post("sessions", json={"items": [{"tokenExchange": True}]})
    nonce = session.json()["items"][0]["nonce"]
    run = client.post(f"workflows/{xid}/versions/1/run", json={"authentication": {"nonce": nonce}})
    assert run.status_code == 202 and run.json()["status"] == "RUNNING", run.text
    return str(run.json()["id"])


def workflow_ids(client: httpx.Client) -> set[str]:
    response = client.get("workflows", params={"limit": 1000})
    return {w["externalId"] for w in response.json()["items"]}


def status_of(client: httpx.Client, execution_id: str) -> str:
    return str(client.get(f"workflows/executions/{execution_id}").json()["status"])


def test_everything_the_run_created_goes_and_nothing_else(target: Target) -> None:
    run, other = target.client, target.other
    # Someone else's resources, before and during the run.
    upsert(other, "someone-elses-workflow")
    their_execution = start(other, "someone-elses-running-workflow")
    upsert(other, "wfcontracts-otherrun-held")
    upsert(other, "shared")
    time.sleep(0.005)  # so the run's update of "shared" is visibly not its creation
    # The run's own: a held execution, a plain workflow, one that escaped the prefix, and an
    # update of a workflow that existed before.
    held = f"{PREFIX}-held"
    our_execution = start(run, held)
    request = {"cdfRequest": {"resourcePath": "/workflows", "method": "GET"}}
    upsert(run, f"{PREFIX}-done", [{"externalId": "t", "type": "cdf", "parameters": request}])
    upsert(run, "stray-without-prefix")
    upsert(run, "shared")
    assert target.ledger.sessions() == [2]

    report = cleanup(run, target.ledger, PREFIX)

    assert report.left == []
    assert report.complete
    remaining = workflow_ids(other)
    assert not {x for x in remaining if x.startswith(PREFIX)}
    assert "stray-without-prefix" not in remaining
    assert remaining == {
        "someone-elses-workflow",
        "someone-elses-running-workflow",
        "wfcontracts-otherrun-held",
        "shared",
    }
    assert status_of(other, their_execution) == "RUNNING"
    assert report.cancelled_executions == [our_execution]
    assert sorted(report.deleted_workflows) == sorted(
        [held, f"{PREFIX}-done", "stray-without-prefix"]
    )
    assert "kept workflow shared: the run updated it but it existed before" in report.notes
    # The mock has no Sessions revoke endpoint: a note, not a leftover.
    assert report.revoked_sessions == []
    assert any(
        "session(s) not revoked: POST /sessions/revoke answered 404" in n for n in report.notes
    )
    summary = json.loads(json.dumps(report.to_dict()))
    assert summary["complete"] is True and summary["left"] == []
    assert summary["cancelledExecutions"] == [our_execution]


def test_what_the_ledger_missed_is_found_by_paged_sweeps(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cleanup_module, "PAGE_LIMIT", 2)
    # Created behind the ledger's back (e.g. an unrecorded fuzzing request): only the prefix
    # says they are the run's; three of them have running executions.
    executions = [start(target.other, f"{PREFIX}-unrecorded-{i}") for i in range(3)]
    for i in range(4):
        upsert(target.other, f"{PREFIX}-plain-{i}")
    upsert(target.other, "not-ours")

    report = cleanup(target.client, target.ledger, PREFIX)

    assert report.left == []
    assert sorted(report.cancelled_executions) == sorted(executions)
    assert len(report.deleted_workflows) == 7
    assert workflow_ids(target.other) == {"not-ours"}


def test_recorded_versions_of_a_workflow_that_stays_are_deleted(target: Target) -> None:
    upsert(target.other, "theirs")
    time.sleep(0.005)
    upsert(target.client, "theirs")
    item = {
        "workflowExternalId": "theirs",
        "version": "run-added",
        "workflowDefinition": {"tasks": []},
    }
    assert target.client.post("workflows/versions", json={"items": [item]}).status_code == 200

    report = cleanup(target.client, target.ledger, PREFIX)

    assert report.deleted_versions == ["theirs/run-added"] and report.left == []
    assert "theirs" in workflow_ids(target.other)
    versions = target.other.post(
        "workflows/versions/list", json={"filter": {"workflowFilters": [{"externalId": "theirs"}]}}
    )
    assert versions.json()["items"] == []


class SlowDelete(httpx.BaseTransport):
    """A delete that takes its time — long enough for the user to press Ctrl-C again."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.interrupted = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/workflows/delete"):
            self.interrupted += 1
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_a_second_ctrl_c_does_not_interrupt_cleanup(target: Target) -> None:
    slow = SlowDelete()
    client = target.client_with(slow)
    held = f"{PREFIX}-held"
    start(client, held)
    upsert(client, f"{PREFIX}-two")
    leaked: list[int] = []

    def outer_handler(signum: int, frame: FrameType | None) -> None:
        leaked.append(signum)  # what the caller would have seen: a KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, outer_handler)
    try:
        try:
            raise KeyboardInterrupt  # the first Ctrl-C, that ends the run
        except KeyboardInterrupt:
            report = cleanup(client, target.ledger, PREFIX)
        assert signal.getsignal(signal.SIGINT) is outer_handler, "the caller's handler is back"
    finally:
        signal.signal(signal.SIGINT, previous)
        client.close()

    assert slow.interrupted >= 1
    assert report.interrupts == slow.interrupted
    assert leaked == []
    assert report.left == []
    assert not {x for x in workflow_ids(target.other) if x.startswith(PREFIX)}


def test_an_unreachable_target_is_reported_not_raised(target: Target) -> None:
    start(target.client, f"{PREFIX}-held")
    target.server.stop()
    began = time.monotonic()

    report = cleanup(target.client, target.ledger, PREFIX)

    assert time.monotonic() - began < 5
    assert report.deleted_workflows == []
    assert f"workflow {PREFIX}-held: target unreachable after 4 retries: POST " in report.left[0]
    assert any(
        line.startswith(f"workflows named {PREFIX}*: not all listed") for line in report.left
    )
    assert any(line.startswith("session 1: target unreachable") for line in report.left)


def answering(routes: dict[tuple[str, str], httpx.Response]) -> httpx.Client:
    """A client whose target answers from a table (method, path suffix) -> response."""

    def handler(request: httpx.Request) -> httpx.Response:
        for (method, suffix), response in routes.items():
            if request.method == method and request.url.path.endswith(suffix):
                return response
        return httpx.Response(200, json={"items": []})

    config = resolve_target(base_url="http://target.test", project="p", token=TOKEN, env={})
    return build_client(config, transport=httpx.MockTransport(handler), retry=INSTANT)


def recorded(*xids: str) -> ResourceLedger:
    ledger = ResourceLedger()
    for xid in xids:
        body = {"items": [{"externalId": xid, "createdTime": 1, "lastUpdatedTime": 1}]}
        ledger.record_exchange("POST", "http://t/api/v1/projects/p/workflows", 200, body)
    return ledger


def test_non_json_pages_and_error_answers_become_report_lines() -> None:
    client = answering(
        {
            ("GET", "/workflows"): httpx.Response(200, text="<html>maintenance</html>"),
            ("POST", "/workflows/delete"): httpx.Response(500, json={"error": {"code": 500}}),
        }
    )
    with client:
        report = cleanup(client, recorded(f"{PREFIX}-a", f"{PREFIX}-b"), PREFIX)
    assert report.left == [
        f"workflows named {PREFIX}*: listing them answered something that is not a JSON page "
        "of items",
        f"workflow {PREFIX}-a: delete answered 500",
        f"workflow {PREFIX}-b: delete answered 500",
    ]
    assert not report.complete


def test_a_workflow_whose_executions_are_still_stopping_is_deleted_once_they_stopped() -> None:
    answers = [httpx.Response(409, json={"error": {"code": 409}})] * 2 + [httpx.Response(200)]
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/workflows/delete"):
            calls.append(request.url.path)
            return answers.pop(0)
        return httpx.Response(200, json={"items": []})

    config = resolve_target(base_url="http://target.test", project="p", token=TOKEN, env={})
    waits: list[float] = []
    with build_client(config, transport=httpx.MockTransport(handler), retry=INSTANT) as client:
        report = cleanup(client, recorded(f"{PREFIX}-a"), PREFIX, sleep=waits.append)
    assert report.deleted_workflows == [f"{PREFIX}-a"] and report.left == []
    assert len(calls) == 3 and waits == [0.5, 1.0]


def test_no_time_left_means_no_request_and_an_honest_report() -> None:
    calls: list[httpx.Request] = []
    config = resolve_target(base_url="http://target.test", project="p", token=TOKEN, env={})
    transport = httpx.MockTransport(lambda r: calls.append(r) or httpx.Response(200))
    with build_client(config, transport=transport, retry=INSTANT) as client:
        report = cleanup(client, recorded(f"{PREFIX}-a"), PREFIX, deadline_s=0)
    assert calls == []
    assert report.left == [
        f"workflow {PREFIX}-a: cleanup deadline reached",
        f"workflows named {PREFIX}*: not all listed (cleanup deadline reached)",
    ]


def test_a_broken_client_never_escapes_cleanup() -> None:
    class Broken(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            raise RuntimeError("a bug somewhere below")

    config = resolve_target(base_url="http://target.test", project="p", token=TOKEN, env={})
    with build_client(config, transport=Broken(), retry=INSTANT) as client:
        report = cleanup(client, None, PREFIX)
    assert report.left[0] == "cleanup stopped early: RuntimeError: a bug somewhere below"


def test_the_report_lists_what_was_deleted() -> None:
    report = CleanupReport(deleted_workflows=["a"], deleted_versions=["b/1"])
    assert report.deleted == ["workflow a", "version b/1"]


def test_compatibility_wrapper_uses_the_runtime_ledger(target: Target) -> None:
    upsert(target.client, "stray-without-prefix")
    upsert(target.client, f"{PREFIX}-x")
    runtime = SimpleNamespace(client=target.client, run_prefix=PREFIX, ledger=target.ledger)
    deleted = delete_run_resources(cast(Any, runtime))
    assert sorted(deleted) == sorted(["stray-without-prefix", f"{PREFIX}-x"])
    without_ledger = SimpleNamespace(client=target.client, run_prefix=PREFIX)
    assert delete_run_resources(cast(Any, without_ledger)) == []
