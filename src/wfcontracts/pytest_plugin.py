"""The pytest plugin: options, markers and fixtures, a thin adapter over the runtime.

`pytest suites` accepts the same options as `wfcontracts verify`; the CLI runs pytest with this
plugin and reads the results it collects.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from wfcontracts.cassettes.recorder import (
    CassetteError,
    CorruptCassetteError,
    cassette_name,
    suite_of,
)
from wfcontracts.checks import CheckedSession, CheckFailure
from wfcontracts.checks.exchange import Exchange
from wfcontracts.errors import WfcontractsError
from wfcontracts.mock.service import MockService
from wfcontracts.options import RECORD_FLAG, RUN_FLAGS, TARGET_FLAGS, add_flags
from wfcontracts.reporting.allure_steps import attach_exchange, label_test
from wfcontracts.reporting.results import ResultCollector, outcome_unknown
from wfcontracts.reporting.results import suite_of as suite_of_nodeid
from wfcontracts.runtime import RunOptions, Runtime, open_runtime
from wfcontracts.scenarios.probes import Probe
from wfcontracts.target import WriteOutcomeUnknownError

MARKERS = {
    "live_safe": "safe to run against a live CDF project (creates only run-prefixed resources)",
    "mock_only": "needs the embedded mock (virtual clock, faults); skipped on other targets",
    "operation(operation_id)": "the contract operation a test is about (reports, coverage matrix)",
    "check(name)": "the check or scenario a test stands for in reports",
    "severity(level)": "critical | major | minor: how a failure of this test counts in the gate",
    "slow": "long-running (large fuzz budgets); deselect with -m 'not slow'",
}
COLLECTOR_KEY = pytest.StashKey[ResultCollector]()
RUNTIME_KEY = pytest.StashKey[Runtime]()
#: The runtime this plugin built (and so closes and cleans up); absent when one was handed in.
OWNED_KEY = pytest.StashKey[Runtime]()
#: xdist: the controller sends each worker its options under this key of `workerinput`, and
#: each worker sends back what it collected and created under this key of `workeroutput`.
WORKER_KEY = "wfcontracts"
#: Whether this (xdist controller) session heard from every worker it started.
WORKERS_KEY = pytest.StashKey[dict[str, bool]]()
#: Failed tests an xdist controller was told of: nodeid → message.
FAILED_ON_WORKERS_KEY = pytest.StashKey[dict[str, str]]()


class RuntimeHookspec:
    @pytest.hookspec(firstresult=True)
    def pytest_wfcontracts_runtime(self, config: pytest.Config) -> Runtime | None:
        """The runtime to verify against, when the caller built it (`wfcontracts verify`)."""
        return None


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(RuntimeHookspec)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wfcontracts", "wfcontracts: CDF Workflows contract verification")
    add_flags(group.addoption, (*TARGET_FLAGS, *RUN_FLAGS, RECORD_FLAG))
    group.addoption("--wfc-summary", default=None, help="write summary.json here (the CLI sets it)")


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    config.stash[COLLECTOR_KEY] = ResultCollector()


def runtime_of(config: pytest.Config) -> Runtime:
    """The run's one runtime: handed in by the caller, else built once from the options."""
    runtime = config.stash.get(RUNTIME_KEY, None)
    if runtime is not None:
        return runtime
    runtime = config.hook.pytest_wfcontracts_runtime(config=config)
    if runtime is None:
        sent = getattr(config, "workerinput", {}).get(WORKER_KEY)
        options = (
            RunOptions.from_wire(sent)
            if sent is not None
            else RunOptions.from_namespace(config.option)
        )
        try:
            runtime = open_runtime(options)
        except WfcontractsError as exc:
            pytest.exit(f"wfcontracts: {exc}", returncode=2)
        config.stash[OWNED_KEY] = runtime
    config.stash[RUNTIME_KEY] = runtime
    config.stash[COLLECTOR_KEY].bind(runtime)
    return runtime


def pytest_unconfigure(config: pytest.Config) -> None:
    runtime = config.stash.get(OWNED_KEY, None)
    if runtime is not None:
        runtime.close()


@pytest.fixture(scope="session")
def wfc_runtime(request: pytest.FixtureRequest) -> Runtime:
    """The target of this run: embedded mock by default, or the live URL given."""
    return runtime_of(request.config)


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
    if item.get_closest_marker("mock_only") is not None and runtime_of(item.config).mock is None:
        pytest.skip("mock_only: needs the embedded mock")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    exc = call.excinfo.value if call.excinfo else None
    lost = outcome_unknown(exc)
    if lost is not None and report.failed:
        # A write whose answer was lost judges nothing: inconclusive, i.e. skipped with why
        # (junit, progress lines and the summary then agree), and the run goes on.
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"inconclusive: {lost}")
    collector = item.config.stash.get(COLLECTOR_KEY, None)
    if collector is not None:
        collector.record(item, call, report)
        problem = environment_error(exc)
        if problem is not None and collector.environment_error is None:
            # The target is gone or the token revoked: every later test would only say so
            # again, slowly (retries). Stop (as -x does, so verify still writes every report);
            # the run is an environment error, exit 2.
            collector.environment_error = str(problem)
            item.session.shouldfail = f"wfcontracts: {problem}"
    return report


