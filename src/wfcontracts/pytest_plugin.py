"""The pytest plugin: options, markers and fixtures, a thin adapter over the runtime.

`pytest suites` accepts the same options as `wfcontracts verify`; the CLI runs pytest with this
plugin and reads the results it collects.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from wfcontracts.checks import CheckedSession, CheckFailure
from wfcontracts.checks.exchange import Exchange
from wfcontracts.errors import WfcontractsError
from wfcontracts.mock.service import MockService
from wfcontracts.reporting.allure_steps import attach_exchange, label_test
from wfcontracts.reporting.results import ResultCollector
from wfcontracts.runtime import (
    DEFAULT_ASYNC_FUNCTION,
    RUNTIME_KEY,
    Runtime,
    build_runtime,
)
from wfcontracts.runtime import options_from_config as options_from
from wfcontracts.scenarios.cleanup import delete_run_resources
from wfcontracts.scenarios.probes import Probe

MARKERS = {
    "live_safe": "safe to run against a live CDF project (creates only run-prefixed resources)",
    "mock_only": "needs the embedded mock (virtual clock, faults); skipped on other targets",
    "operation(operation_id)": "the contract operation a test is about (reports, coverage matrix)",
    "check(name)": "the check or scenario a test stands for in reports",
    "severity(level)": "critical | major | minor: how a failure of this test counts in the gate",
    "slow": "long-running (large fuzz budgets); deselect with -m 'not slow'",
}
RECORD_MODES = ("none", "once", "new_episodes", "all")
COLLECTOR_KEY = pytest.StashKey[ResultCollector]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wfcontracts", "wfcontracts: CDF Workflows contract verification")
    group.addoption(
        "--base-url",
        default=None,
        help="live target URL (default: embedded mock; env CDF_URL / CDF_CLUSTER)",
    )
    group.addoption("--project", default=None, help="CDF project (env CDF_PROJECT)")
    group.addoption(
        "--token", default=None, help="bearer token (env CDF_TOKEN; or IDP_* client credentials)"
    )
    group.addoption(
        "--replay",
        action="store_true",
        default=False,
        help="run lifecycle scenarios from cassettes/, offline",
    )
    group.addoption(
        "--record-mode",
        default="none",
        choices=RECORD_MODES,
        help="vcr record mode for cassettes (default: none)",
    )
    group.addoption("--seed", type=int, default=None, help="seed for generated data and fuzzing")
    group.addoption("--max-examples", type=int, default=25, help="fuzzing budget per operation")
    group.addoption(
        "--async-function-external-id",
        default=DEFAULT_ASYNC_FUNCTION,
        help="function used by probe workflows' waiting tasks",
    )
    group.addoption(
        "--fault",
        action="append",
        default=[],
        help="named mock fault to switch on (embedded mock only)",
    )
    group.addoption(
        "--max-rps", type=float, default=None, help="bound the request rate against the target"
    )
    group.addoption(
        "--read-only-token",
        default=os.environ.get("CDF_READ_ONLY_TOKEN"),
        help="a token with READ access only: writes must be refused (env CDF_READ_ONLY_TOKEN)",
    )
    group.addoption("--wfc-summary", default=None, help="write summary.json here (the CLI sets it)")


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    config.stash[COLLECTOR_KEY] = ResultCollector()


@pytest.fixture(scope="session")
def wfc_runtime(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    """The target of this run: embedded mock by default, or the live URL given."""
    runtime = request.config.stash.get(RUNTIME_KEY, None)
    owned = runtime is None
    if runtime is None:
        try:
            runtime = build_runtime(options_from(request.config))
        except WfcontractsError as exc:
            pytest.exit(f"wfcontracts: {exc}", returncode=2)
        request.config.stash[RUNTIME_KEY] = runtime
    collector = request.config.stash[COLLECTOR_KEY]
    collector.bind(runtime)
    try:
        yield runtime
    finally:
        if runtime.is_live:
            delete_run_resources(runtime)
        if owned:
            runtime.close()


@pytest.fixture
def wfc_session(wfc_runtime: Runtime, request: pytest.FixtureRequest) -> CheckedSession:
    """A session whose exchanges are recorded for this test's report entry."""
    session = wfc_runtime.session()
    collector = request.config.stash[COLLECTOR_KEY]
    labelled: list[bool] = []

    def observe(exchange: Exchange, failures: list[CheckFailure]) -> None:
        collector.observe(request.node.nodeid, exchange, failures)
        if not labelled:
            labelled.append(True)
            _label(request.node, exchange)
        attach_exchange(exchange, failures, wfc_runtime.secrets)

    session.observers.append(observe)
    return session


