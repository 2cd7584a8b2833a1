"""The lifecycle suite's probe: a checked session bound to this test's cassette (if any)."""

from __future__ import annotations

import pytest

from wfcontracts.checks import CheckedSession
from wfcontracts.runtime import Runtime
from wfcontracts.scenarios.lifecycle_flows import LifecycleProbe


@pytest.fixture
def lifecycle(
    wfc_runtime: Runtime, wfc_session: CheckedSession, wfc_cassette: object | None
) -> LifecycleProbe:
    """Probe workflows on the run's target; recorded/replayed under --record-mode/--replay."""
    return LifecycleProbe(wfc_runtime, wfc_session)
