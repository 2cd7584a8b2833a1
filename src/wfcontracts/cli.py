"""`wfcontracts` commands: thin adapters over the engine. Exit 0 pass, 1 violation, 2 usage or
environment problem (one line on stderr, no traceback)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from wfcontracts.errors import WfcontractsError
from wfcontracts.mock.clock import PACES, SERVE_PACE
from wfcontracts.mock.profiles import PROFILES
from wfcontracts.options import (
    RECORD_FLAG,
    REPORT_FLAGS,
    RUN_FLAGS,
    SUITES,
    TARGET_FLAGS,
    add_flags,
    job_count,
    positive_int,
)

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"wfcontracts: error: {message} (see '{self.prog} --help')\n")


class _Version(argparse.Action):
    """`--version`: computed only when asked (it hashes the shipped contract and suites)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from wfcontracts.shipped import describe_version

        print(describe_version())
        parser.exit(0)


def build_parser(
    defaults: Mapping[str, Mapping[str, Any]] | None = None,
) -> argparse.ArgumentParser:
    """The command line; ``defaults`` (command → dest → value) are the config file's settings,
    installed as argparse defaults so a flag given still wins."""
    parser = _Parser(
        prog="wfcontracts",
        description="Contract verification for the CDF Workflows executions API.",
    )
    parser.add_argument(
        "--version",
        action=_Version,
        help="print the harness version and the digests of its contract and suites, then exit",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    verify = sub.add_parser(
        "verify",
        help="run the suites against a target and write reports/",
        description="Verify a target (default: the embedded mock) against the contract: "
        "exit 0 pass, 1 contract violation, 2 usage, environment or harness error.",
    )
    add_flags(verify.add_argument, (*TARGET_FLAGS, *RUN_FLAGS))
    verify.add_argument(
        "--suite",
        action="append",
        choices=SUITES,
        help="suite to run (repeatable; default: all, or lifecycle + compat with --replay)",
    )
    add_flags(verify.add_argument, REPORT_FLAGS)
    verify.add_argument(
        "--quiet", action="store_true", help="no progress lines, only the summary (default off)"
    )
    verify.add_argument(
        "--replay-failure",
        type=Path,
        default=None,
        metavar="CASSETTE",
        help="re-send a fuzz finding's saved requests (reports/fuzz/*.yaml) to the target and "
        "judge them again; exit 1 if a check still fails (default: off)",
    )
    verify.add_argument(
        "--exitfirst",
        action="store_true",
        help="stop at the first failure that fails the gate: a verdict sooner, not a full "
        "report (what selftest uses; default off)",
    )
    verify.add_argument(
        "--jobs",
        type=job_count,
        default=1,
        metavar="N",
        help="run the suites in N pytest-xdist workers, each with its own runtime, into one "
        "report and one cleanup; 'auto': one per CPU (default 1: in this process)",
    )
    _add_config_flag(verify)

    mock = sub.add_parser("mock", help="the stateful CDF Workflows mock")
    mock_sub = mock.add_subparsers(dest="mock_command", required=True, parser_class=_Parser)
    serve = mock_sub.add_parser("serve", help="serve the mock over HTTP (uvicorn)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default 127.0.0.1; anything but loopback prints a warning)",
    )
    serve.add_argument("--port", type=int, default=8000, help="TCP port, 1-65535 (default 8000)")
    serve.add_argument(
        "--token",
        action="append",
        default=[],
        help="accepted bearer token, T or T:read (repeatable; default: any non-empty token, "
        "and the /_mock/* control plane is open)",
    )
    serve.add_argument(
        "--control-token",
        default=None,
        help="the only token /_mock/* accepts (default: none; then any read-write --token)",
    )
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        help="named fault to switch on, NAME or NAME:RATE for a transient one, e.g. "
        "throttle:0.05 (repeatable; default: none; list: wfcontracts mock faults)",
    )
    serve.add_argument(
        "--fault-seed",
        type=int,
        default=0,
        help="seed of the per-request transient-fault draws (default 0)",
    )
    serve.add_argument(
        "--virtual-clock",
        action="store_true",
        help="time moves only via POST /_mock/clock (default: the wall clock)",
    )
    serve.add_argument(
        "--pace",
        choices=tuple(PACES),
        default=SERVE_PACE,
        help=f"how long runs, tasks, cancels, retries and updates take to show (default "
        f"{SERVE_PACE}: live CDF's delays; fast: a tenth of them; instant: none)",
    )
    serve.add_argument("--seed", type=int, default=0, help="seed of the pace's jitter (default 0)")
    serve.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default="strict",
        help="which legitimate server to be where the docs are silent: strict (the whole "
        "contract, the README's picks), lenient (only documented rules validated), alternative "
        "(the other legitimate answer for every pick) (default strict)",
    )
    serve.add_argument(
        "--task-latency-ms",
        type=int,
        default=None,
        help="how long every synchronous task attempt takes, overriding the pace's "
        "(default: the pace's)",
    )
    mock_sub.add_parser(
        "faults", help="list the named faults (contract faults, and transient ones with a rate)"
    )

    record = sub.add_parser(
        "record",
        help="re-record the lifecycle cassettes against a live target",
        description="Run the lifecycle suite against --base-url and record its cassettes into "
        "./cassettes (secrets scrubbed).",
    )
    add_flags(record.add_argument, TARGET_FLAGS)
    RECORD_FLAG.add_to(
        record.add_argument,
        default="all",
        help="vcr record mode (default all: re-record every cassette)",
    )
    # The cassettes carry the contract's sha: record under the contract verify will replay with.
    add_flags(
        record.add_argument,
        [flag for flag in RUN_FLAGS if flag.kwargs["dest"] in ("contract_path", "cassettes_dir")],
    )
    _add_config_flag(record)

    init = sub.add_parser(
        "init",
        help="scaffold wfcontracts.toml and a GitHub Actions workflow for a CI gate",
        description="Write wfcontracts.toml (or [tool.wfcontracts] into pyproject.toml) and "
        ".github/workflows/wfcontracts.yml, which runs `wfcontracts verify` on pull requests "
        "and publishes JUnit and the HTML report as artefacts. Existing files are kept unless "
        "--force.",
    )
    init.add_argument(
        "--base-url",
        default=None,
        help="live target to write into the config (default: none, the embedded mock)",
    )
    init.add_argument(
        "--project", default=None, help="CDF project to write into the config (default: none)"
    )
    init.add_argument(
        "--pyproject",
        action="store_true",
        help="add [tool.wfcontracts] to ./pyproject.toml instead of writing wfcontracts.toml "
        "(default off)",
    )
    init.add_argument(
        "--install",
        default=None,
        help="what the workflow pip-installs (default: wfcontracts==<this version>; a wheel "
        "URL or git+https://… URL works too)",
    )
    init.add_argument(
        "--force", action="store_true", help="overwrite existing files (default: refuse)"
    )
    init.add_argument(
        "--directory",
        type=Path,
        default=Path(),
        help="repository to scaffold (default: the current directory)",
    )

    compat = sub.add_parser(
        "compat",
        help="breaking-change report between two contracts",
        description="Compare two contract files and classify every change (breaking, warning, "
        "info); exit 1 when a change at or above --fail-on is found.",
    )
    compat.add_argument("old", type=Path, help="the released contract (YAML or JSON)")
    compat.add_argument("new", type=Path, help="the candidate contract (YAML or JSON)")
    compat.add_argument(
        "--format",
        default="table",
        choices=("table", "json", "junit"),
        help="output format (default table)",
    )
    compat.add_argument(
        "--fail-on",
        default="breaking",
        choices=("breaking", "warning", "info", "never"),
        help="lowest level that exits 1 (default breaking)",
    )
    compat.add_argument(
        "--output", type=Path, default=None, help="write the report here (default: stdout)"
    )

    drift = sub.add_parser(
        "drift",
        help="re-validate recorded cassettes against the contract",
        description="Re-validate recorded responses against the contract; with --baseline, "
        "compare two recordings. Exit 1 on drift.",
    )
    drift.add_argument(
        "--cassettes",
        type=Path,
        default=None,
        help="recordings to check (default: ./cassettes when present, else the shipped ones)",
    )
    drift.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="compare --cassettes with these recordings (default: no comparison)",
    )
    drift.add_argument(
        "--contract", type=Path, default=None, help="contract file (default: the shipped contract)"
    )
    drift.add_argument(
        "--format", default="text", choices=("text", "json"), help="output format (default text)"
    )

    report = sub.add_parser(
        "report",
        help="rebuild index.html from reports/summary.json",
        description="Re-gate an existing summary.json and rebuild index.html (and the Allure "
        "HTML report with --allure).",
    )
    add_flags(report.add_argument, REPORT_FLAGS)
    report.add_argument(
        "--allure",
        action="store_true",
        help="also build the Allure HTML report (needs the allure npm CLI; default off)",
    )

    selftest = sub.add_parser(
        "selftest",
        help="mutation score: verify must pass clean and fail on every named fault",
        description="Run verify on the clean embedded mock (must pass) and once per named "
        "fault (must fail); print the mutation score.",
    )
    selftest.add_argument(
        "--max-examples",
        type=positive_int,
        default=10,
        help="fuzzing budget per operation in each run (default 10)",
    )
    selftest.add_argument(
        "--jobs",
        type=positive_int,
        default=os.cpu_count() or 2,
        help="faults verified in parallel (default: one per core)",
    )
    selftest.add_argument(
        "--pace",
        choices=("instant", "fast", "real"),
        default="instant",
        help="instant: verify the embedded mock in-process; fast / real: verify a mock served "
        "over HTTP at that pace, so each fault must be caught at its deadline (default instant)",
    )
    selftest.add_argument(
        "--fault", action="append", default=[], help="only these faults (default: every one)"
    )
    selftest.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default="strict",
        help="the mock profile every run verifies; any but strict is served over HTTP, even at "
        "instant pace (default strict)",
    )
    selftest.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports/selftest"),
        help="where the per-fault reports go (default reports/selftest/)",
    )
    for command, values in (defaults or {}).items():
        sub.choices[command].set_defaults(**values)
    return parser