def _label(item: pytest.Item, exchange: Exchange) -> None:
    """Allure labels: epic = API area, feature = operation, story = check or scenario."""

    def arg(name: str) -> str | None:
        marker = item.get_closest_marker(name)
        return str(marker.args[0]) if marker and marker.args else None

    operation_id = arg("operation") or exchange.operation.operation_id
    label_test(
        area=_area(item, operation_id, exchange),
        operation=operation_id,
        story=arg("check") or item.name.split("[")[0],
        severity=arg("severity") or "major",
    )


def _area(item: pytest.Item, operation_id: str, exchange: Exchange) -> str:
    """The API area of an operation: its first tag in the contract."""
    runtime = item.config.stash.get(RUNTIME_KEY, None)
    operations = runtime.contract.operations if runtime else {}
    operation = operations.get(operation_id, exchange.operation)
    return operation.tags[0] if operation.tags else "Workflows API"


@pytest.fixture
def wfc_mock(wfc_runtime: Runtime) -> MockService:
    """The embedded mock (virtual clock, faults); tests using it are mock-only."""
    if wfc_runtime.mock is None:
        pytest.skip("needs the embedded mock")
    return wfc_runtime.mock


@pytest.fixture
def wfc_probe(wfc_runtime: Runtime, wfc_session: CheckedSession) -> Probe:
    """Probe-workflow helpers (upsert, run, poll, cancel, retry) over the checked session."""
    return Probe(wfc_runtime, wfc_session)


@pytest.fixture
def run_prefix(wfc_runtime: Runtime) -> str:
    """`wfcontracts-<run id>`: every resource a run creates starts with it."""
    return wfc_runtime.run_prefix


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("mock_only") is None:
        return
    config = item.config
    runtime = config.stash.get(RUNTIME_KEY, None)
    if runtime is not None:
        embedded = runtime.mock is not None
    else:  # the runtime is built lazily: judge by the options that will build it
        options = options_from(config)
        embedded = not (
            options.base_url
            or options.replay
            or os.environ.get("CDF_URL")
            or os.environ.get("CDF_CLUSTER")
        )
    if not embedded:
        pytest.skip("mock_only: needs the embedded mock")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    collector = item.config.stash.get(COLLECTOR_KEY, None)
    if collector is not None:
        collector.record(item, call, report)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    collector = session.config.stash.get(COLLECTOR_KEY, None)
    target = session.config.getoption("--wfc-summary", None)
    if collector is not None and target:
        collector.write_summary(Path(target), [item.nodeid for item in session.items])


# --- cassettes: --record-mode and --replay (the lifecycle suite) ---------------------------
# Appended glue; the recorder itself is wfcontracts.cassettes.recorder.

from wfcontracts.cassettes.recorder import (  # noqa: E402
    CassetteError,
    CorruptCassetteError,
    Recorder,
    build_cassette_runtime,
    cassette_name,
    suite_of,
)

RECORDER_KEY = pytest.StashKey[Recorder]()
CASSETTE_RUNTIME_KEY = pytest.StashKey[Runtime]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under --replay or a recording --record-mode, build the cassette runtime (run id "rec")."""
    config = session.config
    options = options_from(config)
    if not options.replay and options.record_mode == "none":
        return
    try:
        runtime, recorder = build_cassette_runtime(options, config.rootpath / "cassettes")
    except WfcontractsError as exc:
        pytest.exit(f"wfcontracts: {exc}", returncode=2)
    config.stash[RECORDER_KEY] = recorder
    if RUNTIME_KEY not in config.stash:
        config.stash[RUNTIME_KEY] = runtime
        config.stash[CASSETTE_RUNTIME_KEY] = runtime
    else:
        runtime.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    runtime = config.stash.get(CASSETTE_RUNTIME_KEY, None)
    if runtime is not None:
        runtime.close()


@pytest.fixture
def wfc_cassette(wfc_runtime: Runtime, request: pytest.FixtureRequest) -> Iterator[object | None]:
    """This test's cassette, `cassettes/<suite>/<test>.yaml`, under --replay or --record-mode.

    A no-op (None) otherwise. In replay every recorded interaction must be used.
    """
    recorder = request.config.stash.get(RECORDER_KEY, None)
    if recorder is None:
        yield None
        return
    path = recorder.path(
        suite_of(request.node.path, request.config.rootpath), cassette_name(request.node.name)
    )
    failed_before = request.session.testsfailed
    try:
        with recorder.use(path) as cassette:
            yield cassette
            if request.session.testsfailed == failed_before:
                recorder.verify_all_played(cassette)
    except CorruptCassetteError as exc:
        pytest.exit(f"wfcontracts: {exc}", returncode=2)
    except CassetteError as exc:
        pytest.fail(str(exc), pytrace=False)
