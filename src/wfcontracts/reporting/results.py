"""Collects per-test outcomes and per-exchange check results into `summary.json`."""

from __future__ import annotations

import json
import platform
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from wfcontracts import __version__
from wfcontracts.checks import REGISTRY, CheckFailure
from wfcontracts.checks.exchange import Exchange
from wfcontracts.checks.failures import REPRODUCTION_ATTRIBUTE
from wfcontracts.redact import mask_known
from wfcontracts.shipped import shipped_path, tree_digest
from wfcontracts.target import WriteOutcomeUnknownError

if TYPE_CHECKING:
    from wfcontracts.runtime import Runtime

SCHEMA = "wfcontracts.summary/1"
#: A run with more inconclusive tests than this (and than ``INCONCLUSIVE_SHARE`` of its tests)
#: proves too little: an environment error, not a pass.
INCONCLUSIVE_LIMIT = 5
INCONCLUSIVE_SHARE = 0.10


def suite_of(nodeid: str) -> str:
    """`suites/contract/test_x.py::t` (`_suites/…` from an installed wheel) → `contract`; tests
    outside the suites → their top folder."""
    parts = nodeid.split("::")[0].split("/")
    return parts[1] if len(parts) > 2 and parts[0] in ("suites", "_suites") else parts[0]


def versions(contract_sha256: str | None = None) -> dict[str, str | None]:
    """What a run needs to be reproduced: harness, contract and suites (a digest of each
    suite's files, equal for a checkout and a wheel of the same source), key dependencies."""

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        # The imported code's own version: an editable install's metadata can lag behind it.
        "wfcontracts": __version__,
        "contract": contract_sha256,
        **suite_versions(),
        "schemathesis": version("schemathesis"),
        "cognite-sdk": version("cognite-sdk"),
        "python": platform.python_version(),
    }


