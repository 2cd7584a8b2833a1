"""Cassette drift: every recorded response in cassettes/ re-validated against the current contract.

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
from wfcontracts.contract import Contract, load_contract

CASSETTES = Path(__file__).parents[2] / "cassettes"
FILES = find_cassettes(CASSETTES)
NO_CASSETTES = "no cassettes recorded yet under cassettes/ (record them with `wfcontracts record`)"

pytestmark = [pytest.mark.check("cassette_drift"), pytest.mark.live_safe]


def _params() -> list[object]:
    if not FILES:
        return [pytest.param(None, id="no-cassettes", marks=pytest.mark.skip(reason=NO_CASSETTES))]
    return [pytest.param(path, id=path.relative_to(CASSETTES).as_posix()) for path in FILES]


@pytest.fixture(scope="module")
def contract() -> Contract:
    return load_contract()


@pytest.fixture(scope="module")
def readable() -> list[Cassette]:
    """Every cassette that loads; a broken one fails its own test, not this summary."""
    loaded: list[Cassette] = []
    for path in FILES:
        try:
            loaded.extend(load_cassettes([path]))
        except CassetteError:
            continue
    return loaded


@pytest.mark.parametrize("path", _params())
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
    readable: list[Cassette], contract: Contract
) -> None:
    if not FILES:
        pytest.skip(NO_CASSETTES)
    report: DriftReport = drift_report(contract, readable)
    print(format_drift(report))  # noqa: T201 - the listing is this test's output (-rP, -s)
    assert report.checked >= 1, f"no interaction in {CASSETTES} is an operation of the contract"
