"""Fixtures of the fuzz suites: one seeded, hooked schemathesis schema per session (per worker).

The `fuzz` fixture builds the schema from the run's options when a fuzz test first runs, attaches
it to the session's target, seeds data and binds checks; collection loads only the contract.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wfcontracts.fuzzing import runner
from wfcontracts.runtime import Runtime
from wfcontracts.runtime import options_from_config as options_from


def pytest_configure(config: pytest.Config) -> None:
    runner.configure(options_from(config))


@pytest.fixture(scope="session")
def fuzz(wfc_runtime: Runtime) -> Iterator[runner.Fuzz]:
    """The fuzz run of this session: budget from `--max-examples` / `--seed` / `--max-rps`."""
    run = runner.prepared()
    run.attach(wfc_runtime)
    try:
        yield run
    finally:
        run.detach()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line for budgets and benchmarks: how many generated cases this run sent."""
    run = runner.built()
    if run is not None and run.cases:
        terminalreporter.write_line(f"wfcontracts fuzz: {run.cases} cases, seed {run.seed}")
