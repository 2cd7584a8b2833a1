"""The mock's HTTP layer without a web framework: routing from the contract, auth, validation,
the CDF error envelope, `x-request-id`, and the HTTP-level named faults.

The profile (`profiles.Profile`) picks what is validated (the whole contract, or only its
documented view) and the HTTP answers the docs leave open (status codes, request-id format,
envelope details).

The ASGI app (app.py) and the in-process httpx transport (transport.py) both adapt to
:class:`Dispatcher`, so the embedded target and `wfcontracts mock serve` behave the same.
"""

from __future__ import annotations

import gzip
import hmac
import io
import itertools
import json
import logging
import math
import re
import threading
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from wfcontracts.contract import Contract, Operation, Violation, compact_json_size
from wfcontracts.contract.rules import query_value
from wfcontracts.mock.backend import WorkflowsBackend
from wfcontracts.mock.faults import FaultSet
from wfcontracts.mock.handlers import HANDLERS
from wfcontracts.mock.models import DomainError
from wfcontracts.mock.profiles import STRICT, Profile

log = logging.getLogger("wfcontracts.mock")

API_PREFIX = "/api/v1/projects/"
CONTROL_PREFIX = "/_mock/"
MAX_BODY_BYTES = 10 * 1024 * 1024
#: Deeper JSON is refused with 400: the parser, the validators and the domain all recurse, and
#: a 2 KB body can nest a thousand levels. 100 is far beyond any workflow definition or input.
MAX_JSON_DEPTH = STRICT.max_json_depth
JSON = "application/json"
#: What the gateway answers for each status-code transient fault (see faults.TRANSIENT_FAULTS).
TRANSIENT_ERRORS: dict[str, tuple[int, str]] = {
    "throttle": (429, "Too high rate of requests"),
    "gateway_502": (502, "Bad gateway"),
    "gateway_503": (503, "Service unavailable"),
    "gateway_504": (504, "Gateway timeout"),
}


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
    """Which bearer tokens the mock accepts; `None` tokens means any non-empty token.

    The control plane takes `control_token` when one is set, else a read-write token when
    tokens are configured, else no token at all (a mock that accepts any token guards nothing).
    A revoked token is refused everywhere from then on, like an expired one.
    """

    tokens: dict[str, str] | None = None
    control_token: str | None = None
    revoked: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, specs: list[str] | None, control_token: str | None = None) -> TokenPolicy:
        """`--token T` (read-write) or `--token T:read` (read-only)."""
        if not specs:
            return cls(None, control_token or None)
        tokens: dict[str, str] = {}
        for spec in specs:
            token, _, mode = spec.partition(":")
            tokens[token] = "read" if mode == "read" else "write"
        return cls(tokens, control_token or None)

    def mode(self, token: str) -> str | None:
        if not token or token in self.revoked:
            return None
        if self.tokens is None:
            return "write"
        return self.tokens.get(token)

    def control_status(self, token: str) -> int | None:
        """None when `token` may use the control plane, else the status refusing it."""
        if self.control_token is not None:
            valid = token not in self.revoked and hmac.compare_digest(
                token.encode(), self.control_token.encode()
            )
            return None if valid else 401
        if self.tokens is None:
            return None
        mode = self.mode(token)
        if mode is None:
            return 401
        return None if mode == "write" else 403


