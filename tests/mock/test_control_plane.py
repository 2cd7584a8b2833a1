"""The `/_mock/*` control plane: reset, clock, faults, tokens — and who may call it.

With tokens configured the control plane takes a read-write token (or only `control_token`
when one is set); a mock that accepts any token keeps it open. Most tests go through the
in-process transport; the ones a user would meet over the wire use a served mock and
`wfcontracts mock serve`.
"""

from __future__ import annotations

import functools
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from wfcontracts.contract import Contract, load_contract
from wfcontracts.mock.clock import VirtualClock
from wfcontracts.mock.control import MAX_ADVANCE_MS
from wfcontracts.mock.faults import ALL_FAULTS
from wfcontracts.mock.server import serve_in_background
from wfcontracts.mock.service import MockService

TOKEN = "control-rw-token-81d0"
READ_TOKEN = "control-read-token-2b6f"
CONTROL_TOKEN = "control-only-token-f00d"
API = "/api/v1/projects/p"
AUTH = {"authorization": f"Bearer {TOKEN}"}
READ_AUTH = {"authorization": f"Bearer {READ_TOKEN}"}
CONTROL_AUTH = {"authorization": f"Bearer {CONTROL_TOKEN}"}
WORKFLOW = {"items": [{"externalId": "wf"}]}


@functools.cache
def _contract() -> Contract:
    return load_contract()


def _service(control_token: str | None = None, tokens: bool = True) -> MockService:
    return MockService(
        _contract(),
        clock=VirtualClock(),
        tokens=[TOKEN, f"{READ_TOKEN}:read"] if tokens else None,
        control_token=control_token,
    )


@pytest.fixture
def service() -> MockService:
    return _service()


@pytest.fixture
def client(service: MockService) -> Iterator[httpx.Client]:
    with httpx.Client(transport=service.transport(), base_url="http://mock") as http:
        yield http


