"""Cassette drift: recorded responses re-validated against the current contract.

``drift_report`` re-validates every response, lists undocumented fields (in responses, not in
the contract) and contract fields never seen in any recording; ``compare_runs`` compares two
sets of recordings (a live run against the recorded baseline) operation by operation.

The pieces live beside this module and are re-exported here, where callers import them:
cassettes are read by :mod:`wfcontracts.cassettes.reading`, response fields are matched to
schemas by :mod:`wfcontracts.compat.fields`, and the report's records and renderings are in
:mod:`wfcontracts.compat.drift_report`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from wfcontracts.cassettes.reading import (
    Cassette,
    CassetteError,
    Interaction,
    find_cassettes,
    load_cassettes,
)
from wfcontracts.compat.drift_report import (
    NOT_IN_CONTRACT,
    CassetteInfo,
    Change,
    DriftError,
    DriftReport,
    FieldNote,
    Skipped,
    StatusCoverage,
    drift_as_dict,
    format_changes,
    format_drift,
)
from wfcontracts.compat.fields import Schemas, declared_pointers, json_type, parent, walk
from wfcontracts.contract import load_contract

if TYPE_CHECKING:
    from wfcontracts.contract import Contract, Operation

__all__ = [
    "NOT_IN_CONTRACT",
    "Cassette",
    "CassetteError",
    "CassetteInfo",
    "Change",
    "DriftError",
    "DriftReport",
    "FieldNote",
    "Interaction",
    "Skipped",
    "StatusCoverage",
    "compare_runs",
    "drift_as_dict",
    "drift_report",
    "find_cassettes",
    "format_changes",
    "format_drift",
    "json_type",
    "load_cassettes",
]

_API_ROOT = re.compile(r"/api/v1/projects/[^/]+(?P<rest>/.*)?$")


@dataclass(frozen=True, slots=True)
class _Routed:
    cassette: Cassette
    interaction: Interaction
    operation: Operation


def _route(
    contract: Contract, cassettes: Iterable[Cassette], skipped: list[Skipped]
) -> Iterator[_Routed]:
    for cassette in cassettes:
        for interaction in cassette.interactions:
            path = urlsplit(interaction.uri).path
            found = _API_ROOT.search(path)
            match = contract.match(interaction.method, found["rest"] or "/") if found else None
            if match is None:
                skipped.append(Skipped(cassette.name, interaction.index, interaction.method, path))
            else:
                yield _Routed(cassette, interaction, match[0])


@dataclass(slots=True)
class _Tally:
    """Accumulates what the walk of every recorded response saw."""

    seen: dict[tuple[str, int], set[str]] = field(default_factory=lambda: defaultdict(set))
    undocumented: dict[tuple[str, int, str], list[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    statuses: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    operations: dict[str, Operation] = field(default_factory=dict)


def drift_report(contract: Contract, cassettes: Iterable[Cassette]) -> DriftReport:
    """Re-validate every recorded response against `contract` and compare their fields."""
    cassettes = list(cassettes)
    report = DriftReport(
        str(contract.path), contract.sha256, [_info(c, contract) for c in cassettes]
    )
    schemas, tally = Schemas(contract), _Tally()
    for routed in _route(contract, cassettes, report.skipped):
        report.checked += 1
        report.errors.extend(_validate(contract, routed))
        _observe(schemas, routed, tally)
    report.undocumented = _undocumented_notes(tally)
    report.never_seen = _never_seen_notes(schemas, tally)
    report.statuses = [
        StatusCoverage(
            op_id, op.label, tuple(sorted(tally.statuses[op_id])), tuple(op.documented_statuses)
        )
        for op_id, op in sorted(tally.operations.items())
    ]
    return report


def _info(cassette: Cassette, contract: Contract) -> CassetteInfo:
    sha = cassette.contract_sha256
    stale = sha is not None and sha != contract.sha256
    return CassetteInfo(cassette.name, len(cassette.interactions), sha, cassette.recorded_at, stale)


def _validate(contract: Contract, routed: _Routed) -> list[DriftError]:
    interaction, operation = routed.interaction, routed.operation

    def error(pointer: str, message: str) -> DriftError:
        return DriftError(
            routed.cassette.name,
            interaction.index,
            operation.operation_id,
            operation.label,
            interaction.status,
            pointer,
            message,
        )

    if operation.response_for(interaction.status) is None:
        documented = ", ".join(operation.documented_statuses)
        return [
            error("", f"status {interaction.status} is not documented (documented: {documented})")
        ]
    schema = operation.response_schema(interaction.status)
    if schema is None:
        return []
    if not interaction.is_json:
        shown = interaction.content_type or "none"
        return [
            error("", f"no JSON body (content-type: {shown}); the contract documents a JSON body")
        ]
    return [error(v.pointer, v.message) for v in contract.validate(schema, interaction.body)]


def _observe(schemas: Schemas, routed: _Routed, tally: _Tally) -> None:
    operation, interaction = routed.operation, routed.interaction
    tally.operations[operation.operation_id] = operation
    tally.statuses[operation.operation_id].add(interaction.status)
    schema = operation.response_schema(interaction.status)
    if schema is None or not interaction.is_json:
        return
    key = (operation.operation_id, interaction.status)
    where = f"{routed.cassette.name} interactions[{interaction.index}]"
    tally.seen[key].add("")
    for node in walk(schemas, [schema], interaction.body, ""):
        if node.kind == "declared":
            tally.seen[key].add(node.pointer)
        elif node.kind == "undocumented":
            tally.undocumented[(*key, node.pointer)].append((node.json_type, where))


def _undocumented_notes(tally: _Tally) -> list[FieldNote]:
    notes = []
    for (op_id, status, pointer), hits in sorted(tally.undocumented.items()):
        types = tuple(sorted({json_kind for json_kind, _ in hits}))
        notes.append(FieldNote(op_id, status, pointer, types, len(hits), hits[0][1]))
    return notes


def _never_seen_notes(schemas: Schemas, tally: _Tally) -> list[FieldNote]:
    notes = []
    for (op_id, status), seen in sorted(tally.seen.items()):
        schema = tally.operations[op_id].response_schema(status)
        declared = declared_pointers(schemas, [schema], "", frozenset())
        for pointer in sorted(set(declared)):
            # Only the topmost unseen field: children of an unseen object add nothing.
            if pointer not in seen and parent(pointer) in seen and not pointer.endswith("/[]"):
                notes.append(FieldNote(op_id, status, pointer))
    return notes


# --------------------------------------------------------------------------- comparing runs


_Profile = dict[str, dict[int, dict[str, set[str]]]]


def compare_runs(
    baseline: list[Cassette], current: list[Cassette], *, contract: Contract | None = None
) -> list[Change]:
    """Per operation recorded in both runs: status codes and fields (with JSON types) that differ.

    The contract (default: the working contract) routes paths to operations and tells map keys
    and free-form objects apart from fields.
    """
    contract = contract or load_contract()
    schemas = Schemas(contract)
    labels: dict[str, str] = {}
    before = _profile(contract, schemas, baseline, labels)
    after = _profile(contract, schemas, current, labels)
    changes: list[Change] = []
    for op_id in sorted(before.keys() & after.keys()):
        changes.extend(_status_changes(op_id, labels[op_id], before[op_id], after[op_id]))
        for status in sorted(before[op_id].keys() & after[op_id].keys()):
            old, new = before[op_id][status], after[op_id][status]
            changes.extend(_field_changes(op_id, labels[op_id], status, old, new))
    return changes


def _profile(
    contract: Contract, schemas: Schemas, cassettes: list[Cassette], labels: dict[str, str]
) -> _Profile:
    profile: _Profile = defaultdict(lambda: defaultdict(lambda: defaultdict(set)))
    for routed in _route(contract, cassettes, []):
        operation, interaction = routed.operation, routed.interaction
        labels[operation.operation_id] = operation.label
        fields = profile[operation.operation_id][interaction.status]
        if not interaction.is_json:
            continue
        schema = operation.response_schema(interaction.status)
        fields[""].add(json_type(interaction.body))
        for node in walk(schemas, None if schema is None else [schema], interaction.body, ""):
            fields[node.pointer].add(node.json_type)
    return profile


def _status_changes(
    op_id: str, label: str, old: Mapping[int, Any], new: Mapping[int, Any]
) -> Iterator[Change]:
    for status in sorted(new.keys() - old.keys()):
        yield Change(op_id, label, status, "status-added")
    for status in sorted(old.keys() - new.keys()):
        yield Change(op_id, label, status, "status-removed")


def _field_changes(
    op_id: str, label: str, status: int, old: dict[str, set[str]], new: dict[str, set[str]]
) -> Iterator[Change]:
    for pointer in sorted(old.keys() | new.keys()):
        before, after = (
            "|".join(sorted(old.get(pointer, ()))),
            "|".join(sorted(new.get(pointer, ()))),
        )
        if pointer not in old and parent(pointer) in old:
            yield Change(op_id, label, status, "field-added", pointer, after=after)
        elif pointer not in new and parent(pointer) in new:
            yield Change(op_id, label, status, "field-removed", pointer, before=before)
        elif pointer in old and pointer in new and before != after:
            yield Change(op_id, label, status, "type-changed", pointer, before, after)
