"""The verify engine: run the suites through pytest in-process against one runtime, then write
summary.json, the gate, index.html and the Allure environment. The CLI is a thin adapter."""

from __future__ import annotations

import io
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import pytest

from wfcontracts.errors import WfcontractsError
from wfcontracts.options import OFFLINE_SUITES, SUITES
from wfcontracts.redact import mask_known
from wfcontracts.reporting.allure_env import write_environment
from wfcontracts.reporting.gate import GatePolicy, evaluate_gate
from wfcontracts.reporting.junit import mark_errors
from wfcontracts.reporting.results import suite_of
from wfcontracts.reporting.writer import load_summary, write_report, write_summary
from wfcontracts.runtime import (
    RunOptions,
    Runtime,
    cassettes_dir,
    open_runtime,
    resolve_config,
    silent,
)
from wfcontracts.shipped import shipped_path

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE = 0, 1, 2


class NoSuitesError(WfcontractsError):
    pass


def suites_dir() -> Path:
    """The product's suites: packaged in the wheel (`wfcontracts/_suites`), or beside src/ in a
    checkout."""
    found = shipped_path("_suites", "suites")
    if found is None:
        raise NoSuitesError(
            "cannot find the suites of wfcontracts (wfcontracts/_suites in the installed "
            "package): reinstall wfcontracts"
        )
    return found


@dataclass
class VerifyRequest:
    options: RunOptions
    suites: Sequence[str] = ()
    report_dir: Path = Path("reports")
    policy: GatePolicy = field(default_factory=GatePolicy)
    history_dir: Path | None = None
    extra_pytest_args: Sequence[str] = ()
    quiet: bool = False
    #: Stop at the first failure that fails the gate (selftest: one kill is enough).
    exitfirst: bool = False
    #: pytest-xdist workers (1: in this process); each builds its own runtime.
    jobs: int = 1


@dataclass
class VerifyResult:
    exit_code: int
    summary: dict[str, Any]
    pytest_exit: int
    #: Checks that errored (harness or environment): the run proves nothing, exit 2.
    errors: list[str] = field(default_factory=list)