def _assert_envelope(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("x-request-id")
    error = response.json()["error"]
    assert error["code"] == status
    assert isinstance(error["message"], str) and error["message"]
    assert "\n" not in error["message"]
    return dict(error)


def _workflow_exists(http: httpx.Client, auth: dict[str, str] = AUTH) -> bool:
    return http.get(f"{API}/workflows/wf", headers=auth).status_code == 200


# -- what each action does ---------------------------------------------------------------------


def test_reset_forgets_everything(client: httpx.Client) -> None:
    assert client.post(f"{API}/workflows", json=WORKFLOW, headers=AUTH).status_code == 200
    assert client.post("/_mock/reset", headers=AUTH).json() == {"reset": True}
    assert not _workflow_exists(client)


def test_clock_moves_the_virtual_clock(client: httpx.Client) -> None:
    before = client.get("/_mock/clock", headers=AUTH).json()
    assert before["virtual"] is True
    after = client.post("/_mock/clock", json={"advanceMs": 1500}, headers=AUTH).json()
    assert after["nowMs"] == before["nowMs"] + 1500


@pytest.mark.parametrize("advance", [-1, "soon", "1500", 1.5, True, None, MAX_ADVANCE_MS + 1])
def test_clock_refuses_bad_steps(client: httpx.Client, advance: object) -> None:
    before = client.get("/_mock/clock", headers=AUTH).json()["nowMs"]
    _assert_envelope(client.post("/_mock/clock", json={"advanceMs": advance}, headers=AUTH), 400)
    assert client.get("/_mock/clock", headers=AUTH).json()["nowMs"] == before


def test_clock_refuses_to_move_real_time() -> None:
    service = MockService(_contract(), tokens=[TOKEN])
    with httpx.Client(transport=service.transport(), base_url="http://mock", headers=AUTH) as http:
        assert http.get("/_mock/clock").json()["virtual"] is False
        _assert_envelope(http.post("/_mock/clock", json={"advanceMs": 10}), 400)


def test_faults_switch_and_list(client: httpx.Client, service: MockService) -> None:
    listed = client.get("/_mock/faults", headers=AUTH).json()
    assert listed == {"enabled": [], "available": list(ALL_FAULTS), "seed": 0}
    switched = client.put("/_mock/faults", json={"faults": ["no_request_id"]}, headers=AUTH)
    assert switched.json()["enabled"] == ["no_request_id"]
    assert "x-request-id" not in client.get(f"{API}/workflows", headers=AUTH).headers
    client.put("/_mock/faults", json={"faults": []}, headers=AUTH)
    assert "no_request_id" not in service.faults


def test_unknown_fault_is_400_naming_valid_ones(client: httpx.Client, service: MockService) -> None:
    response = client.put(
        "/_mock/faults", json={"faults": ["bare_error_body", "nope"]}, headers=AUTH
    )
    message = _assert_envelope(response, 400)["message"]
    assert "'nope'" in message
    assert all(name in message for name in ALL_FAULTS)
    assert service.faults.names == []


def test_contract_faults_do_not_break_the_control_plane(client: httpx.Client) -> None:
    faults = ["bare_error_body", "error_code_mismatch", "no_request_id", "wrong_content_type"]
    client.put("/_mock/faults", json={"faults": faults}, headers=AUTH)
    _assert_envelope(client.post("/_mock/reset"), 401)
    _assert_envelope(client.post("/_mock/clock", json={"advanceMs": -1}, headers=AUTH), 400)


@pytest.mark.parametrize(
    ("method", "path", "content", "status"),
    [
        ("GET", "/_mock/nothing", b"", 404),
        ("GET", "/_mock/reset", b"", 405),
        ("DELETE", "/_mock/faults", b"", 405),
        ("POST", "/_mock/reset", b"{broken", 400),
        ("POST", "/_mock/reset", b"[1, 2]", 400),
        ("POST", "/_mock/reset", b"\xff\xfe", 400),
        ("POST", "/_mock/clock", b'{"advanceMs": 1e999}', 400),
        ("PUT", "/_mock/faults", b"[" * 1000 + b"]" * 1000, 400),
        ("PUT", "/_mock/faults", b'{"faults": 5}', 400),
        ("PUT", "/_mock/tokens", b'{"revoked": "T"}', 400),
    ],
)
def test_bad_control_requests_are_4xx_envelopes(
    client: httpx.Client, method: str, path: str, content: bytes, status: int
) -> None:
    response = client.request(method, path, content=content, headers=AUTH)
    _assert_envelope(response, status)
    if status == 405:
        assert response.headers["allow"]


# -- who may call it ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer nope"},
        {"authorization": f"Basic {TOKEN}"},
        {"authorization": TOKEN},
    ],
)
def test_without_a_valid_token_reset_is_401_and_changes_nothing(
    client: httpx.Client, headers: dict[str, str]
) -> None:
    client.post(f"{API}/workflows", json=WORKFLOW, headers=AUTH)
    error = _assert_envelope(client.post("/_mock/reset", headers=headers), 401)
    assert TOKEN not in error["message"]
    assert _workflow_exists(client)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/_mock/clock", None),
        ("POST", "/_mock/clock", {"advanceMs": 1}),
        ("GET", "/_mock/faults", None),
        ("PUT", "/_mock/faults", {"faults": ["auth_ignored"]}),
        ("GET", "/_mock/tokens", None),
        ("PUT", "/_mock/tokens", {"revoked": [TOKEN]}),
    ],
)
def test_every_action_needs_the_token(
    client: httpx.Client, service: MockService, method: str, path: str, body: Any
) -> None:
    now = service.clock.now_ms()
    _assert_envelope(client.request(method, path, json=body), 401)
    assert service.faults.names == [] and service.clock.now_ms() == now
    assert client.get(f"{API}/workflows", headers=AUTH).status_code == 200  # not revoked


def test_read_only_token_is_403_on_the_control_plane(client: httpx.Client) -> None:
    client.post(f"{API}/workflows", json=WORKFLOW, headers=AUTH)
    _assert_envelope(client.post("/_mock/reset", headers=READ_AUTH), 403)
    assert _workflow_exists(client)


def test_control_token_is_the_only_key_when_set() -> None:
    service = _service(control_token=CONTROL_TOKEN)
    with httpx.Client(transport=service.transport(), base_url="http://mock") as http:
        http.post(f"{API}/workflows", json=WORKFLOW, headers=AUTH)
        _assert_envelope(http.post("/_mock/reset", headers=AUTH), 401)  # API token: not here
        _assert_envelope(http.get(f"{API}/workflows", headers=CONTROL_AUTH), 401)  # nor there
        assert _workflow_exists(http)
        assert http.post("/_mock/reset", headers=CONTROL_AUTH).json() == {"reset": True}
        assert not _workflow_exists(http)


def test_control_token_guards_a_mock_that_accepts_any_token() -> None:
    service = _service(control_token=CONTROL_TOKEN, tokens=False)
    with httpx.Client(transport=service.transport(), base_url="http://mock") as http:
        assert http.get(f"{API}/workflows", headers=AUTH).status_code == 200
        _assert_envelope(http.post("/_mock/reset", headers=AUTH), 401)
        assert http.post("/_mock/reset", headers=CONTROL_AUTH).status_code == 200


