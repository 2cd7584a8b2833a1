from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from wfcontracts.reporting.history import (
    append_history,
    history_file_stem,
    load_history,
    read_history,
)


def _run(started: str, failed: int = 0) -> dict[str, Any]:
    return {
        "schema": "wfcontracts.summary/1",
        "startedAt": started,
        "totals": {"passed": 10, "failed": failed, "skipped": 0, "errors": 0},
    }


def test_missing_directory_is_an_empty_history(tmp_path: Path) -> None:
    assert load_history(tmp_path / "nowhere") == []


def test_append_then_load_round_trips_sorted_by_start(tmp_path: Path) -> None:
    later = append_history(tmp_path, _run("2026-11-23T12:00:00+00:00", failed=1))
    earlier = append_history(tmp_path, _run("2026-11-22T08:30:00Z"))
    assert later.name == "2026-11-23T12-00-00-00-00.json"
    assert earlier.name == "2026-11-22T08-30-00Z.json"
    runs = load_history(tmp_path)
    assert [run["startedAt"] for run in runs] == [
        "2026-11-22T08:30:00Z",
        "2026-11-23T12:00:00+00:00",
    ]
    assert runs[1]["totals"]["failed"] == 1


def test_appending_the_same_run_twice_keeps_one_file(tmp_path: Path) -> None:
    append_history(tmp_path, _run("2026-11-23T12:00:00Z"))
    append_history(tmp_path, _run("2026-11-23T12:00:00Z", failed=3))
    assert [run["totals"]["failed"] for run in load_history(tmp_path)] == [3]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["2026-11-23T12-00-00Z.json"]


def test_previous_report_directories_are_read_too(tmp_path: Path) -> None:
    (tmp_path / "run-a").mkdir()
    (tmp_path / "run-a" / "summary.json").write_text(json.dumps(_run("2026-11-20T00:00:00Z")))
    append_history(tmp_path, _run("2026-11-21T00:00:00Z"))
    assert [run["startedAt"][:10] for run in load_history(tmp_path)] == ["2026-11-20", "2026-11-21"]


def test_corrupt_and_foreign_files_are_skipped_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    append_history(tmp_path, _run("2026-11-21T00:00:00Z"))
    (tmp_path / "broken.json").write_text('{"schema": ')
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "other.json").write_text(json.dumps({"schema": "other/2", "totals": {}}))
    (tmp_path / "nototals.json").write_text(json.dumps({"startedAt": "x"}))
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    with caplog.at_level(logging.WARNING, logger="wfcontracts.reporting"):
        history = read_history(tmp_path)
    assert [run["startedAt"] for run in history.runs] == ["2026-11-21T00:00:00Z"]
    reasons = sorted(line.split(": ", 1)[1] for line in history.skipped)
    assert reasons == [
        "no totals",
        "not a summary object",
        "not valid JSON (line 1)",
        "unreadable (UnicodeDecodeError)",
        "unsupported schema 'other/2'",
    ]
    assert len([r for r in caplog.records if "history: skipped" in r.getMessage()]) == 5


def test_file_stem_is_safe_without_a_start_time() -> None:
    assert history_file_stem({}) == "unknown-start"
    assert history_file_stem({"startedAt": "../../etc/passwd"}) == "etc-passwd"
