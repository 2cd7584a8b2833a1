"""The lifecycle scenarios against a mock served over loopback at live CDF's pace (`--pace real`).

A correct server that is slow and eventually consistent passes; a faulty one still fails, naming
the same check as on the instant embedded mock, and an effect that never shows fails at the
run's deadline (short here) after saying what it waits for — never a silent hang.

The suite runs its scenarios at once on such a target, and so does this module with the faults
(a server each): it costs the slowest scenario's time, not the sum.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wfcontracts.checks import CheckFailure
from wfcontracts.mock.server import serve_in_background
from wfcontracts.mock.service import MockService
from wfcontracts.runtime import RunOptions, Runtime, build_runtime
from wfcontracts.scenarios.lifecycle_flows import LifecycleProbe, Scenario

from .test_lifecycle_faults import CAUGHT_BY

TOKEN = "wfcontracts-pace-token"
#: Short, so an effect that never shows fails fast; long enough for one progress line (5 s).
DEADLINE_S = 6.0
#: Faults whose effect never shows: caught only when the deadline passes.
AT_THE_DEADLINE = {"cancel_leaves_tasks_running", "cancel_tasks_stuck", "update_never_applied"}


#: The progress sink runtimes of this module report to (set by the `progress` fixture).
PROGRESS: list[Callable[[str], None]] = []


@contextmanager
def served(*faults: str, seed: int = 1, deadline_s: float = DEADLINE_S) -> Iterator[Runtime]:
    """A runtime verifying a mock served on loopback at the real pace."""
    service = MockService(pace="real", seed=seed, faults=faults, tokens=[TOKEN])
    with serve_in_background(service) as server:
        options = RunOptions(
            base_url=server.base_url, project="p", token=TOKEN, deadline_s=deadline_s
        )
        runtime = build_runtime(options)
        for sink in PROGRESS:  # the module's progress fixture, when a test asked for it
            runtime.progress = sink
        try:
            yield runtime
        finally:
            runtime.close()


@dataclass
class Caught:
    failure: BaseException | None
    wall_s: float


def _run_with_fault(fault: str, scenario: Scenario) -> Caught:
    started = time.monotonic()
    with served(fault) as runtime:
        try:
            scenario(LifecycleProbe(runtime, runtime.session()))
        except Exception as exc:
            return Caught(exc, time.monotonic() - started)
    return Caught(None, time.monotonic() - started)


@pytest.fixture(scope="module")
def progress() -> Iterator[list[str]]:
    lines: list[str] = []
    lock = threading.Lock()

    def keep(line: str) -> None:
        with lock:
            lines.append(line)

    PROGRESS.append(keep)
    try:
        yield lines
    finally:
        PROGRESS.clear()


@pytest.fixture(scope="module")
def caught(progress: list[str]) -> dict[str, Caught]:
    """Every fault's scenario against its own real-pace server, all at once."""
    faults = sorted(CAUGHT_BY)
    with ThreadPoolExecutor(len(faults)) as pool:
        futures = {f: pool.submit(_run_with_fault, f, CAUGHT_BY[f][0]) for f in faults}
        return {fault: future.result() for fault, future in futures.items()}


def _verify_served(*faults: str, seed: int, deadline_s: float) -> dict[str, Any]:
    """`wfcontracts verify --suite lifecycle` (another process) against a mock served here."""
    service = MockService(pace="real", seed=seed, faults=faults, tokens=[TOKEN])
    with serve_in_background(service) as server, tempfile.TemporaryDirectory() as reports:
        command = [
            sys.executable, "-m", "wfcontracts.cli", "verify", "--quiet", "--suite", "lifecycle",
            "--base-url", server.base_url, "--project", "p", "--token", TOKEN,
            "--deadline", f"{deadline_s:g}", "--report-dir", reports,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        summary: dict[str, Any] = json.loads((Path(reports) / "summary.json").read_text())
        summary["exitCode"] = done.returncode
        return summary


@pytest.fixture(scope="module")
def verified() -> dict[str, dict[str, Any]]:
    """The lifecycle suite verified at the real pace: a correct server, and one whose cancel
    never stops the tasks (both at once)."""
    with ThreadPoolExecutor(2) as pool:
        clean = pool.submit(_verify_served, seed=3, deadline_s=60)
        faulty = pool.submit(
            _verify_served, "cancel_leaves_tasks_running", seed=4, deadline_s=DEADLINE_S
        )
        return {"clean": clean.result(), "faulty": faulty.result()}


def test_the_lifecycle_suite_passes_at_the_real_pace(verified: dict[str, dict[str, Any]]) -> None:
    summary = verified["clean"]
    assert summary["exitCode"] == 0
    assert summary["totals"] == {"passed": 17, "failed": 0, "skipped": 2, "errors": 0}
    # All at once: in turn the scenarios take minutes at this pace (each one 3-20 s).
    assert summary["durationSeconds"] < 60


def test_each_test_reports_its_own_scenario(verified: dict[str, dict[str, Any]]) -> None:
    summary = verified["faulty"]
    assert summary["exitCode"] == 1
    failed = {c["nodeid"].split("::")[-1]: c for c in summary["checks"] if c["outcome"] == "failed"}
    assert "test_cancel_running" in failed
    entry = failed["test_cancel_running"]
    assert entry["check"] == "task_effects"
    assert "-cancel-reason" in entry["response"]  # this test's workflow, not another's
    assert f"within {DEADLINE_S:g} s (--deadline)" in entry["message"]


@pytest.mark.parametrize("fault", sorted(CAUGHT_BY))
def test_a_fault_is_still_caught_at_the_real_pace(caught: dict[str, Caught], fault: str) -> None:
    outcome = caught[fault]
    assert isinstance(outcome.failure, CheckFailure), repr(outcome.failure)
    assert outcome.failure.check == CAUGHT_BY[fault][1], str(outcome.failure)


@pytest.mark.parametrize("fault", sorted(AT_THE_DEADLINE & set(CAUGHT_BY)))
def test_an_effect_that_never_shows_fails_at_the_deadline(
    caught: dict[str, Caught], fault: str
) -> None:
    outcome = caught[fault]
    assert isinstance(outcome.failure, CheckFailure)
    assert f"within {DEADLINE_S:g} s (--deadline)" in outcome.failure.message
    assert "s later" in outcome.failure.message
    # Set-up at the real pace takes a few seconds; the wait itself ends at the deadline.
    assert DEADLINE_S <= outcome.wall_s < DEADLINE_S + 20, outcome.wall_s


def test_a_long_wait_says_what_it_waits_for(caught: dict[str, Caught], progress: list[str]) -> None:
    assert any("waiting for task hold to leave IN_PROGRESS… 5 s" in line for line in progress), (
        progress
    )
    assert any("waiting for TERMINATED with no task IN_PROGRESS" in line for line in progress)
