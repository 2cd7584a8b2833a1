"""One verify run's live objects: the target's client, the mock (when embedded), the run prefix.

Resolved once from flags and environment (:class:`RunOptions`) into a :class:`Runtime`; both
adapters (CLI and pytest plugin) build it the same way and every suite — contract, lifecycle,
fuzz, compat — reads its target, auth, rate limit and seed from there, so a suite never asks
which target it runs on.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import httpx

from wfcontracts.checks import CheckContext, CheckedSession
from wfcontracts.checks.executions import RUN_PREFIX
from wfcontracts.checks.session import Observer
from wfcontracts.contract import Contract, load_contract
from wfcontracts.mock.service import (
    LOCAL_READ_ONLY_TOKEN,
    LOCAL_TOKEN,
    MockService,
    embedded_mock,
)
from wfcontracts.options import (
    DEFAULT_ASYNC_FUNCTION,
    DEFAULT_DEADLINE_S,
    DEFAULT_LIVE_FUZZ_SECONDS,
    DEFAULT_MAX_EXAMPLES,
)
from wfcontracts.scenarios.cleanup import cleanup
from wfcontracts.shipped import package_dir, shipped_path
from wfcontracts.target.client import (
    RateLimitedTransport,
    TokenBucket,
    build_client,
    preflight,
    retry_stats,
)
from wfcontracts.target.config import TargetConfig, TargetDefaults, resolve_target
from wfcontracts.target.ledger import ResourceLedger
from wfcontracts.target.retry import RetryStats

RUN_PREFIX_ENV = "WFCONTRACTS_RUN_ID"
LIVE_DEFAULT_RPS = 10.0

__all__ = ["DEFAULT_ASYNC_FUNCTION", "RunOptions", "Runtime", "build_runtime", "open_runtime"]


@dataclass
class RunOptions:
    """Everything a verify run is told by flags or the environment."""

    base_url: str | None = None
    project: str | None = None
    token: str | None = None
    replay: bool = False
    record_mode: str = "none"
    seed: int | None = None
    max_examples: int = DEFAULT_MAX_EXAMPLES
    async_function_external_id: str = DEFAULT_ASYNC_FUNCTION
    contract_path: Path | None = None
    faults: tuple[str, ...] = ()
    #: The embedded mock's profile (strict, lenient, alternative).
    profile: str = "strict"
    max_requests_per_second: float | None = None
    run_id: str | None = None
    # A token with workflowOrchestrationAcl:READ only, to probe that writes are refused.
    read_only_token: str | None = None
    #: Wall-clock seconds a scenario waits for its own write to become visible.
    deadline_s: float = DEFAULT_DEADLINE_S
    #: Wall-clock budget of the fuzz suite (None: the default for the target kind).
    fuzz_seconds: float | None = None
    #: Where failure artefacts (fuzz cassettes) go: the run's report directory.
    report_dir: Path = Path("reports")
    #: Cassettes to replay or record into (None: ./cassettes, else the shipped ones).
    cassettes_dir: Path | None = None
    #: The target named by the project's config file (wfcontracts.toml): below flags and env.
    file_defaults: TargetDefaults | None = None
    #: How many xdist workers share the run (set by the controller, not a flag): the fuzz
    #: suite's wall-clock budget holds for the run, so each worker's tests get that much more.
    workers: int = 1

    @classmethod
    def from_namespace(cls, namespace: Any, **overrides: Any) -> RunOptions:
        """Options from an adapter's parsed flags (argparse namespace or pytest's
        ``config.option``): every flag's ``dest`` is the field it fills."""
        values: dict[str, Any] = {}
        for spec in fields(cls):
            if hasattr(namespace, spec.name):
                values[spec.name] = getattr(namespace, spec.name)
        if "faults" in values:
            values["faults"] = tuple(values["faults"] or ())
        values.update(overrides)
        return cls(**values)

    @property
    def recording(self) -> bool:
        return not self.replay and self.record_mode != "none"

    def to_wire(self) -> dict[str, Any]:
        """Plain data for an xdist worker (sent over its channel, never written to disk: it may
        hold the token)."""
        values = {spec.name: getattr(self, spec.name) for spec in fields(self)}
        values["faults"] = list(self.faults)
        for name in ("contract_path", "report_dir", "cassettes_dir"):
            values[name] = None if values[name] is None else str(values[name])
        values["file_defaults"] = None if self.file_defaults is None else vars(self.file_defaults)
        return values

    @classmethod
    def from_wire(cls, values: Mapping[str, Any]) -> RunOptions:
        """The options :meth:`to_wire` sent."""
        data = dict(values)
        data["faults"] = tuple(data["faults"])
        for name in ("contract_path", "report_dir", "cassettes_dir"):
            data[name] = None if data[name] is None else Path(data[name])
        if data["file_defaults"] is not None:
            data["file_defaults"] = TargetDefaults(**data["file_defaults"])
        return cls(**data)


