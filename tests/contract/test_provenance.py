"""Every constraint of the contract says where it comes from; the documented view keeps exactly
the documented ones (what a server is failed for), and responses are judged by it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wfcontracts.contract import Contract, load_contract
from wfcontracts.contract.loader import resolve_pointer, validate_openapi
from wfcontracts.contract.provenance import (
    CONSTRAINTS,
    INFERRED,
    Constraint,
    constraints,
    is_documented_source,
    source_tags,
)

RUN = "TriggerRunOfSpecificVersionOfWorkflow"
NONCE = {"authentication": {"nonce": "n"}}
VERSION_PATH = {"workflowExternalId": "w", "version": "1"}
TASK_PATH = {"taskId": "123e4567-e89b-42d3-a456-426614174000"}


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract()


@pytest.fixture(scope="module")
def every(contract: Contract) -> list[Constraint]:
    return list(constraints(contract.document))


def _flags(node: Any, where: str = "#") -> list[tuple[str, Any, dict[str, Any]]]:
    found: list[tuple[str, Any, dict[str, Any]]] = []
    if isinstance(node, dict):
        if INFERRED in node:
            found.append((where, node[INFERRED], node))
        for key, value in node.items():
            found += _flags(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _flags(value, f"{where}/{index}")
    return found


def test_source_tags_are_read_from_x_source() -> None:
    assert source_tags("[SEED-0..4]; [DOC-3] x; [TK] ≤255") == ["SEED", "DOC", "TK"]
    assert is_documented_source("[EXPORT] TaskDefinition; [TK]")
    assert not is_documented_source("[SDK] parameter classes; [TK]; reference §4")


def test_x_inferred_is_true_or_the_keywords_of_its_schema(contract: Contract) -> None:
    for where, flag, node in _flags(contract.document):
        if flag is True:
            continue
        assert isinstance(flag, list) and flag, where
        target = node
        while "$ref" in target and not set(flag) & target.keys():
            target = resolve_pointer(contract.document, target["$ref"])
        assert set(flag) <= CONSTRAINTS, (where, flag)
        assert set(flag) <= target.keys(), f"{where}: {flag} not on the schema"


def test_every_constraint_names_its_source(every: list[Constraint]) -> None:
    assert len(every) > 200
    assert [c for c in every if not source_tags(c.source)] == []


def test_a_constraint_only_code_or_inference_supports_is_inferred(
    every: list[Constraint],
) -> None:
    """Documented means the nearest `x-source` cites the docs; SDK/toolkit-only is inferred."""
    undocumented = [c for c in every if c.documented and not is_documented_source(c.source)]
    assert undocumented == []


def test_what_the_docs_state_is_documented(contract: Contract) -> None:
    documented = contract.documented.document
    schemas = documented["components"]["schemas"]
    assert schemas["ExternalId"]["pattern"] and schemas["ExternalId"]["maxLength"] == 255
    assert schemas["Uuid4"]["maxLength"] == 36 and schemas["Uuid4"]["pattern"]
    assert schemas["Metadata"]["maxProperties"] == 10
    assert schemas["Metadata"]["propertyNames"] == {"maxLength": 32}
    assert schemas["Metadata"]["additionalProperties"]["maxLength"] == 255
    assert schemas["ListLimit"]["maximum"] == 1000  # [DOC-2], workflow versions
    assert schemas["Authentication"]["required"] == ["nonce"]
    run = contract.documented.operation(RUN)
    assert [(b.pointer, b.limit) for b in run.byte_limits] == [("/input", 102400)]
    cancel = contract.documented.operation("WorkflowExecutionCancellation").request_schema
    assert cancel is not None and cancel["properties"]["reason"]["maxLength"] == 500


def test_the_documented_view_is_still_a_valid_contract(contract: Contract) -> None:
    validate_openapi(Path("documented-view"), contract.documented.document)
    assert contract.documented.operations.keys() == contract.operations.keys()


def _issue_16() -> list[tuple[str, str, Any]]:
    """What a correct server validating only the documented rules accepted (issue 16)."""
    simulation = {"simulation": {"routineExternalId": "r", "inputs": [{}] * 201}}
    task = {"externalId": "t", "type": "simulation", "parameters": simulation}
    version = {"workflowExternalId": "w", "version": "1", "workflowDefinition": {"tasks": [task]}}
    return [
        ("FetchAllWorkflows", "cursor=", None),
        ("ListWorkflowVersions", "", {"cursor": ""}),
        ("ListWorkflowExecutions", "", {"cursor": ""}),
        ("DeleteWorkflows", "", {"items": []}),
        ("DeleteSpecificVersionsOfWorkflow", "", {"items": []}),
        ("CreateOrUpdateWorkflow", "", {"items": [{"externalId": "w", "maxConcurrentExecutions": 0}]}),  # noqa: E501
        ("CreateOrUpdateWorkflowVersion", "", {"items": [version]}),
        ("createSessions", "", {"items": [{"clientId": "c", "clientSecret": 7}]}),
    ]  # fmt: skip


@pytest.mark.parametrize(("operation_id", "query", "body"), _issue_16())
def test_requests_breaking_only_inferred_rules(
    contract: Contract, operation_id: str, query: str, body: Any
) -> None:
    has_body = body is not None
    assert contract.request_violations(operation_id, {}, query, body, has_body=has_body)
    view = contract.documented
    assert view.request_violations(operation_id, {}, query, body, has_body=has_body) == []


@pytest.mark.parametrize(
    ("operation_id", "path", "query", "body"),
    [
        ("CreateOrUpdateWorkflow", {}, "", {"items": [{"externalId": " w"}]}),
        ("CreateOrUpdateWorkflow", {}, "", {"items": [{"externalId": "w" * 256}]}),
        ("CreateOrUpdateWorkflow", {}, "", {"items": [{"externalId": "a"}, {"externalId": "b"}]}),
        (RUN, VERSION_PATH, "", {"authentication": {}}),
        (RUN, VERSION_PATH, "", {**NONCE, "metadata": {"k": 1}}),
        (RUN, VERSION_PATH, "", {**NONCE, "input": {"p": "x" * 102400}}),
        ("WorkflowExecutionCancellation", {"executionId": "0" * 36}, "", {}),
        ("ListWorkflowVersions", {}, "", {"limit": 1001}),
        ("UpdateTaskStatus", TASK_PATH, "", {"status": "X"}),
    ],
)  # fmt: skip
def test_documented_rules_stay_in_the_view(
    contract: Contract, operation_id: str, path: dict[str, str], query: str, body: Any
) -> None:
    view = contract.documented
    assert view.request_violations(operation_id, path, query, body, has_body=True)


def test_an_echoed_request_side_limit_is_no_response_defect(contract: Contract) -> None:
    simulation = {"simulation": {"routineExternalId": "r", "inputs": [{}] * 201}}
    task = {"externalId": "t", "type": "simulation", "parameters": simulation, "timeout": 5}
    version = {
        "workflowExternalId": "w",
        "version": "1",
        "workflowDefinition": {"hash": "h", "tasks": [task]},
        "createdTime": 1,
        "lastUpdatedTime": 1,
    }
    upsert = "CreateOrUpdateWorkflowVersion"
    schema = contract.operation(upsert).response_schema(200)
    assert schema is not None and contract.validate(schema, {"items": [version]})
    assert contract.response_violations(upsert, 200, {"items": [version]}) == []
    task["type"] = "notebook"
    assert [v.keyword for v in contract.response_violations(upsert, 200, {"items": [version]})] == [
        "enum"
    ]