def suite_versions() -> dict[str, str | None]:
    """``suites``: sha256 of every shipped suite file; ``suites/<suite>``: of one suite's."""
    root = shipped_path("_suites", "suites")
    if root is None:
        return {"suites": None}
    found: dict[str, str | None] = {"suites": tree_digest(root)}
    for suite in sorted(p.name for p in root.iterdir() if p.is_dir() and p.name[0] not in "._"):
        found[f"suites/{suite}"] = tree_digest(root / suite)
    return found


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
        #: More summary sections (cleanup, retries), added by whoever owns the runtime.
        self.extra: dict[str, Any] = {}
        #: The first environment error (target unreachable, token revoked) that stopped the run.
        self.environment_error: str | None = None
        #: Transition coverage and fuzz stats of xdist workers (see :meth:`absorb`).
        self._worker_transitions: list[dict[str, list[dict[str, Any]]]] = []
        self._worker_fuzz: list[dict[str, Any]] = []

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
        if report.failed and not is_verdict(call.excinfo):
            outcome = "error"  # a crash (also in a fixture), not a finding about the target
        lost = outcome_unknown(call.excinfo.value if call.excinfo else None)
        if lost is not None and not report.passed:
            # A write whose answer was lost judges nothing either way: neither a verdict nor
            # a broken environment (the run goes on); counted, and bounded in `summary`.
            outcome = "skipped"
        entry = {
            "suite": suite_of(item.nodeid),
            "operation": operation,
            "check": check,
            "outcome": outcome,
            "severity": (failure.severity if failure else None)
            or _marker(item, "severity")
            or "major",
            "message": self._mask(
                f"inconclusive: {lost}"
                if outcome == "skipped" and lost is not None
                else _message(report, failure)
            ),
            "nodeid": item.nodeid,
            "durationSeconds": round(report.duration, 4),
            "atSeconds": round(time.time() - self.started, 3),
            "reproduction": self._mask(failure.reproduction)
            if failure and failure.reproduction
            else None,
            "request": None,
            "response": None,
        }
        if outcome == "skipped" and lost is not None:
            entry["inconclusive"] = True
        found = _fuzz_reproduction(call.excinfo.value if call.excinfo else None)
        if found is not None:
            entry["reproduction"] = self._mask(found["curl"])
            entry["fuzz"] = {k: self._mask(str(v)) for k, v in found.items()}
        if outcome in ("failed", "error") and last is not None:
            entry["request"] = self._mask(last[0].curl)
            entry["response"] = self._mask(f"HTTP {last[0].status}\n{last[0].excerpt()}")
            entry["reproduction"] = entry["reproduction"] or entry["request"]
        # On the report too: junit.xml and the progress lines read the report, not the item.
        for prop in (("check", check), ("operation", operation), ("severity", entry["severity"])):
            report.user_properties = [p for p in report.user_properties if p[0] != prop[0]]
            report.user_properties.append(prop)
        with self._lock:
            self.entries = [e for e in self.entries if e["nodeid"] != item.nodeid] + [entry]

    # -- xdist: each worker exports what it collected, the controller absorbs it ----------------

    def export(self) -> dict[str, Any]:
        """What this (worker's) collector saw, as plain data for the controller."""
        transitions = self._run_extra("transitions")
        with self._lock:
            return {
                "entries": list(self.entries),
                "coverage": {op: dict(checks) for op, checks in self.coverage.items()},
                "environmentError": self.environment_error,
                "transitions": transitions.as_dict() if transitions is not None else None,
                "fuzz": self._run_extra("fuzz"),
            }

    def absorb(self, exported: dict[str, Any]) -> None:
        """Merge a worker's :meth:`export` into this (the controller's) collector."""
        with self._lock:
            mine = {entry["nodeid"] for entry in exported["entries"]}
            self.entries = [e for e in self.entries if e["nodeid"] not in mine]
            self.entries += exported["entries"]
            for operation, checks in exported["coverage"].items():
                for name, counts in checks.items():
                    tally = self.coverage[operation][name]
                    for key, count in counts.items():
                        tally[key] = tally.get(key, 0) + count
            self.environment_error = self.environment_error or exported["environmentError"]
            if exported["transitions"] is not None:
                self._worker_transitions.append(exported["transitions"])
            if exported["fuzz"] is not None:
                self._worker_fuzz.append(exported["fuzz"])

    def unreported(self, nodeid: str, message: str) -> None:
        """A test that failed where no collector saw it (its xdist worker crashed): an error."""
        with self._lock:
            if any(entry["nodeid"] == nodeid for entry in self.entries):
                return
            self.entries.append(
                {
                    "suite": suite_of(nodeid),
                    "operation": "-",
                    "check": nodeid.rpartition("::")[2],
                    "outcome": "error",
                    "severity": "major",
                    "message": self._mask(message),
                    "nodeid": nodeid,
                    "durationSeconds": 0.0,
                    "atSeconds": round(time.time() - self.started, 3),
                    "reproduction": None,
                    "request": None,
                    "response": None,
                }
            )

    def _run_extra(self, key: str) -> Any:
        return self.runtime.context.extras.get(key) if self.runtime is not None else None

    def _transitions(self) -> dict[str, list[dict[str, Any]]]:
        own = self._run_extra("transitions")
        parts = ([own.as_dict()] if own is not None else []) + self._worker_transitions
        return _merge_transitions(parts)

    def _fuzz(self) -> dict[str, Any] | None:
        own = self._run_extra("fuzz")
        parts = ([own] if own is not None else []) + self._worker_fuzz
        return _merge_fuzz(parts)

    def summary(self, nodeids: list[str]) -> dict[str, Any]:
        runtime = self.runtime
        totals = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0}
        for entry in self.entries:
            key = {"error": "errors"}.get(entry["outcome"], entry["outcome"])
            totals[key] += 1
        inconclusive = sum(1 for entry in self.entries if entry.get("inconclusive"))
        return {
            "schema": SCHEMA,
            "target": _target(runtime),
            "contract": {
                "path": str(runtime.contract.path) if runtime else None,
                "sha256": runtime.contract.sha256 if runtime else None,
            },
            "versions": versions(runtime.contract.sha256 if runtime else None),
            "startedAt": datetime.fromtimestamp(self.started, UTC).isoformat(timespec="seconds"),
            "durationSeconds": round(time.time() - self.started, 3),
            "seed": runtime.seed if runtime else None,
            "suites": sorted({suite_of(n) for n in nodeids}),
            "totals": totals,
            "checks": sorted(self.entries, key=lambda e: e["nodeid"]) + self._advisories(),
            "coverage": {op: dict(checks) for op, checks in sorted(self.coverage.items())},
            "transitions": self._transitions(),
            "fuzz": self._fuzz(),
            "environmentError": self._mask(self.environment_error or self._too_inconclusive()),
            **({"inconclusive": inconclusive} if inconclusive else {}),
            **{key: value for key, value in self.extra.items() if value is not None},
        }

    def _advisories(self) -> list[dict[str, Any]]:
        """The fuzz run's advisories (constraints the docs do not state, broken) as `minor`
        failures: in every report, gating only under `--fail-on …,minor`."""
        fuzz = self._fuzz()
        entries = []
        for index, advisory in enumerate((fuzz or {}).get("advisories", [])):
            entries.append(
                {
                    "suite": "fuzz",
                    "operation": advisory["operation"],
                    "check": advisory["check"],
                    "outcome": "failed",
                    "severity": "minor",
                    "advisory": True,
                    "message": self._mask(advisory["message"]),
                    "nodeid": f"fuzz::advisory[{index}]",
                    "durationSeconds": 0.0,
                    "atSeconds": None,
                    "reproduction": self._mask(advisory.get("reproduction")),
                    "request": None,
                    "response": None,
                }
            )
        return entries

    def write_summary(self, path: Path, nodeids: list[str]) -> dict[str, Any]:
        data = self.summary(nodeids)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        return data

    def _too_inconclusive(self) -> str | None:
        """Why the run proves too little when writes kept losing their answers, or None."""
        lost = [entry for entry in self.entries if entry.get("inconclusive")]
        if len(lost) <= max(INCONCLUSIVE_LIMIT, INCONCLUSIVE_SHARE * len(self.entries)):
            return None
        return (
            f"{len(lost)} of {len(self.entries)} tests inconclusive: the answers to their "
            f"writes were lost ({lost[0]['message'].removeprefix('inconclusive: ')}); the "
            "connection to the target is too unreliable for a verdict"
        )

    def _mask(self, text: str | None) -> str | None:
        if text is None or self.runtime is None:
            return text
        return mask_known(text, self.runtime.secrets)


