from __future__ import annotations

from typing import Any

import pytest

from wfcontracts.errors import WfcontractsError
from wfcontracts.reporting.gate import (
    GatePolicy,
    ReportInputError,
    evaluate_gate,
    normalise_severity,
    parse_fail_on,
)


def _failed(check: str, severity: str | None, outcome: str = "failed") -> dict[str, Any]:
    entry: dict[str, Any] = {
        "suite": "contract",
        "operation": "cancelExecution",
        "check": check,
        "outcome": outcome,
    }
    if severity is not None:
        entry["severity"] = severity
    return entry


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("critical", {"critical"}),
        ("critical,major", {"critical", "major"}),
        (" Major , CRITICAL ", {"critical", "major"}),
        ("critical,major,minor", {"critical", "major", "minor"}),
        ("none", set()),
    ],
)
def test_parse_fail_on_accepts_severity_lists(text: str, expected: set[str]) -> None:
    assert parse_fail_on(text).fail_on == frozenset(expected)


@pytest.mark.parametrize("text", ["blocker", "critical,bogus", "", " , "])
def test_parse_fail_on_rejects_bad_values_with_one_line(text: str) -> None:
    with pytest.raises(ReportInputError) as caught:
        parse_fail_on(text)
    message = str(caught.value)
    assert "\n" not in message
    assert "--fail-on" in message and "critical, major, minor" in message
    assert isinstance(caught.value, WfcontractsError)


def test_default_policy_fails_on_critical_and_major_and_warns_on_minor() -> None:
    policy = GatePolicy()
    assert policy.as_dict() == {"critical": "fail", "major": "fail", "minor": "warn"}
    assert policy.describe() == "critical,major"


def test_summary_fixture_fails_default_gate_on_its_critical_failure(
    summary: dict[str, Any],
) -> None:
    gate = evaluate_gate(summary["checks"])
    assert gate["passed"] is False
    assert gate["reasons"] == [
        "critical: cancel_reason_max_length failed (contract · cancelExecution)"
    ]
    assert gate["warnings"] == ["minor: x_request_id_present failed (contract · listExecutions)"]
    assert gate["failOn"] == {"critical": "fail", "major": "fail", "minor": "warn"}


def test_minor_failures_only_warn_so_the_gate_passes() -> None:
    gate = evaluate_gate([_failed("x_request_id_present", "minor")], parse_fail_on("critical"))
    assert gate["passed"] is True
    assert gate["reasons"] == []
    assert len(gate["warnings"]) == 1


def test_stricter_policy_fails_on_minor() -> None:
    gate = evaluate_gate([_failed("x_request_id_present", "minor")], parse_fail_on("minor"))
    assert gate["passed"] is False


def test_none_policy_never_fails_but_still_warns() -> None:
    gate = evaluate_gate([_failed("a", "critical")], parse_fail_on("none"))
    assert gate["passed"] is True
    assert gate["warnings"] == ["critical: a failed (contract · cancelExecution)"]


def test_errors_count_like_failures() -> None:
    gate = evaluate_gate([_failed("a", "major", outcome="error")])
    assert gate["passed"] is False
    assert gate["reasons"] == ["major: a errored (contract · cancelExecution)"]


def test_passed_and_skipped_checks_never_fail_the_gate() -> None:
    checks = [_failed("a", "critical", "passed"), _failed("b", "critical", "skipped")]
    assert evaluate_gate(checks) == {
        "passed": True,
        "failOn": {"critical": "fail", "major": "fail", "minor": "warn"},
        "reasons": [],
        "warnings": [],
    }


def test_missing_severity_counts_as_major_and_unknown_as_critical() -> None:
    assert normalise_severity(None) == "major"
    assert normalise_severity("") == "major"
    assert normalise_severity("Blocker") == "critical"
    gate = evaluate_gate([_failed("a", None), _failed("b", "typo")], parse_fail_on("critical"))
    assert gate["reasons"] == ["critical: b failed (contract · cancelExecution)"]
    assert gate["warnings"] == ["major: a failed (contract · cancelExecution)"]


def test_reasons_are_ordered_by_severity_then_name() -> None:
    checks = [_failed("z", "major"), _failed("b", "critical"), _failed("a", "critical")]
    reasons = evaluate_gate(checks)["reasons"]
    assert [reason.split()[1] for reason in reasons] == ["a", "b", "z"]


def test_a_run_without_checks_passes_with_a_warning() -> None:
    gate = evaluate_gate([])
    assert gate["passed"] is True
    assert gate["warnings"] == ["no check ran: the gate has nothing to judge"]


def test_unknown_or_missing_outcomes_count_as_errors() -> None:
    checks: list[dict[str, Any]] = [{"check": "a", "outcome": "weird"}, {"check": "b"}]
    assert evaluate_gate(checks)["reasons"] == ["major: a errored", "major: b errored"]
