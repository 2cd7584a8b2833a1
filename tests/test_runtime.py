"""The runtime: which target, which request rate, which run prefix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wfcontracts.runtime import LIVE_DEFAULT_RPS, RunOptions, build_runtime, request_rate
from wfcontracts.target.config import TargetDefaults, resolve_target


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


def test_worker_options_share_seed_prefix_and_rate() -> None:
    """xdist: each worker's runtime has the run's seed, a run id under the run's prefix and a
    share of the rate bound, so the target never sees more than the run's rate."""
    runtime = build_runtime(RunOptions(seed=7, max_requests_per_second=6.0))
    try:
        options = runtime.worker_options("gw1", workers=3)
        assert options.seed == 7
        assert options.run_id == f"{runtime.run_id}gw1w"
        assert options.max_requests_per_second == 2.0
        assert options.workers == 3  # the fuzz budget is wall time, shared by 3
        worker = build_runtime(RunOptions.from_wire(options.to_wire()))
        try:
            assert worker.run_prefix.startswith(runtime.run_prefix)
            assert worker.seed == 7 and worker.rate == 2.0
        finally:
            worker.close()
    finally:
        runtime.close()


def test_options_survive_the_wire_unchanged() -> None:
    options = RunOptions(
        base_url="http://127.0.0.1:9", token="secret", faults=("a", "b"), seed=3,
        contract_path=Path("c.yaml"), cassettes_dir=Path("cas"), report_dir=Path("r"),
        file_defaults=TargetDefaults(base_url="http://x", project="p", source="wfcontracts.toml"),
    )  # fmt: skip
    wire = options.to_wire()
    assert RunOptions.from_wire(wire) == options
    assert json.loads(json.dumps(wire)) == wire  # plain data: what an execnet channel carries