@dataclass
class Runtime:
    options: RunOptions
    config: TargetConfig
    contract: Contract
    client: httpx.Client
    mock: MockService | None
    run_id: str
    context: CheckContext
    #: The seed of this run: chosen when not given, so every run can be reproduced.
    seed: int = 0
    #: Requests per second allowed against the target (None: unbounded), one bucket shared by
    #: every client of the run (the suites' httpx client and the fuzzer's session).
    rate: float | None = None
    rate_limiter: TokenBucket | None = None
    #: The cassette recorder of a replaying or recording run.
    recorder: Any = None
    #: Every resource the run created (recorded as the target answers): cleanup's list.
    ledger: ResourceLedger = field(default_factory=ResourceLedger)
    observers: list[Observer] = field(default_factory=list)
    #: Where long waits say what they wait for, so a paced run never looks hung.
    progress: Callable[[str], None] = field(default_factory=lambda: stderr_lines())
    #: The retries of the run's xdist workers (their runtimes' counts, absorbed at the end).
    worker_retries: RetryStats | None = None

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

    @property
    def fuzz_seconds(self) -> float | None:
        """The fuzz suite's time budget: as given, else bounded on live targets only."""
        if self.options.fuzz_seconds is not None:
            return self.options.fuzz_seconds
        return DEFAULT_LIVE_FUZZ_SECONDS if self.is_live else None

    def wsgi_app(self) -> Any:
        """The embedded mock as a WSGI app (how schemathesis reaches it in-process)."""
        from wfcontracts.mock.wsgi import MockWsgiApp

        assert self.mock is not None, "only the embedded mock runs in-process"
        return MockWsgiApp(self.mock)

    def session(self, checks: Iterable[str] | None = None) -> CheckedSession:
        return CheckedSession(self.client, self.context, checks=checks, observers=self.observers)

    def clean_up(self) -> dict[str, Any] | None:
        """Delete what the run created on a live target (never raises); what it did, and
        what it could not, for the summary. None where nothing needs cleaning."""
        if not self.is_live:
            return None
        report = cleanup(self.client, self.ledger, self.run_prefix)
        return report.to_dict()

    def retries(self) -> dict[str, Any] | None:
        """How often requests were retried (transient faults), for the summary."""
        stats = retry_stats(self.client)
        if self.worker_retries is None:
            return stats.to_dict() if stats is not None else None
        merged = RetryStats()
        for counts in (self.worker_retries, stats):
            if counts is not None:
                merged.absorb(counts.to_dict())
        return merged.to_dict()

    # -- xdist: one runtime per worker, one cleanup and one summary by the controller ------------

    def worker_options(self, worker_id: str, workers: int) -> RunOptions:
        """What one of `workers` builds its own runtime from: this run's seed, a share of its
        rate bound (the target sees at most the run's rate, however many workers), and a run id
        of its own under this run's prefix (so the controller's one cleanup sweeps it).
        Cassette runs keep their recorded run id: the cassettes must match."""
        cassettes = self.options.replay or self.options.recording
        # "<run>gw1w": the closing letter keeps one worker's prefix from starting another's
        # (gw1 / gw10), so no worker takes another's resources for its own.
        run_id = self.run_id if cassettes else f"{self.run_id}{worker_id}w"
        rate = self.rate / workers if self.rate else self.options.max_requests_per_second
        return replace(
            self.options,
            seed=self.seed,
            run_id=run_id,
            max_requests_per_second=rate,
            workers=workers,
        )

    def export(self) -> dict[str, Any]:
        """What a worker's runtime hands its controller: created resources and retry counts."""
        return {"ledger": self.ledger.records(), "retries": self.retries()}

    def absorb(self, exported: Mapping[str, Any]) -> None:
        """Take in a worker's :meth:`export` before the one cleanup and summary."""
        self.ledger.absorb(exported.get("ledger") or {})
        if exported.get("retries"):
            if self.worker_retries is None:
                self.worker_retries = RetryStats()
            self.worker_retries.absorb(exported["retries"])

    def close(self) -> None:
        self.client.close()


