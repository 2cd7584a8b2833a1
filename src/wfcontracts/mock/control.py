"""The `/_mock/*` control plane, outside the contract's paths: reset, clock and faults.

Everything here is also a Python call on :class:`wfcontracts.mock.service.MockService`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from wfcontracts.mock.faults import FAULTS, UnknownFaultError
from wfcontracts.mock.http import MockRequest, MockResponse

if TYPE_CHECKING:
    from wfcontracts.mock.service import MockService


def handle_control(service: MockService, request: MockRequest, action: str) -> MockResponse:
    """Serve one control-plane request; `action` is the path after `/_mock/`."""
    try:
        body = json.loads(request.body) if request.body.strip() else {}
    except ValueError:
        return _reply(400, {"error": {"code": 400, "message": "control body must be JSON"}})
    method = request.method.upper()
    if action == "reset" and method == "POST":
        service.reset()
        return _reply(200, {"reset": True})
    if action == "clock":
        return _clock(service, method, body)
    if action == "faults":
        return _faults(service, method, body)
    return _reply(404, {"error": {"code": 404, "message": f"unknown control action {action!r}"}})


def _clock(service: MockService, method: str, body: dict[str, Any]) -> MockResponse:
    if method == "POST":
        try:
            service.advance(int(body.get("advanceMs", 0)))
        except (TypeError, ValueError) as exc:
            return _reply(400, {"error": {"code": 400, "message": str(exc)}})
    return _reply(200, {"nowMs": service.clock.now_ms(), "virtual": service.virtual_clock})


def _faults(service: MockService, method: str, body: dict[str, Any]) -> MockResponse:
    if method == "PUT":
        try:
            service.set_faults(list(body.get("faults", [])))
        except UnknownFaultError as exc:
            return _reply(400, {"error": {"code": 400, "message": str(exc)}})
    return _reply(
        200,
        {"enabled": sorted(service.faults.names), "available": sorted(FAULTS)},
    )


def _reply(status: int, payload: Any) -> MockResponse:
    return MockResponse(status, json.dumps(payload).encode(), {"content-type": "application/json"})
