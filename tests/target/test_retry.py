"""The retry policy: what is resent, how long it waits, and what is never sent twice."""

from __future__ import annotations

import email.utils
import random
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import requests
import urllib3

from wfcontracts.target import RetriesExhaustedError, TargetUnreachableError
from wfcontracts.target.client import build_client, retry_policy, retry_stats
from wfcontracts.target.config import resolve_target
from wfcontracts.target.retry import (
    RETRIES_EXTENSION,
    RetryingRequestsAdapter,
    RetryingTransport,
    RetryPolicy,
    RetryStats,
    is_read,
    mount_retries,
    parse_retry_after,
    retries_of,
)

TOKEN = "tok-RECOGNISABLE-7f3a9c1e5b"
BASE = "http://target.test/api/v1/projects/p"
RUN = f"{BASE}/workflows/wf/versions/1/run"


class Sleeps(list[float]):
    """A zero-time ``sleep`` that remembers what it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def policy(sleeps: Sleeps | None = None, **kwargs: Any) -> RetryPolicy:
    # The upper bound of every jittered draw, so waits are predictable.
    kwargs.setdefault("uniform", lambda low, high: high)
    return RetryPolicy(sleep=sleeps if sleeps is not None else Sleeps(), **kwargs)


Outcome = int | Exception | httpx.Response


class Script:
    """A transport answering with a scripted sequence of statuses, responses and errors."""

    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes)
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []
        self.responses: list[httpx.Response] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(request.read())
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        response = outcome if isinstance(outcome, httpx.Response) else httpx.Response(outcome)
        self.responses.append(response)
        return response


def client_for(
    script: Script, retry: RetryPolicy | None = None, stats: RetryStats | None = None
) -> httpx.Client:
    transport = RetryingTransport(httpx.MockTransport(script), retry or policy(), stats)
    return httpx.Client(transport=transport, headers={"Authorization": f"Bearer {TOKEN}"})


def connect_error() -> httpx.ConnectError:
    return httpx.ConnectError("[Errno 111] Connection refused")


# -- which requests are reads --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "read"),
    [
        ("GET", "/api/v1/projects/p/workflows", True),
        ("HEAD", "/x", True),
        ("get", "/x", True),
        ("POST", "/api/v1/projects/p/workflows/executions/list", True),
        ("POST", "/api/v1/projects/p/workflows/versions/list?x=1", True),
        ("POST", "/api/v1/projects/p/things/byids", True),
        ("POST", "/api/v1/projects/p/workflows/executions/list/", True),
        ("POST", "/api/v1/projects/p/workflows", False),
        ("POST", "/api/v1/projects/p/workflows/wf/versions/1/run", False),
        ("POST", "/api/v1/projects/p/workflows/executions/e/retry", False),
        ("POST", "/api/v1/projects/p/workflows/delete", False),
        ("POST", "/api/v1/projects/p/workflows/a%2Flist/versions/1/run", False),
        ("PUT", "/x/list", False),
        ("DELETE", "/x", False),
    ],
)
def test_reads_are_get_and_the_post_queries(method: str, path: str, read: bool) -> None:
    assert is_read(method, path) is read


# -- statuses ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_a_read_is_resent_after_each_retry_status(status: int) -> None:
    script = Script(status, 200)
    stats = RetryStats()
    with client_for(script, stats=stats) as client:
        response = client.get(f"{BASE}/workflows")
    assert response.status_code == 200
    assert len(script.requests) == 2
    assert retries_of(response) == 1
    assert response.extensions[RETRIES_EXTENSION] == 1
    assert (stats.total_retries, stats.retried_requests) == (1, 1)
    assert stats.by_reason == {str(status): 1}


def test_a_post_list_is_a_read_and_is_resent_after_a_gateway_error() -> None:
    script = Script(502, 200)
    with client_for(script) as client:
        response = client.post(f"{BASE}/workflows/executions/list", json={"limit": 1})
    assert (response.status_code, len(script.requests)) == (200, 2)
    assert script.bodies == [b'{"limit":1}'] * 2


@pytest.mark.parametrize("status", [429, 503])
def test_a_write_is_resent_after_the_server_refused_it(status: int) -> None:
    script = Script(status, 202)
    with client_for(script) as client:
        response = client.post(RUN, json={"authentication": {"nonce": "n"}})
    assert response.status_code == 202
    assert len(script.requests) == 2
    assert script.bodies[0] == script.bodies[1]


@pytest.mark.parametrize("status", [502, 504, 500, 400, 404, 409])
def test_a_write_is_not_resent_after_an_answer_that_may_hide_a_side_effect(status: int) -> None:
    script = Script(status, 202)
    stats = RetryStats()
    with client_for(script, stats=stats) as client:
        response = client.post(RUN, json={})
    assert (response.status_code, len(script.requests), retries_of(response)) == (status, 1, 0)
    assert stats.total_retries == 0 and stats.exhausted == 0


@pytest.mark.parametrize("status", [500, 501, 400, 401, 403, 404, 409])
def test_other_statuses_are_never_resent(status: int) -> None:
    script = Script(status, 200)
    with client_for(script) as client:
        assert client.get(f"{BASE}/workflows").status_code == status
    assert len(script.requests) == 1


def test_a_persistent_5xx_is_returned_with_its_retry_count_not_raised() -> None:
    script = Script(503)
    stats = RetryStats()
    sleeps = Sleeps()
    with client_for(script, policy(sleeps, attempts=4), stats) as client:
        response = client.get(f"{BASE}/workflows")
    assert response.status_code == 503
    assert len(script.requests) == 4
    assert retries_of(response) == 3
    assert len(sleeps) == 3
    assert stats.total_retries == 3 and stats.retried_requests == 1
    assert stats.exhausted == 1
    assert stats.last_exhausted == "GET /api/v1/projects/p/workflows: 503 after 3 retries"
    # Every response given up on was closed, so its connection went back to the pool.
    assert all(r.is_closed for r in script.responses[:-1])


# -- transport errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        connect_error(),
        httpx.ConnectTimeout("connect timed out"),
        httpx.PoolTimeout("no connection free"),
    ],
)
def test_a_write_that_never_reached_the_server_is_resent(error: Exception) -> None:
    script = Script(error, 202)
    stats = RetryStats()
    with client_for(script, stats=stats) as client:
        response = client.post(RUN, json={"authentication": {"nonce": "n"}})
    assert (response.status_code, len(script.requests)) == (202, 2)
    assert stats.by_reason == {type(error).__name__: 1}


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadError("connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadTimeout("read timed out"),
        httpx.WriteError("broken pipe"),
    ],
)
def test_a_write_is_never_resent_after_the_connection_dropped(error: Exception) -> None:
    script = Script(error, 202)
    stats = RetryStats()
    with client_for(script, stats=stats) as client, pytest.raises(RetriesExhaustedError) as caught:
        client.post(RUN, json={"authentication": {"nonce": "n"}})
    assert len(script.requests) == 1, "a run must not be started twice"
    assert caught.value.retries == 0
    assert caught.value.__cause__ is error
    message = str(caught.value)
    assert message.startswith(
        f"target unreachable after 0 retries: POST /api/v1/projects/p/workflows/wf/versions/1/run"
        f": {type(error).__name__}: "
    )
    assert message.endswith("(a write is not resent once it may have reached the server)")
    assert stats.total_retries == 0 and stats.exhausted == 1
    assert stats.last_exhausted is not None and type(error).__name__ in stats.last_exhausted


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadError("connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadTimeout("read timed out"),
        connect_error(),
    ],
)
def test_a_read_is_resent_after_any_connection_failure(error: Exception) -> None:
    script = Script(error, 200)
    with client_for(script) as client:
        response = client.post(f"{BASE}/workflows/versions/list", json={})
    assert (response.status_code, len(script.requests), retries_of(response)) == (200, 2, 1)


def test_an_unreachable_target_raises_after_the_configured_attempts() -> None:
    script = Script(connect_error())
    stats = RetryStats()
    with (
        client_for(script, policy(attempts=3), stats) as client,
        pytest.raises(RetriesExhaustedError) as caught,
    ):
        client.get(f"{BASE}/workflows", params={"limit": 1})
    assert len(script.requests) == 3
    assert str(caught.value) == (
        "target unreachable after 2 retries: GET /api/v1/projects/p/workflows: "
        "ConnectError: [Errno 111] Connection refused"
    )
    assert isinstance(caught.value, TargetUnreachableError)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert stats.to_dict() == {
        "totalRetries": 2,
        "retriedRequests": 1,
        "byReason": {"ConnectError": 2},
        "exhausted": 1,
        "lastExhausted": caught.value.what,
    }


def test_the_token_never_appears_in_the_error() -> None:
    script = Script(httpx.ConnectError(f"refused while sending Bearer {TOKEN}"))
    with (
        client_for(script, policy(attempts=1)) as client,
        pytest.raises(RetriesExhaustedError) as e,
    ):
        client.get(f"{BASE}/workflows")
    assert TOKEN not in str(e.value) and "\n" not in str(e.value)


def test_errors_resending_cannot_help_pass_through_untouched() -> None:
    script = Script(httpx.UnsupportedProtocol("no such scheme"), 200)
    with client_for(script) as client, pytest.raises(httpx.UnsupportedProtocol):
        client.get(f"{BASE}/workflows")
    assert len(script.requests) == 1


def test_a_streamed_body_is_sent_whole_on_every_attempt() -> None:
    script = Script(503, 202)
    with client_for(script) as client:
        client.post(RUN, content=iter([b'{"authentication":', b'{"nonce":"n"}}']))
    assert script.bodies == [b'{"authentication":{"nonce":"n"}}'] * 2


# -- waiting -------------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap() -> None:
    sleeps = Sleeps()
    script = Script(503)
    with client_for(script, policy(sleeps, attempts=7, backoff_base=0.5, backoff_cap=5)) as c:
        c.get(f"{BASE}/workflows")
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_stays_within_the_capped_exponential() -> None:
    rng = random.Random(7)
    jittered = RetryPolicy(backoff_base=0.5, backoff_cap=3.0, uniform=rng.uniform)
    for retry in range(1, 12):
        ceiling = min(3.0, 0.5 * 2 ** (retry - 1))
        draws = [jittered.delay(retry) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8 and min(draws) < ceiling * 0.2  # really spread
    # A misbehaving random source cannot push the wait past the cap either.
    wild = RetryPolicy(backoff_cap=3.0, uniform=lambda low, high: high * 10)
    assert wild.delay(9) == 3.0


@pytest.mark.parametrize(
    ("header", "waited"),
    [("7", 7.0), ("0", 0.0), ("2.5", 2.5), ("3600", 30.0), ("soon", 0.5), ("-4", 0.0)],
)
def test_retry_after_seconds_are_honoured_and_capped(header: str, waited: float) -> None:
    sleeps = Sleeps()
    script = Script(httpx.Response(429, headers={"Retry-After": header}), 200)
    with client_for(script, policy(sleeps, backoff_base=0.5)) as client:
        assert client.get(f"{BASE}/workflows").status_code == 200
    assert sleeps == [waited]


def test_retry_after_an_http_date() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 12, usegmt=True)
    assert parse_retry_after(date, now=lambda: now) == pytest.approx(12.0)
    assert parse_retry_after(email.utils.formatdate(now - 60, usegmt=True), now=lambda: now) == 0
    assert parse_retry_after(None) is None and parse_retry_after(" ") is None
    assert parse_retry_after("Mon, 99 Foo 2024") is None


def test_the_retry_after_cap_is_configurable() -> None:
    sleeps = Sleeps()
    script = Script(httpx.Response(503, headers={"Retry-After": "120"}), 200)
    with client_for(script, policy(sleeps, retry_after_cap=5)) as client:
        client.get(f"{BASE}/workflows")
    assert sleeps == [5.0]


def test_no_retry_starts_after_the_request_deadline() -> None:
    script = Script(503)
    with client_for(script, policy(attempts=10)) as client:
        response = client.get(f"{BASE}/workflows", extensions={"wfcontracts.deadline": 0.0})
    assert (response.status_code, len(script.requests)) == (503, 1)


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(backoff_cap=-1)
    assert RetryPolicy(attempts=1).retry_reason(read=True, status=503) == "503"


# -- build_client --------------------------------------------------------------------------------


def test_live_clients_retry_by_default_and_expose_their_stats() -> None:
    script = Script(503, 200)
    config = resolve_target(base_url="http://target.test", project="p", token=TOKEN, env={})
    stats = RetryStats()
    zero = policy()
    with build_client(config, transport=httpx.MockTransport(script), retry=zero) as explicit:
        assert explicit.get("workflows").status_code == 200
    with build_client(config, retry_stats=stats) as default:
        assert retry_stats(default) is stats
        assert retry_policy(default) == RetryPolicy()
    assert retry_policy(explicit) is zero
    assert len(script.requests) == 2


def test_mock_and_replay_clients_do_not_retry() -> None:
    script = Script(503, 200)
    mock = resolve_target(env={})
    replay = resolve_target(replay=True, env={})
    for config in (mock, replay):
        with build_client(config, transport=httpx.MockTransport(script)) as client:
            assert retry_stats(client) is None and retry_policy(client) is None
            assert client.get("workflows").status_code == 503
        script.outcomes = [503, 200]
    with build_client(mock, transport=httpx.MockTransport(script), retry=True) as forced:
        assert retry_stats(forced) is not None


def test_retries_pass_through_the_rate_limiter() -> None:
    script = Script(503, 200)
    config = resolve_target(base_url="http://target.test", project="p", token=TOKEN, env={})
    with build_client(
        config,
        transport=httpx.MockTransport(script),
        max_requests_per_second=1000,
        retry=policy(),
    ) as client:
        assert client.get("workflows").status_code == 200
    assert len(script.requests) == 2


# -- requests ------------------------------------------------------------------------------------


class FakeAdapter:
    """What a requests transport adapter does, scripted: no network involved."""

    def __init__(self, *outcomes: int | Exception) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[requests.PreparedRequest] = []
        self.closed = False
        self.responses: list[requests.Response] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        response = requests.Response()
        response.status_code = outcome
        response.request = request
        response.url = str(request.url)
        response._content = b"{}"
        response._content_consumed = True
        self.responses.append(response)
        return response

    def close(self) -> None:
        self.closed = True


def session_with(adapter: FakeAdapter, stats: RetryStats | None = None) -> requests.Session:
    session = requests.Session()
    session.mount("http://", adapter)  # type: ignore[arg-type]
    mount_retries(session, policy(), stats)
    return session


def refused() -> requests.ConnectionError:
    cause = urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    reason = urllib3.exceptions.MaxRetryError(None, "/", cause)  # type: ignore[arg-type]
    return requests.ConnectionError(reason)


def dropped() -> requests.ConnectionError:
    cause = urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError())
    return requests.ConnectionError(cause)


def test_requests_session_resends_reads_like_the_httpx_client() -> None:
    adapter = FakeAdapter(503, 200)
    stats = RetryStats()
    with session_with(adapter, stats) as session:
        response = session.post(f"{BASE}/workflows/executions/list", json={"limit": 1})
    assert (response.status_code, len(adapter.sent), retries_of(response)) == (200, 2, 1)
    assert stats.by_reason == {"503": 1}


def test_requests_session_never_resends_a_dropped_write() -> None:
    adapter = FakeAdapter(dropped(), 202)
    with session_with(adapter) as session, pytest.raises(RetriesExhaustedError) as caught:
        session.post(RUN, json={})
    assert len(adapter.sent) == 1 and caught.value.retries == 0
    adapter = FakeAdapter(requests.ReadTimeout("read timed out"), 202)
    with session_with(adapter) as session, pytest.raises(RetriesExhaustedError):
        session.post(RUN, json={})
    assert len(adapter.sent) == 1


def test_requests_session_resends_a_write_that_never_left() -> None:
    for error in (refused(), requests.ConnectTimeout("connect timed out")):
        adapter = FakeAdapter(error, 202)
        with session_with(adapter) as session:
            assert session.post(RUN, json={}).status_code == 202
        assert len(adapter.sent) == 2


def test_requests_session_returns_a_persistent_5xx_and_resends_reads_after_drops() -> None:
    adapter = FakeAdapter(dropped(), 504)
    with session_with(adapter) as session:
        response = session.get(f"{BASE}/workflows")
    assert (response.status_code, retries_of(response)) == (504, 4)


def test_mount_retries_shares_stats_with_the_httpx_client_and_wraps_once() -> None:
    stats = RetryStats()
    script = Script(503, 200)
    with client_for(script, stats=stats) as client:
        client.get(f"{BASE}/workflows")
    adapter = FakeAdapter(429, 200)
    session = session_with(adapter, stats)
    assert mount_retries(session, policy(), stats) is stats  # idempotent
    wrapped = session.get_adapter("http://x")
    assert isinstance(wrapped, RetryingRequestsAdapter) and wrapped.adapter is adapter
    session.get(f"{BASE}/workflows")
    assert stats.by_reason == {"503": 1, "429": 1} and stats.total_retries == 2
    session.close()
    assert adapter.closed


# -- over real loopback sockets ------------------------------------------------------------------


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 with Retry-After: 0 until the script runs out, then 200."""

    server: _FlakyServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.server.seen.append(self.command)
        if status == 0:  # drop the connection without answering
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = b'{"items": []}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _FlakyServer(ThreadingHTTPServer):
    statuses: list[int]
    seen: list[str]