class ConnectionDropped(Exception):  # noqa: N818 (an event, not an error of ours)
    """The mock ends the connection without answering (`drop_*`, `reset_connection` faults).

    Adapters turn it into what a client sees: uvicorn closes the socket (FIN; a RST when
    `reset`), the in-process transport raises `httpx.RemoteProtocolError` (`httpx.ReadError`).
    """

    def __init__(self, fault: str) -> None:
        super().__init__(fault)
        self.fault = fault
        # Clients treat the two differently: the SDK retries a reset, not a clean close.
        self.reset = fault == "reset_connection"


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
        profile: Profile = STRICT,
    ) -> None:
        self.contract = contract
        self.backend = backend
        self.faults = faults
        self.tokens = tokens
        self.control = control
        self.profile = profile
        # What requests are validated against; routing always takes the whole contract.
        self.rules = contract.documented if profile.documented_only else contract
        self._ids = itertools.count(1)
        self._id_lock = threading.Lock()

    def handle(self, request: MockRequest) -> MockResponse:
        """Answer `request`; raises :class:`ConnectionDropped` when a drop fault hits it."""
        request_id = self._next_request_id()
        if request.raw_path.startswith(CONTROL_PREFIX) and self.control is not None:
            return self._control(request, request_id)
        # Before routing and auth, as a gateway would: a throttled or dropped request never
        # reaches the domain, so a client may safely send it again.
        transient = None if request.internal else self.faults.draw()
        if transient in ("drop_connection", "reset_connection"):
            raise ConnectionDropped(transient)
        if transient in TRANSIENT_ERRORS:
            return self._transient(TRANSIENT_ERRORS[transient], request_id)
        response = self._respond(request, request_id)
        if transient == "drop_after_write":
            raise ConnectionDropped(transient)
        return response

    def _respond(self, request: MockRequest, request_id: str) -> MockResponse:
        try:
            status, payload = self._serve(request)
        except HttpError as exc:
            response = self._error(exc.status, exc.message, request_id, {})
            response.headers.update(exc.headers)
            return response
        except DomainError as exc:
            details = (("missing", exc.missing), ("duplicated", exc.duplicated))
            extra = {k: v for k, v in details if v} if self.profile.error_details else {}
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
            if allowed and self.profile.undeclared_method_status == 405:
                raise HttpError(
                    405,
                    f"Method {request.method} is not allowed on {rest}",
                    headers={"allow": ", ".join(allowed)},
                )
            if allowed:
                raise HttpError(
                    self.profile.undeclared_method_status, f"No {request.method} route for {rest}"
                )
            raise HttpError(404, f"Unknown path: {rest}")
        operation, path_params = matched
        self._authorize(request, operation)
        try:
            body = self._read_body(request, operation)
            query = self._validate_parameters(operation, path_params, request.query)
            self._validate_body(operation, body)
        except HttpError:
            raise
        except Exception as exc:
            # Whatever trips parsing or validation came from the request: the client hears 400
            # (a 5xx would invite a retry of the same bytes); the log keeps the bug visible.
            log.warning("request rejected after %s in parsing/validation", type(exc).__name__)
            log.debug("parsing/validation failure", exc_info=True)
            raise HttpError(
                400, f"Request could not be parsed or validated ({type(exc).__name__})"
            ) from None
        handler = HANDLERS.get(operation.operation_id)
        if handler is None:
            raise HttpError(
                501, f"Operation {operation.operation_id} is not implemented by the mock"
            )
        try:
            status, payload = handler(self.backend, project, path_params, query, body)
        except (DomainError, HttpError):
            raise
        except Exception as exc:
            refusal = self._unprocessable(operation, path_params, request.query, body, exc)
            if refusal is None:
                raise
            raise refusal from None
        if status == 202 and "run_returns_200" in self.faults:
            status = 200
        return status, payload

    def _unprocessable(
        self,
        operation: Operation,
        path_params: dict[str, str],
        raw_query: str,
        body: Any,
        exc: Exception,
    ) -> HttpError | None:
        """The 400 for a request the lenient profile let in but cannot process: it breaks only
        rules the docs do not state (a strict server refuses it at validation), so refusing it
        is as legitimate as accepting it. None when the request breaks none: then the crash is
        the mock's bug and stays a 500."""
        if not self.profile.documented_only:
            return None
        broken = self.contract.request_violations(
            operation.operation_id, path_params, raw_query, body, has_body=body is not None
        )
        if not broken:
            return None
        log.info("lenient profile: %s not processed (%s)", operation.label, type(exc).__name__)
        first = broken[0]
        return HttpError(400, f"Request cannot be processed at {first.pointer}: {first.message}")

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
        if mode == "read" and operation.writes and "readonly_token_writes" not in self.faults:
            status = self.profile.read_only_write_status
            refusal = "Forbidden" if status == 403 else "Unauthorized"
            raise HttpError(status, f"{refusal}: the token lacks workflowOrchestrationAcl:WRITE")

    def _read_body(self, request: MockRequest, operation: Operation) -> Any:
        raw = request.body
        too_large = self.profile.body_too_large_status
        if len(raw) > MAX_BODY_BYTES:
            raise HttpError(too_large, f"Request body larger than {MAX_BODY_BYTES} bytes")
        if _header(request.headers, "content-encoding").lower() == "gzip":
            try:
                raw = _gunzip(raw, too_large)
            except (OSError, EOFError, zlib.error):
                raise HttpError(400, "Request body is not valid gzip") from None
        if not raw.strip():
            if operation.request_required:
                raise HttpError(400, "Request body is required")
            return None
        content_type = _header(request.headers, "content-type").split(";")[0].strip().lower()
        if content_type not in (JSON, "") and not content_type.endswith("+json"):
            raise HttpError(
                self.profile.unsupported_media_status,
                f"Unsupported content type {content_type!r}; use {JSON}",
            )
        body = parse_json(raw, self.profile.max_json_depth)
        if body is None and operation.request_required:
            raise HttpError(400, "Request body is required (got null)")
        return body

    def _validate_parameters(
        self, operation: Operation, path_params: dict[str, str], raw_query: str
    ) -> dict[str, Any]:
        query_items = dict(parse_qsl(raw_query, keep_blank_values=True))
        query: dict[str, Any] = {}
        rules = self.rules.operation(operation.operation_id).parameters
        # The views only drop constraints: the same parameters, in the same order.
        for param, rule in zip(operation.parameters, rules, strict=True):
            if param.location == "path":
                value: Any = path_params.get(param.name, "")
            elif param.location == "query":
                if param.name not in query_items:
                    continue
                # Typed by the whole contract: how a value is spelled is no constraint.
                value = query_value(query_items[param.name], self.contract.resolve(param.schema))
                query[param.name] = value
            else:
                continue
            violations = self._allowed(self.rules.validate(rule.schema, value), param.name)
            if violations:
                raise HttpError(
                    400, f"Invalid {param.location} parameter {param.name}: {violations[0].message}"
                )
        return query

    def _validate_body(self, operation: Operation, body: Any) -> None:
        operation = self.rules.operation(operation.operation_id)
        if body is None or operation.request_schema is None:
            return
        violations = self._allowed(self.rules.validate(operation.request_schema, body), "")
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

    def _control(self, request: MockRequest, request_id: str) -> MockResponse:
        assert self.control is not None
        scheme, _, token = _header(request.headers, "authorization").partition(" ")
        status = self.tokens.control_status(token.strip() if scheme.lower() == "bearer" else "")
        if status is not None:
            message = (
                "Unauthorized: the control plane needs the control token or a read-write token"
                if status == 401
                else "Forbidden: the control plane needs a read-write token"
            )
            # Not through _error: contract faults must not break the harness's own controls.
            response = MockResponse(
                status, _dumps(_envelope(status, message, {})), {"content-type": JSON}
            )
        else:
            response = self.control(request, request.raw_path[len(CONTROL_PREFIX) :])
        response.headers.setdefault("x-request-id", request_id)
        return response

    def _transient(self, error: tuple[int, str], request_id: str) -> MockResponse:
        status, message = error
        response = self._error(status, message, request_id, {})
        if status == 429:
            response.headers["retry-after"] = "1"
        return response

    def _allowed(self, violations: list[Violation], name: str) -> list[Violation]:
        """Drop the violations a switched-on fault tells the mock to ignore."""
        return [v for v in violations if not _ignored_by_fault(v, name, self.faults)]

    # -- responses ---------------------------------------------------------------------------

    def _next_request_id(self) -> str:
        if self.profile.request_id_uuid:
            return str(uuid.uuid4())
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
        body = _dumps(payload)
        content_type = "text/plain" if "wrong_content_type" in self.faults else JSON
        headers = {"content-type": content_type}
        wanted = status >= 400 or self.profile.request_id_on_success
        if wanted and "no_request_id" not in self.faults:
            headers["x-request-id"] = request_id
        return MockResponse(status, body, headers)


