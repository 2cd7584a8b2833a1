"""Collects per-test outcomes and per-exchange check results into `summary.json`."""

from __future__ import annotations

import json
import platform
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wfcontracts.checks import REGISTRY, CheckFailure
from wfcontracts.checks.exchange import Exchange
from wfcontracts.redact import mask_known

if TYPE_CHECKING:
    import pytest

    from wfcontracts.runtime import Runtime

SCHEMA = "wfcontracts.summary/1"


def suite_of(nodeid: str) -> str:
    """`suites/contract/test_x.py::t` → `contract`; tests outside suites/ → their top folder."""
    parts = nodeid.split("::")[0].split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "suites" else parts[0]


def versions() -> dict[str, str | None]:
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "wfcontracts": version("wfcontracts"),
        "schemathesis": version("schemathesis"),
        "cognite-sdk": version("cognite-sdk"),
        "python": platform.python_version(),
    }


class ResultCollector:
    """Fed by the pytest plugin; thread-safe because xdist-free runs may still use threads."""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        self.entries: list[dict[str, Any]] = []
        self.coverage: dict[str, dict[str, dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: {"passed": 0, "failed": 0})
        )
        self._last: dict[str, tuple[Exchange, list[CheckFailure]]] = {}
        self._lock = threading.Lock()
        self.started = time.time()

    def bind(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def observe(self, nodeid: str, exchange: Exchange, failures: list[CheckFailure]) -> None:
        failed = {f.check for f in failures}
        with self._lock:
            operation = exchange.operation.operation_id
            for name in REGISTRY:
                self.coverage[operation][name]["failed" if name in failed else "passed"] += 1
            previous = self._last.get(nodeid)
            if previous is None or not previous[1] or failures:
                self._last[nodeid] = (exchange, failures)

    def record(
        self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
    ) -> None:
        if report.when != "call" and not (report.failed or report.skipped):
            return
        failure = _check_failure(call)
        last = self._last.get(item.nodeid)
        operation = _marker(item, "operation") or (last[0].operation.operation_id if last else "-")
        check = (failure.check if failure else None) or _marker(item, "check") or item.name
        outcome = "passed" if report.passed else "skipped" if report.skipped else "failed"
        if report.failed and report.when != "call":
            outcome = "error"
        entry = {
            "suite": suite_of(item.nodeid),
            "operation": operation,
            "check": check,
            "outcome": outcome,
            "severity": (failure.severity if failure else None)
            or _marker(item, "severity")
            or "major",
            "message": self._mask(_message(report, failure)),
            "nodeid": item.nodeid,
            "durationSeconds": round(report.duration, 4),
            "atSeconds": round(time.time() - self.started, 3),
            "reproduction": self._mask(failure.reproduction)
            if failure and failure.reproduction
            else None,
            "request": None,
            "response": None,
        }
        if outcome in ("failed", "error") and last is not None:
            entry["request"] = self._mask(last[0].curl)
            entry["response"] = self._mask(f"HTTP {last[0].status}\n{last[0].excerpt()}")
            entry["reproduction"] = entry["reproduction"] or entry["request"]
        # On the report too: junit.xml and the progress lines read the report, not the item.
        for prop in (("check", check), ("operation", operation)):
            report.user_properties = [p for p in report.user_properties if p[0] != prop[0]]
            report.user_properties.append(prop)
        with self._lock:
            self.entries = [e for e in self.entries if e["nodeid"] != item.nodeid] + [entry]

    def summary(self, nodeids: list[str]) -> dict[str, Any]:
        runtime = self.runtime
        totals = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0}
        for entry in self.entries:
            key = {"error": "errors"}.get(entry["outcome"], entry["outcome"])
            totals[key] += 1
        transitions = runtime.context.extras.get("transitions") if runtime else None
        return {
            "schema": SCHEMA,
            "target": _target(runtime),
            "contract": {
                "path": str(runtime.contract.path) if runtime else None,
                "sha256": runtime.contract.sha256 if runtime else None,
            },
            "versions": versions(),
            "startedAt": datetime.fromtimestamp(self.started, UTC).isoformat(timespec="seconds"),
            "durationSeconds": round(time.time() - self.started, 3),
            "seed": runtime.options.seed if runtime else None,
            "suites": sorted({suite_of(n) for n in nodeids}),
            "totals": totals,
            "checks": sorted(self.entries, key=lambda e: e["nodeid"]),
            "coverage": {op: dict(checks) for op, checks in sorted(self.coverage.items())},
            "transitions": transitions.as_dict()
            if transitions is not None
            else {"legal": [], "illegal": []},
        }

    def write_summary(self, path: Path, nodeids: list[str]) -> dict[str, Any]:
        data = self.summary(nodeids)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        return data

    def _mask(self, text: str | None) -> str | None:
        if text is None or self.runtime is None:
            return text
        return mask_known(text, self.runtime.secrets)


def _target(runtime: Runtime | None) -> dict[str, Any]:
    if runtime is None:
        return {"kind": None, "baseUrl": None, "project": None}
    return {
        "kind": runtime.config.kind,
        "baseUrl": runtime.config.base_url,
        "project": runtime.config.project,
    }


def _check_failure(call: pytest.CallInfo[None]) -> CheckFailure | None:
    if call.excinfo is not None and isinstance(call.excinfo.value, CheckFailure):
        return call.excinfo.value
    return None


def _message(report: pytest.TestReport, failure: CheckFailure | None) -> str:
    if failure is not None:
        return failure.message
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    if report.failed:
        text = getattr(report, "longreprtext", "") or str(report.longrepr)
        lines = [line for line in text.splitlines() if line.startswith("E ")]
        return " ".join(line[2:].strip() for line in lines[:3]) or text[-300:]
    return ""


def _marker(item: pytest.Item, name: str) -> Any:
    marker = item.get_closest_marker(name)
    return marker.args[0] if marker and marker.args else None
