"""Cassette drift: recorded responses re-validated against the current contract.

``load_cassettes`` reads vcrpy cassettes (one-line :class:`CassetteError` for a broken file);
``drift_report`` re-validates every response, lists undocumented fields (in responses, not in
the contract) and contract fields never seen in any recording; ``compare_runs`` compares two
sets of recordings (a live run against the recorded baseline) operation by operation.

Field pointers are JSON pointers where ``[]`` stands for every array item and ``*`` for every
key of an ``additionalProperties`` map (``/items/[]/metadata/*``); the root is ``/``.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from wfcontracts.compat.loading import _yaml_position
from wfcontracts.contract import load_contract
from wfcontracts.errors import WfcontractsError
from wfcontracts.redact import decompress

if TYPE_CHECKING:
    from wfcontracts.contract import Contract, Operation

__all__ = [
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
    "load_cassettes",
]

_API_ROOT = re.compile(r"/api/v1/projects/[^/]+(?P<rest>/.*)?$")
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
NOT_IN_CONTRACT = "not in the contract"


class CassetteError(WfcontractsError):
    """A cassette cannot be read or is not a well-formed vcrpy cassette."""


# --------------------------------------------------------------------------- cassettes


@dataclass(frozen=True, slots=True)
class Interaction:
    """One recorded request/response pair; ``body`` is parsed JSON when ``is_json``."""

    index: int
    method: str
    uri: str
    status: int
    content_type: str
    body: Any
    is_json: bool


@dataclass(frozen=True, slots=True)
class Cassette:
    """A vcrpy cassette file and the ``wfcontracts`` stamp its recorder may have added."""

    path: Path
    interactions: tuple[Interaction, ...]
    contract_sha256: str | None = None
    recorded_at: str | None = None

    @property
    def name(self) -> str:
        return str(self.path)


def find_cassettes(root: Path) -> list[Path]:
    """Every ``*.yaml`` / ``*.yml`` cassette below ``root``, sorted; none if it does not exist."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_cassettes(paths: Iterable[Path]) -> list[Cassette]:
    """Parse cassettes; a broken one raises :class:`CassetteError` naming file and problem."""
    return [_load_cassette(Path(path)) for path in paths]


def _load_cassette(path: Path) -> Cassette:
    data = _parse_yaml(path)
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise CassetteError(f"{path}: not a vcrpy cassette: expected a mapping, got {kind}")
    if data.get("version", 1) != 1:
        raise CassetteError(f"{path}: unsupported cassette version {data['version']!r} (need 1)")
    raw = data.get("interactions")
    if not isinstance(raw, list):
        problem = "missing 'interactions'" if raw is None else "'interactions' must be a list"
        raise CassetteError(f"{path}: not a vcrpy cassette: {problem}")
    try:
        interactions = tuple(_interaction(i, item) for i, item in enumerate(raw))
    except _InteractionProblem as problem:
        raise CassetteError(f"{path}: {problem}") from None
    stamp = data.get("wfcontracts")
    stamp = stamp if isinstance(stamp, dict) else {}
    return Cassette(
        path, interactions, _text(stamp.get("contractSha256")), _text(stamp.get("recordedAt"))
    )


def _parse_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CassetteError(f"{path}: cannot read cassette: not UTF-8 text") from None
    except OSError as error:
        raise CassetteError(f"{path}: cannot read cassette: {error.strerror or error}") from None
    try:
        return yaml.load(text, Loader=_YAML_LOADER)  # CSafeLoader when built: big cassettes
    except yaml.YAMLError as error:
        raise CassetteError(f"{path}: invalid YAML{_yaml_position(error)}") from None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class _InteractionProblem(Exception):
    """Raised inside one interaction; the cassette loader adds the file name."""


