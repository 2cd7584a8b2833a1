"""`wfcontracts` commands: thin adapters over the engine. Exit 0 pass, 1 violation, 2 usage or
environment problem (one line on stderr, no traceback)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from wfcontracts.errors import WfcontractsError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"wfcontracts: error: {message} (see '{self.prog} --help')\n")


def _target_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url", help="live target (default: the embedded mock; env CDF_URL / CDF_CLUSTER)"
    )
    parser.add_argument("--project", help="CDF project (env CDF_PROJECT)")
    parser.add_argument(
        "--token",
        help="bearer token (env CDF_TOKEN; or IDP_CLIENT_ID, IDP_CLIENT_SECRET, IDP_TOKEN_URL, "
        "IDP_SCOPES)",
    )
    parser.add_argument(
        "--async-function-external-id",
        default="wfcontracts-async-noop",
        help="function external id for probe workflows' waiting tasks",
    )
    parser.add_argument(
        "--max-rps",
        type=float,
        default=None,
        help="requests/s against a live target (default 10 on non-loopback hosts; 0: unbounded)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wfcontracts",
        description="Contract verification for the CDF Workflows executions API.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    verify = sub.add_parser("verify", help="run the suites against a target and write reports/")
    _target_flags(verify)
    verify.add_argument(
        "--suite",
        action="append",
        choices=("contract", "lifecycle", "fuzz", "compat"),
        help="suite to run (repeatable; default: all)",
    )
    verify.add_argument(
        "--max-examples", type=int, default=25, help="fuzzing budget per operation (default 25)"
    )
    verify.add_argument(
        "--seed", type=int, default=None, help="seed for generated data and fuzzing"
    )
    verify.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports"),
        help="where reports go (default reports/)",
    )
    verify.add_argument("--replay", action="store_true", help="run recorded cassettes offline")
    verify.add_argument(
        "--fail-on",
        default="critical,major",
        help="severities that fail the gate (default critical,major)",
    )
    verify.add_argument(
        "--history", type=Path, default=None, help="directory of previous summaries for the trend"
    )
    verify.add_argument(
        "--fault",
        action="append",
        default=[],
        help="switch on a named fault of the embedded mock (self-tests)",
    )
    verify.add_argument("--quiet", action="store_true", help="less pytest output")
    verify.add_argument(
        "--read-only-token",
        default=os.environ.get("CDF_READ_ONLY_TOKEN"),
        help="a READ-only token: writes must be refused with 401/403 (env CDF_READ_ONLY_TOKEN)",
    )
    verify.add_argument(
        "--contract", type=Path, default=None, help="contract file (default: the shipped contract)"
    )

    mock = sub.add_parser("mock", help="the stateful CDF Workflows mock")
    mock_sub = mock.add_subparsers(dest="mock_command", required=True, parser_class=_Parser)
    serve = mock_sub.add_parser("serve", help="serve the mock over HTTP (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--token",
        action="append",
        default=[],
        help="accepted bearer token, T or T:read (repeatable; default: any)",
    )
    serve.add_argument(
        "--fault", action="append", default=[], help="named fault to switch on (repeatable)"
    )
    serve.add_argument(
        "--virtual-clock", action="store_true", help="time moves only via POST /_mock/clock"
    )
    serve.add_argument(
        "--task-latency-ms", type=int, default=0, help="how long a synchronous task attempt takes"
    )
    mock_sub.add_parser("faults", help="list the named faults")

    record = sub.add_parser("record", help="re-record cassettes/ against a live target")
    _target_flags(record)
    record.add_argument("--record-mode", default="all", choices=("once", "new_episodes", "all"))

    compat = sub.add_parser("compat", help="breaking-change report between two contracts")
    compat.add_argument("old", type=Path)
    compat.add_argument("new", type=Path)
    compat.add_argument("--format", default="table", choices=("table", "json", "junit"))
    compat.add_argument(
        "--fail-on", default="breaking", choices=("breaking", "warning", "info", "never")
    )
    compat.add_argument(
        "--output", type=Path, default=None, help="write the report here instead of stdout"
    )

    drift = sub.add_parser("drift", help="re-validate recorded cassettes against the contract")
    drift.add_argument(
        "--cassettes", type=Path, default=Path("cassettes"), help="recordings to check"
    )
    drift.add_argument(
        "--baseline", type=Path, default=None, help="compare --cassettes with these recordings"
    )
    drift.add_argument("--contract", type=Path, default=None)
    drift.add_argument("--format", default="text", choices=("text", "json"))

    report = sub.add_parser("report", help="rebuild index.html from reports/summary.json")
    report.add_argument("--report-dir", type=Path, default=Path("reports"))
    report.add_argument("--history", type=Path, default=None)
    report.add_argument("--fail-on", default="critical,major")
    report.add_argument(
        "--allure",
        action="store_true",
        help="also build the Allure HTML report (needs the allure npm CLI)",
    )

    selftest = sub.add_parser(
        "selftest", help="mutation score: verify must pass clean and fail on every named fault"
    )
    selftest.add_argument("--max-examples", type=int, default=10)
    selftest.add_argument("--jobs", type=int, default=2)
    selftest.add_argument("--fault", action="append", default=[], help="only these faults")
    selftest.add_argument("--report-dir", type=Path, default=Path("reports/selftest"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = _handler(args)
    try:
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
    }[args.command]


def _verify(args: argparse.Namespace) -> int:
    from wfcontracts.reporting.gate import parse_fail_on
    from wfcontracts.runtime import RunOptions
    from wfcontracts.verification import VerifyRequest, summary_table, verify

    request = VerifyRequest(
        options=RunOptions(
            base_url=args.base_url,
            project=args.project,
            token=args.token,
            replay=args.replay,
            seed=args.seed,
            max_examples=args.max_examples,
            async_function_external_id=args.async_function_external_id,
            faults=tuple(args.fault),
            max_requests_per_second=args.max_rps,
            contract_path=args.contract,
            read_only_token=args.read_only_token,
        ),
        suites=args.suite or (),
        report_dir=args.report_dir,
        policy=parse_fail_on(args.fail_on),
        history_dir=args.history,
        quiet=args.quiet,
    )
    _check_faults(args.fault, args.base_url)
    result = verify(request)
    print()
    print(summary_table(result.summary))
    print(f"reports: {args.report_dir}/ (junit.xml, summary.json, allure-results/, index.html)")
    return result.exit_code


def _check_faults(faults: list[str], base_url: str | None) -> None:
    from wfcontracts.mock.faults import FaultSet

    if faults and base_url:
        raise WfcontractsError("--fault applies to the embedded mock only; drop --base-url")
    FaultSet(faults)  # raises UnknownFaultError naming the valid ones


def _mock_serve(args: argparse.Namespace) -> int:
    from wfcontracts.mock.clock import VirtualClock
    from wfcontracts.mock.server import serve
    from wfcontracts.mock.service import MockService

    service = MockService(
        clock=VirtualClock() if args.virtual_clock else None,
        faults=args.fault,
        tokens=args.token or None,
        task_latency_ms=args.task_latency_ms,
    )
    print(
        f"wfcontracts mock on http://{args.host}:{args.port}/api/v1/projects/<project>/"
        " (Ctrl-C stops)"
    )
    serve(service, args.host, args.port)
    return 0


def _mock_faults(args: argparse.Namespace) -> int:
    from wfcontracts.mock.faults import FAULTS

    width = max(len(name) for name in FAULTS)
    for fault in FAULTS.values():
        print(f"{fault.name:<{width}}  {fault.layer:<6}  {fault.description}")
    return 0


def _record(args: argparse.Namespace) -> int:
    from wfcontracts.runtime import RunOptions
    from wfcontracts.verification import VerifyRequest, record_cassettes, summary_table

    options = RunOptions(
        base_url=args.base_url,
        project=args.project,
        token=args.token,
        record_mode=args.record_mode,
        async_function_external_id=args.async_function_external_id,
        max_requests_per_second=args.max_rps,
    )
    result = record_cassettes(VerifyRequest(options=options, report_dir=Path("reports/record")))
    print(summary_table(result.summary))
    print("cassettes: cassettes/lifecycle/ (secrets scrubbed; review the diff before committing)")
    return result.exit_code


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

    contract = load_contract(args.contract)
    paths = drift.find_cassettes(args.cassettes)
    if not paths:
        raise WfcontractsError(f"no cassettes under {args.cassettes}")
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
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
