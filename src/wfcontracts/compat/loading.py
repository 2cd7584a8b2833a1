"""Read an OpenAPI document for `wfcontracts compat`, failing with one line per problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wfcontracts.cassettes.reading import Fail, kind_of, parse_yaml, read_text
from wfcontracts.errors import WfcontractsError

REQUIRED_KEYS = ("openapi", "paths")


class CompatInputError(WfcontractsError):
    """A contract given to `compat` cannot be read or is not an OpenAPI document."""


def load_document(path: str | Path) -> dict[str, Any]:
    """Parse a YAML or JSON OpenAPI document into a dict, or raise `CompatInputError`."""
    source = Path(path)

    def fail(problem: str) -> Exception:
        return CompatInputError(f"{source}: {problem}")

    document = _parse(source, read_text(source, "contract", fail), fail)
    if not isinstance(document, dict):
        raise fail(f"expected an OpenAPI document (a mapping), got {kind_of(document)}")
    for key in REQUIRED_KEYS:
        if key not in document:
            raise fail(f"not an OpenAPI document: missing {key!r}")
    if not isinstance(document["paths"], dict):
        raise fail("'paths' must be a mapping")
    return document


def _parse(source: Path, text: str, fail: Fail) -> Any:
    if source.suffix.lower() != ".json":
        return parse_yaml(text, fail)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise fail(f"invalid JSON at {where}: {error.msg}") from None