def _add_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="config file (default: $WFCONTRACTS_CONFIG, else ./wfcontracts.toml, else "
        "[tool.wfcontracts] in ./pyproject.toml; flags and env variables override it)",
    )


#: Commands that read the config file, and the settings each one takes from it.
_CONFIGURED: dict[str, frozenset[str]] = {
    "verify": frozenset(
        {
            "base_url", "project", "async_function_external_id", "max_requests_per_second",
            "suite", "max_examples", "seed", "deadline_s", "contract_path", "cassettes_dir",
            "report_dir", "history", "fail_on",
        }
    ),
    "record": frozenset(
        {
            "base_url", "project", "async_function_external_id", "max_requests_per_second",
            "contract_path", "cassettes_dir",
        }
    ),
}  # fmt: skip


def configure(
    args: argparse.Namespace,
    argv: Sequence[str] | None,
    env: Mapping[str, str] = os.environ,
    cwd: Path | None = None,
) -> argparse.Namespace:
    """Apply the project's config file: flag > env > file > default.

    Settings no env variable names become argparse defaults (a flag still wins); the target
    goes to ``RunOptions.file_defaults``, below CDF_URL / CDF_CLUSTER / CDF_PROJECT; the
    contract is the flag's, else $WFCONTRACTS_CONTRACT, else the file's, else
    ./contracts/cdf-workflows.openapi.yaml, else the shipped one.
    """
    from wfcontracts.project_config import load_config

    if args.command not in _CONFIGURED:
        return args
    config = load_config(args.config, env, cwd)
    if config.path is not None:
        defaults = config.parser_defaults(_CONFIGURED[args.command])
        args = build_parser({args.command: defaults}).parse_args(argv)
        if "suite" in _CONFIGURED[args.command] and args.suite is None:
            args.suite = config.suites()
        args.file_defaults = config.target_defaults()
    if args.contract_path is None:
        args.contract_path = config.contract(env, cwd if cwd is not None else Path())
    return args


