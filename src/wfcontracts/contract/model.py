"""The loaded contract: operations, their schemas, vendor keywords and schema validation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import jsonschema_rs
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from wfcontracts.contract.loader import (
    default_contract_path,
    read_document,
    resolve_pointer,
    sha256_of,
    validate_openapi,
)
from wfcontracts.contract.provenance import documented_view
from wfcontracts.contract.rules import (
    MAX_JSON_BYTES,
    compact_json_size,
    python_pattern,
    query_value,
)

CONTRACT_URI = "urn:wfcontracts:contract"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@dataclass(frozen=True, slots=True)
class Violation:
    """One way an instance breaks a schema: where (JSON pointer) and what."""

    pointer: str
    message: str
    keyword: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


@dataclass(frozen=True, slots=True)
class ByteLimit:
    """An `x-max-json-bytes` limit on the request-body member at `path`."""

    path: tuple[str, ...]
    limit: int

    @property
    def pointer(self) -> str:
        return "/" + "/".join(self.path)


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: str
    required: bool
    schema: dict[str, Any]


__all__ = [
    "ByteLimit",
    "Contract",
    "Operation",
    "Parameter",
    "Violation",
    "compact_json_size",
    "load_contract",
]


@dataclass(slots=True, repr=False)
class Operation:
    """One method + path of the contract, with everything checks and the mock need."""

    operation_id: str
    method: str
    path_template: str
    parameters: tuple[Parameter, ...]
    request_schema: dict[str, Any] | None
    request_required: bool
    responses: dict[str, dict[str, Any]]
    byte_limits: tuple[ByteLimit, ...]
    source: str
    inferred: bool
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    acl: str = ""  # `x-acl`: the capability the docs require, e.g. workflowOrchestrationAcl:WRITE

    @property
    def writes(self) -> bool:
        """Whether the operation needs write access (a read-only token must be refused)."""
        return self.acl.endswith(":WRITE")

    def __repr__(self) -> str:
        return f"Operation({self.operation_id}: {self.label})"

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path_template}"

    @property
    def documented_statuses(self) -> list[str]:
        return sorted(self.responses)

    def response_for(self, status: int) -> dict[str, Any] | None:
        """The documented response object for a status (exact, then `4XX`, then default)."""
        for key in (str(status), f"{status // 100}XX", "default"):
            if key in self.responses:
                return self.responses[key]
        return None

    def response_schema(self, status: int) -> dict[str, Any] | None:
        response = self.response_for(status)
        if response is None:
            return None
        media = response.get("content", {}).get("application/json")
        return media.get("schema") if media else None

    def required_headers(self, status: int) -> list[str]:
        response = self.response_for(status) or {}
        return [
            name.lower()
            for name, header in response.get("headers", {}).items()
            if header.get("required")
        ]


class Contract:
    """A validated OpenAPI 3.1 contract. Build with :func:`load_contract`."""

    def __init__(self, path: Path, document: dict[str, Any], sha256: str) -> None:
        self.path = path
        self.document = document
        self.sha256 = sha256
        # The Python validator reads patterns as Python does; it gets them spelled so that it
        # accepts what ECMA-262 (JSON Schema's dialect, the compiled validator's) accepts.
        self._registry: Registry[Any] = Registry().with_resource(
            CONTRACT_URI, DRAFT202012.create_resource(_python_patterns(document))
        )
        self._validators: dict[str, Draft202012Validator] = {}
        self._fast: dict[str, Any] = {}
        self.operations: dict[str, Operation] = {op.operation_id: op for op in self._build()}
        self._routes = _compile_routes(self.operations.values())

    def __repr__(self) -> str:
        return f"Contract({str(self.path)!r}, sha256={self.sha256[:12]}…)"

    def operation(self, operation_id: str) -> Operation:
        return self.operations[operation_id]

    def match(self, method: str, raw_path: str) -> tuple[Operation, dict[str, str]] | None:
        """Route a request path (relative to the API root, still URL-encoded) to an operation."""
        segments = raw_path.strip("/").split("/")
        for operation, template in self._routes.get(method.lower(), ()):
            params = _match_segments(template, segments)
            if params is not None:
                return operation, params
        return None

    def allowed_methods(self, raw_path: str) -> list[str]:
        """The methods the contract documents for a path (empty when the path is unknown)."""
        return [m.upper() for m in HTTP_METHODS if self.match(m, raw_path)]

    def resolve(self, node: Any) -> Any:
        """Follow `$ref`s until the node is not a reference."""
        while isinstance(node, dict) and "$ref" in node:
            node = resolve_pointer(self.document, node["$ref"])
        return node

    def validate(self, schema: dict[str, Any], instance: Any) -> list[Violation]:
        """Every way `instance` breaks `schema` (a fragment of this contract), best first.

        A compiled validator answers "valid?" first (the common case, microseconds); the
        Python validator, the one whose verdict counts, only runs to explain a rejection.
        """
        fast = self._fast_validator(schema)
        if fast is not None and fast.is_valid(instance):
            return []
        validator = self._validator(schema)
        errors = sorted(validator.iter_errors(instance), key=lambda e: (len(e.path), str(e.path)))
        return [
            Violation(
                pointer="/" + "/".join(str(p) for p in err.absolute_path),
                message=_short(_as_written(err)),
                keyword=str(err.validator),
            )
            for err in errors
        ]

    def request_violations(
        self,
        operation_id: str,
        path_params: dict[str, str],
        raw_query: str,
        body: Any,
        *,
        has_body: bool,
    ) -> list[Violation]:
        """Every way a request (path values unquoted, query as sent, parsed body) breaks this
        contract's operation: parameters (query values typed by their schema), body schema and
        the body's `x-max-json-bytes` limits."""
        operation = self.operation(operation_id)
        query = parse_qsl(raw_query, keep_blank_values=True)
        sent = dict(query)
        found: list[Violation] = []
        for param in operation.parameters:
            if param.location == "path":
                value: Any = path_params.get(param.name, "")
            elif param.location == "query" and param.name in sent:
                value = query_value(sent[param.name], self.resolve(param.schema))
            else:
                if param.required and param.location == "query":
                    found.append(Violation(f"query parameter {param.name}", "missing", "required"))
                continue
            where = f"{param.location} parameter {param.name}"
            found += [
                Violation(where + v.pointer.rstrip("/"), v.message, v.keyword)
                for v in self.validate(param.schema, value)
            ]
        if not has_body:
            if operation.request_required:
                found.append(Violation("/", "a request body is required", "required"))
        elif operation.request_schema is not None:
            found += self.validate(operation.request_schema, body)
            for limit in operation.byte_limits:
                value = _member(body, limit.path)
                size = compact_json_size(value) if value is not None else 0
                if size > limit.limit:
                    message = f"{size} bytes as compact JSON; at most {limit.limit}"
                    found.append(Violation(limit.pointer, message, MAX_JSON_BYTES))
        return found

    def response_violations(self, operation_id: str, status: int, body: Any) -> list[Violation]:
        """Every way a response body breaks what the docs state (the documented view): a
        server echoes what it accepted, so a request-side rule they do not state is none here."""
        view = self.documented
        schema = view.operation(operation_id).response_schema(status)
        return [] if schema is None else view.validate(schema, body)

    @cached_property
    def documented(self) -> Contract:
        """This contract without its inferred constraints (`wfcontracts.contract.provenance`)."""
        return Contract(self.path, documented_view(self.document), self.sha256)

    def schema_ref(self, name: str) -> dict[str, Any]:
        """A `$ref` to `#/components/schemas/<name>`, usable with :meth:`validate`."""
        return {"$ref": f"#/components/schemas/{name}"}

    @cached_property
    def schema_names(self) -> list[str]:
        return sorted(self.document.get("components", {}).get("schemas", {}))

    def _fast_validator(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._fast:
            try:
                self._fast[key] = jsonschema_rs.validator_for(
                    self._inline(schema), validate_formats=False
                )
            except (ValueError, RecursionError):  # a schema the compiled validator cannot take
                self._fast[key] = None
        return self._fast[key]

    def _inline(self, node: Any, depth: int = 0) -> Any:
        """The schema with every local `$ref` replaced by its target (the contract is acyclic)."""
        if depth > 64:
            raise RecursionError("schema nesting too deep to inline")
        if isinstance(node, dict):
            if "$ref" in node and isinstance(node["$ref"], str):
                target = self._inline(resolve_pointer(self.document, node["$ref"]), depth + 1)
                siblings = {k: self._inline(v, depth + 1) for k, v in node.items() if k != "$ref"}
                return {"allOf": [target, siblings]} if siblings else target
            return {k: self._inline(v, depth + 1) for k, v in node.items()}
        if isinstance(node, list):
            return [self._inline(item, depth + 1) for item in node]
        return node

    def _validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            rooted = _reroot_refs(_python_patterns(schema))
            validator = Draft202012Validator(rooted, registry=self._registry)
            self._validators[key] = validator
        return validator

    def _build(self) -> Iterator[Operation]:
        for template, item in self.document.get("paths", {}).items():
            shared = [self.resolve(p) for p in item.get("parameters", [])]
            for method in HTTP_METHODS:
                if method in item:
                    yield self._operation(template, method, item[method], shared)

    def _operation(
        self, template: str, method: str, spec: dict[str, Any], shared: list[dict[str, Any]]
    ) -> Operation:
        params = [*shared, *(self.resolve(p) for p in spec.get("parameters", []))]
        body = self.resolve(spec.get("requestBody")) if "requestBody" in spec else None
        media = (body or {}).get("content", {}).get("application/json")
        request_schema = media.get("schema") if media else None
        responses = {
            status: self._resolved_response(response)
            for status, response in spec.get("responses", {}).items()
        }
        return Operation(
            operation_id=spec.get("operationId") or f"{method}_{template}",
            method=method,
            path_template=template,
            parameters=tuple(
                Parameter(p["name"], p["in"], bool(p.get("required")), p.get("schema", {}))
                for p in params
            ),
            request_schema=request_schema,
            request_required=bool((body or {}).get("required")),
            responses=responses,
            byte_limits=tuple(self._byte_limits(request_schema, ())),
            source=str(spec.get("x-source", "")),
            inferred=bool(spec.get("x-inferred", False)),
            links={
                status: response.get("links", {})
                for status, response in responses.items()
                if response.get("links")
            },
            tags=tuple(spec.get("tags", ())),
            acl=str(spec.get("x-acl", "")),
        )

    def _resolved_response(self, response: dict[str, Any]) -> dict[str, Any]:
        resolved = dict(self.resolve(response))
        resolved["headers"] = {
            name: self.resolve(header) for name, header in resolved.get("headers", {}).items()
        }
        return resolved

    def _byte_limits(self, schema: Any, path: tuple[str, ...]) -> Iterator[ByteLimit]:
        schema = self.resolve(schema)
        if not isinstance(schema, dict):
            return
        if MAX_JSON_BYTES in schema:
            yield ByteLimit(path, int(schema[MAX_JSON_BYTES]))
        for name, sub in schema.get("properties", {}).items():
            yield from self._byte_limits(sub, (*path, name))


def load_contract(path: Path | str | None = None) -> Contract:
    """Load, validate and index a contract; raises ContractError with a one-line message.

    Loaded contracts are cached by path and content hash: validation is the slow part and a
    run builds many runtimes (self-tests, fault tests).
    """
    contract_path = Path(path) if path is not None else default_contract_path()
    try:
        key = (str(contract_path.resolve()), sha256_of(contract_path.read_bytes()))
    except OSError:
        key = None  # read_document below says what is wrong, in one line
    cached = _CACHE.get(key) if key else None
    if cached is None:
        document, raw = read_document(contract_path)
        validate_openapi(contract_path, document)
        cached = Contract(contract_path, document, sha256_of(raw))
        _CACHE[(str(contract_path.resolve()), cached.sha256)] = cached
    return cached


_CACHE: dict[tuple[str, str], Contract] = {}


_SEGMENT_PARAM = re.compile(r"^\{([^}]+)\}$")


def _compile_routes(
    operations: Any,
) -> dict[str, list[tuple[Operation, list[str]]]]:
    routes: dict[str, list[tuple[Operation, list[str]]]] = {}
    for operation in operations:
        template = operation.path_template.strip("/").split("/")
        routes.setdefault(operation.method, []).append((operation, template))
    for entries in routes.values():
        # Literal segments win over parameters: /workflows/versions before /workflows/{id}.
        entries.sort(key=lambda e: [bool(_SEGMENT_PARAM.match(s)) for s in e[1]])
    return routes


def _match_segments(template: list[str], segments: list[str]) -> dict[str, str] | None:
    if len(template) != len(segments):
        return None
    params: dict[str, str] = {}
    for expected, actual in zip(template, segments, strict=True):
        found = _SEGMENT_PARAM.match(expected)
        if found:
            if not actual:
                return None
            params[found.group(1)] = unquote(actual)
        elif expected != actual:
            return None
    return params


#: Python spelling → the contract's, so messages quote the pattern as the contract writes it.
_WRITTEN_PATTERNS: dict[str, str] = {}


def _python_patterns(node: Any) -> Any:
    """`node` with every `pattern` spelled for Python's `re` (see `rules.python_pattern`)."""
    if isinstance(node, dict):
        return {
            key: (
                _python_pattern(value)
                if key == "pattern" and isinstance(value, str)
                else _python_patterns(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_python_patterns(item) for item in node]
    return node


def _member(body: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


def _python_pattern(pattern: str) -> str:
    translated = python_pattern(pattern)
    _WRITTEN_PATTERNS[translated] = pattern
    return translated


def _as_written(error: Any) -> str:
    if error.validator == "pattern" and error.validator_value in _WRITTEN_PATTERNS:
        return f"{error.instance!r} does not match {_WRITTEN_PATTERNS[error.validator_value]!r}"
    return str(error.message)


def _reroot_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                CONTRACT_URI + value
                if key == "$ref" and isinstance(value, str) and value.startswith("#")
                else _reroot_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_reroot_refs(item) for item in node]
    return node


def _short(message: str) -> str:
    return message if len(message) <= 200 else message[:197] + "..."
