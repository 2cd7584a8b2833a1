"""The resource ledger records what a run created from the answers, and nothing else."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from wfcontracts.target.ledger import (
    RecordedExecution,
    RecordedVersion,
    RecordedWorkflow,
    ResourceLedger,
)

ROOT = "http://target.test/api/v1/projects/p"
EXECUTION = "0b6c0b1e-7a52-4c8e-9a3c-2f0e4c1d9a11"


def execution(status: str = "RUNNING", **extra: Any) -> dict[str, Any]:
    return {"id": EXECUTION, "workflowExternalId": "wf", "version": "1", "status": status, **extra}


def test_upserts_runs_and_sessions_are_recorded() -> None:
    ledger = ResourceLedger()
    created = {"externalId": "wf", "createdTime": 5, "lastUpdatedTime": 5}
    ledger.record_exchange("POST", f"{ROOT}/workflows", 200, {"items": [created]})
    version = {"workflowExternalId": "wf", "version": "1", "createdTime": 6, "lastUpdatedTime": 6}
    ledger.record_exchange("POST", f"{ROOT}/workflows/versions", 200, {"items": [version]})
    ledger.record_exchange("POST", f"{ROOT}/workflows/wf/versions/1/run", 202, execution())
    ledger.record_exchange("POST", f"{ROOT}/sessions", 200, {"items": [{"id": 42}, {"id": 43}]})
    assert ledger.workflows() == [RecordedWorkflow("wf", created=True)]
    assert ledger.versions() == [RecordedVersion("wf", "1", created=True)]
    assert ledger.executions() == [RecordedExecution(EXECUTION, "wf", "1", "RUNNING")]
    assert ledger.sessions() == [42, 43]
    assert ledger.running_executions() == [EXECUTION]
    assert json.loads(json.dumps(ledger.to_dict())) == {
        "workflows": ["wf"],
        "versions": [{"workflowExternalId": "wf", "version": "1"}],
        "executions": {EXECUTION: "RUNNING"},
        "sessions": [42, 43],
    }


def test_an_upsert_of_a_workflow_that_existed_is_not_taken_as_created() -> None:
    ledger = ResourceLedger()
    updated = {"externalId": "theirs", "createdTime": 1, "lastUpdatedTime": 9}
    ledger.record_exchange("POST", f"{ROOT}/workflows", 200, {"items": [updated]})
    no_times = {"externalId": "unknown-age"}
    ledger.record_exchange("POST", f"{ROOT}/workflows", 200, {"items": [no_times]})
    assert ledger.workflows() == [
        RecordedWorkflow("theirs", created=False),
        RecordedWorkflow("unknown-age", created=False),
    ]
    # Once seen as created, a later update does not change who created it.
    ledger.record_exchange(
        "POST", f"{ROOT}/workflows", 200, {"items": [{"externalId": "mine", "createdTime": 3,
                                                     "lastUpdatedTime": 3}]}
    )  # fmt: skip
    ledger.record_exchange(
        "POST", f"{ROOT}/workflows", 200, {"items": [{"externalId": "mine", "createdTime": 3,
                                                     "lastUpdatedTime": 8}]}
    )  # fmt: skip
    assert RecordedWorkflow("mine", created=True) in ledger.workflows()


def test_statuses_follow_cancel_retry_retrieve_and_list() -> None:
    ledger = ResourceLedger()
    ledger.record_exchange("POST", f"{ROOT}/workflows/wf/versions/1/run", 202, execution())
    cancel = f"{ROOT}/workflows/executions/{EXECUTION}/cancel"
    ledger.record_exchange("POST", cancel, 200, execution("TERMINATED"))
    assert ledger.running_executions() == []
    retry = f"{ROOT}/workflows/executions/{EXECUTION}/retry"
    ledger.record_exchange("POST", retry, 200, execution("RUNNING"))
    assert ledger.running_executions() == [EXECUTION]
    ledger.record_exchange(
        "GET", f"{ROOT}/workflows/executions/{EXECUTION}", 200, execution("COMPLETED")
    )
    assert ledger.executions()[0].status == "COMPLETED"
    ledger.record_exchange("POST", retry, 200, execution("RUNNING"))
    listed = {"items": [execution("FAILED"), {**execution(), "id": "someone-elses"}]}
    ledger.record_exchange("POST", f"{ROOT}/workflows/executions/list", 200, listed)
    assert [(e.id, e.status) for e in ledger.executions()] == [(EXECUTION, "FAILED")]


def test_a_retry_without_a_body_still_marks_the_execution_running() -> None:
    ledger = ResourceLedger()
    retry = f"{ROOT}/workflows/executions/{EXECUTION}/retry"
    ledger.record_exchange("POST", retry, 200, b"")
    assert ledger.running_executions() == [EXECUTION]


def test_status_answers_about_executions_the_run_did_not_start_are_ignored() -> None:
    ledger = ResourceLedger()
    ledger.record_exchange(
        "GET", f"{ROOT}/workflows/executions/{EXECUTION}", 200, execution("RUNNING")
    )
    ledger.record_exchange(
        "POST", f"{ROOT}/workflows/executions/{EXECUTION}/cancel", 200, execution("TERMINATED")
    )
    assert ledger.executions() == []


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/workflows", 400),
        ("POST", "/workflows", 500),
        ("GET", "/workflows", 200),
        ("POST", "/workflows/delete", 200),
        ("POST", "/workflows/versions/list", 200),
        ("POST", "/workflows/versions/delete", 200),
        ("POST", "/workflows/wf/versions/1/run", 400),
        ("POST", "/workflows/wf/versions/1", 200),
        ("POST", "/workflows/tasks/t/update", 200),
        ("PUT", "/workflows", 200),
    ],
)
def test_other_exchanges_record_nothing(method: str, path: str, status: int) -> None:
    ledger = ResourceLedger()
    body = {"items": [{"externalId": "wf", "id": 1, "createdTime": 1, "lastUpdatedTime": 1}]}
    ledger.record_exchange(method, f"{ROOT}{path}", status, {**body, **execution()})
    assert ledger.to_dict() == {"workflows": [], "versions": [], "executions": {}, "sessions": []}


@pytest.mark.parametrize(
    "body",
    [b"<html>busy</html>", b"\xff\xfe", "not json", b"[1, 2]", b'{"items": "x"}', None, 42,
     b'{"items": [1, {"externalId": 7}, {"version": "1"}]}'],
)  # fmt: skip
def test_bodies_that_are_not_the_expected_json_are_ignored(body: object) -> None:
    ledger = ResourceLedger()
    for path in ("/workflows", "/workflows/versions", "/sessions", "/workflows/wf/versions/1/run"):
        ledger.record_exchange("POST", f"{ROOT}{path}", 200, body)
    assert ledger.to_dict() == {"workflows": [], "versions": [], "executions": {}, "sessions": []}


def test_text_and_bytes_bodies_and_relative_urls_are_understood() -> None:
    ledger = ResourceLedger()
    ledger.record_exchange("post", "/workflows", 200, '{"items": [{"externalId": "a"}]}')
    ledger.record_exchange("POST", httpx.URL(f"{ROOT}/sessions?x=1"), 201, b'{"items":[{"id":7}]}')
    assert [w.external_id for w in ledger.workflows()] == ["a"]
    assert ledger.sessions() == [7]


def test_encoded_slashes_in_ids_do_not_confuse_the_paths() -> None:
    ledger = ResourceLedger()
    run = f"{ROOT}/workflows/a%2Fb/versions/v%2F1/run"
    ledger.record_exchange("POST", run, 202, {**execution(), "workflowExternalId": "a/b"})
    assert ledger.executions()[0].workflow_external_id == "a/b"


def test_install_records_from_an_httpx_client_once() -> None:
    answers = {
        "/api/v1/projects/p/workflows": (200, {"items": [{"externalId": "wf", "createdTime": 1,
                                                           "lastUpdatedTime": 1}]}),
        "/api/v1/projects/p/sessions": (200, b"not json"),
        "/api/v1/projects/p/workflows/wf/versions/1/run": (202, execution()),
    }  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        status, body = answers[request.url.path]
        if isinstance(body, bytes):
            return httpx.Response(status, content=body)
        return httpx.Response(status, json=body)

    ledger = ResourceLedger()
    with httpx.Client(base_url=ROOT, transport=httpx.MockTransport(handler)) as client:
        ledger.install(client)
        ledger.install(client)
        assert len(client.event_hooks["response"]) == 1
        upsert = client.post("workflows", json={"items": [{"externalId": "wf"}]})
        assert upsert.json()["items"][0]["externalId"] == "wf"  # the body is still readable
        assert client.post("sessions", json={}).content == b"not json"
        with client.stream("POST", "workflows/wf/versions/1/run", json={}) as streamed:
            assert json.loads(streamed.read())["id"] == EXECUTION
    assert [w.external_id for w in ledger.workflows()] == ["wf"]
    assert ledger.running_executions() == [EXECUTION]
    assert ledger.sessions() == []