def _write_no_bytecode_into_the_package() -> None:
    """Installed from a wheel, the suites run from inside site-packages: pytest would cache its
    rewritten test modules beside them. The package is not the user's directory (and is often
    read-only in CI images); rewriting a dozen modules per run costs milliseconds."""
    from wfcontracts.shipped import in_package, shipped_path

    suites = shipped_path("_suites", "suites")
    if suites is not None and in_package(suites):
        sys.dont_write_bytecode = True


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = _handler(args)
    try:
        args = configure(args, argv)
        if args.command in _CONFIGURED:
            _write_no_bytecode_into_the_package()
        return handler(args)
    except WfcontractsError as exc:
        print(f"wfcontracts: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("wfcontracts: interrupted", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `wfcontracts … | head`: the reader left; that is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a harness bug: still one line and exit 2, never a verdict
        print(
            f"wfcontracts: internal error: {type(exc).__name__}: {exc} "
            "(a bug in wfcontracts, not a finding about the target)",
            file=sys.stderr,
        )
        return EXIT_USAGE


def _handler(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    if args.command == "mock":
        return _mock_serve if args.mock_command == "serve" else _mock_faults
    return {
        "verify": _verify,
        "record": _record,
        "compat": _compat,
        "drift": _drift,
        "report": _report,
        "selftest": _selftest,
        "init": _init,
    }[args.command]


def _verify(args: argparse.Namespace) -> int:
    from wfcontracts.reporting.gate import parse_fail_on
    from wfcontracts.runtime import RunOptions
    from wfcontracts.verification import VerifyRequest, summary_table, verify

    if args.replay_failure is not None:
        return _replay_failure(args)
    request = VerifyRequest(
        options=RunOptions.from_namespace(args),
        suites=args.suite or (),
        report_dir=args.report_dir,
        policy=parse_fail_on(args.fail_on),
        history_dir=args.history,
        quiet=args.quiet,
        exitfirst=args.exitfirst,
        jobs=args.jobs,
    )
    _check_embedded_only(args)
    result = verify(request)
    print()
    print(summary_table(result.summary))
    print(f"reports: {args.report_dir}/ (junit.xml, summary.json, allure-results/, index.html)")
    stopped = result.summary.get("environmentError")
    if stopped:
        print(f"wfcontracts: error: {stopped} (the run stopped; no verdict)", file=sys.stderr)
    elif result.errors:
        more = f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
        print(
            f"wfcontracts: error: the run errored, not a verdict: {result.errors[0]}{more}",
            file=sys.stderr,
        )
    return result.exit_code


def _replay_failure(args: argparse.Namespace) -> int:
    """Re-send a saved fuzz finding: one line per request, the checks that still fail."""
    from wfcontracts.fuzzing.replay import resend
    from wfcontracts.redact import mask_known
    from wfcontracts.runtime import RunOptions, build_runtime

    if not args.replay_failure.is_file():
        raise WfcontractsError(f"no fuzz cassette at {args.replay_failure}")
    _check_embedded_only(args)
    runtime = build_runtime(RunOptions.from_namespace(args))
    try:
        results = resend(runtime, args.replay_failure)
    finally:
        runtime.close()
    failed = 0
    for number, result in enumerate(results, start=1):
        exchange = result.exchange
        print(f"{number:>3}. {exchange.method.upper()} {exchange.url} → {exchange.status}")
        for failure in result.failures:
            failed += 1
            print(mask_known(f"     FAILED [{failure.severity}] {failure}", runtime.secrets))
    verdict = f"{failed} check failure(s) reproduced" if failed else "no check fails now"
    print(f"replayed {len(results)} request(s) from {args.replay_failure}: {verdict}")
    return 1 if failed else 0


def _check_embedded_only(args: argparse.Namespace) -> None:
    """--fault and --profile shape the embedded mock: refused with a live target."""
    from wfcontracts.mock.faults import FaultSet

    if args.base_url and args.faults:
        raise WfcontractsError("--fault applies to the embedded mock only; drop --base-url")
    if args.base_url and args.profile != "strict":
        raise WfcontractsError(
            "--profile applies to the embedded mock only; serve one with "
            "`wfcontracts mock serve --profile …` and point --base-url at it"
        )
    FaultSet(args.faults)  # raises UnknownFaultError naming the valid ones


def _mock_serve(args: argparse.Namespace) -> int:
    from wfcontracts.mock.clock import VirtualClock
    from wfcontracts.mock.server import check_port, is_loopback, serve
    from wfcontracts.mock.service import MockService

    check_port(args.host, args.port)
    service = MockService(
        clock=VirtualClock() if args.virtual_clock else None,
        faults=args.fault,
        tokens=args.token or None,
        control_token=args.control_token,
        fault_seed=args.fault_seed,
        task_latency_ms=args.task_latency_ms,
        pace=args.pace,
        seed=args.seed,
        profile=args.profile,
    )
    if not is_loopback(args.host):
        print(
            f"wfcontracts: warning: serving on {args.host}, reachable from other machines; "
            "the mock is a test double (use --token and --control-token)",
            file=sys.stderr,
        )
    print(
        f"wfcontracts mock on http://{args.host}:{args.port}/api/v1/projects/<project>/"
        f" ({args.profile} profile, {args.pace} pace; Ctrl-C stops)"
    )
    serve(service, args.host, args.port)
    return 0


def _mock_faults(args: argparse.Namespace) -> int:
    from wfcontracts.mock.faults import ALL_FAULTS

    width = max(len(name) for name in ALL_FAULTS)
    for fault in ALL_FAULTS.values():
        rate = " (takes a rate: NAME:RATE, 0-1; default 1.0)" if fault.transient else ""
        print(f"{fault.name:<{width}}  {fault.layer:<9}  {fault.description}{rate}")
    return 0


def _record(args: argparse.Namespace) -> int:
    from wfcontracts.runtime import RunOptions, cassettes_dir
    from wfcontracts.verification import VerifyRequest, record_cassettes, summary_table

    options = RunOptions.from_namespace(args)
    result = record_cassettes(VerifyRequest(options=options, report_dir=Path("reports/record")))
    print(summary_table(result.summary))
    where = cassettes_dir(options) / "lifecycle"
    print(f"cassettes: {where}/ (secrets scrubbed; review the diff before committing)")
    return result.exit_code


def _init(args: argparse.Namespace) -> int:
    from wfcontracts.scaffold import ScaffoldRequest, scaffold

    request = ScaffoldRequest(
        directory=args.directory,
        base_url=args.base_url,
        project=args.project,
        pyproject=args.pyproject,
        install=args.install,
        force=args.force,
    )
    for path, what in scaffold(request):
        print(f"wrote {path}  ({what})")
    print(
        "next: `wfcontracts verify` here; commit both files; for a live project set the "
        "repository variables CDF_URL and CDF_PROJECT and the secret CDF_TOKEN"
    )
    return 0


def _compat(args: argparse.Namespace) -> int:
    from wfcontracts.compat.diff import diff_contracts
    from wfcontracts.compat.loading import load_document
    from wfcontracts.compat.output import exit_code, format_json, format_junit, format_table

    findings = diff_contracts(load_document(args.old), load_document(args.new))
    render = {"table": format_table, "json": format_json, "junit": format_junit}[args.format]
    text = render(findings)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return exit_code(findings, args.fail_on)


def _drift(args: argparse.Namespace) -> int:
    """Exit 1 when a recorded response breaks the contract or the runs differ from the baseline."""
    import json

    from wfcontracts.compat import drift
    from wfcontracts.contract import load_contract
    from wfcontracts.runtime import RunOptions, cassettes_dir

    contract = load_contract(args.contract)
    directory = args.cassettes or cassettes_dir(RunOptions())
    paths = drift.find_cassettes(directory)
    if not paths:
        raise WfcontractsError(f"no cassettes under {directory}")
    current = drift.load_cassettes(paths)
    report = drift.drift_report(contract, current)
    changes = []
    if args.baseline is not None:
        baseline = drift.load_cassettes(drift.find_cassettes(args.baseline))
        changes = drift.compare_runs(baseline, current, contract=contract)
    if args.format == "json":
        payload = {"drift": drift.drift_as_dict(report), "changes": [c.__dict__ for c in changes]}
        print(json.dumps(payload, indent=2, default=str))
    else:
        print(drift.format_drift(report))
        if args.baseline is not None:
            print(drift.format_changes(changes))
    return 0 if report.clean and not changes else 1


def _report(args: argparse.Namespace) -> int:
    from wfcontracts.reporting.allure_env import build_allure_report
    from wfcontracts.reporting.gate import parse_fail_on
    from wfcontracts.verification import finish_reports, summary_table

    summary = finish_reports(args.report_dir, parse_fail_on(args.fail_on), args.history)
    if args.allure:
        build_allure_report(args.report_dir / "allure-results", args.report_dir / "allure-report")
    print(summary_table(summary))
    print(f"report: {args.report_dir / 'index.html'}")
    return 0 if summary["gate"]["passed"] else 1


def _selftest(args: argparse.Namespace) -> int:
    from wfcontracts.selftest import run_selftest

    return run_selftest(
        faults=args.fault,
        max_examples=args.max_examples,
        jobs=args.jobs,
        report_dir=args.report_dir,
        pace=args.pace,
        profile=args.profile,
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
