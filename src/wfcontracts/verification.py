"""The verify engine: run the suites through pytest in-process against one runtime, then write
summary.json, the gate, index.html and the Allure environment. The CLI is a thin adapter."""

from __future__ import annotations

import io
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pytest

from wfcontracts.errors import WfcontractsError
from wfcontracts.redact import mask_known
from wfcontracts.reporting.allure_env import write_environment
from wfcontracts.reporting.gate import GatePolicy, evaluate_gate
from wfcontracts.reporting.results import suite_of
from wfcontracts.reporting.writer import load_summary, write_report, write_summary
from wfcontracts.runtime import RUNTIME_KEY, RunOptions, Runtime, build_runtime
from wfcontracts.scenarios.cleanup import delete_run_resources

SUITES = ("contract", "lifecycle", "fuzz", "compat")
OFFLINE_SUITES = ("lifecycle", "compat")
EXIT_OK, EXIT_VIOLATION, EXIT_USAGE = 0, 1, 2


class NoSuitesError(WfcontractsError):
    pass


def suites_dir() -> Path:
    """The product's suites: beside src/ in a checkout, or packaged in the wheel."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "suites", here.parent / "_suites"):
        if candidate.is_dir():
            return candidate
    raise NoSuitesError("cannot find the suites/ directory of wfcontracts")


@dataclass
class VerifyRequest:
    options: RunOptions
    suites: Sequence[str] = ()
    report_dir: Path = Path("reports")
    policy: GatePolicy = field(default_factory=GatePolicy)
    history_dir: Path | None = None
    extra_pytest_args: Sequence[str] = ()
    quiet: bool = False


@dataclass
class VerifyResult:
    exit_code: int
    summary: dict[str, Any]
    pytest_exit: int


class _InjectRuntime:
    """Hands the already-built runtime to the plugin, so pytest uses the CLI's target."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[RUNTIME_KEY] = self.runtime


