"""Allure glue: `environment.properties`, and the optional Allure 3 HTML report.

The Allure 3 CLI (npm package ``allure``) is never downloaded at run time: we use an ``allure``
already on PATH or in a ``node_modules/.bin`` next to the working directory, and otherwise say
how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from wfcontracts.reporting.gate import ReportInputError

INSTALL_HINT = "install Node.js and the Allure 3 CLI with `npm install -g allure`"
ALLURE_TIMEOUT_SECONDS = 300
_VERSION_KEYS = ("wfcontracts", "schemathesis", "cognite-sdk", "python")


def public_url(url: object) -> str | None:
    """`url` without userinfo, query and fragment — safe to show in a report; None if absent."""
    if not url:
        return None
    try:
        parts = urlsplit(str(url).strip())
        port = parts.port
    except ValueError:
        return "(unparseable URL)"
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal needs its brackets back
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def report_environment(summary_like: Mapping[str, Any]) -> dict[str, str]:
    """The run's environment as ordered key → value pairs (no secrets, no credentials).

    Shared by `environment.properties` and the HTML page so both describe the run alike.
    """
    target = _mapping(summary_like.get("target"))
    contract = _mapping(summary_like.get("contract"))
    versions = _mapping(summary_like.get("versions"))
    pairs: dict[str, str] = {
        "target.kind": _text(target.get("kind")),
        "target.url": public_url(target.get("baseUrl")) or "(embedded mock)",
        "project": _text(target.get("project")),
        "contract.path": _text(contract.get("path")),
        "contract.sha256": _text(contract.get("sha256")),
    }
    for name in _VERSION_KEYS:
        pairs[f"{name}.version"] = _text(versions.get(name), missing="not installed")
    return pairs


def write_environment(results_dir: Path, summary_like: Mapping[str, Any]) -> Path:
    """Write `<results_dir>/environment.properties` (Allure's environment widget); return it."""
    results_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{_escape_key(key)}={_escape_value(value)}"
        for key, value in report_environment(summary_like).items()
    ]
    path = results_dir / "environment.properties"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def find_allure_executable(search_dirs: tuple[Path, ...] = ()) -> Path | None:
    """An installed Allure CLI: `node_modules/.bin/allure` under a search dir or cwd, or PATH."""
    for base in (*search_dirs, Path.cwd()):
        candidate = base / "node_modules" / ".bin" / "allure"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("allure")
    return Path(found) if found else None


def allure_cli_command(
    results_dir: Path, out_dir: Path, search_dirs: tuple[Path, ...] = ()
) -> list[str] | None:
    """The Allure 3 command building a single-file report into `out_dir`; None if not installed."""
    executable = find_allure_executable(search_dirs)
    if executable is None:
        return None
    return [
        str(executable),
        "awesome",
        str(results_dir),
        "--output",
        str(out_dir),
        "--single-file",
        "--name",
        "wfcontracts release validation",
    ]


def build_allure_report(
    results_dir: Path, out_dir: Path, search_dirs: tuple[Path, ...] = ()
) -> None:
    """Build the Allure HTML report offline; ReportInputError (one line) when that is impossible."""
    if not results_dir.is_dir():
        raise ReportInputError(
            f"no Allure results in {results_dir}: run `wfcontracts verify` first"
        )
    command = allure_cli_command(results_dir, out_dir, search_dirs)
    if command is None:
        raise ReportInputError(f"the Allure CLI is not installed: {INSTALL_HINT}")
    if shutil.which("node") is None:
        raise ReportInputError(
            f"Node.js is not installed, the Allure 3 CLI needs it: {INSTALL_HINT}"
        )
    _run_allure(command)


def _run_allure(command: list[str]) -> None:
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=ALLURE_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ReportInputError(f"the Allure CLI could not run ({error}): {INSTALL_HINT}") from None
    if completed.returncode != 0:
        detail = _last_line(completed.stderr) or _last_line(completed.stdout) or "no output"
        raise ReportInputError(
            f"the Allure CLI failed (exit {completed.returncode}: {detail}); "
            f"it must be Allure 3: {INSTALL_HINT}"
        )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object, missing: str = "unknown") -> str:
    return missing if value is None or value == "" else str(value)


def _escape_value(value: str) -> str:
    # Java properties: backslash escapes, and a value must stay on one line.
    escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return "\\" + escaped if escaped[:1].isspace() else escaped


def _escape_key(key: str) -> str:
    return "".join("\\" + char if char in " =:#!\\" else char for char in key)