@pytest.fixture
def flaky() -> Iterator[_FlakyServer]:
    server = _FlakyServer(("127.0.0.1", 0), _Flaky)
    server.statuses, server.seen = [], []
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: _FlakyServer, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("stack", ["httpx", "requests"])
def test_over_loopback(flaky: _FlakyServer, stack: str) -> None:
    sleeps = Sleeps()
    send: Callable[[str, str], int]
    if stack == "httpx":
        client = httpx.Client(transport=RetryingTransport(httpx.HTTPTransport(), policy(sleeps)))
        send = lambda method, url: client.request(method, url, json={}).status_code  # noqa: E731
    else:
        session = requests.Session()
        mount_retries(session, policy(sleeps))
        send = lambda method, url: session.request(method, url, json={}).status_code  # noqa: E731
    flaky.statuses = [503, 503]
    assert send("GET", _url(flaky, "/w")) == 200
    assert sleeps == [0.0, 0.0]  # the server's Retry-After: 0
    flaky.statuses, flaky.seen = [0], []
    with pytest.raises(RetriesExhaustedError):
        send("POST", _url(flaky, "/api/v1/projects/p/workflows/wf/versions/1/run"))
    assert flaky.seen == ["POST"], "a dropped run is not sent again"
    flaky.statuses, flaky.seen = [0], []
    assert send("POST", _url(flaky, "/api/v1/projects/p/workflows/executions/list")) == 200
    assert flaky.seen == ["POST", "POST"]
    with pytest.raises(RetriesExhaustedError) as caught:
        send("POST", f"http://127.0.0.1:{_closed_port()}/api/v1/projects/p/workflows")
    assert caught.value.retries == 4  # nothing reached the server: even a write is resent
