"""Formatters for compatibility findings (table, JSON, JUnit) and the exit-code gate.

Formatters are pure: findings in, text out (no trailing newline); the caller writes it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Literal

from wfcontracts.compat.diff import Finding
from wfcontracts.compat.rules import SEVERITIES

FailOn = Literal["breaking", "warning", "info", "never"]
TABLE_COLUMNS = ("SEVERITY", "RULE", "LOCATION", "MESSAGE")


def count_line(findings: Sequence[Finding]) -> str:
    """`3 findings: 1 breaking, 1 warning, 1 info`."""
    counts = ", ".join(f"{_count(findings, level)} {level}" for level in SEVERITIES)
    noun = "finding" if len(findings) == 1 else "findings"
    return f"{len(findings)} {noun}: {counts}"


def _count(findings: Sequence[Finding], severity: str) -> int:
    return sum(1 for finding in findings if finding.severity == severity)


def format_table(findings: Sequence[Finding]) -> str:
    """A human table with aligned columns, closed by the count line."""
    if not findings:
        return "No differences that matter to clients.\n" + count_line(findings)
    rows = [TABLE_COLUMNS] + [(f.severity, f.rule, f.location, f.message) for f in findings]
    widths = [max(len(row[column]) for row in rows) for column in range(len(TABLE_COLUMNS) - 1)]
    lines = [
        "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in rows
    ]
    return "\n".join([*lines, "", count_line(findings)])


def format_json(findings: Sequence[Finding]) -> str:
    """`{"findings": [...], "summary": {"breaking": n, "warning": n, "info": n, "total": n}}`."""
    summary: dict[str, int] = {level: _count(findings, level) for level in SEVERITIES}
    document: dict[str, object] = {
        "findings": [
            {"rule": f.rule, "severity": f.severity, "location": f.location, "message": f.message}
            for f in findings
        ],
        "summary": {**summary, "total": len(findings)},
    }
    return json.dumps(document, indent=2)


def format_junit(findings: Sequence[Finding]) -> str:
    """JUnit XML: one testcase per rule x location; breaking ones fail, others pass with output."""
    cases = _group(findings)
    failures = sum(1 for group in cases.values() if group[0].severity == "breaking")
    suite = ET.Element(
        "testsuite",
        {"name": "wfcontracts.compat", "tests": str(len(cases)), "failures": str(failures)},
    )
    suite.set("errors", "0")
    for (rule, location), group in cases.items():
        _testcase(suite, rule, location, group)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def _group(findings: Sequence[Finding]) -> dict[tuple[str, str], list[Finding]]:
    cases: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        cases.setdefault((finding.rule, finding.location), []).append(finding)
    return cases


def _testcase(suite: ET.Element, rule: str, location: str, group: list[Finding]) -> None:
    case = ET.SubElement(suite, "testcase", {"classname": f"compat.{rule}", "name": location})
    text = "\n".join(f"{f.severity}: {f.message}" for f in group)
    if group[0].severity == "breaking":
        failure = ET.SubElement(case, "failure", {"type": rule, "message": group[0].message})
        failure.text = text
    else:
        ET.SubElement(case, "system-out").text = text


def exit_code(findings: Sequence[Finding], fail_on: FailOn) -> int:
    """1 when any finding is at or above `fail_on` (breaking > warning > info), else 0."""
    if fail_on == "never":
        return 0
    threshold = SEVERITIES.index(fail_on)
    return 1 if any(SEVERITIES.index(f.severity) <= threshold for f in findings) else 0
