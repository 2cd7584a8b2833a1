"""Fixtures of the fuzz suites: one seeded, hooked schemathesis schema per session (per worker),
aimed at the session's runtime — its target, auth, rate limit, seed and budget."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wfcontracts.fuzzing.runner import Fuzz
from wfcontracts.runtime import Runtime

FUZZ_KEY = pytest.StashKey[Fuzz]()


@pytest.fixture(scope="session")
def fuzz(wfc_runtime: Runtime, request: pytest.FixtureRequest) -> Iterator[Fuzz]:
    """The fuzz run of this session, built when the first fuzz test runs (not at collection)."""
    run = Fuzz.for_runtime(wfc_runtime)
    request.config.stash[FUZZ_KEY] = run
    try:
        yield run
    finally:
        run.close()
        wfc_runtime.context.extras["fuzz"] = run.stats()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line for budgets and benchmarks: how many generated cases this run sent."""
    run = terminalreporter.config.stash.get(FUZZ_KEY, None)
    if run is not None and run.cases:
        unsent = f", {run.unsent} left unsent (time budget spent)" if run.unsent else ""
        terminalreporter.write_line(f"wfcontracts fuzz: {run.cases} cases, seed {run.seed}{unsent}")
