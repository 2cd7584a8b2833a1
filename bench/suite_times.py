"""Wall time of the default `wfcontracts verify` on the embedded mock (target < 60 s on 2 cores),
against `wfcontracts mock serve` over loopback at `real` pace (target < 90 s) beside the same
run at `fast`, of replaying every recorded cassette offline (target < 5 s), and of a release
budget (`--max-examples 200`) in one process vs across two xdist workers (`--jobs 2`)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, TOKEN, served_mock


def timed_verify(*args: str) -> tuple[float, int, float | None]:
    """(wall seconds incl. interpreter start, exit code, seconds of the run itself)."""
    with tempfile.TemporaryDirectory() as reports:
        command = [
            sys.executable, "-m", "wfcontracts.cli", "verify", "--quiet", "--seed", "1",
            "--report-dir", str(Path(reports) / "r"), *args,
        ]  # fmt: skip
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=1800)
        wall = time.perf_counter() - started
        summary = Path(reports) / "r" / "summary.json"
        inner = json.loads(summary.read_text())["durationSeconds"] if summary.exists() else None
        return wall, result.returncode, inner


def served_verify(pace: str) -> tuple[float, int]:
    """Default verify against a mock served at `pace` (its own process, loopback)."""
    with served_mock("--pace", pace, "--seed", "1") as api_root:
        wall, code, _ = timed_verify("--base-url", api_root, "--token", TOKEN)
    return wall, code


def jobs_speedup(max_examples: int = 200) -> dict[str, Any]:
    """`verify --max-examples N` at --jobs 1 and --jobs 2 (same seed, embedded mock)."""
    one_s, one_rc, _ = timed_verify("--max-examples", str(max_examples), "--jobs", "1")
    two_s, two_rc, _ = timed_verify("--max-examples", str(max_examples), "--jobs", "2")
    return {
        "max_examples": max_examples,
        "jobs1_s": one_s,
        "jobs1_exit": one_rc,
        "jobs2_s": two_s,
        "jobs2_exit": two_rc,
        "ratio": one_s / two_s,
    }


def measure() -> dict[str, Any]:
    verify_s, verify_rc, _ = timed_verify()
    real_s, real_rc = served_verify("real")
    fast_s, fast_rc = served_verify("fast")
    replay_s, replay_rc, replay_inner = timed_verify("--replay", "--suite", "lifecycle")
    cassettes = len(list((ROOT / "cassettes").rglob("*.yaml")))
    jobs = jobs_speedup()
    return {
        "jobs": jobs,
        "verify_s": verify_s,
        "verify_exit": verify_rc,
        "served_real_s": real_s,
        "served_real_exit": real_rc,
        "served_fast_s": fast_s,
        "served_fast_exit": fast_rc,
        "replay_s": replay_s,
        "replay_exit": replay_rc,
        "replay_in_run_s": replay_inner,
        "cassettes": cassettes,
    }


def main() -> None:
    result = measure()
    print(
        f"default verify (embedded mock): {result['verify_s']:.1f} s, exit {result['verify_exit']}"
    )
    print(
        f"default verify against mock serve: {result['served_real_s']:.1f} s at real pace "
        f"(exit {result['served_real_exit']}), {result['served_fast_s']:.1f} s at fast "
        f"(exit {result['served_fast_exit']})"
    )
    print(
        f"replay of {result['cassettes']} cassettes: {result['replay_s']:.1f} s wall "
        f"(process start included), exit {result['replay_exit']}"
    )
    jobs = result["jobs"]
    print(
        f"verify --max-examples {jobs['max_examples']}: {jobs['jobs1_s']:.1f} s at --jobs 1, "
        f"{jobs['jobs2_s']:.1f} s at --jobs 2 (exit {jobs['jobs1_exit']}/{jobs['jobs2_exit']}): "
        f"{jobs['ratio']:.2f}x"
    )


if __name__ == "__main__":
    main()