def _merge_transitions(parts: list[dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """One coverage from many runs' (each lists every step of the model, counts summed)."""
    merged: dict[str, list[dict[str, Any]]] = {"legal": [], "illegal": []}
    for kind, steps in merged.items():
        index: dict[tuple[Any, ...], dict[str, Any]] = {}
        for part in parts:
            for step in part.get(kind, []):
                key = tuple(v for k, v in step.items() if k not in ("exercised", "failed"))
                if key not in index:
                    index[key] = dict(step)
                    steps.append(index[key])
                else:
                    index[key]["exercised"] += step["exercised"]
                    index[key]["failed"] += step["failed"]
    return merged


def _merge_fuzz(parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One fuzz section from the workers' (cases summed, each advisory listed once, in an order
    that does not depend on which worker found it)."""
    if not parts:
        return None
    advisories: dict[tuple[str, str, str], dict[str, Any]] = {}
    for part in parts:
        for advisory in part.get("advisories", []):
            key = (advisory["operation"], advisory["check"], advisory["message"])
            advisories.setdefault(key, advisory)
    return {
        **parts[0],
        "cases": sum(part.get("cases", 0) for part in parts),
        "unsent": sum(part.get("unsent", 0) for part in parts),
        "cassettes": [path for part in parts for path in part.get("cassettes", [])],
        "advisories": [advisories[key] for key in sorted(advisories)],
    }


def _target(runtime: Runtime | None) -> dict[str, Any]:
    if runtime is None:
        return {"kind": None, "baseUrl": None, "project": None}
    return {
        "kind": runtime.config.kind,
        "baseUrl": runtime.config.base_url,
        "project": runtime.config.project,
    }


def _fuzz_reproduction(exc: BaseException | None) -> dict[str, Any] | None:
    """Seed, curl, cassette and replay command a fuzz failure carries (maybe in a group)."""
    if exc is None:
        return None
    found = getattr(exc, REPRODUCTION_ATTRIBUTE, None)
    if isinstance(found, dict):
        return found
    for inner in exc.exceptions if isinstance(exc, BaseExceptionGroup) else ():
        nested = _fuzz_reproduction(inner)
        if nested is not None:
            return nested
    return None


def is_verdict(excinfo: pytest.ExceptionInfo[BaseException] | None) -> bool:
    """Whether a test's exception judges the target (a check failed, an assertion about the
    target, schemathesis' failures) rather than the harness or the environment breaking (a
    crash, a KeyError in a scenario, a hypothesis usage error, a network fault): those are
    `error`, and a run with one proves nothing either way."""
    if excinfo is None:
        return True
    return _judges(excinfo.value)


def _judges(exc: BaseException) -> bool:
    if isinstance(exc, CheckFailure | AssertionError | pytest.fail.Exception):
        return True
    failures = sys.modules.get("schemathesis.core.failures")
    if failures is not None and isinstance(exc, failures.Failure | failures.FailureGroup):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_judges(inner) for inner in exc.exceptions)
    return False


def outcome_unknown(exc: BaseException | None) -> WriteOutcomeUnknownError | None:
    """The lost write behind a test's exception, when every exception it raised comes from one
    (a check that failed as well still makes the test a verdict)."""
    if exc is None:
        return None
    if isinstance(exc, WriteOutcomeUnknownError):
        return exc
    if _judges(exc) and not isinstance(exc, BaseExceptionGroup):
        return None  # a verdict raised while handling a lost write is still a verdict
    if isinstance(exc, BaseExceptionGroup):
        found = [outcome_unknown(inner) for inner in exc.exceptions]
        first = found[0] if found else None
        return first if first is not None and all(found) else None
    cause = exc.__cause__ or exc.__context__
    return outcome_unknown(cause) if cause is not exc else None


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
