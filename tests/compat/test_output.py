"""Formatters render findings faithfully; the gate maps severities to exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from wfcontracts.compat.diff import Finding
from wfcontracts.compat.output import (
    FailOn,
    count_line,
    exit_code,
    format_json,
    format_junit,
    format_table,
)

BREAKING = Finding(
    "request-maximum-decreased",
    "breaking",
    "POST /workflows/executions/list request body filter.limit",
    "maximum tightened: old 1000, new 100",
)
BREAKING_SAME_PLACE = Finding(
    "request-maximum-decreased",
    "breaking",
    "POST /workflows/executions/list request body filter.limit",
    "exclusiveMaximum tightened: old none, new 100",
)
WARNING = Finding(
    "response-enum-value-added",
    "warning",
    "GET /workflows/executions/{executionId} response 200 body status",
    'enum value added: old did not return "PAUSED", new may',
)
INFO = Finding(
    "operation-added",
    "info",
    "POST /workflows/executions/{executionId}/pause",
    "operation added: old did not document it, new does",
)
ALL = [BREAKING, BREAKING_SAME_PLACE, WARNING, INFO]


def test_table_aligns_columns_and_closes_with_the_count() -> None:
    lines = format_table([BREAKING, WARNING, INFO]).splitlines()
    assert lines[0].split() == ["SEVERITY", "RULE", "LOCATION", "MESSAGE"]
    message_column = lines[0].index("MESSAGE")
    for line, finding in zip(lines[1:4], [BREAKING, WARNING, INFO], strict=True):
        assert line.startswith(finding.severity)
        assert line.index(finding.message) == message_column
        assert line.index(finding.location) == lines[0].index("LOCATION")
    assert lines[-2:] == ["", "3 findings: 1 breaking, 1 warning, 1 info"]


def test_table_without_findings_says_so() -> None:
    assert format_table([]) == (
        "No differences that matter to clients.\n0 findings: 0 breaking, 0 warning, 0 info"
    )


def test_count_line_uses_the_singular_for_one() -> None:
    assert count_line([INFO]) == "1 finding: 0 breaking, 0 warning, 1 info"


def test_json_lists_findings_in_order_with_a_summary() -> None:
    document = json.loads(format_json(ALL))
    assert [f["message"] for f in document["findings"]] == [f.message for f in ALL]
    assert document["findings"][2] == {
        "rule": WARNING.rule,
        "severity": "warning",
        "location": WARNING.location,
        "message": WARNING.message,
    }
    assert document["summary"] == {"breaking": 2, "warning": 1, "info": 1, "total": 4}


def test_junit_has_one_testcase_per_rule_and_location() -> None:
    suite = ET.fromstring(format_junit(ALL))
    cases = suite.findall("testcase")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "0")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        (f"compat.{f.rule}", f.location) for f in (BREAKING, WARNING, INFO)
    ]
    failure = cases[0].find("failure")
    assert failure is not None
    assert failure.get("type") == BREAKING.rule
    assert failure.text == f"breaking: {BREAKING.message}\nbreaking: {BREAKING_SAME_PLACE.message}"


def test_junit_passes_non_breaking_findings_with_their_message() -> None:
    case = ET.fromstring(format_junit([WARNING])).find("testcase")
    assert case is not None
    assert case.find("failure") is None
    assert case.findtext("system-out") == f"warning: {WARNING.message}"


def test_junit_without_findings_is_an_empty_passing_suite() -> None:
    suite = ET.fromstring(format_junit([]))
    assert (suite.get("tests"), suite.get("failures"), suite.findall("testcase")) == ("0", "0", [])


@pytest.mark.parametrize(
    ("findings", "fail_on", "expected"),
    [
        ([BREAKING], "breaking", 1),
        ([WARNING, INFO], "breaking", 0),
        ([WARNING], "warning", 1),
        ([INFO], "warning", 0),
        ([INFO], "info", 1),
        ([], "info", 0),
        (ALL, "never", 0),
    ],
)
def test_exit_code_fails_at_or_above_the_threshold(
    findings: list[Finding], fail_on: FailOn, expected: int
) -> None:
    assert exit_code(findings, fail_on) == expected
