"""Reading vcrpy cassette files: the one parser replay (the recorder) and drift share.

A cassette is ``{version: 1, interactions: [{request, response}, …]}`` plus the
``wfcontracts: {contractSha256, recordedAt, baseUrl, project}`` stamp our recorder adds
(:class:`CassetteMeta`; absent from cassettes other recorders wrote). Anything else raises
:class:`CorruptCassetteError`: one line naming the file, the problem and how to re-record.
Interactions are numbered from 0, as ``interactions[0]``, the way the YAML lists them.

The text and YAML helpers (:func:`read_text`, :func:`parse_yaml`, :func:`kind_of`) also read
contract documents for ``wfcontracts compat``, so both say the same thing about a broken file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wfcontracts.errors import WfcontractsError
from wfcontracts.redact import decompress

__all__ = [
    "META_KEY",
    "RERECORD_HINT",
    "Cassette",
    "CassetteError",
    "CassetteMeta",
    "CorruptCassetteError",
    "Fail",
    "Interaction",
    "find_cassettes",
    "first_header",
    "kind_of",
    "load_cassette",
    "load_cassettes",
    "parse_yaml",
    "read_text",
    "yaml_position",
]

RERECORD_HINT = (
    "re-record with `wfcontracts record --base-url URL` "
    "or `pytest suites/lifecycle --record-mode=all --base-url URL`"
)
META_KEY = "wfcontracts"
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Fail = Callable[[str], Exception]
"""Builds the caller's exception from a problem; the caller's message names the file."""


class CassetteError(WfcontractsError):
    """A cassette cannot serve this run: unreadable, stale, or not matching the requests."""


class CorruptCassetteError(CassetteError):
    """A file that is not a readable vcrpy cassette (exit 2 from the CLI)."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}; {RERECORD_HINT}")


@dataclass(frozen=True)
class CassetteMeta:
    """What a cassette says about its recording (the ``wfcontracts`` stamp)."""

    contract_sha256: str
    recorded_at: str | None = None
    base_url: str | None = None
    project: str | None = None

    def as_yaml(self) -> dict[str, Any]:
        data = {"contractSha256": self.contract_sha256, "recordedAt": self.recorded_at}
        data |= {"baseUrl": self.base_url, "project": self.project}
        return {key: value for key, value in data.items() if value is not None}


@dataclass(frozen=True, slots=True)
class Interaction:
    """One recorded request/response pair; ``body`` is parsed JSON when ``is_json``.

    ``raw`` is the ``{request, response}`` mapping as read, for vcrpy to replay.
    """

    index: int
    method: str
    uri: str
    status: int
    content_type: str
    body: Any
    is_json: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Cassette:
    """A vcrpy cassette file and the stamp its recorder may have added."""

    path: Path
    interactions: tuple[Interaction, ...]
    meta: CassetteMeta | None = None

    @property
    def name(self) -> str:
        return str(self.path)

    @property
    def contract_sha256(self) -> str | None:
        return self.meta.contract_sha256 if self.meta else None

    @property
    def recorded_at(self) -> str | None:
        return self.meta.recorded_at if self.meta else None


def find_cassettes(root: Path) -> list[Path]:
    """Every ``*.yaml`` / ``*.yml`` cassette below ``root``, sorted; none if it does not exist."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_cassettes(paths: Iterable[Path]) -> list[Cassette]:
    """Parse cassettes; a broken one raises :class:`CorruptCassetteError` naming it."""
    return [load_cassette(Path(path)) for path in paths]


def load_cassette(path: Path, deserialize: Callable[[str], Any] | None = None) -> Cassette:
    """Parse and validate one cassette; ``deserialize`` is the vcrpy serializer's, if given."""

    def fail(problem: str) -> Exception:
        return CorruptCassetteError(path, problem)

    data = parse_yaml(read_text(path, "cassette", fail), fail, deserialize or _fast_yaml)
    if not isinstance(data, dict):
        raise fail(f"not a vcrpy cassette: expected a mapping, got {kind_of(data)}")
    if data.get("version", 1) != 1:
        raise fail(f"unsupported cassette version {data['version']!r} (need 1)")
    raw = data.get("interactions")
    if not isinstance(raw, list):
        problem = "missing 'interactions'" if raw is None else "'interactions' must be a list"
        raise fail(f"not a vcrpy cassette: {problem}")
    try:
        interactions = tuple(_interaction(i, item) for i, item in enumerate(raw))
    except _InteractionProblem as problem:
        raise fail(str(problem)) from None
    return Cassette(path, interactions, _meta(data.get(META_KEY)))


