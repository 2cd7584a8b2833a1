"""Resending requests a flaky live target failed, without ever repeating a side effect.

One policy (:class:`RetryPolicy`), driven by tenacity, for both HTTP stacks of a run: the suites'
httpx client (:class:`RetryingTransport`, installed by ``build_client``) and the fuzzer's
``requests.Session`` (:func:`mount_retries`). Both count into one :class:`RetryStats` so the
report can say how often the target had to be asked twice.

What a request is
-----------------
:func:`request_kind` sorts every request into one of four kinds, by what a second copy of it
could do if the first one took effect unseen:

``read``
    GET, HEAD, OPTIONS, and the POST operations that only query (paths ending in ``/list`` or
    ``/byids``). A second copy changes nothing.
``idempotent``
    The upserts (``POST /workflows``, ``POST /workflows/versions``: the same body twice leaves
    the same state, and the second answer describes it truthfully), session revocation (CDF
    documents it as idempotent), and PUT, DELETE, TRACE and QUERY, which HTTP defines as
    idempotent (RFC 9110, 9.2.2; the API declares none of them, so a copy only meets the same
    404/405 again).
``guarded``
    Writes whose effect cannot happen twice because the target refuses the second copy once the
    first landed: the deletes (the item is gone), cancel (only a RUNNING execution can be
    cancelled) and a *terminal* task report, COMPLETED or FAILED_WITH_TERMINAL_ERROR (only an
    IN_PROGRESS task can be reported). A second copy is harmless; but its refusal (400, 404,
    409, 410, 412, 422) may be the first copy's doing, so it is not the target's answer to
    judge.
``unsafe``
    Everything else: run, retry, create session, a FAILED task report (it uses up one of the
    task's retries and starts a new attempt, which a second report would fail again), PATCH and
    unknown POSTs. A second copy may act twice, and nothing in the API lets a client prove
    that the first did not: a run and a retry carry a session nonce, but the documentation does
    not promise that the Workflows API refuses a nonce it has seen, and the mock does not
    (it accepts any nonce).

The policy
----------
What is resent, by kind and by what went wrong with the attempt:

============================================  ======  ==========  ===========  ===============
outcome of the attempt                        read    idempotent  guarded      unsafe
============================================  ======  ==========  ===========  ===============
connection never made (``ConnectError``,      resent  resent      resent       resent
``ConnectTimeout``, ``PoolTimeout``)
429, 503: the server refused it unapplied     resent  resent      resent       resent
502, 504: a gateway error, the API behind it  resent  resent      resent [1]   returned, and
may or may not have acted                                                      judged
connection dropped or timed out mid-request   resent  resent      resent [1]   outcome
(``ReadError``, ``RemoteProtocolError``,                                       unknown [2]
``ReadTimeout``, ``WriteError`` …)
============================================  ======  ==========  ===========  ===============

[1] If the resend is refused with a status the first copy may have caused (a 409 to a second
    cancel, a 404 to a second delete), the outcome is unknown [2].
[2] Never resent.

An unknown outcome raises :class:`~wfcontracts.target.WriteOutcomeUnknownError`: the exchange
judges nothing and the test (or fuzz case) that sent it is *inconclusive*; the run goes on, and
the report counts how many (a run where more than 5 and more than 10 % of the tests are
inconclusive proves too little: an environment error, see ``reporting.results``). It is a
:class:`~wfcontracts.target.RetriesExhaustedError`, so code that does not know better stops the
run as an environment error rather than passing it. What the lost write may have left (an
execution nobody knows the id of, an unused session) carries the run prefix or expires:
cleanup's prefix sweep cancels and deletes the former; a session whose creation answer was lost
cannot be revoked by id, and its nonce expires unused (CDF: about a minute).

Between attempts the policy waits ``Retry-After`` when the server sent one (seconds or an HTTP
date, capped at ``retry_after_cap``), else a "full jitter" exponential backoff: a uniform draw in
``[0, min(backoff_cap, backoff_base * 2**(n-1))]`` so that parallel workers do not resend in
lockstep. ``attempts`` counts the first try.

When the policy gives up:

- on a status (a 5xx or 429 that persisted) the last response is *returned*: what the target
  answers is a contract finding, not an environment problem. How many times it was resent is in
  ``response.extensions["wfcontracts.retries"]`` (httpx) or ``response.wfcontracts_retries``
  (requests); read either with :func:`retries_of`.
- on a transport failure :class:`~wfcontracts.target.RetriesExhaustedError` is raised (an
  environment problem, exit code 2), chained to the last httpx/requests error.

A request may carry ``extensions={"wfcontracts.deadline": <time.monotonic() value>}``: no retry
starts after it and no wait runs past it (cleanup uses this to stay within its budget).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import httpx
import tenacity

from wfcontracts.redact import mask_known
from wfcontracts.target import RetriesExhaustedError, WriteOutcomeUnknownError

__all__ = [
    "DEADLINE_EXTENSION",
    "REFUSED_STATUSES",
    "RETRIES_EXTENSION",
    "RETRY_STATUSES",
    "RetryPolicy",
    "RetryStats",
    "RetryingRequestsAdapter",
    "RetryingTransport",
    "is_read",
    "request_kind",
    "mount_retries",
    "parse_retry_after",
    "retries_of",
]

RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Statuses by which the server says it did not act on the request: a write may be resent.
REFUSED_STATUSES = frozenset({429, 503})
RETRIES_EXTENSION = "wfcontracts.retries"
DEADLINE_EXTENSION = "wfcontracts.deadline"
_REQUESTS_ATTRIBUTE = "wfcontracts_retries"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_READ_SUFFIXES = ("/list", "/byids")
_MAX_REASON = 160

#: Gateway errors: the API behind the gateway may or may not have acted.
_GATEWAY_STATUSES = frozenset({502, 504})
#: Answers to a resent guarded write that its own first copy may have caused.
SELF_INFLICTED_STATUSES = frozenset({400, 404, 409, 410, 412, 422})
#: Methods HTTP defines as idempotent (RFC 9110, 9.2.2) beyond the safe reads.
_IDEMPOTENT_METHODS = frozenset({"PUT", "DELETE", "TRACE", "QUERY"})
#: Task reports that end the reported attempt: the task cannot be reported again.
_TERMINAL_REPORTS = frozenset({"COMPLETED", "FAILED_WITH_TERMINAL_ERROR"})
_API_ROOT = re.compile(r"/api/v1/projects/[^/]+")

#: ``unsent``: the request provably never reached the server; ``dropped``: it may have.
Failure = Literal["unsent", "dropped"]
#: What a second copy of a request could do (see the module docstring).
Kind = Literal["read", "idempotent", "guarded", "unsafe"]
_R = TypeVar("_R")


def is_read(method: str, path: str) -> bool:
    """Whether a request only queries: safe to resend whatever happened to the first one."""
    method = method.upper()
    if method in _READ_METHODS:
        return True
    path = path.split("?", 1)[0].rstrip("/")
    return method == "POST" and path.endswith(_READ_SUFFIXES)


def request_kind(method: str, path: str, body: bytes | str | None = None) -> Kind:
    """What a second copy of this request could do if the first took effect unseen."""
    if is_read(method, path):
        return "read"
    method = method.upper()
    if method in _IDEMPOTENT_METHODS:
        return "idempotent"
    if method != "POST":
        return "unsafe"
    raw = path.split("?", 1)[0]
    match = _API_ROOT.search(raw)
    parts = [p for p in (raw[match.end() :] if match else raw).split("/") if p]
    if parts in (["workflows"], ["workflows", "versions"], ["sessions", "revoke"]):
        return "idempotent"
    if parts in (["workflows", "delete"], ["workflows", "versions", "delete"]):
        return "guarded"
    if len(parts) == 4 and parts[:2] == ["workflows", "executions"] and parts[3] == "cancel":
        return "guarded"
    if len(parts) == 4 and parts[:2] == ["workflows", "tasks"] and parts[3] == "update":
        status = _reported_status(body)
        return "guarded" if isinstance(status, str) and status in _TERMINAL_REPORTS else "unsafe"
    return "unsafe"


def _reported_status(body: bytes | str | None) -> object:
    try:
        parsed = json.loads(body) if body else None
    except ValueError:  # includes UnicodeDecodeError: a body we cannot read is not terminal
        return None
    return parsed.get("status") if isinstance(parsed, dict) else None


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is read as such
        return None
    return max(0.0, when.timestamp() - now())


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to resend; ``sleep`` and ``uniform`` are injectable for tests."""

    attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    retry_after_cap: float = 30.0
    retry_statuses: frozenset[int] = RETRY_STATUSES
    refused_statuses: frozenset[int] = REFUSED_STATUSES
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    uniform: Callable[[float, float], float] = field(
        default=random.uniform, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1 (the first try)")
        if min(self.backoff_base, self.backoff_cap, self.retry_after_cap) < 0:
            raise ValueError("backoff and Retry-After caps must not be negative")

    def retry_reason(
        self,
        *,
        read: bool = False,
        kind: Kind | None = None,
        status: int | None = None,
        failure: Failure | None = None,
        error: str = "",
    ) -> str | None:
        """Why this outcome may be resent (the key it is counted under), or None if it may not.

        ``kind`` is the request's :func:`request_kind`; without it ``read`` says read or unsafe.
        """
        kind = kind or ("read" if read else "unsafe")
        if status is not None:
            if status in self.retry_statuses and (
                kind != "unsafe" or status in self.refused_statuses
            ):
                return str(status)
            return None
        if failure == "unsent" or (failure == "dropped" and kind != "unsafe"):
            return error or "transport error"
        return None

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first resend)."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap)
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** max(0, retry_number - 1))
        return min(ceiling, max(0.0, self.uniform(0.0, ceiling)))


