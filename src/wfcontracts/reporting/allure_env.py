"""Allure glue and what a report may publish: `environment.properties`, the optional Allure 3
HTML report, and the URL/secret scrubbing every report file goes through.

The Allure 3 CLI (npm package ``allure``) is never downloaded at run time: we use an ``allure``
already on PATH or in a ``node_modules/.bin`` next to the working directory, and otherwise say
how to install it.
"""

from __future__ import annotations

import os
import re
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
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1***"),
    (
        re.compile(
            r'(?i)("(?:nonce|client_secret|access_token|refresh_token|id_token|password)"'
            r'\s*:\s*")[^"]*(")'
        ),
        r"\1***\2",
    ),
    (
        re.compile(r"(?i)\b((?:client_secret|access_token|refresh_token|nonce)=)[^&\s'\"]+"),
        r"\1***",
    ),
)
_CHECK_TEXT_KEYS = ("message", "reproduction", "request", "response")
# Allure 3's HTML templates embed Google Analytics (the "awesome" one ignores
# ALLURE_NO_ANALYTICS): a release report must open offline and not report who reads it.
_ANALYTICS = re.compile(
    r'<script async src="https://www\.googletagmanager\.com/[^"]*"></script>\s*'
    r"(<script>\s*window\.dataLayer.*?</script>)?",
    re.DOTALL,
)


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


def mask_secrets(text: str) -> str:
    """`text` with bearer tokens and secret-looking JSON/query values replaced by ``***``.

    Defence in depth: the engine scrubs exchanges with `wfcontracts.redact` already; these
    patterns catch what a check message or a hand-made summary may still carry.
    """
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def without_credentials(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `summary` safe to write: `target.baseUrl` without userinfo or query, and the
    checks' message, reproduction, request and response passed through `mask_secrets`.
    """
    copy = dict(summary)
    target = summary.get("target")
    if isinstance(target, Mapping) and target.get("baseUrl"):
        copy["target"] = {**target, "baseUrl": public_url(target["baseUrl"])}
    checks = summary.get("checks")
    if isinstance(checks, list):
        copy["checks"] = [_masked_check(check) for check in checks]
    return copy


def _masked_check(check: object) -> object:
    if not isinstance(check, Mapping):
        return check
    return {
        key: mask_secrets(value) if key in _CHECK_TEXT_KEYS and isinstance(value, str) else value
        for key, value in check.items()
    }


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
    strip_analytics(out_dir / "index.html")


def strip_analytics(page: Path) -> None:
    """Remove the analytics scripts Allure writes into its page, if any (see `_ANALYTICS`)."""
    if not page.is_file():
        return
    text = page.read_text(encoding="utf-8")
    cleaned = _ANALYTICS.sub("", text)
    if cleaned != text:
        page.write_text(cleaned, encoding="utf-8")


def _run_allure(command: list[str]) -> None:
    environment = {**os.environ, "ALLURE_NO_ANALYTICS": "true"}
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=ALLURE_TIMEOUT_SECONDS,
            check=False,
            env=environment,
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
