"""Cassette drift: recorded responses against the contract, and one run against another."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import vcr
import yaml

from wfcontracts.cassettes.scrub import vcr_config
from wfcontracts.compat.drift import (
    Cassette,
    CassetteError,
    Change,
    compare_runs,
    drift_as_dict,
    drift_report,
    find_cassettes,
    format_changes,
    format_drift,
    load_cassettes,
)
from wfcontracts.contract import Contract, load_contract
from wfcontracts.errors import WfcontractsError
from wfcontracts.mock.service import LOCAL_TOKEN, embedded_mock
from wfcontracts.scenarios.probes import succeed_task

BASE = "http://mock.local/api/v1/projects/demo"
EXECUTION_ID = "61bcd879-5bf5-4192-a9f3-6b91c58e1b90"
GET_EXECUTION = "ExecutionOfSpecificRunOfWorkflow"
RUN = "TriggerRunOfSpecificVersionOfWorkflow"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract()


def record_lifecycle(path: Path) -> None:
    """Upsert, run and poll a probe workflow on the embedded mock, recording with vcrpy."""
    mock = embedded_mock()
    inner = mock.transport()
    # vcrpy patches httpx's own transports; httpx.MockTransport lets it see in-process calls.
    transport = httpx.MockTransport(inner.handle_request)
    headers = {"Authorization": f"Bearer {LOCAL_TOKEN}"}
    recorder = vcr.VCR(**vcr_config(secrets=[LOCAL_TOKEN]))
    with (
        recorder.use_cassette(str(path), record_mode="all"),
        httpx.Client(transport=transport, headers=headers, base_url=BASE) as client,
    ):
        workflow = {"workflowExternalId": "wf", "version": "1"}
        tasks = [succeed_task("ok")]
        version = {**workflow, "workflowDefinition": {"tasks": tasks}}
        client.post("/workflows", json={"items": [{"externalId": "wf"}]}).raise_for_status()
        client.post("/workflows/versions", json={"items": [version]}).raise_for_status()
        session = client.post("/sessions", json={"items": [{"tokenExchange": True}]}).json()
        body = {
            "authentication": {"nonce": session["items"][0]["nonce"]},
            "input": {"free": {"form": [1, 2]}},
            "metadata": {"team": "contracts"},
        }
        run = client.post("/workflows/wf/versions/1/run", json=body).json()
        mock.advance(10_000)
        client.get(f"/workflows/executions/{run['id']}").raise_for_status()
        client.post("/workflows/executions/list", json={"limit": 5}).raise_for_status()
        client.get("/workflows/missing")
        client.post("http://mock.local/_mock/reset")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cassettes") / "lifecycle" / "run.yaml"
    record_lifecycle(path)
    return path


def contract_variant(
    tmp_path: Path, contract: Contract, edit: Callable[[dict[str, Any]], None]
) -> Contract:
    document = copy.deepcopy(contract.document)
    edit(document)
    path = tmp_path / "edited.openapi.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return load_contract(path)


def execution_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": EXECUTION_ID,
        "workflowExternalId": "wf",
        "version": "1",
        "status": "COMPLETED",
        "engineExecutionId": "f87ddb7c-9013-4320-b0c0-a1032d268c6d",
        "createdTime": 1700000000000,
        "metadata": {"team": "contracts"},
        "reasonForIncompletion": "none",
        "workflowDefinition": {"hash": "AB", "tasks": []},
        "executedTasks": [],
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def interaction(
    uri: str, status: int = 200, body: Any = None, method: str = "GET", text: str | None = None
) -> dict[str, Any]:
    string = text if text is not None else ("" if body is None else json.dumps(body))
    return {
        "request": {"method": method, "uri": uri, "body": None, "headers": {}},
        "response": {
            "status": {"code": status, "message": "x"},
            "headers": {"Content-Type": ["application/json"]},
            "body": {"string": string},
        },
    }


def get_execution(status: int = 200, body: Any = None) -> dict[str, Any]:
    uri = f"{BASE}/workflows/executions/{EXECUTION_ID}"
    return interaction(uri, status, execution_body() if body is None else body)


def write_cassette(path: Path, interactions: list[dict[str, Any]], **extra: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": 1, "interactions": interactions, **extra}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def cassette(tmp_path: Path, name: str, *interactions: dict[str, Any], **extra: Any) -> Cassette:
    return load_cassettes([write_cassette(tmp_path / name, list(interactions), **extra)])[0]


def notes(entries: Iterator[Any] | list[Any]) -> set[tuple[str, int, str]]:
    return {(note.operation, note.status, note.pointer) for note in entries}


# --------------------------------------------------------------------------- recorded from the mock


def test_recording_from_the_mock_is_clean(recorded: Path, contract: Contract) -> None:
    report = drift_report(contract, load_cassettes([recorded]))

    assert report.clean, format_drift(report)
    assert report.checked == 7
    assert [(s.method, s.path) for s in report.skipped] == [("POST", "/_mock/reset")]
    assert report.undocumented == []  # metadata keys and free-form input are declared
    seen = {(s.operation, s.seen) for s in report.statuses}
    assert (GET_EXECUTION, (200,)) in seen
    assert ("fetchWorkflowDetails", (404,)) in seen


def test_recording_lists_fields_never_returned(recorded: Path, contract: Contract) -> None:
    report = drift_report(contract, load_cassettes([recorded]))

    never = notes(report.never_seen)
    assert (RUN, 202, "/reasonForIncompletion") in never
    assert (GET_EXECUTION, 200, "/executedTasks/[]/parentTaskExternalId") in never
    # Only the topmost unseen field: nothing below an object that never appeared.
    function_fields = "/items/[]/workflowDefinition/tasks/[]/parameters/function/"
    assert not [p for _, _, p in never if p.startswith(function_fields)]
    assert (GET_EXECUTION, 200, "/metadata") not in never


def test_removed_response_field_is_reported_undocumented(
    recorded: Path, contract: Contract, tmp_path: Path
) -> None:
    def remove_engine_id(document: dict[str, Any]) -> None:
        schema = document["components"]["schemas"]["WorkflowExecution"]
        del schema["properties"]["engineExecutionId"]
        schema["required"].remove("engineExecutionId")

    edited = contract_variant(tmp_path, contract, remove_engine_id)
    report = drift_report(edited, load_cassettes([recorded]))

    found = notes(report.undocumented)
    assert (RUN, 202, "/engineExecutionId") in found
    assert (GET_EXECUTION, 200, "/engineExecutionId") in found  # through allOf
    note = next(n for n in report.undocumented if n.operation == RUN)
    assert note.json_types == ("string",)
    assert note.first_seen.endswith("interactions[3]")
    assert report.clean  # undocumented fields are informational
    assert "/engineExecutionId" in format_drift(report)


def test_field_added_to_the_contract_is_never_seen(
    recorded: Path, contract: Contract, tmp_path: Path
) -> None:
    def add_field(document: dict[str, Any]) -> None:
        schema = document["components"]["schemas"]["WorkflowExecution"]
        schema["properties"]["triggeredBy"] = {"type": "string"}

    edited = contract_variant(tmp_path, contract, add_field)
    report = drift_report(edited, load_cassettes([recorded]))

    assert (RUN, 202, "/triggeredBy") in notes(report.never_seen)
    assert (GET_EXECUTION, 200, "/triggeredBy") in notes(report.never_seen)
    assert ("ListWorkflowExecutions", 200, "/items/[]/triggeredBy") in notes(report.never_seen)


def test_response_edited_to_break_the_schema_is_reported(
    recorded: Path, contract: Contract
) -> None:
    data = yaml.safe_load(recorded.read_text(encoding="utf-8"))
    response = data["interactions"][4]["response"]
    body = json.loads(response["body"]["string"])
    body["status"] = "DONE"
    response["body"]["string"] = json.dumps(body)
    edited = write_cassette(recorded.parent / "edited.yaml", data["interactions"])

    report = drift_report(contract, load_cassettes([edited]))

    assert not report.clean
    [error] = report.errors
    assert (error.operation, error.status, error.pointer, error.index) == (
        GET_EXECUTION,
        200,
        "/status",
        4,
    )
    assert error.cassette == str(edited)
    assert "'DONE' is not one of" in error.message
    assert str(error).startswith(
        f"{edited} interactions[4] {GET_EXECUTION} (GET /workflows/executions/"
    )
    assert "Result: 1 validation error(s)" in format_drift(report)


# --------------------------------------------------------------------------- hand-made cassettes


def test_undocumented_status_and_missing_json_are_errors(
    tmp_path: Path, contract: Contract
) -> None:
    html = interaction(f"{BASE}/workflows/executions/{EXECUTION_ID}", 200, text="<html/>")
    html["response"]["headers"] = {"content-type": ["text/html"]}
    teapot = get_execution(418, {"error": {"code": 418, "message": "teapot"}})
    report = drift_report(contract, [cassette(tmp_path, "c.yaml", html, teapot)])

    messages = [(e.index, e.status, e.message) for e in report.errors]
    assert messages == [
        (0, 200, "no JSON body (content-type: text/html); the contract documents a JSON body"),
        (1, 418, "status 418 is not documented (documented: 200, 400, 401, 403, 404, 429, 500)"),
    ]


def test_token_endpoint_and_unknown_paths_are_skipped(tmp_path: Path, contract: Contract) -> None:
    token = interaction(
        "https://login.example.com/oauth2/v2.0/token", body={"expires_in": 1}, method="POST"
    )
    unknown = interaction(f"{BASE}/timeseries", body={"items": []})
    report = drift_report(contract, [cassette(tmp_path, "c.yaml", token, unknown, get_execution())])

    assert report.checked == 1
    assert [(s.index, s.path, s.reason) for s in report.skipped] == [
        (0, "/oauth2/v2.0/token", "not in the contract"),
        (1, "/api/v1/projects/demo/timeseries", "not in the contract"),
    ]


def test_nested_undocumented_field_is_reported_once(tmp_path: Path, contract: Contract) -> None:
    body = execution_body(extra={"deep": {"er": 1}})
    body["workflowDefinition"]["tasks"] = [{**succeed_task("t"), "shadow": True}]
    report = drift_report(contract, [cassette(tmp_path, "c.yaml", get_execution(body=body))])

    assert notes(report.undocumented) == {
        (GET_EXECUTION, 200, "/extra"),
        (GET_EXECUTION, 200, "/workflowDefinition/tasks/[]/shadow"),
    }


def test_stale_cassettes_are_reported(tmp_path: Path, contract: Contract) -> None:
    stamp = {"contractSha256": "0" * 64, "recordedAt": "2025-01-01T00:00:00Z"}
    old = cassette(tmp_path, "old.yaml", get_execution(), wfcontracts=stamp)
    fresh = cassette(
        tmp_path, "fresh.yaml", get_execution(), wfcontracts={"contractSha256": contract.sha256}
    )
    unstamped = cassette(tmp_path, "plain.yaml", get_execution())

    report = drift_report(contract, [old, fresh, unstamped])

    assert [info.file for info in report.stale] == [old.name]
    assert report.clean
    assert f"stale: {old.name} was recorded under contract {'0' * 64}" in format_drift(report)
    as_dict = json.loads(json.dumps(drift_as_dict(report)))
    assert [c["stale"] for c in as_dict["cassettes"]] == [True, False, False]
    assert as_dict["cassettes"][0]["recordedAt"] == "2025-01-01T00:00:00Z"


def test_report_as_dict_carries_every_list(recorded: Path, contract: Contract) -> None:
    data = drift_as_dict(drift_report(contract, load_cassettes([recorded])))

    assert data["clean"] is True
    assert data["contract"]["sha256"] == contract.sha256
    assert data["checked"] == 7
    assert {"errors", "undocumented", "neverSeen", "statuses", "skipped"} <= data.keys()
    json.dumps(data)


def test_find_cassettes_lists_yaml_files_sorted(tmp_path: Path) -> None:
    for name in ("b/2.yaml", "a/1.yml", "a/notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")

    assert find_cassettes(tmp_path) == [tmp_path / "a/1.yml", tmp_path / "b/2.yaml"]
    assert find_cassettes(tmp_path / "absent") == []


# --------------------------------------------------------------------------- broken cassettes

CORRUPT = {
    "yaml": ("version: 1\ninteractions: [\n  - {request: }\n", "invalid YAML at line"),
    "not-a-mapping": ("- 1\n- 2\n", "not a vcrpy cassette: expected a mapping, got a list"),
    "no-interactions": ("version: 1\n", "not a vcrpy cassette: missing 'interactions'"),
    "version": ("version: 2\ninteractions: []\n", "unsupported cassette version 2"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_cassette_files(tmp_path: Path, case: str) -> None:
    text, expected = CORRUPT[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text, encoding="utf-8")

    assert expected in one_line_error(path)


def broken_response(part: str) -> dict[str, Any]:
    item = get_execution()
    if part == "response":
        del item["response"]
    elif part == "request":
        del item["request"]
    elif part == "status":
        del item["response"]["status"]
    else:
        item["response"]["body"]["string"] = '{"id": "truncated'
    return item


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        ("request", "interactions[1]: missing 'request'"),
        ("response", "interactions[1]: missing 'response'"),
        ("status", "interactions[1]: response has no integer status 'code'"),
        ("body", "interactions[1]: response body is not JSON although content-type is"),
    ],
)
def test_corrupt_interactions(tmp_path: Path, part: str, expected: str) -> None:
    path = write_cassette(tmp_path / "edited.yaml", [get_execution(), broken_response(part)])

    assert expected in one_line_error(path)


def test_missing_cassette_file(tmp_path: Path) -> None:
    assert "cannot read cassette: No such file or directory" in one_line_error(
        tmp_path / "gone.yaml"
    )


def one_line_error(path: Path) -> str:
    with pytest.raises(CassetteError) as caught:
        load_cassettes([path])
    message = str(caught.value)
    assert isinstance(caught.value, WfcontractsError)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


# --------------------------------------------------------------------------- comparing runs


def test_identical_runs_have_no_changes(recorded: Path, contract: Contract) -> None:
    run = load_cassettes([recorded])

    assert compare_runs(run, run, contract=contract) == []
    assert format_changes([]) == "No changes between the runs."


def test_compare_runs_finds_field_type_and_status_changes(
    tmp_path: Path, contract: Contract
) -> None:
    baseline = cassette(tmp_path, "base.yaml", get_execution())
    changed = execution_body(reasonForIncompletion=None, createdTime="2025-01-01", triggeredBy="me")
    missing = {"error": {"code": 404, "message": "not found"}}
    current = cassette(
        tmp_path, "live.yaml", get_execution(body=changed), get_execution(404, missing)
    )

    changes = compare_runs([baseline], [current], contract=contract)

    summary = {(c.kind, c.status, c.pointer, c.before, c.after) for c in changes}
    assert summary == {
        ("status-added", 404, "", "", ""),
        ("field-added", 200, "/triggeredBy", "", "string"),
        ("field-removed", 200, "/reasonForIncompletion", "string", ""),
        ("type-changed", 200, "/createdTime", "integer", "string"),
    }
    assert all(c.operation == GET_EXECUTION for c in changes)
    text = format_changes(changes)
    assert text.startswith(
        "4 change(s): 1 field-added, 1 field-removed, 1 status-added, 1 type-changed"
    )
    label = f"{GET_EXECUTION} (GET /workflows/executions/{{executionId}})"
    assert f"{label} 200: /createdTime type integer -> string" in text


def test_compare_runs_finds_status_codes_that_disappear(tmp_path: Path, contract: Contract) -> None:
    missing = {"error": {"code": 404, "message": "not found"}}
    baseline = cassette(tmp_path, "base.yaml", get_execution(), get_execution(404, missing))
    current = cassette(tmp_path, "live.yaml", get_execution())

    assert compare_runs([baseline], [current], contract=contract) == [
        Change(GET_EXECUTION, "GET /workflows/executions/{executionId}", 404, "status-removed")
    ]


def test_compare_runs_ignores_map_keys_and_free_form_content(
    tmp_path: Path, contract: Contract
) -> None:
    baseline = cassette(tmp_path, "base.yaml", get_execution(body=execution_body(input={"a": 1})))
    other = execution_body(metadata={"other": "key"}, input={"b": [2]})
    current = cassette(tmp_path, "live.yaml", get_execution(body=other))

    assert compare_runs([baseline], [current], contract=contract) == []