@dataclass
class RetryStats:
    """What the retries of a run amounted to; shared by every client of the run, thread-safe."""

    total_retries: int = 0
    retried_requests: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    exhausted: int = 0
    last_exhausted: str | None = None
    #: Writes whose answer was lost and that could not be resent (or whose resend proved
    #: nothing): each made one test or fuzz case inconclusive. Also counted in ``exhausted``.
    unknown_outcomes: int = 0
    last_unknown_outcome: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_retry(self, reason: str, *, first: bool) -> None:
        with self._lock:
            self.total_retries += 1
            self.retried_requests += 1 if first else 0
            self.by_reason[reason] = self.by_reason.get(reason, 0) + 1

    def record_exhausted(self, what: str, *, unknown_outcome: bool = False) -> None:
        with self._lock:
            self.exhausted += 1
            self.last_exhausted = what
            if unknown_outcome:
                self.unknown_outcomes += 1
                self.last_unknown_outcome = what

    def absorb(self, other: dict[str, Any]) -> None:
        """Add another run's :meth:`to_dict` (an xdist worker's) to these counts."""
        with self._lock:
            self.total_retries += other.get("totalRetries", 0)
            self.retried_requests += other.get("retriedRequests", 0)
            for reason, count in (other.get("byReason") or {}).items():
                self.by_reason[reason] = self.by_reason.get(reason, 0) + count
            self.exhausted += other.get("exhausted", 0)
            self.last_exhausted = other.get("lastExhausted") or self.last_exhausted
            self.unknown_outcomes += other.get("unknownOutcomes", 0)
            self.last_unknown_outcome = other.get("lastUnknownOutcome") or self.last_unknown_outcome

    def to_dict(self) -> dict[str, Any]:
        """For summary.json."""
        with self._lock:
            return {
                "totalRetries": self.total_retries,
                "retriedRequests": self.retried_requests,
                "byReason": dict(sorted(self.by_reason.items())),
                "exhausted": self.exhausted,
                "lastExhausted": self.last_exhausted,
                # Only when there were some: a run without lost writes keeps the old shape.
                **(
                    {
                        "unknownOutcomes": self.unknown_outcomes,
                        "lastUnknownOutcome": self.last_unknown_outcome,
                    }
                    if self.unknown_outcomes
                    else {}
                ),
            }