def test_a_mock_without_tokens_keeps_the_control_plane_open() -> None:
    service = _service(tokens=False)
    with httpx.Client(transport=service.transport(), base_url="http://mock") as http:
        assert http.post("/_mock/reset").json() == {"reset": True}


# -- revoking tokens at runtime ------------------------------------------------------------------


def test_revoked_token_gets_401_from_then_on(client: httpx.Client, service: MockService) -> None:
    assert client.get(f"{API}/workflows", headers=READ_AUTH).status_code == 200
    answer = client.put("/_mock/tokens", json={"revoked": [READ_TOKEN]}, headers=AUTH)
    assert answer.json() == {"revoked": 1}
    assert READ_TOKEN not in answer.text
    _assert_envelope(client.get(f"{API}/workflows", headers=READ_AUTH), 401)
    assert client.get(f"{API}/workflows", headers=AUTH).status_code == 200
    assert client.get("/_mock/tokens", headers=AUTH).json() == {"revoked": 1}
    client.put("/_mock/tokens", json={"revoked": []}, headers=AUTH)
    assert client.get(f"{API}/workflows", headers=READ_AUTH).status_code == 200


def test_revocation_also_applies_when_any_token_is_accepted() -> None:
    service = _service(control_token=CONTROL_TOKEN, tokens=False)
    service.revoke_tokens(["expired"])
    with httpx.Client(transport=service.transport(), base_url="http://mock") as http:
        _assert_envelope(
            http.get(f"{API}/workflows", headers={"authorization": "Bearer expired"}), 401
        )
        assert http.get(f"{API}/workflows", headers=AUTH).status_code == 200


def test_revoking_the_control_plane_token_locks_http_out_but_not_python() -> None:
    service = _service()
    with httpx.Client(transport=service.transport(), base_url="http://mock", headers=AUTH) as http:
        assert http.put("/_mock/tokens", json={"revoked": [TOKEN]}).status_code == 200
        _assert_envelope(http.get("/_mock/tokens"), 401)
        service.revoke_tokens([])
        assert http.get("/_mock/tokens").json() == {"revoked": 0}


# -- over the wire ------------------------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[MockService, str]]:
    service = _service(control_token=CONTROL_TOKEN)
    with serve_in_background(service) as server:
        yield service, server.base_url


def test_token_expiring_mid_run_over_http(served: tuple[MockService, str]) -> None:
    """What a live run meets when its fixed token expires: 401 from the next request on."""
    _, base_url = served
    with httpx.Client(base_url=base_url, headers=AUTH) as http:
        assert http.post(f"{API}/workflows", json=WORKFLOW).status_code == 200
        revoke = httpx.put(
            f"{base_url}/_mock/tokens", json={"revoked": [TOKEN]}, headers=CONTROL_AUTH
        )
        assert revoke.status_code == 200
        _assert_envelope(http.get(f"{API}/workflows/wf"), 401)
        _assert_envelope(http.post(f"{API}/workflows", json=WORKFLOW), 401)


def test_reset_over_http_needs_the_control_token(served: tuple[MockService, str]) -> None:
    service, base_url = served
    service.backend.upsert_workflow("p", {"externalId": "wf"})
    _assert_envelope(httpx.post(f"{base_url}/_mock/reset"), 401)
    _assert_envelope(httpx.post(f"{base_url}/_mock/reset", headers=AUTH), 401)
    assert service.backend.retrieve_workflow("p", "wf")["externalId"] == "wf"
    assert httpx.post(f"{base_url}/_mock/reset", headers=CONTROL_AUTH).json() == {"reset": True}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def mock_serve() -> Iterator[str]:
    """`wfcontracts mock serve --token T`, as a user starts it."""
    port = _free_port()
    command = [
        sys.executable, "-m", "wfcontracts.cli", "mock", "serve", "--port", str(port),
        "--token", TOKEN, "--token", f"{READ_TOKEN}:read",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base_url}/_mock/clock", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_mock_serve_with_token_refuses_reset_without_it(mock_serve: str) -> None:
    with httpx.Client(base_url=mock_serve) as http:
        assert http.post(f"{API}/workflows", json=WORKFLOW, headers=AUTH).status_code == 200
        _assert_envelope(http.post("/_mock/reset"), 401)
        _assert_envelope(http.post("/_mock/reset", headers=READ_AUTH), 403)
        assert _workflow_exists(http)
        assert http.post("/_mock/reset", headers=AUTH).json() == {"reset": True}
        assert not _workflow_exists(http)