def stderr_lines() -> Callable[[str], None]:
    """Lines to the process's stderr as it is now: a copy of fd 2, so pytest's capture (which
    replaces fd 2 while a test runs) does not swallow them."""
    try:
        fd = os.dup(2)
    except OSError:
        return lambda _line: None

    def write(line: str) -> None:
        try:
            os.write(fd, (line + "\n").encode("utf-8", "replace"))
        except OSError:
            pass

    return write


def silent(_line: str) -> None:
    """A progress sink that says nothing (`--quiet`)."""


def resolve_config(options: RunOptions, env: Mapping[str, str] | None = None) -> TargetConfig:
    return resolve_target(
        base_url=options.base_url,
        project=options.project,
        token=options.token,
        replay=options.replay,
        defaults=options.file_defaults,
        **({"env": env} if env is not None else {}),
    )


def build_runtime(options: RunOptions, *, check_target: bool = True) -> Runtime:
    """Resolve the target and build its client; a live target gets a preflight request."""
    contract = load_contract(options.contract_path)
    config = resolve_config(options)
    mock: MockService | None = None
    transport: httpx.BaseTransport | None = None
    if config.kind == "mock":
        mock = embedded_mock(options.faults, profile=options.profile)
        transport = mock.transport()
        if config.token is None:
            config = replace(config, token=LOCAL_TOKEN)
    rate = request_rate(options, config)
    # No burst: a shared project sees at most `rate` requests in any second.
    limiter = TokenBucket(rate, capacity=1.0) if rate else None
    if limiter is not None:
        transport = RateLimitedTransport(transport or httpx.HTTPTransport(), limiter)
    client = build_client(config, transport=transport)
    ledger = ResourceLedger()
    ledger.install(client)
    if config.kind == "live" and check_target:
        preflight(client)
    run_id = options.run_id or _run_id(config)
    context = CheckContext(contract)
    if config.kind == "live":
        # A shared project: lifecycle and echoes are judged only on executions the run created
        # (the embedded mock holds nothing else, so there every execution is judged).
        context.extras[RUN_PREFIX] = f"wfcontracts-{run_id}"
    return Runtime(
        options=options,
        config=config,
        contract=contract,
        client=client,
        mock=mock,
        run_id=run_id,
        context=context,
        seed=options.seed if options.seed is not None else secrets.randbelow(2**31),
        rate=rate,
        rate_limiter=limiter,
        ledger=ledger,
    )


def open_runtime(options: RunOptions) -> Runtime:
    """The runtime of a run: cassette runs (replay, recording) carry their recorder."""
    if not options.replay and not options.recording:
        return build_runtime(options)
    from wfcontracts.cassettes.recorder import build_cassette_runtime

    runtime, recorder = build_cassette_runtime(options, cassettes_dir(options))
    runtime.recorder = recorder
    return runtime


def cassettes_dir(options: RunOptions) -> Path:
    """Where cassettes are read and written: --cassettes (or the config file's), else
    ./cassettes of the current directory (recording always writes there, never into the
    package), else the shipped ones."""
    if options.cassettes_dir is not None:
        return options.cassettes_dir
    local = Path.cwd() / "cassettes"
    if options.recording or local.is_dir():
        return local
    return shipped_cassettes()


def shipped_cassettes() -> Path:
    """The cassettes wfcontracts ships: packaged in the wheel, or beside src/ in a checkout."""
    return shipped_path("_cassettes", "cassettes") or package_dir() / "_cassettes"


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


def _run_id(config: TargetConfig) -> str:
    """Stable under replay (cassettes must match), unique per live run (xdist workers get theirs
    from the controller: :meth:`Runtime.worker_options`)."""
    if config.kind == "replay":
        return "rec"
    return os.environ.get(RUN_PREFIX_ENV) or secrets.token_hex(4)