def retries_of(response: object) -> int:
    """How many times the transport resent the request of ``response`` (httpx or requests)."""
    if isinstance(response, httpx.Response):
        value = response.extensions.get(RETRIES_EXTENSION, 0)
    else:
        value = getattr(response, _REQUESTS_ATTRIBUTE, 0)
    return value if isinstance(value, int) else 0


@dataclass
class _Attempts:
    """The stack-specific half of a retry loop: how to send, inspect and classify."""

    what: str
    kind: Kind
    status_of: Callable[[Any], tuple[int, str | None]]  # status and Retry-After
    discard: Callable[[Any], None]
    failure_of: Callable[[Exception], Failure | None]
    describe: Callable[[Exception], str]
    deadline: float | None = None


def _send_with_retries(
    policy: RetryPolicy,
    stats: RetryStats,
    attempts: _Attempts,
    send: Callable[[], _R],
    errors: tuple[type[Exception], ...],
) -> tuple[_R, int]:
    """Send until the policy is satisfied; the final response and how often it was resent."""
    retries = 0

    def attempt() -> _R | Exception:
        # Errors become results so one predicate judges both, and the last one survives.
        try:
            return send()
        except errors as exc:
            return exc

    # A guarded write that may already have landed: a refusal of its resend proves nothing.
    maybe_landed = False

    def reason(outcome: Any) -> str | None:
        if isinstance(outcome, Exception):
            failure = attempts.failure_of(outcome)
            return policy.retry_reason(
                kind=attempts.kind, failure=failure, error=type(outcome).__name__
            )
        return policy.retry_reason(kind=attempts.kind, status=attempts.status_of(outcome)[0])

    def should_retry(state: tenacity.RetryCallState) -> bool:
        return reason(_outcome(state)) is not None

    def stop(state: tenacity.RetryCallState) -> bool:
        late = attempts.deadline is not None and time.monotonic() >= attempts.deadline
        return state.attempt_number >= policy.attempts or late

    def wait(state: tenacity.RetryCallState) -> float:
        outcome = _outcome(state)
        header = None if isinstance(outcome, Exception) else attempts.status_of(outcome)[1]
        seconds = policy.delay(state.attempt_number, parse_retry_after(header))
        if attempts.deadline is not None:
            seconds = min(seconds, max(0.0, attempts.deadline - time.monotonic()))
        return seconds

    def before_sleep(state: tenacity.RetryCallState) -> None:
        nonlocal retries, maybe_landed
        outcome = _outcome(state)
        maybe_landed = maybe_landed or _may_have_landed(attempts, outcome)
        if not isinstance(outcome, Exception):
            # Release its connection before the next attempt; best effort, as a response
            # that cannot be closed must not turn a retry into a failure.
            with contextlib.suppress(Exception):
                attempts.discard(outcome)
        stats.record_retry(reason(outcome) or "?", first=retries == 0)
        retries += 1

    retrying = tenacity.Retrying(
        stop=stop,
        wait=wait,
        retry=should_retry,
        sleep=policy.sleep,
        before_sleep=before_sleep,
        retry_error_callback=_outcome,
    )
    final: _R | Exception = retrying(attempt)
    if isinstance(final, Exception):
        failure = attempts.failure_of(final)
        if failure is None:
            raise final
        what = f"{attempts.what}: {attempts.describe(final)}"
        if failure == "dropped" and attempts.kind == "unsafe":
            what += " (a write is not resent once it may have reached the server)"
            stats.record_exhausted(what, unknown_outcome=True)
            raise WriteOutcomeUnknownError(what, retries) from final
        stats.record_exhausted(what)
        raise RetriesExhaustedError(what, retries) from final
    status = attempts.status_of(final)[0]
    if maybe_landed and status in SELF_INFLICTED_STATUSES:
        with contextlib.suppress(Exception):
            attempts.discard(final)
        what = (
            f"{attempts.what}: its answer was lost, and the resend was refused with {status}, "
            "which the first copy may have caused"
        )
        stats.record_exhausted(what, unknown_outcome=True)
        raise WriteOutcomeUnknownError(what, retries, resent=True)
    if reason(final) is not None:
        stats.record_exhausted(f"{attempts.what}: {status} after {retries} retries")
    return final, retries


