from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from wfcontracts.errors import WfcontractsError
from wfcontracts.target.auth import AuthError, BearerAuth, ClientCredentialsAuth, build_auth
from wfcontracts.target.config import ClientCredentials, TargetConfig

CLIENT_SECRET = "secret-RECOGNISABLE-2d8e6b4a"
API_PATH = "/api/v1/projects/p/workflows"


@dataclass
class IdentityProvider:
    """State of the local token endpoint + API: what was asked, what is accepted."""

    mode: str = "ok"
    expires_in: Any = 3600
    token_forms: list[dict[str, str]] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    api_bodies: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.token_forms.append(form)
            token = f"access-{len(self.token_forms)}"
        if self.mode == "invalid_client":
            return 401, {"error": "invalid_client", "error_description": "Bad client.\nTrace: 1"}
        if self.mode == "echo_secret":
            return 400, {"error": "invalid_request", "error_description": f"got {CLIENT_SECRET}"}
        if self.mode == "no_token":
            return 200, {"token_type": "Bearer"}
        self.valid_tokens.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path == "/token":
            self._token(body)
        else:
            self._api(body)

    def do_GET(self) -> None:
        self._api(b"")

    def _token(self, body: bytes) -> None:
        idp = self.server.idp
        if idp.mode == "server_error":
            self._send(500, b"<html>oops</html>", "text/html")
            return
        status, payload = idp.issue(dict(parse_qsl(body.decode())))
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _api(self, body: bytes) -> None:
        idp = self.server.idp
        idp.api_bodies.append(body)
        scheme, _, token = (self.headers.get("authorization") or "").partition(" ")
        if scheme == "Bearer" and token in idp.valid_tokens:
            self._send(200, b'{"items": []}', "application/json")
        else:
            self._send(
                401, b'{"error": {"code": 401, "message": "Unauthorized"}}', "application/json"
            )

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    idp: IdentityProvider
    request_queue_size = 64  # the default backlog (5) stalls concurrent tests on SYN retries


@dataclass
class Local:
    idp: IdentityProvider
    url: str

    def credentials(self, scopes: tuple[str, ...] = ("s1", "s2")) -> ClientCredentials:
        return ClientCredentials("app-id", CLIENT_SECRET, f"{self.url}/token", scopes)


