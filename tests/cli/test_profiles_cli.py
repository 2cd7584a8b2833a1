"""`wfcontracts verify --profile P`: the embedded mock as another legitimate server passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfcontracts.cli", *args],
        capture_output=True, text=True, cwd=cwd, timeout=600,
    )  # fmt: skip


@pytest.mark.parametrize("profile", ["lenient", "alternative"])
def test_verify_passes_on_the_embedded_profile(profile: str, tmp_path: Path) -> None:
    result = cli(
        "verify", "--profile", profile, "--seed", "1", "--quiet",
        "--suite", "contract", "--suite", "lifecycle", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_profile_with_a_live_target_is_refused_in_one_line(tmp_path: Path) -> None:
    result = cli(
        "verify", "--profile", "lenient", "--base-url", "http://127.0.0.1:9",
        "--project", "p", "--token", "t", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert (
        result.stderr.count("\n") == 1 and "--profile applies to the embedded mock" in result.stderr
    )
