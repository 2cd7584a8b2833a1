"""The `/_mock/*` control plane, outside the contract's paths: reset, clock, faults and tokens.

Everything here is also a Python call on :class:`wfcontracts.mock.service.MockService`. Who may
call it is the dispatcher's business (`TokenPolicy.control_status`); bodies are parsed with the
same guards as API bodies, so no input answers 5xx here either.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wfcontracts.mock.faults import ALL_FAULTS, FaultSpecError
from wfcontracts.mock.http import HttpError, MockRequest, MockResponse, parse_json

if TYPE_CHECKING:
    from wfcontracts.mock.service import MockService

#: One step of at most a century: timestamps stay within what every client's datetime holds.
MAX_ADVANCE_MS = 100 * 366 * 24 * 3600 * 1000

Action = Callable[["MockService", str, dict[str, Any]], MockResponse]


def handle_control(service: MockService, request: MockRequest, action: str) -> MockResponse:
    """Serve one control-plane request; `action` is the path after `/_mock/`."""
    entry = _ACTIONS.get(action)
    if entry is None:
        return _error(404, f"unknown control action {action!r}")
    methods, serve = entry
    method = request.method.upper()
    if method not in methods:
        reply = _error(405, f"/_mock/{action} takes {' or '.join(methods)}, not {method}")
        reply.headers["allow"] = ", ".join(methods)
        return reply
    try:
        body = parse_json(request.body) if request.body.strip() else {}
    except HttpError as exc:
        return _error(400, f"control body: {exc.message}")
    if not isinstance(body, dict):
        return _error(400, "control body must be a JSON object")
    return serve(service, method, body)


def _reset(service: MockService, _: str, __: dict[str, Any]) -> MockResponse:
    service.reset()
    return _reply(200, {"reset": True})


def _clock(service: MockService, method: str, body: dict[str, Any]) -> MockResponse:
    if method == "POST":
        advance = body.get("advanceMs", 0)
        if not _is_int(advance) or advance > MAX_ADVANCE_MS:
            return _error(
                400, f"advanceMs must be an integer number of milliseconds <= {MAX_ADVANCE_MS}"
            )
        try:
            service.advance(advance)
        except ValueError as exc:
            return _error(400, str(exc))
    return _reply(200, {"nowMs": service.clock.now_ms(), "virtual": service.virtual_clock})


def _faults(service: MockService, method: str, body: dict[str, Any]) -> MockResponse:
    if method == "PUT":
        specs, seed = body.get("faults", []), body.get("seed")
        if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
            return _error(400, "faults must be a list of fault names (NAME or NAME:RATE)")
        if seed is not None and not _is_int(seed):
            return _error(400, "seed must be an integer")
        try:
            service.set_faults(specs, seed=seed)
        except FaultSpecError as exc:
            return _error(400, str(exc))
    faults = service.faults
    return _reply(
        200, {"enabled": faults.specs, "available": list(ALL_FAULTS), "seed": faults.seed}
    )


def _tokens(service: MockService, method: str, body: dict[str, Any]) -> MockResponse:
    if method == "PUT":
        revoked = body.get("revoked", [])
        if not isinstance(revoked, list) or not all(isinstance(t, str) for t in revoked):
            return _error(400, "revoked must be a list of tokens")
        service.revoke_tokens(revoked)
    # Counts only: a control-plane answer must not hand out the tokens it knows.
    return _reply(200, {"revoked": len(service.dispatcher.tokens.revoked)})


_ACTIONS: dict[str, tuple[tuple[str, ...], Action]] = {
    "reset": (("POST",), _reset),
    "clock": (("GET", "POST"), _clock),
    "faults": (("GET", "PUT"), _faults),
    "tokens": (("GET", "PUT"), _tokens),
}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _error(status: int, message: str) -> MockResponse:
    return _reply(status, {"error": {"code": status, "message": message}})


def _reply(status: int, payload: Any) -> MockResponse:
    return MockResponse(status, json.dumps(payload).encode(), {"content-type": "application/json"})
