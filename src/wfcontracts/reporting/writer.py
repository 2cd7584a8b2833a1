"""Read and write the report directory: `summary.json` in, `index.html` out (plus history)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from wfcontracts.reporting.allure_env import without_credentials
from wfcontracts.reporting.gate import ReportInputError
from wfcontracts.reporting.history import SUMMARY_SCHEMA, append_history, load_history
from wfcontracts.reporting.html import render_html

SUMMARY_FILE = "summary.json"
INDEX_FILE = "index.html"


def load_summary(report_dir: Path) -> dict[str, Any]:
    """`<report_dir>/summary.json` as a dict; ReportInputError (one line) if missing or corrupt."""
    path = report_dir / SUMMARY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportInputError(
            f"no {SUMMARY_FILE} in {report_dir}: run `wfcontracts verify` first "
            "or point --report-dir at its output"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportInputError(f"cannot read {path}: {type(error).__name__}") from None
    return _parse_summary(path, text)


def _parse_summary(path: Path, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportInputError(
            f"{path} is not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}"
        ) from None
    if not isinstance(data, dict):
        raise ReportInputError(f"{path} must hold a JSON object, found {type(data).__name__}")
    schema = data.get("schema", SUMMARY_SCHEMA)
    if schema != SUMMARY_SCHEMA:
        raise ReportInputError(f"{path} has schema {schema!r}; this version reads {SUMMARY_SCHEMA}")
    return data


def write_summary(report_dir: Path, summary: dict[str, Any]) -> Path:
    """Write `summary.json` atomically (credentials stripped from the base URL); return its path."""
    text = json.dumps(without_credentials(summary), indent=2) + "\n"
    return _write_atomic(report_dir / SUMMARY_FILE, text)


def write_report(
    report_dir: Path, summary: dict[str, Any], history_dir: Path | None = None
) -> Path:
    """Render `index.html` into `report_dir`; with `history_dir`, show the trend and add this run.

    The run itself is left out of its own trend (matched by `startedAt`), so rebuilding the
    report for the same run gives the same page.
    """
    history: list[dict[str, Any]] | None = None
    if history_dir is not None:
        started = summary.get("startedAt")
        history = [run for run in load_history(history_dir) if run.get("startedAt") != started]
    path = _write_atomic(report_dir / INDEX_FILE, render_html(summary, history))
    if history_dir is not None:
        append_history(history_dir, summary)
    return path


def _write_atomic(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return path
