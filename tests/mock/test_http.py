"""The mock's HTTP layer: bad input never crashes it, every error is the CDF envelope.

Most tests use the in-process transport (same Dispatcher as the served app); the ones about
what a socket carries (huge and gzip bodies) go over loopback to a served instance.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gzip
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import vcr
import yaml

from wfcontracts.cassettes.scrub import vcr_config
from wfcontracts.cli import build_parser, main
from wfcontracts.contract import Contract, load_contract
from wfcontracts.mock import server
from wfcontracts.mock.app import create_app
from wfcontracts.mock.clock import VirtualClock
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


# -- mock serve -----------------------------------------------------------------------------------
# (the control plane has its own file, test_control_plane.py)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mock_serve(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "wfcontracts.cli", "mock", "serve", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def _assert_one_line_usage_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert all(word in lines[0] for word in words), lines[0]


@pytest.mark.parametrize("port", ["70000", "-1", "0", "65536"])
def test_mock_serve_refuses_ports_out_of_range(port: str) -> None:
    _assert_one_line_usage_error(_mock_serve("--port", port), port, "1 to 65535")


def test_mock_serve_refuses_a_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        _assert_one_line_usage_error(_mock_serve("--port", port), f"127.0.0.1:{port}")


def test_mock_serve_refuses_an_unknown_host() -> None:
    result = _mock_serve("--host", "no-such-host.invalid", "--port", str(_closed_port()))
    _assert_one_line_usage_error(result, "no-such-host.invalid")


@pytest.mark.parametrize("fault", ["throttle:2", "no_such_fault"])
def test_mock_serve_refuses_bad_faults(fault: str) -> None:
    _assert_one_line_usage_error(
        _mock_serve("--port", str(_closed_port()), "--fault", fault), fault.split(":")[0]
    )


@pytest.mark.parametrize("command", ["serve", "faults"])
def test_every_mock_option_says_its_default(command: str) -> None:
    mock = _subparser(build_parser(), "mock")
    parser = _subparser(mock, command)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and "default" in action.help, action.option_strings


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    (choices,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    found = choices.choices[name]
    assert isinstance(found, argparse.ArgumentParser)
    return found


@pytest.mark.parametrize(
    ("host", "warned"),
    [("127.0.0.1", False), ("localhost", False), ("::1", False), ("0.0.0.0", True),
     ("192.0.2.10", True), ("mock.example", True)],
)  # fmt: skip
def test_mock_serve_warns_when_not_on_loopback(
    host: str, warned: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In process, with serving stubbed out: a test must not bind a non-loopback address."""
    served: list[tuple[str, int]] = []
    monkeypatch.setattr(server, "check_port", lambda host, port: None)
    monkeypatch.setattr(server, "serve", lambda service, host, port: served.append((host, port)))
    assert main(["mock", "serve", "--host", host, "--port", "8123"]) == 0
    assert served == [(host, 8123)]
    err = capsys.readouterr().err
    if warned:
        assert err.count("\n") == 1 and "warning" in err and host in err, err
    else:
        assert err == ""
    assert server.is_loopback(host) is not warned


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
