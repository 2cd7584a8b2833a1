"""JUnit as CI systems read it: a harness error is an `<error>`, not a `<failure>`.

pytest's junitxml writes every exception raised in a test's call as a `<failure>`; the results
collector knows which of those are harness or environment errors (see `results.is_verdict`), so
the file is rewritten after the run to say so — a CI dashboard then shows "errored", not "the
target broke the contract".
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def junit_key(nodeid: str) -> tuple[str, str]:
    """pytest's (classname, name) of a test in junit.xml."""
    parts = nodeid.split("::")
    module = parts[0].removesuffix(".py").replace("/", ".")
    return ".".join([module, *parts[1:-1]]), parts[-1]


def mark_errors(path: Path, summary: dict[str, Any]) -> int:
    """Turn the `<failure>` of every test the summary says errored into an `<error>`."""
    errored = {
        junit_key(entry["nodeid"])
        for entry in summary.get("checks", [])
        if entry.get("outcome") == "error"
    }
    if not errored or not path.is_file():
        return 0
    tree = ET.parse(path)
    changed = 0
    for suite in tree.iter("testsuite"):
        moved = 0
        for case in suite.iter("testcase"):
            if (case.get("classname", ""), case.get("name", "")) not in errored:
                continue
            failure = case.find("failure")
            if failure is None:
                continue
            failure.tag = "error"
            moved += 1
        if moved:
            suite.set("failures", str(int(suite.get("failures", "0")) - moved))
            suite.set("errors", str(int(suite.get("errors", "0")) + moved))
            changed += moved
    if changed:
        tree.write(path, encoding="utf-8", xml_declaration=True)
    return changed