class _InjectRuntime:
    """Hands the already-built runtime to the plugin, so every suite uses the CLI's target."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def pytest_wfcontracts_runtime(self, config: pytest.Config) -> Runtime:
        return self.runtime


class _Progress:
    """One line per suite · operation as each suite finishes: what a CI log reader wants to
    see. A suite is done when all its collected tests are (under xdist its tests finish
    interleaved with other suites', so a suite change says nothing)."""

    def __init__(self, out: TextIO) -> None:
        self.rows: dict[str, dict[str, dict[str, int]]] = {}  # suite → name → outcome → n
        self.pending: dict[str, set[str]] = {}  # suite → nodeids not finished yet
        self.out = out

    exit_message: str | None = None

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # pytest.exit(...) from the plugin (corrupt cassette, bad target) lands here
        self.exit_message = str(getattr(excinfo.value, "msg", "") or excinfo.value)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:  # pytest's own terminal is off: say what broke collection
            self.out.write(f"collection error in {report.nodeid}:\n{report.longreprtext}\n")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._expect(item.nodeid for item in session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        if not self.pending:  # every worker collects the same tests: the first one says
            self._expect(ids)

    def _expect(self, nodeids: Iterable[str]) -> None:
        for nodeid in nodeids:
            self.pending.setdefault(suite_of(nodeid), set()).add(nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        suite = suite_of(report.nodeid)
        if report.when == "call" or report.skipped or report.failed:
            props = dict(report.user_properties)
            # Tests about no single operation (scenarios, drift) are named by their check.
            operation = props.get("operation")
            name = str(operation if operation not in (None, "-") else props.get("check", "-"))
            counts = self.rows.setdefault(suite, {}).setdefault(name, {})
            outcome = "passed" if report.passed else "skipped" if report.skipped else "failed"
            counts[outcome] = counts.get(outcome, 0) + 1
        if report.when == "teardown":
            waiting = self.pending.get(suite)
            if waiting is not None:
                waiting.discard(report.nodeid)
                if not waiting:
                    self._flush(suite)

    def pytest_sessionfinish(self) -> None:
        for suite in list(self.rows):
            self._flush(suite)

    def _flush(self, suite: str) -> None:
        """One row per operation of a finished suite: each named once."""
        for name, counts in self.rows.pop(suite, {}).items():
            text = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
            self.out.write(f"  {suite:<10} {name:<40} {text}\n")
        self.out.flush()


class _StopAtFirstVerdict:
    """`--exitfirst`: stop at the first test whose failure fails the gate (or that errored) —
    a minor failure only warns, so it must not end the run early."""

    def __init__(self, policy: GatePolicy) -> None:
        self.policy = policy
        self.session: pytest.Session | None = None
        self.stopped = False

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not report.failed or self.session is None:
            return
        severity = str(dict(report.user_properties).get("severity", "major"))
        if self.policy.fails(severity):
            reason = f"first gating failure: {report.nodeid}"
            self.stopped = True
            self.session.shouldfail = reason
            # An xdist controller stops its workers on its own flag, not the session's.
            distributed = self.session.config.pluginmanager.getplugin("dsession")
            if distributed is not None and not distributed.shouldstop:
                distributed.shouldstop = reason


def selected_suites(request: VerifyRequest) -> list[str]:
    chosen = list(request.suites) or list(OFFLINE_SUITES if request.options.replay else SUITES)
    unknown = [s for s in chosen if s not in SUITES]
    if unknown:
        raise WfcontractsError(f"unknown suite {unknown[0]!r}; choose from {', '.join(SUITES)}")
    return chosen


def pytest_args(request: VerifyRequest, suites: list[str]) -> list[str]:
    """pytest's command line: the suites and where reports go. The target and every run option
    travel in the runtime handed to the plugin, never through argv."""
    root = suites_dir()
    report_dir = request.report_dir
    args = [str(root / suite) for suite in suites]
    args += [
        "-p", "no:cacheprovider",
        "-c", str(_ini_file()),
        # Node ids stay `<suites dir>/<suite>/…` wherever the suites are installed; no conftest
        # above the suites (a checkout's, a user's) is loaded: a wheel runs what a checkout runs.
        "--rootdir", str(root.parent),
        "--confcutdir", str(root),
        "-o", "junit_family=xunit2",
        "-o", "junit_suite_name=wfcontracts",
        f"--junitxml={report_dir / 'junit.xml'}",
        # Cleaned by verify, not by allure: under xdist every worker would clean it again.
        f"--alluredir={report_dir / 'allure-results'}",
        f"--wfc-summary={report_dir / 'summary.json'}",
        "-p", "no:terminal",
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        # Long campaigns are the harness's own slow tests; a release budget is --max-examples.
        "-m", "not slow",
    ]  # fmt: skip
    if "fuzz" not in suites:  # their import alone costs seconds of a replay's budget
        args += ["-p", "no:schemathesis", "-p", "no:hypothesispytest"]
    if request.jobs > 1:  # load-balanced: a worker takes the next test as it frees up
        args += ["-p", "xdist", "-n", str(request.jobs), "--dist", "load"]
    else:
        args += ["-p", "no:xdist", "-p", "no:xdist.looponfail"]
    args += ["-p", "no:anyio"]
    return args + list(request.extra_pytest_args)


def _ini_file() -> Path:
    """An ini of our own: the project's addopts assume pytest's terminal, which verify replaces."""
    path = Path(tempfile.gettempdir()) / "wfcontracts-verify.ini"
    if not path.exists():
        path.write_text("[pytest]\naddopts = --strict-markers\nxfail_strict = true\n")
    return path


def announce(options: RunOptions, suites: list[str]) -> str:
    """What is about to be verified, before any request: target, project, suites, seed."""
    config = resolve_config(options)
    project = config.project
    if config.kind == "mock":
        target = "the embedded mock"
    elif config.kind == "replay":
        from wfcontracts.cassettes.recorder import recorded_target

        directory = cassettes_dir(options)
        recorded = recorded_target(directory)
        project = options.project or (recorded.project if recorded else None) or project
        target = f"recorded cassettes in {directory}"
    else:
        target = config.api_root
    return (
        f"wfcontracts: verifying {target} (project {project}) · suites "
        f"{', '.join(suites)} · seed {options.seed}"
    )


def verify(request: VerifyRequest, out: TextIO | None = None) -> VerifyResult:
    """Run the suites; WfcontractsError (exit 2) escapes for the adapter to print."""
    suites = selected_suites(request)
    options = request.options
    if options.seed is None:  # chosen here so it is announced, stored and reproducible
        options = replace(options, seed=secrets.randbelow(2**31))
    options = replace(options, report_dir=request.report_dir)
    stream = out or sys.stdout
    if not request.quiet:
        stream.write(announce(options, suites) + "\n")
        stream.flush()
    runtime = _runtime_for(options)
    if request.quiet:
        runtime.progress = silent
    request.report_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(request.report_dir / "allure-results", ignore_errors=True)
    (request.report_dir / "summary.json").unlink(missing_ok=True)
    progress = _Progress(io.StringIO())
    stop = _StopAtFirstVerdict(request.policy)
    try:
        with masked_output(runtime.secrets):
            if not request.quiet:
                progress.out = out or sys.stdout  # the masking stream
            plugins: list[object] = [_InjectRuntime(runtime), progress]
            if request.exitfirst:
                plugins.append(stop)
            pytest_exit = int(pytest.main(pytest_args(request, suites), plugins=plugins))
    finally:
        # Shielded from a second Ctrl-C and bounded in time inside; the summary says what it left.
        extra = {"cleanup": runtime.clean_up(), "retries": runtime.retries()}
        runtime.close()
    if pytest_exit == 2 and (stop.stopped or _stopped_by_environment(request.report_dir)):
        pytest_exit = 1  # xdist ends a stop it was asked for as an interruption: it is ours
    if pytest_exit in (2, 3, 4):
        reason = progress.exit_message or _PYTEST_EXITS.get(pytest_exit, f"exit {pytest_exit}")
        raise WfcontractsError(
            f"the test run did not complete: {mask_known(reason, runtime.secrets)}"
        )
    if pytest_exit == 5:
        raise WfcontractsError(f"no tests were collected for suites {', '.join(suites)}")
    summary = finish_reports(request.report_dir, request.policy, request.history_dir, extra)
    mark_errors(request.report_dir / "junit.xml", summary)
    errors = harness_errors(summary)
    if errors:
        exit_code = EXIT_USAGE
    else:
        exit_code = EXIT_OK if summary["gate"]["passed"] else EXIT_VIOLATION
    return VerifyResult(exit_code, summary, pytest_exit, errors)


_PYTEST_EXITS = {2: "interrupted", 3: "pytest internal error", 4: "pytest usage error"}


def _stopped_by_environment(report_dir: Path) -> bool:
    """Whether the run stopped itself on an environment error (a worker found the target gone):
    its summary says why, and verify reports it as the error it is."""
    try:
        return bool(load_summary(report_dir).get("environmentError"))
    except WfcontractsError:
        return False


def harness_errors(summary: dict[str, Any]) -> list[str]:
    """One line per check that errored: the harness or the environment failed, not the target.
    An environment error that stopped the run comes first."""
    stopped = summary.get("environmentError")
    return ([stopped] if stopped else []) + [
        f"{entry['nodeid']}: {entry['message']}"
        for entry in summary.get("checks", [])
        if entry.get("outcome") == "error"
    ]


def _runtime_for(options: RunOptions) -> Runtime:
    if options.replay:
        from wfcontracts.cassettes.recorder import read_cassette

        for path in sorted(cassettes_dir(options).rglob("*.yaml")):
            read_cassette(path)  # a corrupt cassette: one line naming the file, exit 2
    return open_runtime(options)


def record_cassettes(request: VerifyRequest) -> VerifyResult:
    """Re-record the lifecycle cassettes against a live target (or `wfcontracts mock serve`)
    into `cassettes_dir(options)`: --cassettes, else ./cassettes of the current directory."""
    # The target may come from CDF_URL / CDF_CLUSTER or the config file, not only --base-url.
    if resolve_config(request.options).kind != "live":
        raise WfcontractsError(
            "record needs a live target: --base-url (or CDF_URL), e.g. `wfcontracts mock serve`"
        )
    return verify(
        VerifyRequest(
            options=request.options,
            suites=["lifecycle"],
            report_dir=request.report_dir,
            policy=request.policy,
            quiet=request.quiet,
        )
    )


def finish_reports(
    report_dir: Path,
    policy: GatePolicy,
    history_dir: Path | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Gate the summary (with `extra` sections merged in: cleanup, retries), then write
    summary.json, index.html and allure's environment."""
    summary = load_summary(report_dir)
    summary.update({key: value for key, value in (extra or {}).items() if value is not None})
    summary["gate"] = evaluate_gate(summary.get("checks", []), policy)
    write_summary(report_dir, summary)
    write_report(report_dir, summary, history_dir)
    write_environment(report_dir / "allure-results", summary)
    if history_dir is not None:
        from wfcontracts.reporting.history import append_history

        append_history(history_dir, summary)
    return summary


SHOWN_FAILURES, SHOWN_REASONS = 20, 10
#: Advisories: constraints the docs do not state, broken (minor; gating only on request).
_COLUMNS = ("passed", "failed", "skipped", "advisory")


def summary_table(summary: dict[str, Any]) -> str:
    """suite × passed/failed/skipped, then totals and the gate."""
    rows: dict[str, dict[str, int]] = {}
    for entry in summary.get("checks", []):
        counts = rows.setdefault(entry["suite"], dict.fromkeys(_COLUMNS, 0))
        if _advisory(entry):
            key = "advisory"
        else:
            key = "failed" if entry["outcome"] in ("failed", "error") else entry["outcome"]
        counts[key] = counts.get(key, 0) + 1
    lines = [f"{'suite':<12}" + "".join(f" {column:>8}" for column in _COLUMNS)]
    for suite, counts in sorted(rows.items()):
        lines.append(f"{suite:<12}" + "".join(f" {counts[column]:>8}" for column in _COLUMNS))
    failures = [
        e
        for e in summary.get("checks", [])
        if e["outcome"] in ("failed", "error") and not _advisory(e)
    ]
    listed: list[str] = []
    repeats: dict[str, int] = {}
    for entry in failures:  # one failure seen by many tests (a shared fixture) is listed once
        repeats[entry["message"]] = repeats.get(entry["message"], 0) + 1
    failures = [e for i, e in enumerate(failures) if e["message"] not in _before(failures, i)]
    for entry in failures[:SHOWN_FAILURES]:
        verdict = "ERROR" if entry["outcome"] == "error" else "FAILED"
        listed.append(
            f"{verdict} [{entry['severity']}] {entry['suite']} · {entry['message'][:400]}"
        )
        if entry.get("reproduction"):
            listed.append(f"  reproduce: {entry['reproduction'][:400]}")
        fuzz = entry.get("fuzz") or {}
        if fuzz.get("cassette"):
            listed.append(f"  seed {fuzz.get('seed')} · cassette {fuzz['cassette']}")
            listed.append(f"  replay: {fuzz.get('replay')}")
    if len(failures) > SHOWN_FAILURES:
        listed.append(f"… and {len(failures) - SHOWN_FAILURES} more (summary.json, index.html)")
    lines = listed + lines
    lines.extend(_run_notes(summary))
    gate = summary.get("gate", {})
    verdict = "PASSED" if gate.get("passed") else "FAILED"
    failing = [sev for sev, action in (gate.get("failOn") or {}).items() if action == "fail"]
    lines.append(f"gate: {verdict} (fails on {', '.join(failing) or 'nothing'})")
    reasons = gate.get("reasons", [])
    lines.extend(f"  - {reason}" for reason in reasons[:SHOWN_REASONS])
    if len(reasons) > SHOWN_REASONS:
        lines.append(f"  … and {len(reasons) - SHOWN_REASONS} more")
    return "\n".join(lines)


def _advisory(entry: dict[str, Any]) -> bool:
    """A minor failure: a constraint the docs do not state, broken (shown, gating on request)."""
    return bool(entry.get("advisory")) or (
        entry.get("outcome") == "failed" and entry.get("severity") == "minor"
    )


def _before(entries: list[dict[str, Any]], index: int) -> set[str]:
    return {entry["message"] for entry in entries[:index]}


def _run_notes(summary: dict[str, Any]) -> list[str]:
    """What the run met besides verdicts: retried transient faults, a spent fuzz budget, and
    anything cleanup could not delete."""
    notes: list[str] = []
    retries = summary.get("retries") or {}
    if retries.get("totalRetries"):
        reasons = ", ".join(f"{k} ×{n}" for k, n in (retries.get("byReason") or {}).items())
        notes.append(f"retries: {retries['totalRetries']} ({reasons})")
    if retries.get("unknownOutcomes"):
        notes.append(
            f"{retries['unknownOutcomes']} write(s) lost their answer: "
            "their tests are inconclusive (skipped)"
        )
    fuzz = summary.get("fuzz") or {}
    if fuzz.get("unsent"):
        notes.append(
            f"fuzz: {fuzz['cases']} cases sent, {fuzz['unsent']} left unsent "
            f"(time budget {fuzz.get('timeBudgetSeconds')} s; raise it with --fuzz-seconds)"
        )
    advisories = [e for e in summary.get("checks", []) if _advisory(e)]
    for entry in advisories[:SHOWN_REASONS]:
        notes.append(f"ADVISORY [minor] {entry['operation']} · {entry['message'][:300]}")
    if len(advisories) > SHOWN_REASONS:
        notes.append(f"… and {len(advisories) - SHOWN_REASONS} more advisories")
    left = (summary.get("cleanup") or {}).get("left") or []
    notes.extend(f"cleanup left: {entry}" for entry in left)
    return notes


class _MaskingStream(io.TextIOBase):
    """Masks known secret values in everything written, line by line."""

    def __init__(self, inner: TextIO, secrets: tuple[str, ...]) -> None:
        self.inner = inner
        self.secrets = secrets
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            done, _, self._pending = self._pending.rpartition("\n")
            self.inner.write(mask_known(done + "\n", self.secrets))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self.inner.write(mask_known(self._pending, self.secrets))
            self._pending = ""
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", "utf-8")

    def fileno(self) -> int:
        return self.inner.fileno()


@contextmanager
def masked_output(secrets: tuple[str, ...]) -> Iterator[None]:
    if not secrets:
        yield
        return
    saved = sys.stdout, sys.stderr
    sys.stdout = _MaskingStream(saved[0], secrets)
    sys.stderr = _MaskingStream(saved[1], secrets)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved
