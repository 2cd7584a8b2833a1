"""Provenance decides severity in the fuzz checks: a limit the docs state is a failure, an
inferred one an advisory (minor), and the whitespace rule is the contract's, not `str.strip`'s."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfcontracts.checks import CheckContext, CheckFailure, Exchange
from wfcontracts.checks.registry import get_check
from wfcontracts.contract import Contract, load_contract
from wfcontracts.contract.rules import EXTERNAL_ID_PATTERN, WHITESPACE, python_pattern
from wfcontracts.fuzzing.checks import (
    FuzzRun,
    InferredConstraintAdvisory,
    Limit,
    breaks,
    documented_limits,
    documented_limits_of,
    inferred_limits,
)

UPSERT = "CreateOrUpdateWorkflow"
LIST = "ListWorkflowExecutions"
CONTESTED = "\x1c\x1d\x1e\x1f\x85\ufeff\u180e\u200b"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract()


def exchange(contract: Contract, op_id: str, body: dict[str, Any], status: int) -> Exchange:
    return Exchange(
        operation=contract.operation(op_id),
        method="post",
        url="http://wfcontracts.mock/api/v1/projects/p/workflows",
        request_headers={"content-type": "application/json"},
        request_body=json.dumps(body).encode(),
        status=status,
        response_headers={"content-type": "application/json"},
        response_body=b'{"items":[]}',
    )


def verdicts(
    contract: Contract, body: dict[str, Any], status: int = 200, op_id: str = UPSERT
) -> dict[str, str]:
    """Check name -> its failure message, for the two limit checks on one request."""
    found: dict[str, str] = {}
    ctx = CheckContext(contract)
    for check in (documented_limits, inferred_limits):
        try:
            check(ctx, exchange(contract, op_id, body, status))
        except CheckFailure as failure:
            found[failure.check] = failure.message
            assert failure.severity == get_check(failure.check).severity
    return found


def test_limits_carry_their_provenance(contract: Contract) -> None:
    limits = documented_limits_of(contract)
    by_name = {f"{x.where}:{x.constraint}": x.documented for x in limits[UPSERT]}
    assert by_name["items/0/externalId:maxLength"] is True
    assert by_name["items/0/externalId:no-surrounding-whitespace"] is True
    run = {x.constraint for x in limits["TriggerRunOfSpecificVersionOfWorkflow"] if x.documented}
    assert {"maxProperties", "propertyNames.maxLength", "x-max-json-bytes"} <= run
    assert {x.constraint for x in limits["WorkflowExecutionCancellation"] if x.documented} == {
        "maxLength"
    }
    # [DOC-2] states 1..1000 for workflow versions; the executions filter is the SDK's.
    assert {(x.where, x.documented) for x in limits[LIST]} == {
        ("limit", False),
        ("filter/createdTimeStart", False),
        ("filter/createdTimeEnd", False),
    }


def test_the_two_checks_have_the_two_severities() -> None:
    assert get_check("documented_limits").severity == "major"
    assert get_check("inferred_limits").severity == "minor"


def test_an_inferred_limit_accepted_is_an_advisory(contract: Contract) -> None:
    found = verdicts(contract, {"limit": 1001}, op_id=LIST)
    assert list(found) == ["inferred_limits"]
    assert "limit with maximum measure 1001 accepted with 200" in found["inferred_limits"]
    assert verdicts(contract, {"limit": 1000}, op_id=LIST) == {}


def test_a_documented_limit_accepted_is_a_failure(contract: Contract) -> None:
    found = verdicts(contract, {"items": [{"externalId": " w "}]})
    assert list(found) == ["documented_limits"]
    assert verdicts(contract, {"items": [{"externalId": "w" * 256}]}).keys() == {
        "documented_limits"
    }


@pytest.mark.parametrize(
    "char", [c for c in CONTESTED if c not in WHITESPACE], ids=lambda c: f"U+{ord(c):04X}"
)
def test_no_whitespace_to_the_contract_is_no_finding(contract: Contract, char: str) -> None:
    """Seed 284225046: the mock accepted an id starting with U+001E, which `str.strip` strips
    but the contract's pattern (ECMA-262 `\\s`) allows."""
    assert verdicts(contract, {"items": [{"externalId": f"{char}w{char}"}]}) == {}


@pytest.mark.parametrize("char", sorted(WHITESPACE), ids=lambda c: f"U+{ord(c):04X}")
def test_contract_whitespace_accepted_is_a_failure(contract: Contract, char: str) -> None:
    assert verdicts(contract, {"items": [{"externalId": f"{char}w"}]}).keys() == {
        "documented_limits"
    }


WHITESPACE_LIMIT = Limit(UPSERT, ("items", 0, "externalId"), "no-surrounding-whitespace", 0)


@given(
    core=st.from_regex(python_pattern(EXTERNAL_ID_PATTERN), fullmatch=True),
    edge=st.sampled_from(sorted(WHITESPACE) + list(CONTESTED)),
    where=st.sampled_from(["start", "end", "none"]),
)
@settings(derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_probe_predicate_agrees_with_the_contract_pattern(
    core: str, edge: str, where: str
) -> None:
    contract = load_contract()
    value = {"start": edge + core, "end": core + edge, "none": core}[where]
    found = contract.validate(contract.schema_ref("ExternalId"), value)
    pattern_ok = not [v for v in found if v.keyword == "pattern"]
    assert (WHITESPACE_LIMIT.side(value) == "past") == (not pattern_ok), repr(value)


@pytest.mark.parametrize(
    ("operation_id", "query", "body", "verdict"),
    [
        ("FetchAllWorkflows", "cursor=", None, "inferred"),
        ("FetchAllWorkflows", "limit=1001", None, "inferred"),
        ("ListWorkflowVersions", "", {"limit": 1001}, "documented"),
        ("DeleteWorkflows", "", {"items": []}, "inferred"),
        ("DeleteWorkflows", "", {"items": [{"externalId": "\tw"}]}, "documented"),
        ("createSessions", "", {"items": [{"clientSecret": 1}]}, "inferred"),
        (UPSERT, "", {"items": [{"externalId": "\x1cw"}]}, "nothing"),
        (UPSERT, "", None, "documented"),
    ],
)
def test_breaks_tells_documented_from_inferred(
    contract: Contract, operation_id: str, query: str, body: Any, verdict: str
) -> None:
    found, violations = breaks(contract, operation_id, {}, query, body, body is not None)
    assert found == verdict, violations
    assert bool(violations) == (verdict != "nothing")


def test_an_advisory_is_recorded_and_warned_once(contract: Contract) -> None:
    run = FuzzRun(CheckContext(contract))
    failure = CheckFailure(
        check="negative_data_rejection", operation="op", seen="x", allowed="y", severity="minor"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.advise(failure)
        run.advise(failure)
    assert run.advisories == [failure]
    assert [w.category for w in caught] == [InferredConstraintAdvisory]
