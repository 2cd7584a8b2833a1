"""The fuzz suite finds nothing on a correct server: the embedded mock, and the mock over HTTP.

Each run is `pytest suites/fuzz` in a subprocess (the suite builds its schema from the command
line), with a fixed seed so a failure here reproduces with the same command.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wfcontracts.mock.server import serve_in_background
from wfcontracts.mock.service import MockService

pytest_plugins = ["pytester"]

SUITE = Path(__file__).resolve().parents[2] / "suites" / "fuzz"
OPERATIONS = 15  # one stateless test per contract operation
TESTS = OPERATIONS + 1  # and the stateful one
TOKEN = "wfcontracts-fuzz-clean-token"
CASES = re.compile(r"wfcontracts fuzz: (\d+) cases")


def run_suite(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        str(SUITE), "--seed", "1", "-p", "no:cacheprovider", *args, timeout=900
    )


def assert_clean(result: pytest.RunResult) -> int:
    """No failure, every test ran; the number of generated cases sent."""
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()[-4000:]
    assert outcomes.get("error", 0) == 0, result.stdout.str()[-4000:]
    assert outcomes.get("passed", 0) == TESTS
    assert result.ret == 0
    found = CASES.findall(result.stdout.str())
    assert found, "the suite did not report its case count"
    return int(found[-1])


def test_embedded_mock_small_budget(pytester: pytest.Pytester) -> None:
    """The CI budget (`--max-examples 25`, the default) on the embedded mock."""
    cases = assert_clean(run_suite(pytester))
    assert cases >= 25 * OPERATIONS


@pytest.mark.slow
def test_embedded_mock_campaign_budget(pytester: pytest.Pytester) -> None:
    """At least 100 examples per operation, all checks on: still zero failures."""
    cases = assert_clean(run_suite(pytester, "--max-examples", "100"))
    assert cases >= 100 * OPERATIONS


def test_served_mock_over_http(pytester: pytest.Pytester) -> None:
    """The same suite over HTTP against `wfcontracts mock serve` (a real uvicorn on loopback)."""
    with serve_in_background(MockService(tokens=[TOKEN])) as server:
        result = run_suite(
            pytester, "--base-url", server.base_url, "--project", "p", "--token", TOKEN
        )
    cases = assert_clean(result)
    assert cases >= 25 * OPERATIONS
