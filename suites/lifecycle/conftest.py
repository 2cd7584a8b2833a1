"""The lifecycle suite's fixtures: each test verifies one scenario of
``wfcontracts.scenarios.lifecycle_flows``.

On a real-time target (live CDF, ``wfcontracts mock serve``) every selected scenario starts at
once on a thread pool when the suite's first test runs, and each test then waits for its own
scenario: a realistic pace costs the longest scenario's time, not the sum. Each test still
reports its own exchanges and failure. On the embedded mock (one virtual clock) and with
cassettes (one per test) each scenario runs inside its test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wfcontracts.checks import CheckedSession
from wfcontracts.runtime import Runtime
from wfcontracts.scenarios.lifecycle_flows import ScenarioPool, ScenarioRun, scenario_of


@pytest.fixture(scope="session")
def scenario_pool(
    wfc_runtime: Runtime, request: pytest.FixtureRequest
) -> Iterator[ScenarioPool | None]:
    """Every selected scenario test's scenario, started at once (None: run them in turn)."""
    if not ScenarioPool.fits(wfc_runtime):
        yield None
        return
    pool = ScenarioPool(wfc_runtime)
    try:
        for item in request.session.items:
            fn = scenario_of(getattr(item, "function", None))
            # mock_only tests are skipped on a target like this one.
            if fn is not None and item.get_closest_marker("mock_only") is None:
                pool.start(item.nodeid, fn)
        yield pool
    finally:
        pool.close()


@pytest.fixture
def lifecycle(
    wfc_runtime: Runtime,
    wfc_session: CheckedSession,
    wfc_cassette: object | None,
    scenario_pool: ScenarioPool | None,
    request: pytest.FixtureRequest,
) -> ScenarioRun:
    """This test's scenario on the run's target; recorded/replayed under --record-mode/--replay."""
    key, test = request.node.nodeid, request.function
    return ScenarioRun(key, test, wfc_runtime, wfc_session, scenario_pool)