def _may_have_landed(attempts: _Attempts, outcome: Any) -> bool:
    """Whether this failed attempt of a guarded write may have taken effect unseen."""
    if attempts.kind != "guarded":
        return False
    if isinstance(outcome, Exception):
        return attempts.failure_of(outcome) == "dropped"
    return attempts.status_of(outcome)[0] in _GATEWAY_STATUSES


def _outcome(state: tenacity.RetryCallState) -> Any:
    assert state.outcome is not None  # tenacity calls these hooks only after an attempt
    return state.outcome.result()


def _one_line(exc: BaseException, secrets: list[str]) -> str:
    reason = " ".join(str(exc).split())
    if len(reason) > _MAX_REASON:
        reason = reason[: _MAX_REASON - 3] + "..."
    name = type(exc).__name__
    # Transport errors quote URLs at most, but a token in a query string must not leak.
    return mask_known(f"{name}: {reason}" if reason else name, [s for s in secrets if s])


# -- httpx -------------------------------------------------------------------------------------


def _httpx_failure(exc: Exception) -> Failure | None:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return "unsent"
    if isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return "dropped"
    return None  # a bad URL, a proxy or local protocol error: resending cannot help


class RetryingTransport(httpx.BaseTransport):
    """Wraps a transport so failed requests are resent as the module's policy says."""

    def __init__(
        self,
        transport: httpx.BaseTransport,
        policy: RetryPolicy | None = None,
        stats: RetryStats | None = None,
    ) -> None:
        self._transport = transport
        self.policy = policy or RetryPolicy()
        self.stats = stats if stats is not None else RetryStats()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # an attempt consumes a streamed body; a read one can be sent again
        deadline = request.extensions.get(DEADLINE_EXTENSION)
        secret = request.headers.get("authorization", "").partition(" ")[2]
        attempts = _Attempts(
            what=f"{request.method} {request.url.path}",
            kind=request_kind(
                request.method, request.url.raw_path.decode("ascii", "replace"), request.content
            ),
            status_of=lambda r: (r.status_code, r.headers.get("retry-after")),
            discard=lambda r: r.close(),
            failure_of=_httpx_failure,
            describe=lambda exc: _one_line(exc, [secret]),
            deadline=float(deadline) if isinstance(deadline, int | float) else None,
        )
        response, retries = _send_with_retries(
            self.policy,
            self.stats,
            attempts,
            lambda: self._transport.handle_request(request),
            (httpx.TransportError,),
        )
        response.extensions[RETRIES_EXTENSION] = retries
        return response

    def close(self) -> None:
        self._transport.close()


