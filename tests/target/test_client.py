from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from wfcontracts import __version__
from wfcontracts.target.auth import AuthError
from wfcontracts.target.client import (
    CredentialsError,
    ProjectNotFoundError,
    RateLimitedTransport,
    TargetUnreachableError,
    TokenBucket,
    build_client,
    preflight,
)
from wfcontracts.target.config import ClientCredentials, TargetConfig, resolve_target

TOKEN = "tok-RECOGNISABLE-7f3a9c1e5b"
CLIENT_SECRET = "secret-RECOGNISABLE-2d8e6b4a"


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"items": []}'
    content_type: str = "application/json"
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        answer = self.server.answer
        answer.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    answer: Answer


@dataclass
class Local:
    answer: Answer
    url: str

    def client(self, **kwargs: Any) -> httpx.Client:
        config = resolve_target(base_url=self.url, project="p", token=TOKEN, env={})
        return build_client(config, **kwargs)


@pytest.fixture
def local() -> Iterator[Local]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.answer = Answer()
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield Local(server.answer, f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_preflight_passes_and_sends_the_cdf_headers(local: Local) -> None:
    with local.client() as client:
        preflight(client)
    path, headers = local.answer.seen[0]
    assert path == "/api/v1/projects/p/workflows?limit=1"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["cdf-version"] == "20230101"
    assert headers["x-cdp-app"] == "wfcontracts"
    assert headers["user-agent"] == f"wfcontracts/{__version__}"


@pytest.mark.parametrize(
    ("status", "error", "message"),
    [
        (401, CredentialsError, "credentials were rejected by 127.0.0.1 (401)"),
        (403, CredentialsError,
         "token lacks workflowOrchestrationAcl:READ on project 'p' at 127.0.0.1 (403)"),
        (404, ProjectNotFoundError, "project 'p' not found or not accessible at 127.0.0.1 (404)"),
        (400, ProjectNotFoundError, "project 'p' not found or not accessible at 127.0.0.1 (400)"),
        (503, TargetUnreachableError,
         "127.0.0.1 answered 503 to GET /workflows?limit=1; is it a CDF API?"),
    ],
)  # fmt: skip
def test_preflight_error_statuses(
    local: Local, status: int, error: type[Exception], message: str
) -> None:
    local.answer.status = status
    local.answer.body = b'{"error": {"code": %d, "message": "no"}}' % status
    with local.client() as client, pytest.raises(error) as caught:
        preflight(client)
    assert str(caught.value) == message


def test_preflight_rejects_a_server_that_is_not_a_cdf_api(local: Local) -> None:
    local.answer.body, local.answer.content_type = b"<html></html>", "text/html"
    with local.client() as client, pytest.raises(TargetUnreachableError) as caught:
        preflight(client)
    assert str(caught.value) == (
        "127.0.0.1 does not look like a CDF API: GET /workflows?limit=1 answered 200 "
        "with text/html, not a JSON object"
    )


def test_preflight_on_a_closed_port() -> None:
    config = resolve_target(
        base_url=f"http://127.0.0.1:{_closed_port()}", project="p", token=TOKEN, env={}
    )
    with build_client(config) as client, pytest.raises(TargetUnreachableError) as caught:
        preflight(client)
    message = str(caught.value)
    assert message.startswith("cannot reach 127.0.0.1: ")
    assert TOKEN not in message and "\n" not in message


def test_preflight_timeout() -> None:
    # A listening socket that never answers: the connection opens, the response never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        config = resolve_target(base_url=url, project="p", token=TOKEN, env={})
        with (
            build_client(config, timeout=0.2) as client,
            pytest.raises(TargetUnreachableError) as caught,
        ):
            preflight(client)
    assert str(caught.value) == "cannot reach 127.0.0.1: timed out after 0.2 s"


def test_preflight_lets_token_endpoint_errors_through(local: Local) -> None:
    credentials = ClientCredentials("app", CLIENT_SECRET, f"http://127.0.0.1:{_closed_port()}/t")
    config = TargetConfig(
        kind="live", base_url=local.url, project="p", client_credentials=credentials
    )
    with build_client(config) as client, pytest.raises(AuthError) as caught:
        preflight(client)
    assert CLIENT_SECRET not in str(caught.value)


def test_mock_client_uses_the_given_transport() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": []})

    config = resolve_target(env={})
    with build_client(config, transport=httpx.MockTransport(handler)) as client:
        preflight(client)
    assert str(seen[0].url) == f"{config.api_root}/workflows?limit=1"
    assert seen[0].headers["authorization"] == "Bearer wfcontracts-local-token"


def test_rate_limited_client_still_answers() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"items": []}))
    config = resolve_target(env={})
    with build_client(config, transport=transport, max_requests_per_second=1000) as client:
        assert [client.get("/workflows").status_code for _ in range(3)] == [200] * 3


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_token_bucket_allows_a_burst_then_paces() -> None:
    time = FakeTime()
    bucket = TokenBucket(2.0, clock=time.clock, sleep=time.sleep)
    for _ in range(4):
        bucket.acquire()
    assert time.sleeps == [0.5, 0.5]


def test_token_bucket_refills_while_idle() -> None:
    time = FakeTime()
    bucket = TokenBucket(1.0, capacity=1.0, clock=time.clock, sleep=time.sleep)
    bucket.acquire()
    time.now += 5  # idle long enough to refill, but never beyond capacity
    bucket.acquire()
    bucket.acquire()
    assert time.sleeps == [1.0]


def test_token_bucket_rejects_a_non_positive_rate() -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        TokenBucket(0)


def test_rate_limited_transport_takes_a_token_per_request() -> None:
    time = FakeTime()
    bucket = TokenBucket(1.0, capacity=1.0, clock=time.clock, sleep=time.sleep)
    inner = httpx.MockTransport(lambda request: httpx.Response(204))
    with httpx.Client(transport=RateLimitedTransport(inner, bucket)) as client:
        statuses = [client.get("http://h.example/x").status_code for _ in range(3)]
    assert statuses == [204] * 3
    assert time.sleeps == [1.0, 1.0]
