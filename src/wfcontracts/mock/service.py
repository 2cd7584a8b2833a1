"""One mock instance: contract, clock, backend, faults and the dispatcher, wired together."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from wfcontracts.contract import Contract, load_contract
from wfcontracts.mock.backend import WorkflowsBackend
from wfcontracts.mock.clock import Clock, RealClock, VirtualClock
from wfcontracts.mock.control import handle_control
from wfcontracts.mock.faults import FaultSet
from wfcontracts.mock.http import Dispatcher, MockRequest, MockResponse, TokenPolicy
from wfcontracts.mock.transport import MockTransport

LOCAL_TOKEN = "wfcontracts-local-token"
LOCAL_READ_ONLY_TOKEN = "wfcontracts-local-read-only-token"


class MockService:
    """The stateful CDF Workflows mock; in-process via :meth:`transport`, served via app.py."""

    def __init__(
        self,
        contract: Contract | None = None,
        *,
        clock: Clock | None = None,
        faults: Iterable[str] = (),
        tokens: list[str] | None = None,
        task_latency_ms: int = 0,
    ) -> None:
        self.contract = contract or load_contract()
        self.clock: Clock = clock or RealClock()
        self.faults = FaultSet(list(faults))
        self.backend = WorkflowsBackend(self.clock, self.faults, task_latency_ms=task_latency_ms)
        self.dispatcher = Dispatcher(
            self.contract,
            self.backend,
            self.faults,
            TokenPolicy.parse(tokens),
            control=lambda request, action: handle_control(self, request, action),
        )
        self.backend.cdf_request = self.dispatcher.cdf_request

    @property
    def virtual_clock(self) -> bool:
        return isinstance(self.clock, VirtualClock)

    def handle(self, request: MockRequest) -> MockResponse:
        return self.dispatcher.handle(request)

    def reset(self) -> None:
        self.backend.reset()

    def advance(self, ms: int) -> None:
        """Move the virtual clock forward and let every running execution catch up."""
        if not isinstance(self.clock, VirtualClock):
            raise ValueError("the mock runs on real time; start it with a virtual clock")
        if ms < 0:
            raise ValueError("advanceMs must be >= 0")
        self.clock.advance(ms)
        self.backend.advance()

    def set_faults(self, names: list[str]) -> None:
        """Switch exactly ``names`` on; an unknown name raises and changes nothing."""
        names = FaultSet(names).names
        self.faults.clear()
        for name in names:
            self.faults.enable(name)

    def transport(self) -> httpx.BaseTransport:
        return MockTransport(self)


def embedded_mock(faults: Iterable[str] = ()) -> MockService:
    """The default target: virtual clock, the local tokens (read-write and read-only), faults."""
    tokens = [LOCAL_TOKEN, f"{LOCAL_READ_ONLY_TOKEN}:read"]
    return MockService(clock=VirtualClock(), faults=faults, tokens=tokens)