# -- requests ----------------------------------------------------------------------------------


def _requests_failure(exc: Exception) -> Failure | None:
    from requests import exceptions as rex
    from urllib3 import exceptions as u3

    if isinstance(exc, rex.ConnectTimeout):
        return "unsent"
    if isinstance(exc, rex.SSLError | rex.ProxyError | rex.InvalidURL):
        return None
    if isinstance(exc, rex.ConnectionError):
        cause = exc.args[0] if exc.args else None
        cause = getattr(cause, "reason", cause)  # urllib3's MaxRetryError wraps the real one
        if isinstance(cause, u3.NewConnectionError | u3.ConnectTimeoutError):
            return "unsent"
        return "dropped"
    if isinstance(exc, rex.Timeout):
        return "dropped"
    return None


class RetryingRequestsAdapter:
    """A requests transport adapter that resends through another one with the same policy.

    Composition rather than an ``HTTPAdapter`` subclass: it wraps whatever adapter the session
    had (e.g. one that rate-limits), and ``Session`` only ever calls ``send`` and ``close``.
    """

    def __init__(
        self, adapter: Any, policy: RetryPolicy | None = None, stats: RetryStats | None = None
    ) -> None:
        self.adapter = adapter
        self.policy = policy or RetryPolicy()
        self.stats = stats if stats is not None else RetryStats()

    def send(self, request: Any, **kwargs: Any) -> Any:
        from requests import exceptions as rex

        if request.body is not None and not isinstance(request.body, bytes | str):
            # A streamed body is consumed by the first attempt and cannot be replayed.
            return self.adapter.send(request, **kwargs)
        path = httpx.URL(request.url).raw_path.decode("ascii", "replace")
        secret = str(request.headers.get("Authorization", "")).partition(" ")[2]
        attempts = _Attempts(
            what=f"{request.method} {httpx.URL(request.url).path}",
            kind=request_kind(str(request.method), path, request.body),
            status_of=lambda r: (int(r.status_code), r.headers.get("Retry-After")),
            discard=lambda r: r.close(),
            failure_of=_requests_failure,
            describe=lambda exc: _one_line(exc, [secret]),
        )
        response, retries = _send_with_retries(
            self.policy,
            self.stats,
            attempts,
            lambda: self.adapter.send(request, **kwargs),
            (rex.RequestException,),
        )
        setattr(response, _REQUESTS_ATTRIBUTE, retries)
        return response

    def close(self) -> None:
        self.adapter.close()


def mount_retries(
    session: Any, policy: RetryPolicy | None = None, stats: RetryStats | None = None
) -> RetryStats:
    """Make a ``requests.Session`` resend like the httpx client; returns the stats it counts into.

    Every adapter the session has (``http://`` and ``https://`` by default, and any mounted
    before) is wrapped once; pass the httpx client's stats (``retry_stats(client)``) so one
    report counts both.
    """
    stats = stats if stats is not None else RetryStats()
    policy = policy or RetryPolicy()
    for prefix, adapter in list(session.adapters.items()):
        if isinstance(adapter, RetryingRequestsAdapter):
            adapter.policy, adapter.stats = policy, stats
        else:
            session.mount(prefix, RetryingRequestsAdapter(adapter, policy, stats))
    return stats
