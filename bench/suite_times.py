"""Wall time of the default `wfcontracts verify` on the embedded mock (target < 60 s on 2 cores)
and of replaying every recorded cassette offline (target < 5 s)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT


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


def measure() -> dict[str, Any]:
    verify_s, verify_rc, _ = timed_verify()
    replay_s, replay_rc, replay_inner = timed_verify("--replay", "--suite", "lifecycle")
    cassettes = len(list((ROOT / "cassettes").rglob("*.yaml")))
    return {
        "verify_s": verify_s,
        "verify_exit": verify_rc,
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
        f"replay of {result['cassettes']} cassettes: {result['replay_s']:.1f} s wall "
        f"(process start included), exit {result['replay_exit']}"
    )


if __name__ == "__main__":
    main()
