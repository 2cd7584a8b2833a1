"""The mock's HTTP layer: bad input never crashes it, every error is the CDF envelope.

Most tests use the in-process transport (same Dispatcher as the served app); the ones about
what a socket carries (huge and gzip bodies) go over loopback to a served instance.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import vcr
import yaml

from wfcontracts.cassettes.scrub import vcr_config
from wfcontracts.contract import Contract, load_contract
from wfcontracts.mock.app import create_app
from wfcontracts.mock.clock import VirtualClock
from wfcontracts.mock.faults import FAULTS
from wfcontracts.mock.handlers import HANDLERS
from wfcontracts.mock.server import BackgroundServer, serve_in_background
from wfcontracts.mock.service import MockService

TOKEN = "http-test-token-5f1c"
READ_TOKEN = "http-read-token-9a2e"
API = "/api/v1/projects/p"
AUTH = {"authorization": f"Bearer {TOKEN}"}
READ_AUTH = {"authorization": f"Bearer {READ_TOKEN}"}
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
VERSION_BODY = {
    "items": [
        {
            "workflowExternalId": "wf",
            "version": "1",
            "workflowDefinition": {
                "tasks": [
                    {
                        "externalId": "wait",
                        "type": "function",
                        "parameters": {
                            "function": {"externalId": "fn"},
                            "isAsyncComplete": True,
                        },
                    }
                ]
            },
        }
    ]
}
RUN_BODY = {"authentication": {"nonce": "any-nonce"}}


@functools.cache
def _contract() -> Contract:
    return load_contract()


def _service() -> MockService:
    return MockService(_contract(), clock=VirtualClock(), tokens=[TOKEN, f"{READ_TOKEN}:read"])


@pytest.fixture
def service() -> MockService:
    return _service()


@pytest.fixture
def client(service: MockService) -> Iterator[httpx.Client]:
    with httpx.Client(transport=service.transport(), base_url="http://mock") as http:
        yield http


@pytest.fixture(scope="module")
def served() -> Iterator[BackgroundServer]:
    with serve_in_background(_service()) as running:
        yield running


def _assert_envelope(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("x-request-id")
    error = response.json()["error"]
    assert error["code"] == status
    assert isinstance(error["message"], str) and error["message"]
    assert "\n" not in error["message"]
    return dict(error)


def _put_version(client: httpx.Client) -> None:
    response = client.post(f"{API}/workflows/versions", json=VERSION_BODY, headers=AUTH)
    assert response.status_code == 200, response.text


# -- malformed requests -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "content", "headers", "status"),
    [
        ("POST", "/workflows/executions/list", b"{not json", {}, 400),
        ("POST", "/workflows/executions/list", b"\xff\xfe\x00", {}, 400),
        ("POST", "/workflows/executions/list", b"[1, 2", {}, 400),
        ("POST", "/workflows/executions/list", b'{"limit": 1}', {"content-type": "text/csv"}, 415),
        ("POST", "/workflows/executions/list", b'{"limit": 0}', {}, 400),
        ("POST", "/workflows/executions/list", b'{"limit": "ten"}', {}, 400),
        ("POST", "/workflows/versions", b"", {}, 400),
        ("POST", "/workflows/versions", b"[]", {}, 400),
        ("POST", "/workflows/wf/versions/1/run", b"{}", {}, 400),
        ("GET", "/workflows/executions/not-a-uuid", b"", {}, 400),
        ("GET", "/workflows", b"", {}, 200),
        ("GET", "/workflows?limit=abc", b"", {}, 400),
        ("GET", "/nowhere", b"", {}, 404),
        ("GET", "/workflows/executions/list/extra/segments", b"", {}, 404),
        ("DELETE", "/workflows/executions/list", b"", {}, 405),
        ("PUT", "/workflows", b"{}", {}, 405),
    ],
)
def test_bad_requests_get_the_right_4xx(
    client: httpx.Client,
    method: str,
    path: str,
    content: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    all_headers = {"content-type": "application/json", **AUTH, **headers}
    response = client.request(method, API + path, content=content, headers=all_headers)
    if status == 200:
        assert response.status_code == 200
        assert response.headers.get("x-request-id")
    else:
        _assert_envelope(response, status)


@pytest.mark.parametrize(
    "path", ["/", "/api/v1/projects/", "/api/v1/other", "/api/v1/projects//workflows"]
)
def test_paths_outside_the_api_are_404(client: httpx.Client, path: str) -> None:
    _assert_envelope(client.get(path, headers=AUTH), 404)


def test_unknown_execution_id_on_get_is_400_and_on_cancel_404(client: httpx.Client) -> None:
    _assert_envelope(client.get(f"{API}/workflows/executions/{UNKNOWN_ID}", headers=AUTH), 400)
    missing = client.post(f"{API}/workflows/executions/{UNKNOWN_ID}/cancel", json={}, headers=AUTH)
    assert _assert_envelope(missing, 404)["missing"] == [{"id": UNKNOWN_ID}]


def test_request_ids_are_unique(client: httpx.Client) -> None:
    ids = {client.get(f"{API}/workflows", headers=AUTH).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


# -- bodies on the wire -------------------------------------------------------------------------


def test_huge_body_is_413_over_http(served: BackgroundServer) -> None:
    huge = b'{"limit": 1, "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = httpx.post(
        f"{served.base_url}{API}/workflows/executions/list",
        content=huge,
        headers={"content-type": "application/json", **AUTH},
        timeout=30,
    )
    _assert_envelope(response, 413)
    after = httpx.get(f"{served.base_url}{API}/workflows", headers=AUTH)
    assert after.status_code == 200  # the server is still up


def test_gzip_bodies_are_accepted_over_http(served: BackgroundServer) -> None:
    body = gzip.compress(json.dumps({"limit": 5}).encode())
    response = httpx.post(
        f"{served.base_url}{API}/workflows/executions/list",
        content=body,
        headers={"content-type": "application/json", "content-encoding": "gzip", **AUTH},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"items": []}


def test_invalid_gzip_is_400(client: httpx.Client) -> None:
    response = client.post(
        f"{API}/workflows/executions/list",
        content=b"this is not gzip",
        headers={"content-type": "application/json", "content-encoding": "gzip", **AUTH},
    )
    _assert_envelope(response, 400)


def test_gzip_bomb_is_413(client: httpx.Client) -> None:
    bomb = gzip.compress(b'{"pad": "' + b" " * (11 * 1024 * 1024) + b'"}')
    assert len(bomb) < 1024 * 1024
    response = client.post(
        f"{API}/workflows/executions/list",
        content=bomb,
        headers={"content-type": "application/json", "content-encoding": "gzip", **AUTH},
    )
    _assert_envelope(response, 413)


# -- auth ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer not-the-token"},
        {"authorization": "Bearer "},
        {"authorization": f"Basic {TOKEN}"},
        {"authorization": TOKEN},
    ],
)
def test_missing_or_invalid_token_is_401(client: httpx.Client, headers: dict[str, str]) -> None:
    error = _assert_envelope(client.get(f"{API}/workflows", headers=headers), 401)
    assert TOKEN not in error["message"]


def test_read_only_token_reads_but_cannot_write(client: httpx.Client) -> None:
    _put_version(client)
    assert client.get(f"{API}/workflows/wf", headers=READ_AUTH).status_code == 200
    assert client.get(f"{API}/workflows/wf/versions/1", headers=READ_AUTH).status_code == 200
    listed = client.post(f"{API}/workflows/executions/list", json={}, headers=READ_AUTH)
    assert listed.status_code == 200

    run = client.post(f"{API}/workflows/wf/versions/1/run", json=RUN_BODY, headers=READ_AUTH)
    _assert_envelope(run, 403)
    upsert = client.post(
        f"{API}/workflows", json={"items": [{"externalId": "x"}]}, headers=READ_AUTH
    )
    _assert_envelope(upsert, 403)
    still_empty = client.post(f"{API}/workflows/executions/list", json={}, headers=AUTH)
    assert still_empty.json()["items"] == []
    assert client.get(f"{API}/workflows/x", headers=AUTH).status_code == 404


# -- contract coverage --------------------------------------------------------------------------


def test_every_contract_operation_has_a_handler() -> None:
    gaps = sorted(set(_contract().operations) - set(HANDLERS))
    assert gaps == [], f"operations without a mock handler: {gaps}"


def test_operation_without_handler_is_501_naming_it(tmp_path: Path) -> None:
    original = _contract()
    document = json.loads(json.dumps(original.document))
    document["paths"]["/workflows/wfcontracts-extra"] = {
        "get": {
            "operationId": "WfcontractsExtraOperation",
            "responses": {"200": {"description": "ok"}},
        }
    }
    path = tmp_path / "extended.openapi.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    service = MockService(load_contract(path), clock=VirtualClock(), tokens=[TOKEN])
    with httpx.Client(transport=service.transport(), base_url="http://mock") as http:
        response = http.get(f"{API}/workflows/wfcontracts-extra", headers=AUTH)
    assert "WfcontractsExtraOperation" in _assert_envelope(response, 501)["message"]


# -- control plane ------------------------------------------------------------------------------


def test_control_reset_forgets_everything(client: httpx.Client) -> None:
    _put_version(client)
    assert client.post("/_mock/reset").json() == {"reset": True}
    assert client.get(f"{API}/workflows/wf", headers=AUTH).status_code == 404


def test_control_clock_moves_the_virtual_clock(client: httpx.Client) -> None:
    before = client.get("/_mock/clock").json()
    assert before["virtual"] is True
    after = client.post("/_mock/clock", json={"advanceMs": 1500}).json()
    assert after["nowMs"] == before["nowMs"] + 1500
    _assert_envelope(client.post("/_mock/clock", json={"advanceMs": -1}), 400)
    _assert_envelope(client.post("/_mock/clock", json={"advanceMs": "soon"}), 400)


def test_control_clock_refuses_to_move_real_time() -> None:
    service = MockService(_contract(), tokens=[TOKEN])
    with httpx.Client(transport=service.transport(), base_url="http://mock") as http:
        assert http.get("/_mock/clock").json()["virtual"] is False
        _assert_envelope(http.post("/_mock/clock", json={"advanceMs": 10}), 400)


def test_control_faults_switch_and_list(client: httpx.Client, service: MockService) -> None:
    listed = client.get("/_mock/faults").json()
    assert listed == {"enabled": [], "available": sorted(FAULTS)}
    switched = client.put("/_mock/faults", json={"faults": ["no_request_id"]}).json()
    assert switched["enabled"] == ["no_request_id"]
    assert "x-request-id" not in client.get(f"{API}/workflows", headers=AUTH).headers
    client.put("/_mock/faults", json={"faults": []})
    assert "no_request_id" not in service.faults


def test_control_unknown_fault_is_400_naming_valid_ones(
    client: httpx.Client, service: MockService
) -> None:
    response = client.put("/_mock/faults", json={"faults": ["bare_error_body", "nope"]})
    message = _assert_envelope(response, 400)["message"]
    assert "'nope'" in message
    assert all(name in message for name in FAULTS)
    assert service.faults.names == []


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [("GET", "/_mock/nothing", b""), ("POST", "/_mock/reset", b"{broken")],
)
def test_control_bad_requests(client: httpx.Client, method: str, path: str, content: bytes) -> None:
    response = client.request(method, path, content=content)
    assert response.status_code in (400, 404)
    _assert_envelope(response, response.status_code)


# -- cassettes ----------------------------------------------------------------------------------


async def _lifecycle(http: httpx.AsyncClient) -> list[tuple[int, Any]]:
    """A short exchange with the mock; returns (status, body) of each response."""
    seen: list[tuple[int, Any]] = []
    for method, path, body in [
        ("POST", "/workflows/versions", VERSION_BODY),
        ("POST", "/sessions", {"items": [{"tokenExchange": True}]}),
        ("POST", "/workflows/wf/versions/1/run", RUN_BODY),
        ("POST", "/workflows/executions/list", {"limit": 10}),
    ]:
        response = await http.request(method, API + path, json=body, headers=AUTH)
        seen.append((response.status_code, response.json()))
    return seen


def _run_lifecycle(service: MockService, cassette: Path, record_mode: str) -> list[Any]:
    recorder = vcr.VCR(**vcr_config(), record_mode=record_mode)

    async def go() -> list[Any]:
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://mock") as http:
            with recorder.use_cassette(str(cassette)):
                return await _lifecycle(http)

    return asyncio.run(go())


def test_record_and_replay_through_asgi_without_secrets(tmp_path: Path) -> None:
    cassette = tmp_path / "lifecycle.yaml"
    recorded = _run_lifecycle(_service(), cassette, "once")
    assert [status for status, _ in recorded] == [200, 200, 202, 200]

    text = cassette.read_text(encoding="utf-8")
    assert TOKEN not in text
    nonce = recorded[1][1]["items"][0]["nonce"]
    assert nonce not in text

    # A fresh mock knows nothing: identical answers can only come from the cassette.
    replayed = _run_lifecycle(_service(), cassette, "none")
    assert [status for status, _ in replayed] == [200, 200, 202, 200]
    run_id = recorded[2][1]["id"]
    assert replayed[2][1]["id"] == run_id
    assert [item["id"] for item in replayed[3][1]["items"]] == [run_id]