@pytest.fixture
def local() -> Iterator[Local]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.idp = IdentityProvider()
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield Local(server.idp, f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_token_is_fetched_once_for_many_calls(local: Local) -> None:
    with httpx.Client(base_url=local.url, auth=ClientCredentialsAuth(local.credentials())) as c:
        statuses = {c.get(API_PATH).status_code for _ in range(10)}
    assert statuses == {200}
    assert local.idp.token_forms == [
        {
            "grant_type": "client_credentials",
            "client_id": "app-id",
            "client_secret": CLIENT_SECRET,
            "scope": "s1 s2",
        }
    ]


def test_no_scope_field_without_scopes(local: Local) -> None:
    auth = ClientCredentialsAuth(local.credentials(scopes=()))
    assert auth.access_token() == "access-1"
    assert "scope" not in local.idp.token_forms[0]


def test_token_is_refreshed_30_seconds_before_expiry(local: Local) -> None:
    clock = FakeClock()
    auth = ClientCredentialsAuth(local.credentials(), clock=clock)
    assert auth.access_token() == "access-1"
    clock.now += 3600 - 30 - 1
    assert auth.access_token() == "access-1"
    clock.now += 2
    assert auth.access_token() == "access-2"
    assert len(local.idp.token_forms) == 2


def test_short_lived_token_is_used_for_half_its_life(local: Local) -> None:
    local.idp.expires_in = "10"  # some providers send a string
    clock = FakeClock()
    auth = ClientCredentialsAuth(local.credentials(), clock=clock)
    auth.access_token()
    clock.now += 4
    assert auth.access_token() == "access-1"
    clock.now += 2
    assert auth.access_token() == "access-2"


def test_missing_expires_in_means_an_hour(local: Local) -> None:
    local.idp.expires_in = None
    clock = FakeClock()
    auth = ClientCredentialsAuth(local.credentials(), clock=clock)
    auth.access_token()
    clock.now += 3000
    assert auth.access_token() == "access-1"


def test_a_401_refreshes_the_token_and_resends_the_request_once(local: Local) -> None:
    with httpx.Client(base_url=local.url, auth=ClientCredentialsAuth(local.credentials())) as c:
        assert c.get(API_PATH).status_code == 200
        local.idp.valid_tokens.clear()  # the server revokes the cached token
        response = c.post(API_PATH, json={"limit": 1})
    assert response.status_code == 200
    assert len(local.idp.token_forms) == 2
    assert local.idp.api_bodies[-2:] == [b'{"limit":1}', b'{"limit":1}']  # body sent twice
    assert [r.status_code for r in response.history] == [401]


def test_a_second_401_is_returned_not_retried_forever(local: Local) -> None:
    local.idp.valid_tokens = _NeverValid()  # tokens are issued, the API accepts none
    with httpx.Client(base_url=local.url, auth=ClientCredentialsAuth(local.credentials())) as c:
        response = c.get(API_PATH)
    assert response.status_code == 401
    assert len(local.idp.api_bodies) == 2
    assert len(local.idp.token_forms) == 2


class _NeverValid(set[str]):
    def __contains__(self, item: object) -> bool:
        return False


def test_async_flow_shares_one_token_between_concurrent_requests(local: Local) -> None:
    auth = ClientCredentialsAuth(local.credentials())

    async def call_many() -> list[int]:
        async with httpx.AsyncClient(base_url=local.url, auth=auth) as client:
            responses = await asyncio.gather(*(client.get(API_PATH) for _ in range(8)))
            local.idp.valid_tokens.clear()
            responses.append(await client.get(API_PATH))  # 401 → refresh, async path
        return [response.status_code for response in responses]

    assert asyncio.run(call_many()) == [200] * 9
    assert len(local.idp.token_forms) == 2


def test_threads_share_one_token(local: Local) -> None:
    statuses: list[int] = []
    client = httpx.Client(base_url=local.url, auth=ClientCredentialsAuth(local.credentials()))

    def work() -> None:
        statuses.extend(client.get(API_PATH).status_code for _ in range(3))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    assert statuses == [200] * 24
    assert len(local.idp.token_forms) == 1


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("invalid_client", "token request to 127.0.0.1 failed: HTTP 401 (invalid_client): "
                           "Bad client. Trace: 1"),
        ("server_error", "token request to 127.0.0.1 failed: HTTP 500"),
        ("no_token", "token endpoint 127.0.0.1 answered 200 without an access_token"),
        ("echo_secret", "token request to 127.0.0.1 failed: HTTP 400 (invalid_request): got ***"),
    ],
)  # fmt: skip
def test_token_endpoint_failures_are_one_line_without_secret(
    local: Local, mode: str, message: str
) -> None:
    local.idp.mode = mode
    with httpx.Client(base_url=local.url, auth=ClientCredentialsAuth(local.credentials())) as c:
        with pytest.raises(AuthError) as caught:
            c.get(API_PATH)
    assert str(caught.value) == message
    assert isinstance(caught.value, WfcontractsError)


def test_unreachable_token_endpoint() -> None:
    port = _closed_port()
    credentials = ClientCredentials("app", CLIENT_SECRET, f"http://127.0.0.1:{port}/token")
    with pytest.raises(AuthError, match=r"^cannot reach token endpoint 127\.0\.0\.1: ") as caught:
        ClientCredentialsAuth(credentials).access_token()
    assert CLIENT_SECRET not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_bearer_auth_sends_the_token_and_hides_it(local: Local) -> None:
    local.idp.valid_tokens.add("fixed-token-123")
    auth = BearerAuth("fixed-token-123")
    with httpx.Client(base_url=local.url, auth=auth) as client:
        assert client.get(API_PATH).status_code == 200
    assert "fixed-token-123" not in repr(auth)


def test_client_credentials_auth_repr_hides_the_secret(local: Local) -> None:
    assert CLIENT_SECRET not in repr(ClientCredentialsAuth(local.credentials()))


def test_build_auth_follows_the_config(local: Local) -> None:
    bearer = TargetConfig(kind="live", base_url="https://h", project="p", token="t")
    oauth = TargetConfig(
        kind="live", base_url="https://h", project="p", client_credentials=local.credentials()
    )
    anonymous = TargetConfig(kind="replay", base_url=None, project="p")
    assert isinstance(build_auth(bearer), BearerAuth)
    assert isinstance(build_auth(oauth), ClientCredentialsAuth)
    assert build_auth(anonymous) is None
