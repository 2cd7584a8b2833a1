from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wfcontracts.reporting.allure_env import write_environment
from wfcontracts.reporting.gate import ReportInputError, evaluate_gate
from wfcontracts.reporting.history import load_history
from wfcontracts.reporting.writer import load_summary, write_report, write_summary


def test_summary_round_trip(tmp_path: Path, summary: dict[str, Any]) -> None:
    summary["gate"] = evaluate_gate(summary["checks"])
    path = write_summary(tmp_path, summary)
    assert path == tmp_path / "summary.json"
    loaded = load_summary(tmp_path)
    assert loaded["target"]["baseUrl"] == "https://api.example.test:8443/base"
    assert loaded == {**summary, "target": loaded["target"]}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no summary.json in"),
        ('{"checks": [', "is not valid JSON (line 1, column 13)"),
        ("[]", "must hold a JSON object, found list"),
        ('{"schema": "wfcontracts.summary/9"}', "has schema 'wfcontracts.summary/9'"),
    ],
)
def test_load_summary_errors_are_one_line(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    if content is not None:
        (tmp_path / "summary.json").write_text(content)
    with pytest.raises(ReportInputError) as caught:
        load_summary(tmp_path)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_write_report_without_history(tmp_path: Path, summary: dict[str, Any]) -> None:
    path = write_report(tmp_path / "reports", summary)
    assert path == tmp_path / "reports" / "index.html"
    page = path.read_text(encoding="utf-8")
    assert 'data-verdict="fail"' in page and 'id="trend"' not in page


def test_write_report_with_history_shows_trend_and_records_the_run(
    tmp_path: Path, summary: dict[str, Any]
) -> None:
    history_dir = tmp_path / "history"
    previous = json.loads(json.dumps(summary))
    previous["startedAt"] = "2026-11-22T12:00:00+00:00"
    write_report(tmp_path / "old", previous, history_dir)
    first = write_report(tmp_path / "reports", summary, history_dir).read_text(encoding="utf-8")
    assert "(+0.0 pp vs previous run)" in first
    # rebuilding the same run must not compare it with itself
    again = write_report(tmp_path / "reports", summary, history_dir).read_text(encoding="utf-8")
    assert again == first
    assert [run["startedAt"][:10] for run in load_history(history_dir)] == [
        "2026-11-22",
        "2026-11-23",
    ]


def test_no_report_file_keeps_a_secret(
    tmp_path: Path, summary: dict[str, Any], secret_token: str
) -> None:
    failing = next(check for check in summary["checks"] if check["outcome"] == "failed")
    failing["reproduction"] = f"curl -H 'Authorization: Bearer {secret_token}' https://x/"
    summary["gate"] = evaluate_gate(summary["checks"])
    reports, history_dir = tmp_path / "reports", tmp_path / "history"
    write_summary(reports, summary)
    write_report(reports, summary, history_dir)
    write_environment(reports / "allure-results", summary)
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert len(written) == 4
    for path in written:
        assert secret_token not in path.read_text(encoding="utf-8"), path
