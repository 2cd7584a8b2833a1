"""A fuzz finding is reproducible: seed, runnable curl and cassette in stdout, summary.json and
the HTML card, and `verify --replay-failure` re-sends it (offline, against the embedded mock)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FAULT = "whitespace_ids_accepted"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfcontracts.cli", *args],
        capture_output=True, text=True, cwd=cwd, timeout=600,
    )  # fmt: skip


def test_a_fuzz_finding_carries_seed_curl_cassette_and_replays(tmp_path: Path) -> None:
    found = cli(
        "verify", "--suite", "fuzz", "--fault", FAULT, "--seed", "1", "--quiet", cwd=tmp_path
    )
    assert found.returncode == 1, found.stdout[-2000:] + found.stderr[-2000:]
    assert "seed 1 · cassette reports/fuzz/" in found.stdout
    assert "replay: wfcontracts verify --replay-failure reports/fuzz/" in found.stdout
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    entries = [e for e in summary["checks"] if e.get("fuzz")]
    assert entries, "no fuzz failure carries its reproduction"
    fuzz = entries[0]["fuzz"]
    assert fuzz["seed"] == "1" and summary["seed"] == 1
    # Runnable: a real address (the served mock for an embedded run), the token as a variable.
    assert '"Authorization: Bearer $CDF_TOKEN"' in fuzz["curl"]
    assert "wfcontracts.mock" not in fuzz["curl"] and "http://127.0.0.1:8000/" in fuzz["curl"]
    cassette = tmp_path / fuzz["cassette"]
    assert cassette.is_file()
    html = (tmp_path / "reports" / "index.html").read_text()
    assert 'class="fuzz-repro"' in html and fuzz["cassette"] in html

    again = cli("verify", "--replay-failure", str(cassette), "--fault", FAULT, cwd=tmp_path)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "check failure(s) reproduced" in again.stdout
    clean = cli("verify", "--replay-failure", str(cassette), cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no check fails now" in clean.stdout


def test_replay_failure_of_a_missing_cassette_is_one_line(tmp_path: Path) -> None:
    result = cli("verify", "--replay-failure", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no fuzz cassette" in result.stderr
