from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from wfcontracts import __version__
from wfcontracts.target.auth import AuthError, BearerAuth
from wfcontracts.target.client import (
    CredentialsError,
    ProjectNotFoundError,
    RateLimitedTransport,
    RetriesExhaustedError,
    TargetUnreachableError,
    TokenBucket,
    TokenRevokedError,
    build_client,
    preflight,
    retry_stats,
)
from wfcontracts.target.config import ClientCredentials, TargetConfig, resolve_target
from wfcontracts.target.retry import RetryPolicy, retries_of

TOKEN = "tok-RECOGNISABLE-7f3a9c1e5b"
CLIENT_SECRET = "secret-RECOGNISABLE-2d8e6b4a"
#: The default policy without the waiting, so retried tests stay instant.
INSTANT = RetryPolicy(sleep=lambda seconds: None)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"items": []}'
    content_type: str = "application/json"
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    #: Statuses answered first, one per request, before ``status``.
    script: list[int] = field(default_factory=list)
    tokens_issued: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        answer = self.server.answer
        answer.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        status = answer.script.pop(0) if answer.script else answer.status
        self.send_response(status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/token":
            self.do_GET()
            return
        answer = self.server.answer
        answer.tokens_issued += 1
        body = json.dumps({"access_token": f"issued-{answer.tokens_issued}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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
        kwargs.setdefault("retry", INSTANT)
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


def test_preflight_resends_through_a_transient_503(local: Local) -> None:
    local.answer.script = [503, 503]
    with local.client() as client:
        preflight(client)
        stats = retry_stats(client)
    assert len(local.answer.seen) == 3
    assert stats is not None and stats.by_reason == {"503": 2}


def test_a_persistent_503_is_judged_by_the_preflight_after_the_retries(local: Local) -> None:
    local.answer.status = 503
    with local.client() as client, pytest.raises(TargetUnreachableError) as caught:
        preflight(client)
    assert str(caught.value) == "127.0.0.1 answered 503 to GET /workflows?limit=1; is it a CDF API?"
    assert len(local.answer.seen) == 5  # the default policy: 5 attempts


def test_a_persistent_5xx_on_a_write_is_returned_as_a_finding(local: Local) -> None:
    local.answer.status = 503
    with local.client() as client:
        response = client.post("workflows", json={"items": [{"externalId": "x"}]})
        stats = retry_stats(client)
    assert (response.status_code, retries_of(response)) == (503, 4)
    assert stats is not None and stats.exhausted == 1


def test_a_fixed_token_rejected_after_the_preflight_ends_the_run(local: Local) -> None:
    with local.client() as client:
        local.answer.status = 401
        assert client.get("workflows").status_code == 401  # no preflight yet: a plain answer
        local.answer.status = 200
        preflight(client)
        local.answer.status = 401
        # The bad-token checks send their own Authorization: their 401 is a finding.
        own = client.get("workflows", headers={"Authorization": "Bearer wrong"}, auth=None)
        assert own.status_code == 401
        with pytest.raises(TokenRevokedError) as caught:
            client.get("workflows")
    assert str(caught.value) == "token expired or revoked (401 after a good preflight)"
    assert isinstance(caught.value, CredentialsError)


def test_a_401_to_the_preflight_itself_is_rejected_credentials(local: Local) -> None:
    with local.client() as client:
        preflight(client)
        local.answer.status = 401
        with pytest.raises(CredentialsError) as caught:
            preflight(client)  # e.g. a second preflight: bad credentials, not a revoked token
        assert not isinstance(caught.value, TokenRevokedError)
        assert isinstance(client.auth, BearerAuth) and not client.auth.preflight_passed


def test_client_credentials_refresh_once_on_a_401_and_carry_on(local: Local) -> None:
    credentials = ClientCredentials("app", CLIENT_SECRET, f"{local.url}/token")
    config = TargetConfig(
        kind="live", base_url=local.url, project="p", client_credentials=credentials
    )
    with build_client(config, retry=INSTANT) as client:
        preflight(client)
        local.answer.script = [401]
        response = client.get("workflows")
        assert response.status_code == 200
        local.answer.script = [401, 401]
        assert client.get("workflows").status_code == 401  # the API's verdict, returned
    assert local.answer.tokens_issued == 3
    assert [h["authorization"] for _, h in local.answer.seen[1:3]] == [
        "Bearer issued-1",
        "Bearer issued-2",
    ]


def test_an_unreachable_target_mid_run_is_an_environment_error() -> None:
    config = resolve_target(
        base_url=f"http://127.0.0.1:{_closed_port()}", project="p", token=TOKEN, env={}
    )
    with build_client(config, retry=INSTANT) as client, pytest.raises(RetriesExhaustedError) as e:
        client.post("workflows/executions/list", json={})
    assert str(e.value).startswith(
        "target unreachable after 4 retries: POST /api/v1/projects/p/workflows/executions/list: "
        "ConnectError: "
    )


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
    with (
        build_client(config, retry=INSTANT) as client,
        pytest.raises(TargetUnreachableError) as caught,
    ):
        preflight(client)
    message = str(caught.value)
    assert message.startswith("cannot reach 127.0.0.1: ")
    assert message.endswith(" (after 4 retries)")
    assert TOKEN not in message and "\n" not in message


def test_preflight_timeout() -> None:
    # A listening socket that never answers: the connection opens, the response never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        config = resolve_target(base_url=url, project="p", token=TOKEN, env={})
        with (
            build_client(config, timeout=0.2, retry=RetryPolicy(attempts=1)) as client,
            pytest.raises(TargetUnreachableError) as caught,
        ):
            preflight(client)
    assert str(caught.value) == "cannot reach 127.0.0.1: timed out after 0.2 s"


def test_preflight_lets_token_endpoint_errors_through(local: Local) -> None:
    credentials = ClientCredentials("app", CLIENT_SECRET, f"http://127.0.0.1:{_closed_port()}/t")
    config = TargetConfig(
        kind="live", base_url=local.url, project="p", client_credentials=credentials
    )
    with build_client(config, retry=INSTANT) as client, pytest.raises(AuthError) as caught:
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
