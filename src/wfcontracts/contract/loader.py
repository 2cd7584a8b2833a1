"""Read a contract file, validate it as OpenAPI 3.1 and check that every `$ref` resolves."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from wfcontracts.errors import WfcontractsError

DEFAULT_CONTRACT_NAME = "cdf-workflows.openapi.yaml"
CONTRACT_ENV = "WFCONTRACTS_CONTRACT"


class ContractError(WfcontractsError):
    """The contract file cannot be used; the message names file, location and problem."""


def default_contract_path() -> Path:
    """The contract shipped with wfcontracts (or the one named by $WFCONTRACTS_CONTRACT)."""
    override = os.environ.get(CONTRACT_ENV)
    if override:
        return Path(override)
    here = Path(__file__).resolve()
    candidates = [
        here.parents[3] / "contracts" / DEFAULT_CONTRACT_NAME,  # source checkout (src layout)
        here.parents[1] / "_contracts" / DEFAULT_CONTRACT_NAME,  # installed wheel
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return candidates[0]


def read_document(path: Path) -> tuple[dict[str, Any], bytes]:
    """Parse a YAML or JSON file into a mapping, with one-line errors."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ContractError(f"{path}: cannot read contract: {exc.strerror or exc}") from None
    try:
        document = yaml.safe_load(raw) if path.suffix != ".json" else json.loads(raw)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ContractError(f"{where}: YAML syntax error: {exc.problem}") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise ContractError(f"{path}: not valid YAML/JSON: {_one_line(str(exc))}") from None
    if not isinstance(document, dict):
        raise ContractError(f"{path}: expected an OpenAPI document (a mapping) at the top level")
    return document, raw


def validate_openapi(path: Path, document: dict[str, Any]) -> None:
    """Check the document against the OpenAPI 3.1 schema and that all local refs resolve."""
    dangling = _first_dangling_ref(document, document, "#")
    if dangling is not None:
        ref, where = dangling
        raise ContractError(f"{path}: at {where}: $ref {ref!r} does not resolve")
    from openapi_spec_validator import OpenAPIV31SpecValidator

    validator = OpenAPIV31SpecValidator(document)
    error = next(iter(validator.iter_errors()), None)
    if error is not None:
        location = "/".join(str(p) for p in error.path) or "(top level)"
        raise ContractError(f"{path}: at {location}: {_one_line(error.message)}")


def sha256_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def resolve_pointer(document: dict[str, Any], ref: str) -> Any:
    """The value a local `#/a/b` reference points at; KeyError when it does not exist."""
    if not ref.startswith("#"):
        raise KeyError(ref)
    node: Any = document
    for part in ref[1:].split("/")[1:]:
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(key)]
        elif isinstance(node, dict):
            node = node[key]
        else:
            raise KeyError(ref)
    return node


def _first_dangling_ref(document: dict[str, Any], node: Any, where: str) -> tuple[str, str] | None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            try:
                resolve_pointer(document, ref)
            except (KeyError, IndexError, ValueError):
                return ref, where
        for key, value in node.items():
            found = _first_dangling_ref(document, value, f"{where}/{key}")
            if found:
                return found
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found = _first_dangling_ref(document, value, f"{where}/{index}")
            if found:
                return found
    return None


def _one_line(text: str) -> str:
    first = " ".join(text.split())
    return first if len(first) <= 300 else first[:297] + "..."
