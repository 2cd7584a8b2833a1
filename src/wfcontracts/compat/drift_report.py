"""The cassette drift report: its records, and how people (text) and tools (JSON) see them.

Only :attr:`DriftReport.errors` make a report unclean; undocumented fields, contract fields never
recorded, status coverage and skipped interactions are information.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from wfcontracts.compat.fields import show

__all__ = [
    "NOT_IN_CONTRACT",
    "CassetteInfo",
    "Change",
    "DriftError",
    "DriftReport",
    "FieldNote",
    "Skipped",
    "StatusCoverage",
    "drift_as_dict",
    "format_changes",
    "format_drift",
]

NOT_IN_CONTRACT = "not in the contract"


@dataclass(frozen=True, slots=True)
class DriftError:
    """A recorded response the current contract rejects."""

    cassette: str
    index: int
    operation: str
    label: str
    status: int
    pointer: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.cassette} interactions[{self.index}] {self.operation} ({self.label}) "
            f"{self.status} {show(self.pointer)}: {self.message}"
        )


@dataclass(frozen=True, slots=True)
class FieldNote:
    """A field in responses but not the contract, or in the contract but in no response."""

    operation: str
    status: int
    pointer: str
    json_types: tuple[str, ...] = ()
    count: int = 0
    first_seen: str = ""

    def __str__(self) -> str:
        where = f"{self.operation} {self.status} {show(self.pointer)}"
        if not self.count:
            return where
        return f"{where} ({'|'.join(self.json_types)}; {self.count}x, first {self.first_seen})"


@dataclass(frozen=True, slots=True)
class Skipped:
    """An interaction outside the contract: token endpoint, ``/_mock/*``, unknown path."""

    cassette: str
    index: int
    method: str
    path: str
    reason: str = NOT_IN_CONTRACT


@dataclass(frozen=True, slots=True)
class StatusCoverage:
    """Status codes recorded for an operation, against those the contract documents."""

    operation: str
    label: str
    seen: tuple[int, ...]
    documented: tuple[str, ...]

    @property
    def never_recorded(self) -> tuple[str, ...]:
        seen = {str(s) for s in self.seen} | {f"{s // 100}XX" for s in self.seen}
        return tuple(d for d in self.documented if d not in seen and d != "default")


@dataclass(frozen=True, slots=True)
class CassetteInfo:
    """Which contract a cassette was recorded under (when its recorder stamped it)."""

    file: str
    interactions: int
    contract_sha256: str | None
    recorded_at: str | None
    stale: bool


@dataclass(slots=True)
class DriftReport:
    """Cassette drift against one contract; only :attr:`errors` make it unclean."""

    contract_path: str
    contract_sha256: str
    cassettes: list[CassetteInfo] = field(default_factory=list)
    checked: int = 0
    errors: list[DriftError] = field(default_factory=list)
    undocumented: list[FieldNote] = field(default_factory=list)
    never_seen: list[FieldNote] = field(default_factory=list)
    statuses: list[StatusCoverage] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.errors

    @property
    def stale(self) -> list[CassetteInfo]:
        return [c for c in self.cassettes if c.stale]

    def errors_in(self, cassette: str) -> list[DriftError]:
        return [e for e in self.errors if e.cassette == cassette]


@dataclass(frozen=True, slots=True)
class Change:
    """A difference between two runs for one operation (and status)."""

    operation: str
    label: str
    status: int
    kind: str  # field-added | field-removed | type-changed | status-added | status-removed
    pointer: str = ""
    before: str = ""
    after: str = ""

    def __str__(self) -> str:
        head = f"{self.operation} ({self.label}) {self.status}"
        if self.kind == "status-added":
            return f"{head}: status code new in this run"
        if self.kind == "status-removed":
            return f"{head}: status code no longer seen"
        if self.kind == "field-added":
            return f"{head}: new field {show(self.pointer)} ({self.after})"
        if self.kind == "field-removed":
            return f"{head}: field {show(self.pointer)} ({self.before}) no longer returned"
        return f"{head}: {show(self.pointer)} type {self.before} -> {self.after}"


# --------------------------------------------------------------------------- output


def format_drift(report: DriftReport) -> str:
    """The report for people: errors first, then the informational lists."""
    lines = [
        f"Cassette drift against {report.contract_path} (sha256 {report.contract_sha256[:12]})",
        f"{len(report.cassettes)} cassette(s), {report.checked} interaction(s) checked, "
        f"{len(report.skipped)} skipped ({NOT_IN_CONTRACT})",
    ]
    for info in report.stale:
        when = f", recorded {info.recorded_at}" if info.recorded_at else ""
        lines.append(f"stale: {info.file} was recorded under contract {info.contract_sha256}{when}")
    lines += _section("Validation errors", [str(e) for e in report.errors])
    lines += _section(
        "Undocumented fields (in responses, not in the contract)", report.undocumented
    )
    lines += _section("Contract fields never seen in any recording", report.never_seen)
    lines += _section("Status codes per operation", [_coverage_line(s) for s in report.statuses])
    verdict = "clean" if report.clean else f"{len(report.errors)} validation error(s)"
    return "\n".join([*lines, "", f"Result: {verdict}"])


def _section(title: str, entries: Iterable[object]) -> list[str]:
    rows = [f"  {entry}" for entry in entries]
    return ["", f"{title} ({len(rows)}):", *rows] if rows else ["", f"{title}: none"]


def _coverage_line(coverage: StatusCoverage) -> str:
    seen = ", ".join(str(s) for s in coverage.seen)
    line = f"{coverage.operation} ({coverage.label}): seen {seen}"
    missing = coverage.never_recorded
    return f"{line}; never recorded {', '.join(missing)}" if missing else line


def drift_as_dict(report: DriftReport) -> dict[str, Any]:
    """The report as JSON-able data (``--format json``, summary.json)."""
    return {
        "contract": {"path": report.contract_path, "sha256": report.contract_sha256},
        "clean": report.clean,
        "checked": report.checked,
        "cassettes": [_json_fields(info) for info in report.cassettes],
        "errors": [_json_fields(error) for error in report.errors],
        "undocumented": [_note_dict(n) for n in report.undocumented],
        "neverSeen": [_note_dict(n) for n in report.never_seen],
        "statuses": [
            _json_fields(s) | {"neverRecorded": list(s.never_recorded)} for s in report.statuses
        ],
        "skipped": [_json_fields(skipped) for skipped in report.skipped],
    }


def _json_fields(record: Any) -> dict[str, Any]:
    """A record's fields under camelCase names, in field order; tuples become lists."""
    data = {}
    for name in (f.name for f in fields(record)):
        value = getattr(record, name)
        head, *rest = name.split("_")
        data[head + "".join(word.title() for word in rest)] = (
            list(value) if isinstance(value, tuple) else value
        )
    return data


def _note_dict(note: FieldNote) -> dict[str, Any]:
    data: dict[str, Any] = {
        "operation": note.operation,
        "status": note.status,
        "pointer": note.pointer,
    }
    if note.count:
        data |= {"types": list(note.json_types), "count": note.count, "firstSeen": note.first_seen}
    return data


def format_changes(changes: list[Change]) -> str:
    """Run-to-run changes for people, one per line."""
    if not changes:
        return "No changes between the runs."
    counts = Counter(change.kind for change in changes)
    head = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    return "\n".join([f"{len(changes)} change(s): {head}", *(f"  {c}" for c in changes)])
