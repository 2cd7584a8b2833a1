"""One verify run's live objects: the target's client, the mock (when embedded), the run prefix.

Both adapters (CLI and pytest plugin) build a :class:`Runtime` from the same options, so a
suite never asks which target it runs on.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from wfcontracts.checks import CheckContext, CheckedSession
from wfcontracts.checks.session import Observer
from wfcontracts.contract import Contract, load_contract
from wfcontracts.mock.service import (
    LOCAL_READ_ONLY_TOKEN,
    LOCAL_TOKEN,
    MockService,
    embedded_mock,
)
from wfcontracts.target.client import build_client, preflight
from wfcontracts.target.config import TargetConfig, resolve_target

DEFAULT_ASYNC_FUNCTION = "wfcontracts-async-noop"
RUN_PREFIX_ENV = "WFCONTRACTS_RUN_ID"


@dataclass
class RunOptions:
    """Everything a verify run is told by flags or the environment."""

    base_url: str | None = None
    project: str | None = None
    token: str | None = None
    replay: bool = False
    record_mode: str = "none"
    seed: int | None = None
    max_examples: int = 25
    async_function_external_id: str = DEFAULT_ASYNC_FUNCTION
    contract_path: Path | None = None
    faults: tuple[str, ...] = ()
    max_requests_per_second: float | None = None
    run_id: str | None = None
    # A token with workflowOrchestrationAcl:READ only, to probe that writes are refused.
    read_only_token: str | None = None


@dataclass
class Runtime:
    options: RunOptions
    config: TargetConfig
    contract: Contract
    client: httpx.Client
    mock: MockService | None
    run_id: str
    context: CheckContext
    observers: list[Observer] = field(default_factory=list)

    @property
    def run_prefix(self) -> str:
        return f"wfcontracts-{self.run_id}"

    @property
    def is_live(self) -> bool:
        return self.mock is None and self.config.kind == "live"

    @property
    def secrets(self) -> tuple[str, ...]:
        extra = (self.read_only_token,) if self.read_only_token else ()
        return (*self.config.secrets, *extra)

    @property
    def read_only_token(self) -> str | None:
        if self.options.read_only_token:
            return self.options.read_only_token
        return LOCAL_READ_ONLY_TOKEN if self.mock is not None else None

    def session(self, checks: Iterable[str] | None = None) -> CheckedSession:
        return CheckedSession(self.client, self.context, checks=checks, observers=self.observers)

    def close(self) -> None:
        self.client.close()


def options_from_config(config: pytest.Config) -> RunOptions:
    """RunOptions from the plugin's command-line options (`pytest suites --base-url …`)."""
    return RunOptions(
        base_url=config.getoption("--base-url"),
        project=config.getoption("--project"),
        token=config.getoption("--token"),
        replay=bool(config.getoption("--replay")),
        record_mode=str(config.getoption("--record-mode")),
        seed=config.getoption("--seed"),
        max_examples=int(config.getoption("--max-examples")),
        async_function_external_id=str(config.getoption("--async-function-external-id")),
        faults=tuple(config.getoption("--fault") or ()),
        max_requests_per_second=config.getoption("--max-rps"),
        read_only_token=config.getoption("--read-only-token"),
    )


# Where a pytest session keeps its runtime: set by the CLI (its target) or built by the plugin.
RUNTIME_KEY = pytest.StashKey[Runtime]()


def resolve_config(options: RunOptions) -> TargetConfig:
    return resolve_target(
        base_url=options.base_url,
        project=options.project,
        token=options.token,
        replay=options.replay,
    )


def build_runtime(options: RunOptions, *, check_target: bool = True) -> Runtime:
    """Resolve the target and build its client; a live target gets a preflight request."""
    contract = load_contract(options.contract_path)
    config = resolve_config(options)
    mock: MockService | None = None
    transport: httpx.BaseTransport | None = None
    if config.kind == "mock":
        mock = embedded_mock(options.faults)
        transport = mock.transport()
        if config.token is None:
            config = _with_token(config, LOCAL_TOKEN)
    client = build_client(
        config, transport=transport, max_requests_per_second=request_rate(options, config)
    )
    if config.kind == "live" and check_target:
        preflight(client)
    return Runtime(
        options=options,
        config=config,
        contract=contract,
        client=client,
        mock=mock,
        run_id=options.run_id or _run_id(config),
        context=CheckContext(contract),
    )


LIVE_DEFAULT_RPS = 10.0


def request_rate(options: RunOptions, config: TargetConfig) -> float | None:
    """Requests per second allowed against the target: bounded by default on remote hosts.

    A loopback server is the user's own (e.g. `wfcontracts mock serve`); anything else is a
    shared CDF project, where a run must not behave like a load test.
    """
    if options.max_requests_per_second is not None:
        return options.max_requests_per_second if options.max_requests_per_second > 0 else None
    if config.kind != "live" or config.base_url is None:
        return None
    host = httpx.URL(config.base_url).host
    return None if host in ("localhost", "::1") or host.startswith("127.") else LIVE_DEFAULT_RPS


def _with_token(config: TargetConfig, token: str) -> TargetConfig:
    from dataclasses import replace

    return replace(config, token=token)


def _run_id(config: TargetConfig) -> str:
    """Stable under replay (cassettes must match), unique per live run and per xdist worker."""
    if config.kind == "replay":
        return "rec"
    explicit = os.environ.get(RUN_PREFIX_ENV)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    base = explicit or secrets.token_hex(4)
    return f"{base}{worker}" if worker else base


def describe(runtime: Runtime) -> dict[str, Any]:
    """The target as reports show it: never a credential."""
    return {
        "kind": runtime.config.kind,
        "baseUrl": runtime.config.base_url,
        "project": runtime.config.project,
    }
