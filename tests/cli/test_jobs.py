"""`wfcontracts verify --jobs N`: the suites across pytest-xdist workers, one runtime each, one
merged report and one cleanup — and the same verdicts and report contents as `--jobs 1`.

verify runs in a subprocess, as in CI; live-target runs go over HTTP to a mock served on
loopback in this process, so the test sees every request and what is left on the target.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tests.cli import test_resilience as live


def verify(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfcontracts.cli", "verify", "--seed", "1", *args],
        capture_output=True, text=True, timeout=900, cwd=cwd, env={**os.environ, **(env or {})},
    )  # fmt: skip


def report_contents(reports: Path) -> dict[str, Any]:
    """What a reader of each report sees per test: verdicts, not request counts (each worker
    seeds its own fuzz data, so exchange tallies differ while every verdict is the same)."""
    summary = json.loads((reports / "summary.json").read_text())
    junit = ET.parse(reports / "junit.xml").getroot()
    allure = [
        json.loads(path.read_text()) for path in (reports / "allure-results").glob("*-result.json")
    ]
    transitions = summary["transitions"]
    html = (reports / "index.html").read_text()
    failed_checks = sorted({e["check"] for e in summary["checks"] if e["outcome"] == "failed"})
    return {
        "checks": sorted(
            (e["nodeid"], e["suite"], e["operation"], e["check"], e["outcome"], e["severity"])
            for e in summary["checks"]
        ),
        "totals": summary["totals"],
        "gate": summary["gate"],
        "suites": summary["suites"],
        "seed": summary["seed"],
        "junit": sorted(
            (
                case.get("classname"),
                case.get("name"),
                next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "passed"),
            )
            for case in junit.iter("testcase")
        ),
        "allure": Counter((r["fullName"], r["status"]) for r in allure),
        "transitions exercised": sorted(
            (kind, str(step["from"]), step["operation"], step["exercised"] > 0, step["failed"] > 0)
            for kind in ("legal", "illegal")
            for step in transitions[kind]
        ),
        "failed checks on the page": [check for check in failed_checks if check in html],
    }


@pytest.mark.parametrize(
    "fault",
    [
        None,
        "run_returns_200",  # contract suite (and every test that runs an execution)
        "retry_reruns_completed",  # lifecycle oracle
        "reason_length_unchecked",  # fuzzing (boundary probes)
    ],
)
def test_jobs_2_gives_the_verdicts_and_reports_of_jobs_1(fault: str | None, tmp_path: Path) -> None:
    faults = ("--fault", fault) if fault else ()
    runs = {}
    for jobs in ("1", "2"):
        result = verify(
            "--max-examples", "3", *faults, "--jobs", jobs, "--quiet",
            "--report-dir", str(tmp_path / jobs), cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == (1 if fault else 0), result.stdout[-3000:] + result.stderr
        runs[jobs] = report_contents(tmp_path / jobs)
        assert "Traceback" not in result.stderr
    assert runs["2"] == runs["1"]
    failed = [c for c in runs["1"]["checks"] if c[4] == "failed"]
    assert bool(failed) == bool(fault)
    assert runs["1"]["failed checks on the page"] == sorted({c[3] for c in failed})


def test_jobs_over_http_one_runtime_per_worker_one_cleanup(tmp_path: Path) -> None:
    service = live.RecordingMock(tokens=[live.TOKEN])
    run = live.run_id()
    prefix = f"wfcontracts-{run}"
    with live.served(service) as server:
        result = live.verify(
            server.base_url, "--suite", "contract", "--suite", "lifecycle", "--jobs", "2",
            cwd=tmp_path, run=run,
        )  # fmt: skip
        assert result.returncode == 0, live.show(result)
        assert live.TOKEN not in result.stdout + result.stderr
        # Both workers wrote, each under its own prefix inside the run's.
        workers = {
            worker
            for seen in service.requests()
            if seen.method == "POST" and seen.path.endswith("/workflows/versions")
            for worker in re.findall(rf"{prefix}(gw\d+w)-", seen.body.decode("utf-8", "replace"))
        }
        assert workers == {"gw0w", "gw1w"}, workers
        # One cleanup, by the controller, of everything both workers created.
        summary = live.summary_of(tmp_path)
        assert summary["cleanup"]["left"] == [], summary["cleanup"]
        live.nothing_left(server, prefix)
    # The progress lines name each suite's operations once, though the workers interleave.
    rows = [line.split()[:2] for line in result.stdout.splitlines() if line.startswith("  ")]
    assert len(rows) == len({tuple(row) for row in rows}), result.stdout


WORKER_CRASH = '''
"""Injected through PYTEST_ADDOPTS: one worker dies in the middle of a test."""
import os

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    if os.environ.get("PYTEST_XDIST_WORKER") and "test_run_completes" in item.nodeid:
        os._exit(3)
'''


def test_a_worker_crash_is_an_error_not_a_verdict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "wfc_worker_crash.py").write_text(textwrap.dedent(WORKER_CRASH))
    result = verify(
        "--suite", "lifecycle", "--jobs", "2", "--quiet",
        cwd=tmp_path, env={"PYTHONPATH": str(site), "PYTEST_ADDOPTS": "-p wfc_worker_crash"},
    )  # fmt: skip
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    errors = [e for e in summary["checks"] if e["outcome"] == "error"]
    assert any("test_run_completes" in e["nodeid"] for e in errors), summary["checks"]


def test_exitfirst_under_jobs_stops_with_a_verdict(tmp_path: Path) -> None:
    result = verify(
        "--fault", "run_returns_200", "--suite", "contract", "--suite", "lifecycle",
        "--jobs", "2", "--exitfirst", "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert summary["gate"]["passed"] is False
    assert len(summary["checks"]) < 72  # stopped early: not every test ran


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--jobs", "0"), "--jobs"),
        (("--jobs", "many"), "--jobs"),
        (("--jobs", "-1"), "--jobs"),
    ],
)
def test_bad_jobs_is_one_line_exit_2(args: tuple[str, ...], says: str, tmp_path: Path) -> None:
    result = verify(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr


def test_pytest_n_through_the_plugin_writes_one_merged_summary(tmp_path: Path) -> None:
    """`pytest -n 2 suites …` (no CLI): the plugin's controller merges its workers' results."""
    suites = Path(__file__).resolve().parents[2] / "suites"
    summary_path = tmp_path / "summary.json"
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", str(suites / "contract"), str(suites / "fuzz"),
            "-n", "2", "-p", "no:cacheprovider", "-q", "--max-examples", "2", "--seed", "5",
            f"--wfc-summary={summary_path}",
        ],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads(summary_path.read_text())
    ran = int(re.search(r"(\d+) passed", result.stdout).group(1))  # type: ignore[union-attr]
    assert summary["totals"]["passed"] == ran == len(summary["checks"])
    assert summary["suites"] == ["contract", "fuzz"]
    assert summary["seed"] == 5
    assert summary["fuzz"]["cases"] > 0  # both workers' fuzz stats, summed


def test_ctrl_c_under_jobs_stops_and_one_cleanup_removes_every_workers_resources(
    tmp_path: Path,
) -> None:
    """Ctrl-C reaches the controller while both workers write: exit 2 saying so, and the
    controller's cleanup (its run prefix covers every worker's) leaves nothing behind."""
    service = live.RecordingMock(tokens=[live.TOKEN], pace="fast")
    run = live.run_id()
    prefix = f"wfcontracts-{run}"
    with live.served(service) as server:
        process = live.start_verify(server.base_url, "--jobs", "2", cwd=tmp_path, run=run)
        try:
            live.wait_until(
                live.lifecycle_started(service, prefix), "a worker to start the lifecycle suite"
            )
            time.sleep(1.0)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
        outcome = (process.returncode, out, err)
        assert process.returncode == 2, live.show(outcome)
        assert "interrupted" in err and "Traceback" not in err, live.show(outcome)
        live.nothing_left(server, prefix)
