"""`wfcontracts init`: make a repository a CI gate in one command.

Writes the config (``wfcontracts.toml``, or ``[tool.wfcontracts]`` appended to an existing
``pyproject.toml``) and ``.github/workflows/wfcontracts.yml``, which installs wfcontracts, runs
``wfcontracts verify`` on pull requests and publishes JUnit and the HTML report as artefacts.
The templates are package data (``wfcontracts/templates``) so they read as the files they make.
Nothing is overwritten without ``force``, and nothing is written unless everything can be.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from wfcontracts import __version__
from wfcontracts.errors import WfcontractsError
from wfcontracts.project_config import CONFIG_FILE

__all__ = ["WORKFLOW_PATH", "ScaffoldError", "ScaffoldRequest", "scaffold"]

WORKFLOW_PATH = Path(".github") / "workflows" / "wfcontracts.yml"
REPORT_DIR = "reports"
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")


class ScaffoldError(WfcontractsError):
    """A file init would write exists, or the options are not a usable target."""


@dataclass(frozen=True)
class ScaffoldRequest:
    directory: Path = Path()
    #: A live target written into the config; None: the embedded mock (offline).
    base_url: str | None = None
    project: str | None = None
    #: Append ``[tool.wfcontracts]`` to ./pyproject.toml instead of writing wfcontracts.toml.
    pyproject: bool = False
    #: What the workflow pip-installs; None: this exact version from the package index.
    install: str | None = None
    force: bool = False


def scaffold(request: ScaffoldRequest) -> list[tuple[Path, str]]:
    """Write the config and the workflow; (path, what it is) for each file written."""
    _check_target(request)
    config_path, config_text = _config(request)
    workflow_path = request.directory / WORKFLOW_PATH
    if workflow_path.exists() and not request.force:
        raise ScaffoldError(f"{workflow_path} exists; keep it, or pass --force to overwrite it")
    install = shlex.quote(request.install or f"wfcontracts=={__version__}")
    workflow = _render("wfcontracts.yml", INSTALL=install, REPORT_DIR=REPORT_DIR)
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(config_text, encoding="utf-8")
    workflow_path.parent.mkdir(parents=True, exist_ok=True)
    workflow_path.write_text(workflow, encoding="utf-8")
    what = "[tool.wfcontracts] added" if request.pyproject else "settings"
    return [(config_path, what), (workflow_path, "GitHub Actions: verify on pull requests")]


def _check_target(request: ScaffoldRequest) -> None:
    """Refuse a base URL or project `verify` would refuse, before writing anything."""
    from wfcontracts.target.config import resolve_target

    # A placeholder token: init only checks the URL and project; credentials stay in the env.
    resolve_target(base_url=request.base_url, project=request.project, token="placeholder", env={})


def _config(request: ScaffoldRequest) -> tuple[Path, str]:
    text = _render("wfcontracts.toml", TARGET=_target_lines(request), REPORT_DIR=REPORT_DIR)
    config_file = request.directory / CONFIG_FILE
    if not request.pyproject:
        if config_file.exists() and not request.force:
            raise ScaffoldError(f"{config_file} exists; keep it, or pass --force to overwrite it")
        return config_file, text
    pyproject = request.directory / "pyproject.toml"
    if not pyproject.is_file():
        raise ScaffoldError(f"no {pyproject}: drop --pyproject to write {CONFIG_FILE} instead")
    if config_file.exists():
        raise ScaffoldError(f"{config_file} exists and is read before pyproject.toml; remove it")
    current = pyproject.read_text(encoding="utf-8")
    try:
        existing = tomllib.loads(current)
    except tomllib.TOMLDecodeError as exc:
        raise ScaffoldError(f"{pyproject}: not valid TOML: {exc}") from None
    if "wfcontracts" in existing.get("tool", {}):
        raise ScaffoldError(f"{pyproject} already has [tool.wfcontracts]; edit it there")
    # Tables appended at the end: TOML allows them anywhere, and the rest stays byte for byte.
    tables = re.sub(r"(?m)^\[(\w+)\]$", r"[tool.wfcontracts.\1]", _body(text))
    return pyproject, current.rstrip("\n") + "\n\n" + tables


def _body(text: str) -> str:
    """The template without its leading comment block (pyproject.toml has its own header)."""
    lines = text.splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if line.startswith("["))
    return "# wfcontracts: `wfcontracts verify` settings (flag > env > this > default)\n" + "".join(
        lines[first:]
    )


def _target_lines(request: ScaffoldRequest) -> str:
    def line(key: str, value: str | None, example: str) -> str:
        # TOML basic strings take JSON's escapes.
        return f"{key} = {json.dumps(value)}" if value else f'# {key} = "{example}"'

    if request.base_url:
        lines = ["# CDF_URL or CDF_CLUSTER, and CDF_PROJECT, override these:"]
    else:
        lines = [
            "# No base-url: the embedded mock (offline). CDF_URL or CDF_CLUSTER, and",
            "# CDF_PROJECT, override whatever is set here.",
        ]
    lines.append(line("base-url", request.base_url, "https://westeurope-1.cognitedata.com"))
    lines.append(line("project", request.project, "my-project"))
    return "\n".join(lines)


def _render(name: str, **values: str) -> str:
    text = resources.files("wfcontracts").joinpath("templates", name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    leftover = _PLACEHOLDER.search(text)
    assert leftover is None, f"template {name}: {leftover.group(0)} not filled"
    return text
