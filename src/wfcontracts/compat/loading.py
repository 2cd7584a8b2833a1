"""Read an OpenAPI document for `wfcontracts compat`, failing with one line per problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from wfcontracts.errors import WfcontractsError

REQUIRED_KEYS = ("openapi", "paths")


class CompatInputError(WfcontractsError):
    """A contract given to `compat` cannot be read or is not an OpenAPI document."""


def load_document(path: str | Path) -> dict[str, Any]:
    """Parse a YAML or JSON OpenAPI document into a dict, or raise `CompatInputError`."""
    source = Path(path)
    document = _parse(source, _read(source))
    if not isinstance(document, dict):
        kind = "empty" if document is None else f"a {type(document).__name__}"
        raise CompatInputError(f"{source}: expected an OpenAPI document (a mapping), got {kind}")
    for key in REQUIRED_KEYS:
        if key not in document:
            raise CompatInputError(f"{source}: not an OpenAPI document: missing {key!r}")
    if not isinstance(document["paths"], dict):
        raise CompatInputError(f"{source}: 'paths' must be a mapping")
    return document


def _read(source: Path) -> str:
    try:
        return source.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CompatInputError(f"{source}: cannot read contract: not UTF-8 text") from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise CompatInputError(f"{source}: cannot read contract: {reason}") from None


def _parse(source: Path, text: str) -> Any:
    if source.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            where = f"line {error.lineno}, column {error.colno}"
            raise CompatInputError(f"{source}: invalid JSON at {where}: {error.msg}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CompatInputError(f"{source}: invalid YAML{_yaml_position(error)}") from None


def _yaml_position(error: yaml.YAMLError) -> str:
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem_mark is None:
        return f": {_one_line(str(error))}"
    mark = error.problem_mark
    problem = _one_line(error.problem or "syntax error")
    return f" at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
