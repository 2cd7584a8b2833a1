"""The runtime: which target, which request rate, which run prefix."""

from __future__ import annotations

import pytest

from wfcontracts.runtime import LIVE_DEFAULT_RPS, RunOptions, build_runtime, request_rate
from wfcontracts.target.config import resolve_target


@pytest.mark.parametrize(
    ("base_url", "flag", "expected"),
    [
        ("https://api.cognitedata.com", None, LIVE_DEFAULT_RPS),
        ("https://api.cognitedata.com", 3.0, 3.0),
        ("https://api.cognitedata.com", 0.0, None),
        ("http://127.0.0.1:8000", None, None),
        ("http://localhost:8000", None, None),
    ],
)
def test_live_request_rates_are_bounded_by_default(
    base_url: str, flag: float | None, expected: float | None
) -> None:
    config = resolve_target(base_url=base_url, project="p", token="t", env={})
    assert request_rate(RunOptions(max_requests_per_second=flag), config) == expected


def test_the_embedded_mock_is_the_default_target() -> None:
    runtime = build_runtime(RunOptions())
    try:
        assert runtime.mock is not None and runtime.config.kind == "mock"
        assert runtime.run_prefix.startswith("wfcontracts-")
        assert runtime.client.get("workflows").status_code == 200
    finally:
        runtime.close()


def test_run_prefixes_differ_between_runs() -> None:
    first, second = build_runtime(RunOptions()), build_runtime(RunOptions())
    assert first.run_prefix != second.run_prefix
    first.close()
    second.close()
