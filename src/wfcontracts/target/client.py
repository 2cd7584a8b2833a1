"""The one httpx client every suite uses, and the preflight that checks a target is usable.

Transports are the seam: the embedded mock is an ASGI transport passed in by the caller, a live
target is plain HTTP, optionally behind a token-bucket rate limiter, and — on live targets —
behind the retry policy of :mod:`wfcontracts.target.retry` (outermost, so every resend waits
for the rate limiter too).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from urllib.parse import unquote

import httpx

from wfcontracts import __version__
from wfcontracts.redact import mask_known
from wfcontracts.target import (
    CredentialsError,
    ProjectNotFoundError,
    RetriesExhaustedError,
    TargetUnreachableError,
    TokenRevokedError,
)
from wfcontracts.target.auth import BearerAuth, build_auth
from wfcontracts.target.config import TargetConfig
from wfcontracts.target.retry import RetryingTransport, RetryPolicy, RetryStats

__all__ = [
    "CredentialsError",
    "ProjectNotFoundError",
    "RateLimitedTransport",
    "RetriesExhaustedError",
    "TargetUnreachableError",
    "TokenBucket",
    "TokenRevokedError",
    "build_client",
    "preflight",
    "retry_policy",
    "retry_stats",
]

CDF_VERSION = "20230101"
PREFLIGHT_PATH = "/workflows"
_MAX_REASON = 120

# The retry policy and stats of each client built with retries; weak so a dropped client is
# forgotten.
_RETRIES: weakref.WeakKeyDictionary[httpx.Client, tuple[RetryPolicy, RetryStats]] = (
    weakref.WeakKeyDictionary()
)


class TokenBucket:
    """At most ``rate`` acquisitions per second on average, bursts of up to ``capacity``.

    ``clock`` and ``sleep`` are injectable so tests can check the pacing without waiting.
    """

    def __init__(
        self,
        rate: float,
        *,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._rate = rate
        self._capacity = capacity if capacity is not None else max(1.0, rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self._capacity
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take one token, sleeping until one is available."""
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
            self._updated = now
            self._tokens -= 1
            # A negative balance is the wait this caller owes; holding the lock while sleeping
            # keeps callers in arrival order.
            if self._tokens < 0:
                self._sleep(-self._tokens / self._rate)


class RateLimitedTransport(httpx.BaseTransport):
    """Wraps a transport so requests pass through a :class:`TokenBucket` first."""

    def __init__(self, transport: httpx.BaseTransport, bucket: TokenBucket) -> None:
        self._transport = transport
        self._bucket = bucket

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._bucket.acquire()
        return self._transport.handle_request(request)

    def close(self) -> None:
        self._transport.close()


def build_client(
    config: TargetConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 30.0,
    max_requests_per_second: float | None = None,
    retry: RetryPolicy | bool | None = None,
    retry_stats: RetryStats | None = None,
) -> httpx.Client:
    """An httpx client rooted at ``config.api_root`` with the target's auth and CDF headers.

    For the embedded mock pass its transport (``httpx.ASGITransport`` or a wrapper of it).
    ``max_requests_per_second`` bounds the request rate, e.g. for fuzzing a live project.
    ``retry``: a policy, True (the default policy) or False; None means "on for live targets"
    (the mock and cassettes answer deterministically, and their injected faults must be seen).
    Retries count into ``retry_stats`` (a new one when None); read them with :func:`retry_stats`.
    """
    if max_requests_per_second is not None:
        inner = transport if transport is not None else httpx.HTTPTransport()
        transport = RateLimitedTransport(inner, TokenBucket(max_requests_per_second))
    policy = _retry_policy(retry, config)
    stats: RetryStats | None = None
    if policy is not None:
        stats = retry_stats if retry_stats is not None else RetryStats()
        inner = transport if transport is not None else httpx.HTTPTransport()
        transport = RetryingTransport(inner, policy, stats)
    client = httpx.Client(
        base_url=config.api_root,
        auth=build_auth(config),
        headers={
            "cdf-version": CDF_VERSION,
            "x-cdp-app": "wfcontracts",
            "User-Agent": f"wfcontracts/{__version__}",
            "Accept": "application/json",
        },
        transport=transport,
        timeout=timeout,
    )
    if policy is not None and stats is not None:
        _RETRIES[client] = (policy, stats)
    return client


def _retry_policy(retry: RetryPolicy | bool | None, config: TargetConfig) -> RetryPolicy | None:
    if isinstance(retry, RetryPolicy):
        return retry
    if retry is None:
        retry = config.kind == "live"
    return RetryPolicy() if retry else None


