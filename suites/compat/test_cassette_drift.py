"""Cassette drift: every recorded response re-validated against the run's contract.

One test per cassette file fails on responses the contract rejects; one more prints what is
informational: fields the responses carry but the contract does not declare, contract fields no
recording ever returned, and status codes seen per operation. No request reaches the target.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wfcontracts.compat.drift import (
    Cassette,
    CassetteError,
    DriftReport,
    drift_report,
    find_cassettes,
    format_drift,
    load_cassettes,
)
from wfcontracts.contract import Contract
from wfcontracts.runtime import Runtime, cassettes_dir

NO_CASSETTES = "no cassettes recorded yet (record them with `wfcontracts record`)"

pytestmark = [pytest.mark.check("cassette_drift"), pytest.mark.live_safe]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per cassette of the run's cassette directory."""
    if "path" not in metafunc.fixturenames:
        return
    plugin = metafunc.config.pluginmanager.get_plugin("wfcontracts")
    assert plugin is not None, "the wfcontracts pytest plugin is not loaded"
    directory = cassettes_dir(plugin.runtime_of(metafunc.config).options)
    files = find_cassettes(directory)
    params = [pytest.param(path, id=path.relative_to(directory).as_posix()) for path in files]
    if not params:
        params = [
            pytest.param(None, id="no-cassettes", marks=pytest.mark.skip(reason=NO_CASSETTES))
        ]
    metafunc.parametrize("path", params)


@pytest.fixture(scope="module")
def contract(wfc_runtime: Runtime) -> Contract:
    return wfc_runtime.contract


@pytest.fixture(scope="module")
def files(wfc_runtime: Runtime) -> list[Path]:
    return find_cassettes(cassettes_dir(wfc_runtime.options))


@pytest.fixture(scope="module")
def readable(files: list[Path]) -> list[Cassette]:
    """Every cassette that loads; a broken one fails its own test, not this summary."""
    loaded: list[Cassette] = []
    for path in files:
        try:
            loaded.extend(load_cassettes([path]))
        except CassetteError:
            continue
    return loaded


def test_recorded_responses_match_the_contract(path: Path, contract: Contract) -> None:
    try:
        cassettes = load_cassettes([path])
    except CassetteError as error:
        unreadable = str(error)
    else:
        unreadable = ""
    if unreadable:
        pytest.fail(unreadable, pytrace=False)
    report = drift_report(contract, cassettes)
    if not report.clean:
        listed = "\n".join(f"  {error}" for error in report.errors)
        heading = f"{len(report.errors)} recorded response(s) break the contract"
        pytest.fail(f"{heading}:\n{listed}", pytrace=False)


def test_fields_outside_the_contract_and_never_recorded(
    readable: list[Cassette], contract: Contract, files: list[Path]
) -> None:
    if not files:
        pytest.skip(NO_CASSETTES)
    report: DriftReport = drift_report(contract, readable)
    print(format_drift(report))  # noqa: T201 - the listing is this test's output (-rP, -s)
    assert report.checked >= 1, (
        f"no interaction in {files[0].parent} is an operation of the contract"
    )