def _interaction(index: int, item: Any) -> Interaction:
    where = f"interactions[{index}]"
    if not isinstance(item, dict):
        raise _InteractionProblem(f"{where}: expected a mapping with 'request' and 'response'")
    request = _mapping(item, "request", where)
    response = _mapping(item, "response", where)
    for key in ("method", "uri"):
        if not isinstance(request.get(key), str):
            raise _InteractionProblem(f"{where}: request has no {key!r}")
    status = response.get("status")
    code = status.get("code") if isinstance(status, dict) else None
    if not isinstance(code, int) or isinstance(code, bool):
        raise _InteractionProblem(f"{where}: response has no integer status 'code'")
    headers = response.get("headers") or {}
    if not isinstance(headers, dict):
        raise _InteractionProblem(f"{where}: response 'headers' must be a mapping")
    content_type = _header(headers, "content-type")
    body, is_json = _body(where, response.get("body"), content_type, headers)
    return Interaction(
        index, request["method"].upper(), request["uri"], code, content_type, body, is_json
    )


def _mapping(item: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = item.get(key)
    if not isinstance(value, dict):
        raise _InteractionProblem(f"{where}: missing {key!r}")
    return value


def _header(headers: Mapping[str, Any], name: str) -> str:
    for key, value in headers.items():
        if str(key).lower() == name:
            values = value if isinstance(value, list) else [value]
            return str(values[0]) if values else ""
    return ""


def _body(
    where: str, holder: Any, content_type: str, headers: Mapping[str, Any]
) -> tuple[Any, bool]:
    raw = holder.get("string") if isinstance(holder, dict) else holder
    if isinstance(raw, bytes):
        raw = _decoded(where, raw, _header(headers, "content-encoding"))
    if not _is_json_type(content_type) or raw in (None, ""):
        return raw, False
    if not isinstance(raw, str):
        raise _InteractionProblem(f"{where}: response body must be a string")
    try:
        return json.loads(raw), True
    except json.JSONDecodeError as error:
        raise _InteractionProblem(
            f"{where}: response body is not JSON although content-type is {content_type!r} "
            f"({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None


def _decoded(where: str, raw: bytes, encoding: str) -> str:
    plain = decompress(raw, encoding)
    if plain is None:
        raise _InteractionProblem(f"{where}: response body cannot be decoded ({encoding!r})")
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise _InteractionProblem(f"{where}: response body is not UTF-8 text") from None


def _is_json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


# --------------------------------------------------------------------------- schema walking


def json_type(value: Any) -> str:
    """The JSON Schema type name of a parsed JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _child(pointer: str, segment: str) -> str:
    return f"{pointer}/{segment.replace('~', '~0').replace('/', '~1')}"


def _parent(pointer: str) -> str:
    return pointer.rsplit("/", 1)[0]


def _show(pointer: str) -> str:
    return pointer or "/"


@dataclass(slots=True)
class _Shape:
    """What a group of schemas (a `$ref`/allOf/anyOf/oneOf closure) declares for one node."""

    properties: dict[str, list[Any]] = field(default_factory=dict)
    patterns: list[tuple[str, Any]] = field(default_factory=list)
    additional: list[Any] = field(default_factory=list)
    open_map: bool = False
    items: list[Any] = field(default_factory=list)
    parts: tuple[int, ...] = ()

    @property
    def free_object(self) -> bool:
        """No property declared at all: a free-form object (``input``, ``output``)."""
        return not (self.properties or self.patterns or self.additional or self.open_map)

    def member(self, key: str) -> tuple[str, list[Any]] | None:
        """(pointer segment, schemas) for a key, or None when the key is undocumented."""
        if key in self.properties:
            return key, self.properties[key]
        matched = [schema for pattern, schema in self.patterns if re.search(pattern, key)]
        if matched or self.additional:
            return "*", matched + self.additional
        return ("*", []) if self.open_map else None


class _Schemas:
    """Schema closures of one contract, merged into shapes (cached: cassettes repeat a lot)."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self._shapes: dict[tuple[int, ...], tuple[list[Any], _Shape]] = {}

    def shape(self, schemas: list[Any]) -> _Shape:
        key = tuple(id(s) for s in schemas)
        cached = self._shapes.get(key)
        if cached is None:
            cached = (schemas, self._merge(self._parts(schemas)))
            self._shapes[key] = cached
        return cached[1]

    def _parts(self, schemas: list[Any]) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        stack, seen = list(schemas), set()
        while stack:
            node = stack.pop()
            if not isinstance(node, dict) or id(node) in seen:
                continue
            seen.add(id(node))
            if "$ref" in node:
                stack.append(self.contract.resolve({"$ref": node["$ref"]}))
            parts.append(node)
            for key in ("allOf", "anyOf", "oneOf"):
                stack.extend(node.get(key) or [])
        return parts

    @staticmethod
    def _merge(parts: list[dict[str, Any]]) -> _Shape:
        shape = _Shape(parts=tuple(id(p) for p in parts))
        for part in parts:
            for name, sub in (part.get("properties") or {}).items():
                shape.properties.setdefault(name, []).append(sub)
            shape.patterns.extend((part.get("patternProperties") or {}).items())
            extra = part.get("additionalProperties")
            if isinstance(extra, dict):
                shape.additional.append(extra)
            shape.open_map = shape.open_map or extra is True
            if isinstance(part.get("items"), dict):
                shape.items.append(part["items"])
        return shape


@dataclass(frozen=True, slots=True)
class _Node:
    """A node of a response body; ``kind``: declared, undocumented (topmost) or below."""

    pointer: str
    json_type: str
    kind: str


def _walk(
    schemas: _Schemas, declared: list[Any] | None, value: Any, pointer: str
) -> Iterator[_Node]:
    """Every node of `value`; `declared` None means below an undocumented field."""
    if isinstance(value, dict):
        yield from _walk_object(schemas, declared, value, pointer)
    elif isinstance(value, list):
        items = None if declared is None else schemas.shape(declared).items
        if declared is None or items:
            for item in value:
                yield from _visit(schemas, items, item, pointer + "/[]")


def _visit(
    schemas: _Schemas, declared: list[Any] | None, value: Any, pointer: str
) -> Iterator[_Node]:
    yield _Node(pointer, json_type(value), "declared" if declared is not None else "below")
    yield from _walk(schemas, declared, value, pointer)


def _walk_object(
    schemas: _Schemas, declared: list[Any] | None, value: dict[str, Any], pointer: str
) -> Iterator[_Node]:
    if declared is None:
        for key, item in value.items():
            yield from _visit(schemas, None, item, _child(pointer, key))
        return
    shape = schemas.shape(declared)
    if shape.free_object:
        return
    for key, item in value.items():
        member = shape.member(key)
        if member is None:
            child = _child(pointer, key)
            yield _Node(child, json_type(item), "undocumented")
            yield from _walk(schemas, None, item, child)
        elif member[1]:  # empty: a key of an open map, nothing declared below it
            yield from _visit(schemas, member[1], item, _child(pointer, member[0]))


def _declared_pointers(
    schemas: _Schemas, declared: list[Any], pointer: str, trail: frozenset[tuple[int, ...]]
) -> Iterator[str]:
    """Every property pointer the schema declares (maps and free-form objects not expanded)."""
    shape = schemas.shape(declared)
    if shape.parts in trail or len(trail) > 32:
        return  # a recursive schema: its fields were listed one level up
    trail = trail | {shape.parts}
    for name, subs in shape.properties.items():
        child = _child(pointer, name)
        yield child
        yield from _declared_pointers(schemas, subs, child, trail)
    if shape.items:
        yield pointer + "/[]"
        yield from _declared_pointers(schemas, shape.items, pointer + "/[]", trail)


# --------------------------------------------------------------------------- the report


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
            f"{self.status} {_show(self.pointer)}: {self.message}"
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
        where = f"{self.operation} {self.status} {_show(self.pointer)}"
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
    schemas, tally = _Schemas(contract), _Tally()
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


def _observe(schemas: _Schemas, routed: _Routed, tally: _Tally) -> None:
    operation, interaction = routed.operation, routed.interaction
    tally.operations[operation.operation_id] = operation
    tally.statuses[operation.operation_id].add(interaction.status)
    schema = operation.response_schema(interaction.status)
    if schema is None or not interaction.is_json:
        return
    key = (operation.operation_id, interaction.status)
    where = f"{routed.cassette.name} interactions[{interaction.index}]"
    tally.seen[key].add("")
    for node in _walk(schemas, [schema], interaction.body, ""):
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


def _never_seen_notes(schemas: _Schemas, tally: _Tally) -> list[FieldNote]:
    notes = []
    for (op_id, status), seen in sorted(tally.seen.items()):
        schema = tally.operations[op_id].response_schema(status)
        declared = _declared_pointers(schemas, [schema], "", frozenset())
        for pointer in sorted(set(declared)):
            # Only the topmost unseen field: children of an unseen object add nothing.
            if pointer not in seen and _parent(pointer) in seen and not pointer.endswith("/[]"):
                notes.append(FieldNote(op_id, status, pointer))
    return notes


# --------------------------------------------------------------------------- comparing runs


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
            return f"{head}: new field {_show(self.pointer)} ({self.after})"
        if self.kind == "field-removed":
            return f"{head}: field {_show(self.pointer)} ({self.before}) no longer returned"
        return f"{head}: {_show(self.pointer)} type {self.before} -> {self.after}"


_Profile = dict[str, dict[int, dict[str, set[str]]]]


def compare_runs(
    baseline: list[Cassette], current: list[Cassette], *, contract: Contract | None = None
) -> list[Change]:
    """Per operation recorded in both runs: status codes and fields (with JSON types) that differ.

    The contract (default: the working contract) routes paths to operations and tells map keys
    and free-form objects apart from fields.
    """
    contract = contract or load_contract()
    schemas = _Schemas(contract)
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
    contract: Contract, schemas: _Schemas, cassettes: list[Cassette], labels: dict[str, str]
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
        for node in _walk(schemas, None if schema is None else [schema], interaction.body, ""):
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
        if pointer not in old and _parent(pointer) in old:
            yield Change(op_id, label, status, "field-added", pointer, after=after)
        elif pointer not in new and _parent(pointer) in new:
            yield Change(op_id, label, status, "field-removed", pointer, before=before)
        elif pointer in old and pointer in new and before != after:
            yield Change(op_id, label, status, "type-changed", pointer, before, after)


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
        "cassettes": [_cassette_dict(info) for info in report.cassettes],
        "errors": [_error_dict(e) for e in report.errors],
        "undocumented": [_note_dict(n) for n in report.undocumented],
        "neverSeen": [_note_dict(n) for n in report.never_seen],
        "statuses": [
            {
                "operation": s.operation,
                "label": s.label,
                "seen": list(s.seen),
                "documented": list(s.documented),
                "neverRecorded": list(s.never_recorded),
            }
            for s in report.statuses
        ],
        "skipped": [
            {
                "cassette": s.cassette,
                "index": s.index,
                "method": s.method,
                "path": s.path,
                "reason": s.reason,
            }
            for s in report.skipped
        ],
    }


def _cassette_dict(info: CassetteInfo) -> dict[str, Any]:
    return {
        "file": info.file,
        "interactions": info.interactions,
        "contractSha256": info.contract_sha256,
        "recordedAt": info.recorded_at,
        "stale": info.stale,
    }


def _error_dict(error: DriftError) -> dict[str, Any]:
    return {
        "cassette": error.cassette,
        "index": error.index,
        "operation": error.operation,
        "label": error.label,
        "status": error.status,
        "pointer": error.pointer,
        "message": error.message,
    }


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
