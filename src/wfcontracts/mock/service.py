"""One mock instance: contract, clock, backend, faults and the dispatcher, wired together."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import httpx

from wfcontracts.contract import Contract, load_contract
from wfcontracts.mock.backend import WorkflowsBackend
from wfcontracts.mock.clock import SERVE_PACE, Clock, Pace, RealClock, VirtualClock
from wfcontracts.mock.control import handle_control
from wfcontracts.mock.faults import FaultSet
from wfcontracts.mock.http import CONTROL_PREFIX, Dispatcher, MockRequest, MockResponse, TokenPolicy
from wfcontracts.mock.profiles import PROFILES, Profile, get_profile
from wfcontracts.mock.transport import MockTransport

__all__ = [
    "LOCAL_READ_ONLY_TOKEN",
    "LOCAL_TOKEN",
    "PROFILES",
    "SERVE_PACE",
    "MockService",
    "embedded_mock",
]

LOCAL_TOKEN = "wfcontracts-local-token"
LOCAL_READ_ONLY_TOKEN = "wfcontracts-local-read-only-token"


class MockService:
    """The stateful CDF Workflows mock; in-process via :meth:`transport`, served via app.py.

    ``profile`` says which legitimate server it is where the docs are silent: ``strict`` (the
    default), ``lenient`` or ``alternative`` (``wfcontracts.mock.profiles``).
    """

    def __init__(
        self,
        contract: Contract | None = None,
        *,
        clock: Clock | None = None,
        faults: Iterable[str] = (),
        tokens: list[str] | None = None,
        control_token: str | None = None,
        fault_seed: int = 0,
        task_latency_ms: int | None = None,
        pace: str = "instant",
        seed: int = 0,
        profile: str | Profile = "strict",
    ) -> None:
        self.profile = get_profile(profile)
        self.contract = contract or load_contract()
        self.clock: Clock = clock or RealClock()
        self.faults = FaultSet(list(faults), seed=fault_seed)
        self.pace = Pace(pace, seed)
        self.backend = WorkflowsBackend(
            self.clock,
            self.faults,
            task_latency_ms=task_latency_ms,
            pace=self.pace,
            profile=self.profile,
        )
        self._latency_lock = threading.Lock()
        self._latencies = self.pace.responses()
        self.dispatcher = Dispatcher(
            self.contract,
            self.backend,
            self.faults,
            TokenPolicy.parse(tokens, control_token),
            control=lambda request, action: handle_control(self, request, action),
            profile=self.profile,
        )
        self.backend.cdf_request = self.dispatcher.cdf_request

    @property
    def virtual_clock(self) -> bool:
        return isinstance(self.clock, VirtualClock)

    def handle(self, request: MockRequest) -> MockResponse:
        """Serve one request; on a real clock, paced responses arrive after their latency
        (slept here: an async adapter should use :meth:`respond` and await the delay)."""
        response, delay = self.respond(request)
        if delay > 0:
            time.sleep(delay)
        return response

    def respond(self, request: MockRequest) -> tuple[MockResponse, float]:
        """Serve one request without waiting: the response, and how many seconds it should
        take to arrive (:meth:`response_delay_s`)."""
        response = self.dispatcher.handle(request)
        return response, self.response_delay_s(request)

    def response_delay_s(self, request: MockRequest) -> float:
        """How long the response to ``request`` travels (the pace's per-response latency).

        0 on a virtual clock (tests stay exact and never sleep), at the instant pace, and for
        the control plane.
        """
        if self.pace.instant or self.virtual_clock or request.raw_path.startswith(CONTROL_PREFIX):
            return 0.0
        with self._latency_lock:
            return next(self._latencies)

    def reset(self) -> None:
        """Forget all state and restart the transient-fault draws and the pace's response
        jitter (faults, tokens and pace stay)."""
        self.backend.reset()
        self.faults.reseed()
        with self._latency_lock:
            self._latencies = self.pace.responses()

    def advance(self, ms: int) -> None:
        """Move the virtual clock forward and let every running execution catch up."""
        if not isinstance(self.clock, VirtualClock):
            raise ValueError("the mock runs on real time; start it with a virtual clock")
        if ms < 0:
            raise ValueError("advanceMs must be >= 0")
        self.clock.advance(ms)
        self.backend.advance()

    def set_faults(self, names: list[str], *, seed: int | None = None) -> None:
        """Switch exactly ``names`` (``NAME`` or ``NAME:RATE``) on and restart the transient
        draws, from ``seed`` when given; an invalid spec raises and changes nothing."""
        self.faults.replace(names, seed=seed)

    def revoke_tokens(self, tokens: Iterable[str]) -> None:
        """Refuse exactly ``tokens`` from now on (401), as if they had expired; ``[]`` restores."""
        self.dispatcher.tokens.revoked = frozenset(tokens)

    def transport(self) -> httpx.BaseTransport:
        return MockTransport(self)


def embedded_mock(
    faults: Iterable[str] = (),
    *,
    pace: str = "instant",
    seed: int = 0,
    profile: str | Profile = "strict",
) -> MockService:
    """The default target: virtual clock, the local tokens (read-write and read-only), faults;
    instant unless a ``pace`` is asked for (time then moves only through ``advance()``); the
    ``strict`` profile unless another is asked for."""
    tokens = [LOCAL_TOKEN, f"{LOCAL_READ_ONLY_TOKEN}:read"]
    return MockService(
        clock=VirtualClock(),
        faults=faults,
        tokens=tokens,
        pace=pace,
        seed=seed,
        profile=profile,
    )