class _Progress:
    """One line per suite · operation as the run moves on: what a CI log reader wants to see."""

    def __init__(self, out: TextIO) -> None:
        self.group: tuple[str, str] | None = None
        self.counts: dict[str, int] = {}
        self.out = out

    exit_message: str | None = None

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # pytest.exit(...) from the plugin (corrupt cassette, bad target) lands here
        self.exit_message = str(getattr(excinfo.value, "msg", "") or excinfo.value)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:  # pytest's own terminal is off: say what broke collection
            self.out.write(f"collection error in {report.nodeid}:\n{report.longreprtext}\n")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and not (report.skipped or report.failed):
            return
        props = dict(report.user_properties)
        group = (suite_of(report.nodeid), str(props.get("operation", "-")))
        if group != self.group:
            self._flush()
            self.group = group
        outcome = "passed" if report.passed else "skipped" if report.skipped else "failed"
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def pytest_sessionfinish(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if self.group is None:
            return
        counts = ", ".join(f"{n} {o}" for o, n in sorted(self.counts.items()))
        self.out.write(f"  {self.group[0]:<10} {self.group[1]:<40} {counts}\n")
        self.out.flush()
        self.counts = {}


def selected_suites(request: VerifyRequest) -> list[str]:
    chosen = list(request.suites) or list(OFFLINE_SUITES if request.options.replay else SUITES)
    unknown = [s for s in chosen if s not in SUITES]
    if unknown:
        raise WfcontractsError(f"unknown suite {unknown[0]!r}; choose from {', '.join(SUITES)}")
    return chosen


def pytest_args(request: VerifyRequest, suites: list[str]) -> list[str]:
    root = suites_dir()
    report_dir = request.report_dir
    options = request.options
    args = [str(root / suite) for suite in suites]
    args += [
        "-p", "no:cacheprovider",
        "-c", str(_ini_file()),
        "--rootdir", str(root.parent),
        "--confcutdir", str(root.parent),
        "-o", "junit_family=xunit2",
        "-o", "junit_suite_name=wfcontracts",
        f"--junitxml={report_dir / 'junit.xml'}",
        f"--alluredir={report_dir / 'allure-results'}",
        "--clean-alluredir",
        f"--wfc-summary={report_dir / 'summary.json'}",
        f"--max-examples={options.max_examples}",
        f"--record-mode={options.record_mode}",
        f"--async-function-external-id={options.async_function_external_id}",
        "-p", "no:terminal",
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
    ]  # fmt: skip
    if "fuzz" not in suites:  # their import alone costs seconds of a replay's budget
        args += ["-p", "no:schemathesis", "-p", "no:hypothesispytest"]
    args += ["-p", "no:xdist", "-p", "no:xdist.looponfail", "-p", "no:anyio"]
    if options.seed is not None:
        args.append(f"--seed={options.seed}")
    if options.replay:
        args.append("--replay")
    if options.read_only_token:
        args.append(f"--read-only-token={options.read_only_token}")
    return args + list(request.extra_pytest_args)


def _ini_file() -> Path:
    """An ini of our own: the project's addopts assume pytest's terminal, which verify replaces."""
    path = Path(tempfile.gettempdir()) / "wfcontracts-verify.ini"
    if not path.exists():
        path.write_text("[pytest]\naddopts = --strict-markers\nxfail_strict = true\n")
    return path


def verify(request: VerifyRequest, out: TextIO | None = None) -> VerifyResult:
    """Run the suites; WfcontractsError (exit 2) escapes for the adapter to print."""
    suites = selected_suites(request)
    runtime = _runtime_for(request.options)
    request.report_dir.mkdir(parents=True, exist_ok=True)
    progress = _Progress(io.StringIO())
    try:
        with masked_output(runtime.secrets):
            if not request.quiet:
                progress.out = out or sys.stdout  # the masking stream
            pytest_exit = int(
                pytest.main(
                    pytest_args(request, suites), plugins=[_InjectRuntime(runtime), progress]
                )
            )
    finally:
        if runtime.is_live:
            delete_run_resources(runtime)
        runtime.close()
    if pytest_exit in (2, 3, 4):
        reason = progress.exit_message or f"pytest exit {pytest_exit}"
        raise WfcontractsError(
            f"the test run did not complete: {mask_known(reason, runtime.secrets)}"
        )
    if pytest_exit == 5:
        raise WfcontractsError(f"no tests were collected for suites {', '.join(suites)}")
    summary = finish_reports(request.report_dir, request.policy, request.history_dir)
    exit_code = EXIT_OK if summary["gate"]["passed"] else EXIT_VIOLATION
    return VerifyResult(exit_code, summary, pytest_exit)


def cassettes_dir() -> Path:
    return suites_dir().parent / "cassettes"


def _runtime_for(options: RunOptions) -> Runtime:
    """Cassette runs (replay or recording) get the offline-guarded / run-id-"rec" runtime."""
    if not options.replay and options.record_mode == "none":
        return build_runtime(options)
    from wfcontracts.cassettes.recorder import build_cassette_runtime, read_cassette

    if options.replay:
        for path in sorted(cassettes_dir().rglob("*.yaml")):
            read_cassette(path)  # a corrupt cassette: one line naming the file, exit 2
    return build_cassette_runtime(options, cassettes_dir())[0]


def record_cassettes(request: VerifyRequest) -> VerifyResult:
    """Re-record the lifecycle cassettes against a live target (or `wfcontracts mock serve`)."""
    if not request.options.base_url:
        raise WfcontractsError("record needs --base-url: a live target or `wfcontracts mock serve`")
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
    report_dir: Path, policy: GatePolicy, history_dir: Path | None
) -> dict[str, Any]:
    """Gate the summary, then write summary.json, index.html and allure's environment."""
    summary = load_summary(report_dir)
    summary["gate"] = evaluate_gate(summary.get("checks", []), policy)
    write_summary(report_dir, summary)
    write_report(report_dir, summary, history_dir)
    write_environment(report_dir / "allure-results", summary)
    if history_dir is not None:
        from wfcontracts.reporting.history import append_history

        append_history(history_dir, summary)
    return summary


def summary_table(summary: dict[str, Any]) -> str:
    """suite × passed/failed/skipped, then totals and the gate."""
    rows: dict[str, dict[str, int]] = {}
    for entry in summary.get("checks", []):
        counts = rows.setdefault(entry["suite"], {"passed": 0, "failed": 0, "skipped": 0})
        key = "failed" if entry["outcome"] in ("failed", "error") else entry["outcome"]
        counts[key] = counts.get(key, 0) + 1
    lines = [f"{'suite':<12} {'passed':>7} {'failed':>7} {'skipped':>8}"]
    for suite, counts in sorted(rows.items()):
        lines.append(
            f"{suite:<12} {counts['passed']:>7} {counts['failed']:>7} {counts['skipped']:>8}"
        )
    failures = [e for e in summary.get("checks", []) if e["outcome"] in ("failed", "error")]
    for entry in failures[:20]:
        lines.insert(0, f"FAILED [{entry['severity']}] {entry['suite']} · {entry['message'][:400]}")
        if entry.get("reproduction"):
            lines.insert(1, f"  reproduce: {entry['reproduction'][:400]}")
    gate = summary.get("gate", {})
    verdict = "PASSED" if gate.get("passed") else "FAILED"
    failing = [sev for sev, action in (gate.get("failOn") or {}).items() if action == "fail"]
    lines.append(f"gate: {verdict} (fails on {', '.join(failing) or 'nothing'})")
    for reason in gate.get("reasons", [])[:10]:
        lines.append(f"  - {reason}")
    return "\n".join(lines)


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
