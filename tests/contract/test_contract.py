"""The contract validates, accepts the real SDK payload and rejects each documented violation."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from wfcontracts.contract import Contract, ContractError, load_contract

SHARED = Path(__file__).resolve().parents[3] / "shared" / "reference"
FIXTURE = SHARED / "sdk-python" / "workflow_execution_detailed.json"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract()


@pytest.fixture(scope="module")
def real_execution() -> dict[str, Any]:
    if not FIXTURE.is_file():
        pytest.skip(f"reference payload not found at {FIXTURE}")
    return dict(json.loads(FIXTURE.read_text()))


def violations(contract: Contract, schema: str, instance: Any) -> list[str]:
    return [str(v) for v in contract.validate(contract.schema_ref(schema), instance)]


def test_every_operation_the_lifecycle_needs_is_in_the_contract(contract: Contract) -> None:
    assert sorted(op.label for op in contract.operations.values()) == sorted(
        [
            "GET /workflows", "POST /workflows", "POST /workflows/delete",
            "GET /workflows/{workflowExternalId}", "POST /workflows/versions",
            "POST /workflows/versions/list", "POST /workflows/versions/delete",
            "GET /workflows/{workflowExternalId}/versions/{version}",
            "POST /workflows/{workflowExternalId}/versions/{version}/run",
            "POST /workflows/executions/list", "GET /workflows/executions/{executionId}",
            "POST /workflows/executions/{executionId}/cancel",
            "POST /workflows/executions/{executionId}/retry",
            "POST /workflows/tasks/{taskId}/update", "POST /sessions",
        ]
    )  # fmt: skip


def test_every_operation_names_its_source(contract: Contract) -> None:
    assert all(op.source for op in contract.operations.values())


def test_run_is_202_and_links_to_retrieve_cancel_retry(contract: Contract) -> None:
    run = contract.operation("TriggerRunOfSpecificVersionOfWorkflow")
    assert "202" in run.responses and "200" not in run.responses
    links = run.links["202"]
    assert {link["operationId"] for link in links.values()} == {
        "ExecutionOfSpecificRunOfWorkflow",
        "WorkflowExecutionCancellation",
        "WorkflowExecutionRetry",
    }
    assert all(link["parameters"]["executionId"] == "$response.body#/id" for link in links.values())


def test_byte_limits_are_vendor_keywords(contract: Contract) -> None:
    run = contract.operation("TriggerRunOfSpecificVersionOfWorkflow")
    update = contract.operation("UpdateTaskStatus")
    assert [(b.pointer, b.limit) for b in run.byte_limits] == [("/input", 102400)]
    assert [(b.pointer, b.limit) for b in update.byte_limits] == [("/output", 102400)]


def test_every_error_response_is_the_cdf_envelope(contract: Contract) -> None:
    for op in contract.operations.values():
        for status in op.responses:
            if int(status) >= 400:
                assert op.response_schema(int(status)) == {
                    "$ref": "#/components/schemas/ErrorResponse"
                }, (op, status)


def test_the_real_sdk_payload_validates_but_for_its_one_non_string_metadata_value(
    contract: Contract, real_execution: dict[str, Any]
) -> None:
    # The docs say metadata is string -> string; the SDK's 2023 fixture has "best_number": 42.
    # The contract keeps the documented rule: exactly that one value is flagged, nothing else.
    assert violations(contract, "WorkflowExecutionDetailed", real_execution) == [
        "/metadata/best_number: 42 is not of type 'string'"
    ]
    fixed = copy.deepcopy(real_execution)
    fixed["metadata"]["best_number"] = "42"
    assert violations(contract, "WorkflowExecutionDetailed", fixed) == []


def _execution(real: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(real)
    body["metadata"] = {"supervisor": "Jimmy"}
    return body


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda e: e.update(id=e["id"] + "0"), "/id"),
        (lambda e: e.update(metadata={f"k{i}": "v" for i in range(11)}), "/metadata"),
        (lambda e: e.update(metadata={"k" * 33: "v"}), "/metadata"),
        (lambda e: e.update(metadata={"k": "v" * 256}), "/metadata/k"),
        (lambda e: e.update(createdTime=-1), "/createdTime"),
        (lambda e: e.update(status="SUCCEEDED"), "/status"),
        (lambda e: e["executedTasks"][0].update(status="DONE"), "/executedTasks/0/status"),
        (lambda e: e.pop("workflowExternalId"), "/"),
    ],
    ids=["37-char-id", "11-metadata-pairs", "33-char-key", "256-char-value", "negative-timestamp",
         "unknown-status", "unknown-task-status", "missing-required"],
)  # fmt: skip
def test_hand_made_violations_are_rejected(
    contract: Contract, real_execution: dict[str, Any], mutate: Any, expected: str
) -> None:
    body = _execution(real_execution)
    assert violations(contract, "WorkflowExecutionDetailed", body) == []
    mutate(body)
    found = violations(contract, "WorkflowExecutionDetailed", body)
    assert any(v.startswith(expected + ":") for v in found), found


def test_cancel_reason_is_at_most_500(contract: Contract) -> None:
    schema = contract.operation("WorkflowExecutionCancellation").request_schema
    assert schema is not None
    assert contract.validate(schema, {"reason": "r" * 500}) == []
    assert [v.pointer for v in contract.validate(schema, {"reason": "r" * 501})] == ["/reason"]


def test_external_ids_reject_padding_and_nul(contract: Contract) -> None:
    for bad in (" wf", "wf ", "w\x00f", "x" * 256, ""):
        assert violations(contract, "ExternalId", bad), bad
    for good in ("wf", "a b", "x" * 255, "a/b"):
        assert violations(contract, "ExternalId", good) == [], good


def test_reserved_task_ids_are_rejected(contract: Contract) -> None:
    assert violations(contract, "TaskExternalId", "workflow")
    assert violations(contract, "TaskExternalId", "__hidden")
    assert violations(contract, "TaskExternalId", "my_task") == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("openapi: 3.1.0\ninfo: [unclosed\n", "YAML syntax error"),
        (
            "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n"
            "      responses:\n        '200': {$ref: '#/components/responses/Nope'}\n",
            "does not resolve",
        ),
        ("openapi: 3.1.0\npaths: {}\n", "info"),
        ("- just\n- a list\n", "expected an OpenAPI document"),
    ],
    ids=["syntax-error", "dangling-ref", "missing-info", "not-a-mapping"],
)
def test_malformed_contracts_give_one_line_errors(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ContractError) as raised:
        load_contract(path)
    message = str(raised.value)
    assert "\n" not in message and str(path) in message and problem in message


def test_a_missing_contract_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="cannot read contract"):
        load_contract(tmp_path / "nope.yaml")


def test_route_matching_prefers_literal_segments(contract: Contract) -> None:
    matched = contract.match("post", "/workflows/versions")
    assert matched is not None and matched[0].operation_id == "CreateOrUpdateWorkflowVersion"
    matched = contract.match("get", "/workflows/a%2Fb/versions/1")
    assert matched is not None and matched[1] == {"workflowExternalId": "a/b", "version": "1"}
    assert contract.match("delete", "/workflows") is None
