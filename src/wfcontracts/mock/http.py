"""The mock's HTTP layer without a web framework: routing from the contract, auth, validation,
the CDF error envelope, `x-request-id`, and the HTTP-level named faults.

Starlette (app.py) and the in-process httpx transport (transport.py) both adapt to
:class:`Dispatcher`, so the embedded target and `wfcontracts mock serve` behave the same.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import logging
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from wfcontracts.contract import Contract, Operation, Violation, compact_json_size
from wfcontracts.mock.backend import WorkflowsBackend
from wfcontracts.mock.faults import FaultSet
from wfcontracts.mock.handlers import HANDLERS
from wfcontracts.mock.models import DomainError

log = logging.getLogger("wfcontracts.mock")

API_PREFIX = "/api/v1/projects/"
CONTROL_PREFIX = "/_mock/"
MAX_BODY_BYTES = 10 * 1024 * 1024
JSON = "application/json"


@dataclass(slots=True)
class MockRequest:
    method: str
    raw_path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    # cdf tasks call the mock's own routes on the execution's behalf, as its session would
    internal: bool = False


@dataclass(slots=True)
class MockResponse:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(slots=True)
class TokenPolicy:
    """Which bearer tokens the mock accepts; `None` tokens means any non-empty token."""

    tokens: dict[str, str] | None = None

    @classmethod
    def parse(cls, specs: list[str] | None) -> TokenPolicy:
        """`--token T` (read-write) or `--token T:read` (read-only)."""
        if not specs:
            return cls(None)
        tokens: dict[str, str] = {}
        for spec in specs:
            token, _, mode = spec.partition(":")
            tokens[token] = "read" if mode == "read" else "write"
        return cls(tokens)

    def mode(self, token: str) -> str | None:
        if not token:
            return None
        if self.tokens is None:
            return "write"
        return self.tokens.get(token)


class HttpError(Exception):
    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


ControlHandler = Callable[[MockRequest, str], MockResponse]


class Dispatcher:
    """Turns one HTTP request into one response, the same way for every adapter."""

    def __init__(
        self,
        contract: Contract,
        backend: WorkflowsBackend,
        faults: FaultSet,
        tokens: TokenPolicy,
        control: ControlHandler | None = None,
    ) -> None:
        self.contract = contract
        self.backend = backend
        self.faults = faults
        self.tokens = tokens
        self.control = control
        self._ids = itertools.count(1)
        self._id_lock = threading.Lock()

    def handle(self, request: MockRequest) -> MockResponse:
        request_id = self._next_request_id()
        if request.raw_path.startswith(CONTROL_PREFIX) and self.control is not None:
            response = self.control(request, request.raw_path[len(CONTROL_PREFIX) :])
            response.headers.setdefault("x-request-id", request_id)
            return response
        try:
            status, payload = self._serve(request)
        except HttpError as exc:
            response = self._error(exc.status, exc.message, request_id, {})
            response.headers.update(exc.headers)
            return response
        except DomainError as exc:
            extra = {
                k: v for k, v in (("missing", exc.missing), ("duplicated", exc.duplicated)) if v
            }
            return self._error(exc.status, exc.message, request_id, extra)
        except Exception:  # a bug must still answer with the envelope, never a dropped connection
            log.exception("mock handler failed")
            return self._error(500, "Internal server error", request_id, {})
        return self._json(status, payload, request_id)

    def cdf_request(
        self, project: str, method: str, resource_path: str, query: dict[str, Any] | None, body: Any
    ) -> tuple[int, Any]:
        """How `cdf` tasks call the mock's own routes (as the engine's CdfRequester)."""
        raw = resource_path if resource_path.startswith("/") else "/" + resource_path
        request = MockRequest(
            method=method.upper(),
            raw_path=f"{API_PREFIX}{project}{raw}",
            query="&".join(f"{k}={v}" for k, v in (query or {}).items()),
            headers={"content-type": JSON},
            body=json.dumps(body).encode() if body is not None else b"",
            internal=True,
        )
        response = self._internal(request)
        return response.status, response.json() if response.body else None

    # -- steps -------------------------------------------------------------------------------

    def _serve(self, request: MockRequest) -> tuple[int, Any]:
        project, rest = self._split_project(request.raw_path)
        matched = self.contract.match(request.method, rest)
        if matched is None:
            allowed = self.contract.allowed_methods(rest)
            if allowed:
                raise HttpError(
                    405,
                    f"Method {request.method} is not allowed on {rest}",
                    headers={"allow": ", ".join(allowed)},
                )
            raise HttpError(404, f"Unknown path: {rest}")
        operation, path_params = matched
        self._authorize(request, operation)
        body = self._read_body(request, operation)
        query = self._validate_parameters(operation, path_params, request.query)
        self._validate_body(operation, body)
        handler = HANDLERS.get(operation.operation_id)
        if handler is None:
            raise HttpError(
                501, f"Operation {operation.operation_id} is not implemented by the mock"
            )
        status, payload = handler(self.backend, project, path_params, query, body)
        if status == 202 and "run_returns_200" in self.faults:
            status = 200
        return status, payload

    def _internal(self, request: MockRequest) -> MockResponse:
        try:
            status, payload = self._serve(request)
        except HttpError as exc:
            return self._json(exc.status, _envelope(exc.status, exc.message, {}), "internal")
        except DomainError as exc:
            return self._json(exc.status, _envelope(exc.status, exc.message, {}), "internal")
        return self._json(status, payload, "internal")

    def _split_project(self, raw_path: str) -> tuple[str, str]:
        if not raw_path.startswith(API_PREFIX):
            raise HttpError(
                404, f"Unknown path: {raw_path} (the API lives under {API_PREFIX}<project>/)"
            )
        project, _, rest = raw_path[len(API_PREFIX) :].partition("/")
        if not project:
            raise HttpError(404, "No project in the path")
        return project, "/" + rest

    def _authorize(self, request: MockRequest, operation: Operation) -> None:
        if "auth_ignored" in self.faults or request.internal:
            return
        scheme, _, token = _header(request.headers, "authorization").partition(" ")
        mode = self.tokens.mode(token.strip()) if scheme.lower() == "bearer" else None
        if mode is None:
            raise HttpError(401, "Unauthorized: missing or invalid bearer token")
        if (
            mode == "read"
            and operation.writes
            and "readonly_token_writes" not in self.faults
        ):
            raise HttpError(403, "Forbidden: the token lacks workflowOrchestrationAcl:WRITE")

    def _read_body(self, request: MockRequest, operation: Operation) -> Any:
        raw = request.body
        if len(raw) > MAX_BODY_BYTES:
            raise HttpError(413, f"Request body larger than {MAX_BODY_BYTES} bytes")
        if _header(request.headers, "content-encoding").lower() == "gzip":
            try:
                raw = _gunzip(raw)
            except (OSError, EOFError, zlib.error):
                raise HttpError(400, "Request body is not valid gzip") from None
        if not raw.strip():
            if operation.request_required:
                raise HttpError(400, "Request body is required")
            return None
        content_type = _header(request.headers, "content-type").split(";")[0].strip().lower()
        if content_type not in (JSON, "") and not content_type.endswith("+json"):
            raise HttpError(415, f"Unsupported content type {content_type!r}; use {JSON}")
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise HttpError(400, f"Invalid JSON in request body: {exc}") from None
        if body is None and operation.request_required:
            raise HttpError(400, "Request body is required (got null)")
        return body

    def _validate_parameters(
        self, operation: Operation, path_params: dict[str, str], raw_query: str
    ) -> dict[str, Any]:
        query_items = dict(parse_qsl(raw_query, keep_blank_values=True))
        query: dict[str, Any] = {}
        for param in operation.parameters:
            if param.location == "path":
                value: Any = path_params.get(param.name, "")
            elif param.location == "query":
                if param.name not in query_items:
                    continue
                value = _coerce(query_items[param.name], self.contract.resolve(param.schema))
                query[param.name] = value
            else:
                continue
            violations = self._allowed(self.contract.validate(param.schema, value), param.name)
            if violations:
                raise HttpError(
                    400, f"Invalid {param.location} parameter {param.name}: {violations[0].message}"
                )
        return query

    def _validate_body(self, operation: Operation, body: Any) -> None:
        if body is None or operation.request_schema is None:
            return
        violations = self._allowed(self.contract.validate(operation.request_schema, body), "")
        if violations:
            first = violations[0]
            raise HttpError(400, f"Invalid request body at {first.pointer}: {first.message}")
        for limit in operation.byte_limits:
            value = _get_path(body, limit.path)
            if value is None:
                continue
            allowed = limit.limit + _byte_fault_offset(self.faults)
            size = compact_json_size(value)
            if size > allowed:
                raise HttpError(
                    400, f"{limit.pointer[1:]} is {size} bytes; the limit is {limit.limit} bytes"
                )
        if "metadata_too_strict" in self.faults and len((body or {}).get("metadata") or {}) >= 10:
            raise HttpError(400, "metadata may have at most 9 pairs")

    def _allowed(self, violations: list[Violation], name: str) -> list[Violation]:
        """Drop the violations a switched-on fault tells the mock to ignore."""
        return [v for v in violations if not _ignored_by_fault(v, name, self.faults)]

    # -- responses ---------------------------------------------------------------------------

    def _next_request_id(self) -> str:
        with self._id_lock:
            return f"wfc-{next(self._ids):08x}"

    def _error(
        self, status: int, message: str, request_id: str, extra: dict[str, Any]
    ) -> MockResponse:
        if "bare_error_body" in self.faults:
            return self._json(status, {"message": message}, request_id)
        code = status + 1 if "error_code_mismatch" in self.faults else status
        return self._json(status, _envelope(code, message, extra), request_id)

    def _json(self, status: int, payload: Any, request_id: str) -> MockResponse:
        body = json.dumps(payload, separators=(",", ":")).encode()
        content_type = "text/plain" if "wrong_content_type" in self.faults else JSON
        headers = {"content-type": content_type}
        if "no_request_id" not in self.faults:
            headers["x-request-id"] = request_id
        return MockResponse(status, body, headers)


def _envelope(code: int, message: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
        return ""
    return value


def _gunzip(raw: bytes) -> bytes:
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
        data = stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise HttpError(413, f"Decompressed request body larger than {MAX_BODY_BYTES} bytes")
    return data


def _coerce(text: str, schema: Any) -> Any:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


def _get_path(body: Any, path: tuple[str, ...]) -> Any:
    node = body
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _byte_fault_offset(faults: FaultSet) -> int:
    if "input_limit_off_by_one" in faults:
        return 1
    if "input_limit_too_strict" in faults:
        return -1
    return 0


_FAULT_FILTERS: dict[str, Callable[[Violation, str], bool]] = {
    "metadata_pairs_unchecked": lambda v, _: (
        v.pointer.startswith("/metadata") and v.keyword == "maxProperties"
    ),
    "metadata_key_length_unchecked": lambda v, _: (
        v.pointer.startswith("/metadata")
        and v.keyword in ("propertyNames", "maxLength")
        and v.pointer == "/metadata"
    ),
    "metadata_value_length_unchecked": lambda v, _: (
        v.pointer.startswith("/metadata/") and v.keyword == "maxLength"
    ),
    "reason_length_unchecked": lambda v, _: v.pointer == "/reason" and v.keyword == "maxLength",
    "external_id_length_unchecked": lambda v, name: (
        v.keyword == "maxLength"
        and (name in ("workflowExternalId", "version") or v.pointer.endswith("xternalId"))
    ),
    "whitespace_ids_accepted": lambda v, name: (
        v.keyword == "pattern"
        and (name in ("workflowExternalId", "version") or v.pointer.endswith("xternalId"))
    ),
    "missing_nonce_accepted": lambda v, _: (
        v.keyword == "required" and ("authentication" in v.message or "nonce" in v.message)
    ),
}


def _ignored_by_fault(violation: Violation, name: str, faults: FaultSet) -> bool:
    return any(
        fault in faults and matches(violation, name) for fault, matches in _FAULT_FILTERS.items()
    )
