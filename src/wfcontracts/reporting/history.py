"""Run history for the report's trend: previous `summary.json` files kept in a directory.

Layout read: `<dir>/*.json` (what `append_history` writes) and `<dir>/*/summary.json` (a
directory of whole previous report dirs). An unreadable, corrupt or foreign file is skipped,
never fatal: the trend is a convenience, a broken history file must not break a release report.
Each skip is logged on the ``wfcontracts.reporting`` logger and returned by `read_history`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfcontracts.reporting.allure_env import without_credentials

SUMMARY_SCHEMA = "wfcontracts.summary/1"
_LOG = logging.getLogger("wfcontracts.reporting")
_UNSAFE = re.compile(r"[^0-9A-Za-z]+")


@dataclass(frozen=True)
class History:
    """Previous runs, oldest first, and one line per file that was skipped."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def read_history(directory: Path) -> History:
    """Previous summaries in `directory`, sorted by `startedAt` (then file name)."""
    if not directory.is_dir():
        return History()
    found: list[tuple[str, str, dict[str, Any]]] = []
    skipped: list[str] = []
    for path in _candidate_files(directory):
        summary, problem = _read_summary(path)
        if summary is None:
            skipped.append(f"{path}: {problem}")
            _LOG.warning("history: skipped %s: %s", path, problem)
            continue
        found.append((str(summary.get("startedAt", "")), str(path), summary))
    found.sort(key=lambda item: (item[0], item[1]))
    return History([summary for _, _, summary in found], skipped)


def load_history(directory: Path) -> list[dict[str, Any]]:
    """Previous summaries in `directory`, oldest first; bad files are skipped (and logged)."""
    return read_history(directory).runs


def append_history(directory: Path, summary: dict[str, Any]) -> Path:
    """Copy `summary` into `directory` as `<startedAt, file-name safe>.json`; return the path.

    The same run appended twice overwrites its own file, so rebuilding a report is idempotent.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{history_file_stem(summary)}.json"
    temporary = path.with_suffix(".json.tmp")
    text = json.dumps(without_credentials(summary), indent=2, sort_keys=True) + "\n"
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)  # atomic: a reader never sees half a file
    return path


def history_file_stem(summary: dict[str, Any]) -> str:
    """`2026-11-23T12:00:00+00:00` → `2026-11-23T12-00-00-00-00`, safe on every file system."""
    started = str(summary.get("startedAt") or "unknown-start")
    return _UNSAFE.sub("-", started).strip("-") or "unknown-start"


def _candidate_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.json"), *directory.glob("*/summary.json")])


def _read_summary(path: Path) -> tuple[dict[str, Any] | None, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        return None, f"unreadable ({type(error).__name__})"
    except json.JSONDecodeError as error:
        return None, f"not valid JSON (line {error.lineno})"
    if not isinstance(data, dict):
        return None, "not a summary object"
    schema = data.get("schema", SUMMARY_SCHEMA)
    if schema != SUMMARY_SCHEMA:
        return None, f"unsupported schema {schema!r}"
    if not isinstance(data.get("totals"), dict):
        return None, "no totals"
    return data, ""