def retry_stats(client: httpx.Client) -> RetryStats | None:
    """The retry counts of a client from :func:`build_client`; None when it does not retry."""
    found = _RETRIES.get(client)
    return found[1] if found is not None else None


def retry_policy(client: httpx.Client) -> RetryPolicy | None:
    """The retry policy of a client from :func:`build_client` (to mount the same on a
    ``requests.Session`` with ``mount_retries``); None when it does not retry."""
    found = _RETRIES.get(client)
    return found[0] if found is not None else None


def preflight(client: httpx.Client) -> None:
    """One ``GET /workflows?limit=1`` that turns every way a target can be unusable into one line.

    Raises :class:`TargetUnreachableError` (connection failure, timeout, unknown project, not a
    CDF API) or :class:`CredentialsError` (401, 403). Errors from the auth (``AuthError``) pass
    through unchanged.

    Once it passes, a fixed token (``--token``) that the target rejects later raises
    :class:`TokenRevokedError` instead of answering 401: the run then verifies nothing.
    """
    host = client.base_url.host or str(client.base_url)
    # A 401 to the preflight itself means bad credentials, not a revoked token.
    _confirm_token(client, passed=False)
    try:
        response = client.get(PREFLIGHT_PATH, params={"limit": 1})
    except RetriesExhaustedError as exc:
        cause = exc.__cause__
        reason = _failure(client, cause) if isinstance(cause, httpx.TransportError) else exc.what
        retried = ""
        if exc.retries:
            retried = f" (after {exc.retries} {'retry' if exc.retries == 1 else 'retries'})"
        raise TargetUnreachableError(f"cannot reach {host}: {reason}{retried}") from None
    except httpx.TransportError as exc:
        raise TargetUnreachableError(f"cannot reach {host}: {_failure(client, exc)}") from None
    _check_preflight_response(response, host, _project(client.base_url))
    _confirm_token(client, passed=True)


def _confirm_token(client: httpx.Client, *, passed: bool) -> None:
    auth = client.auth
    if isinstance(auth, BearerAuth):
        auth.preflight_passed = passed


def _failure(client: httpx.Client, exc: httpx.TransportError) -> str:
    return _timed_out(client) if isinstance(exc, httpx.TimeoutException) else _reason(exc)


def _check_preflight_response(response: httpx.Response, host: str, project: str) -> None:
    status = response.status_code
    if status == httpx.codes.UNAUTHORIZED:
        raise CredentialsError(f"credentials were rejected by {host} (401)")
    if status == httpx.codes.FORBIDDEN:
        raise CredentialsError(
            f"token lacks workflowOrchestrationAcl:READ on project '{project}' at {host} (403)"
        )
    if status in (httpx.codes.NOT_FOUND, httpx.codes.BAD_REQUEST):
        raise ProjectNotFoundError(
            f"project '{project}' not found or not accessible at {host} ({status})"
        )
    if not response.is_success:
        raise TargetUnreachableError(
            f"{host} answered {status} to GET {PREFLIGHT_PATH}?limit=1; is it a CDF API?"
        )
    if not _is_json_object(response):
        content_type = response.headers.get("content-type", "no content type")
        raise TargetUnreachableError(
            f"{host} does not look like a CDF API: GET {PREFLIGHT_PATH}?limit=1 answered "
            f"{status} with {content_type}, not a JSON object"
        )


def _timed_out(client: httpx.Client) -> str:
    seconds = client.timeout.read or client.timeout.connect
    return f"timed out after {seconds:g} s" if seconds else "timed out"


def _is_json_object(response: httpx.Response) -> bool:
    try:
        return isinstance(response.json(), dict)
    except ValueError:
        return False


def _project(base_url: httpx.URL) -> str:
    marker = "/projects/"
    path = base_url.path.rstrip("/")
    return unquote(path.rsplit(marker, 1)[1]) if marker in path else path


def _reason(exc: httpx.TransportError) -> str:
    reason = " ".join((str(exc) or type(exc).__name__).split())
    if len(reason) > _MAX_REASON:
        reason = reason[: _MAX_REASON - 3] + "..."
    # Transport errors quote URLs at most, but a token in a query string must not leak.
    request = _request_of(exc)
    secret = request.headers.get("authorization", "").partition(" ")[2] if request else ""
    return mask_known(reason, [secret])


def _request_of(exc: httpx.TransportError) -> httpx.Request | None:
    try:
        return exc.request
    except RuntimeError:  # httpx raises when the error was created without a request
        return None