def _meta(raw: Any) -> CassetteMeta | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("contractSha256"), str):
        return None
    return CassetteMeta(
        contract_sha256=raw["contractSha256"],
        recorded_at=_optional_str(raw.get("recordedAt")),
        base_url=_optional_str(raw.get("baseUrl")),
        project=_optional_str(raw.get("project")),
    )


def _optional_str(value: Any) -> str | None:
    # YAML turns an unquoted timestamp into a datetime; the stamp is text either way.
    return None if value is None else str(value)


# --------------------------------------------------------------------------- interactions


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
    # vcrpy builds its Request from exactly these keys; what it cannot replay is corrupt here too.
    if "body" not in request or not isinstance(request.get("headers"), dict):
        raise _InteractionProblem(f"{where}: request needs 'body' and 'headers' (a mapping)")
    status = response.get("status")
    code = status.get("code") if isinstance(status, dict) else None
    if not isinstance(code, int) or isinstance(code, bool):
        raise _InteractionProblem(f"{where}: response has no integer status 'code'")
    headers = response.get("headers")
    if not isinstance(headers, dict):
        raise _InteractionProblem(f"{where}: response 'headers' must be a mapping")
    holder = response.get("body")
    if not isinstance(holder, dict) or "string" not in holder:
        raise _InteractionProblem(f"{where}: response has no 'body.string'")
    content_type = first_header(headers, "content-type") or ""
    body, is_json = _body(where, holder["string"], content_type, headers)
    return Interaction(
        index, request["method"].upper(), request["uri"], code, content_type, body, is_json, item
    )


def _mapping(item: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = item.get(key)
    if not isinstance(value, dict):
        raise _InteractionProblem(f"{where}: missing {key!r}")
    return value


def first_header(headers: Mapping[Any, Any], name: str) -> str | None:
    """The first value of header ``name`` (lower case) in vcrpy's ``{name: [values]}`` shape."""
    for key, value in headers.items():
        if str(key).lower() == name:
            if isinstance(value, list | tuple):  # vcrpy's own loader may hand back tuples
                return str(value[0]) if value else None
            return str(value)
    return None


def _body(where: str, raw: Any, content_type: str, headers: Mapping[str, Any]) -> tuple[Any, bool]:
    if isinstance(raw, bytes):
        raw = _decoded(where, raw, first_header(headers, "content-encoding") or "")
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


# --------------------------------------------------------------------------- text and YAML files


def read_text(path: Path, what: str, fail: Fail) -> str:
    """The UTF-8 text of ``path``; ``fail("cannot read <what>: …")`` when there is none."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise fail(f"cannot read {what}: not UTF-8 text") from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise fail(f"cannot read {what}: {reason}") from None


def parse_yaml(text: str, fail: Fail, load: Callable[[str], Any] = yaml.safe_load) -> Any:
    """``load(text)``; ``fail("invalid YAML at line L, column C: …")`` on a syntax error."""
    try:
        return load(text)
    except yaml.YAMLError as error:
        raise fail(f"invalid YAML{yaml_position(error)}") from None


def _fast_yaml(text: str) -> Any:
    # libyaml when built: cassettes are big, and this reads every one of them.
    return yaml.load(text, Loader=_YAML_LOADER)


def yaml_position(error: yaml.YAMLError) -> str:
    """`` at line L, column C: problem`` (or ``: message``) for a one-line error."""
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem_mark is None:
        return f": {_one_line(str(error))}"
    mark = error.problem_mark
    problem = _one_line(error.problem or "syntax error")
    return f" at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def kind_of(value: Any) -> str:
    """``empty`` or ``a list`` …: what a document holds where a mapping was expected."""
    return "empty" if value is None else f"a {type(value).__name__}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
