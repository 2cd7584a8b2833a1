"""Boundary generation: the documented limits come out of the contract, not a hand-made list."""

from __future__ import annotations

import json

import pytest

from wfcontracts.contract import compact_json_size, load_contract
from wfcontracts.scenarios.boundaries import boundary_cases, json_object_of_size, padded, set_path

CASES = boundary_cases(load_contract())


def test_the_documented_limits_are_all_generated() -> None:
    """The issue's list of limits must come out of the contract, not out of a hand-made list."""
    ids = {c.id for c in CASES}
    for expected in (
        "TriggerRunOfSpecificVersionOfWorkflow:input:x-max-json-bytes=102400:accept",
        "TriggerRunOfSpecificVersionOfWorkflow:metadata:maxProperties=10:reject",
        "TriggerRunOfSpecificVersionOfWorkflow:metadata:propertyNames.maxLength=32:reject",
        "TriggerRunOfSpecificVersionOfWorkflow:metadata:additionalProperties.maxLength=255:reject",
        "WorkflowExecutionCancellation:reason:maxLength=500:reject",
        "CreateOrUpdateWorkflow:items/0/externalId:maxLength=255:reject",
        "CreateOrUpdateWorkflow:items/0/externalId:no-surrounding-whitespace=0:reject",
        "ListWorkflowExecutions:limit:maximum=1000:reject",
        "ListWorkflowExecutions:limit:minimum=1:reject",
        "UpdateTaskStatus:output:x-max-json-bytes=102400:reject",
    ):
        assert expected in ids


@pytest.mark.parametrize("size", [10, 102400, 102401])
def test_json_objects_of_an_exact_size(size: int) -> None:
    assert compact_json_size(json_object_of_size(size)) == size


def test_padded_strings_have_the_exact_length_and_no_trailing_space() -> None:
    for length in (1, 32, 255, 256):
        text = padded("wfcontracts-abc", length)
        assert len(text) == length and text == text.strip()


def test_set_path_copies_and_creates_members() -> None:
    body = {"items": [{"externalId": "a"}]}
    assert set_path(body, ("items", 0, "externalId"), "b") == {"items": [{"externalId": "b"}]}
    assert body == {"items": [{"externalId": "a"}]}
    assert set_path({}, ("filter", "createdTimeStart"), 5) == {"filter": {"createdTimeStart": 5}}


def test_every_case_has_both_sides_and_a_stable_id() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert ids == [c.id for c in boundary_cases(load_contract())]
    json.dumps(ids)