def parse_json(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A request body as JSON, or HttpError 400: malformed, not UTF-8/16/32, nested deeper than
    ``max_depth``, NaN/Infinity, or a number no float holds."""
    try:
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        value = _DECODER.decode(text)
    except RecursionError:  # the C parser guards its own stack; far past MAX_JSON_DEPTH anyway
        raise HttpError(400, f"Request body is nested deeper than {max_depth} levels") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise HttpError(400, f"Invalid JSON in request body: {_one_line(exc)}") from None
    if _deeper_than(text, max_depth):
        raise HttpError(400, f"Request body is nested deeper than {max_depth} levels")
    return value


# A JSON string, unrolled so a long body costs one C-speed pass; brackets inside strings are text.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_MARKS = bytes(b for b in range(256) if b not in b'"[]{}')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACES_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")


def _deeper_than(text: str, limit: int) -> bool:
    """Whether the (valid) JSON `text` nests more than `limit` levels."""
    if text.count("[") + text.count("{") <= limit:  # the common case: no scan at all
        return False
    if '\\"' in text:  # escaped quotes: only a real tokenizer finds where strings end
        outside = _JSON_STRING.sub("", text).encode("utf-8", "surrogatepass")
    else:
        # Keep quotes and brackets only; a string without brackets is then '""' and goes, and
        # every other '"'-separated part of what is left is outside the strings.
        marks = text.encode("utf-8", "surrogatepass").translate(None, _NOT_MARKS)
        outside = b"".join(marks.replace(b'""', b"").split(b'"')[::2])
    structure = outside.translate(_BRACES_AS_BRACKETS, _NOT_BRACKETS)
    # Each pass drops every innermost pair, so JSON nested d deep is gone after d passes.
    for _ in range(limit):
        if not structure:
            return False
        structure = structure.replace(b"[]", b"")
    return bool(structure)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]}… does not fit a double")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# What json.loads does for bytes, with one decoder built once: Python's parser accepts NaN and
# Infinity, and turns 1e999 into inf, which json.dumps would echo back as invalid JSON.
_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constant)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


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


def _gunzip(raw: bytes, too_large: int = 413) -> bytes:
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
        data = stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise HttpError(too_large, f"Decompressed request body larger than {MAX_BODY_BYTES} bytes")
    return data


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