def environment_error(exc: BaseException | None) -> WfcontractsError | None:
    """The environment error (unreachable target, revoked token …) behind a test's exception;
    a write whose answer was lost is not one (only its test is inconclusive)."""
    if isinstance(exc, WriteOutcomeUnknownError):
        return None
    if isinstance(exc, WfcontractsError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = environment_error(inner)
            if found is not None:
                return found
    cause = exc.__cause__ or exc.__context__ if exc is not None else None
    return environment_error(cause) if cause is not None and cause is not exc else None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    collector = config.stash.get(COLLECTOR_KEY, None)
    if collector is None:
        return
    if hasattr(config, "workeroutput"):  # an xdist worker: the controller cleans and reports
        runtime = config.stash.get(RUNTIME_KEY, None)
        config.workeroutput[WORKER_KEY] = json.dumps(
            {"results": collector.export(), "runtime": runtime.export() if runtime else None}
        )
        return
    workers = config.stash.get(WORKERS_KEY, None)
    if workers is not None:
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED  # Ctrl-C: not a lost worker
        _absorb_workers(config, collector, {} if interrupted else workers)
    owned = config.stash.get(OWNED_KEY, None)
    if owned is not None:  # a runtime handed in is its owner's to clean
        collector.extra.update(cleanup=owned.clean_up(), retries=owned.retries())
    target = config.getoption("--wfc-summary", None)
    if target:
        # An xdist controller collects nothing itself: its workers' entries name the tests.
        nodeids = [item.nodeid for item in session.items] or [
            entry["nodeid"] for entry in collector.entries
        ]
        collector.write_summary(Path(target), nodeids)


# --- xdist: one runtime per worker; the controller merges, cleans up once and reports --------


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Each worker builds its runtime from the controller's options: the same target, seed and
    rate, a run id of its own under the run's prefix. Sent over the worker's channel, never
    through argv or a file (the options may hold the token)."""
    runtime = runtime_of(node.config)
    worker, workers = str(node.workerinput["workerid"]), int(node.workerinput["workercount"])
    node.workerinput[WORKER_KEY] = runtime.worker_options(worker, workers).to_wire()
    node.config.stash.setdefault(WORKERS_KEY, {})[worker] = False


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist load` for the suites, except that the lifecycle suite stays on one worker: on a
    real-time target its scenarios all start at once on the first lifecycle test (a run costs
    the longest scenario, not the sum), which only pays where every lifecycle test runs. Every
    other suite test is its own unit; nodeids stay as they are (unlike `loadgroup`'s). Tests
    outside the suites go by module, so a module-scoped fixture is built once."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SuiteScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            if not nodeid.startswith(("suites/", "_suites/")):
                return nodeid.split("::", 1)[0]
            return "lifecycle suite" if suite_of_nodeid(nodeid) == "lifecycle" else nodeid

    return SuiteScheduling(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object | None) -> None:
    """Keep what a finished worker collected and created, for the one summary and cleanup."""
    exported = getattr(node, "workeroutput", {}).get(WORKER_KEY)
    if exported is None:
        return
    config = node.config
    data = json.loads(exported)
    collector = config.stash[COLLECTOR_KEY]
    collector.absorb(data["results"])
    if data["runtime"] is not None:
        runtime_of(config).absorb(data["runtime"])
    config.stash[WORKERS_KEY][str(node.workerinput["workerid"])] = True


def _absorb_workers(
    config: pytest.Config, collector: ResultCollector, workers: dict[str, bool]
) -> None:
    """After every worker is down: a test that failed where no worker's collector saw it (the
    worker crashed mid-test) is an error of the run, never a silent gap in the summary."""
    for nodeid, message in config.stash.get(FAILED_ON_WORKERS_KEY, {}).items():
        collector.unreported(nodeid, message)
    lost = sorted(worker for worker, reported in workers.items() if not reported)
    if lost and collector.environment_error is None:
        collector.environment_error = (
            f"xdist worker(s) {', '.join(lost)} ended without reporting their results"
        )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """On an xdist controller: remember failures, to tell a crashed worker's tests (above)."""
    if report.failed and getattr(report, "node", None) is not None:
        config = report.node.config
        text = " ".join(str(report.longreprtext).split())[-300:]
        failed = config.stash.setdefault(FAILED_ON_WORKERS_KEY, {})
        failed[report.nodeid] = text or "the test failed"


# --- cassettes: --record-mode and --replay (the lifecycle suite) ---------------------------


@pytest.fixture
def wfc_cassette(wfc_runtime: Runtime, request: pytest.FixtureRequest) -> Iterator[object | None]:
    """This test's cassette, `<cassettes>/<suite>/<test>.yaml`, under --replay or --record-mode.

    A no-op (None) otherwise. In replay every recorded interaction must be used.
    """
    recorder = wfc_runtime.recorder
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
