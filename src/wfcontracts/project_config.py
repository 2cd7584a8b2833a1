"""A repository's own wfcontracts settings: ``wfcontracts.toml`` or ``[tool.wfcontracts]``.

Precedence, for every setting: command-line flag > environment variable > this file > built-in
default. Which file: ``--config FILE``, else ``$WFCONTRACTS_CONFIG``, else ``./wfcontracts.toml``,
else ``[tool.wfcontracts]`` of ``./pyproject.toml``; none is fine (built-in defaults). Relative
paths in the file are relative to the file's directory.

```toml
[target]                  # no base-url: the embedded mock
base-url = "https://westeurope-1.cognitedata.com"   # env CDF_URL / CDF_CLUSTER win
project = "my-project"                              # env CDF_PROJECT wins
async-function-external-id = "wfcontracts-async-noop"
max-rps = 10

[run]
suites = ["contract", "lifecycle", "fuzz", "compat"]
max-examples = 25
seed = 1
deadline = 60
contract = "contracts/cdf-workflows.openapi.yaml"   # env WFCONTRACTS_CONTRACT wins
cassettes = "cassettes"

[report]
dir = "reports"
history = "reports/history"

[gate]
fail-on = ["critical", "major"]
```

Credentials never come from the file (it lives in the repository): ``token`` is refused with a
pointer to ``CDF_TOKEN``. Unknown sections and keys are refused too, so a typo is not silently
ignored. The contract, when no flag, env or file names one, is the repository's own
``./contracts/cdf-workflows.openapi.yaml`` if present, else the shipped contract.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfcontracts.errors import WfcontractsError
from wfcontracts.options import SUITES
from wfcontracts.target.config import TargetDefaults

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILE",
    "CONTRACT_ENV",
    "LOCAL_CONTRACT",
    "SUITES",
    "ConfigError",
    "ProjectConfig",
    "find_config",
    "load_config",
    "local_contract",
]

CONFIG_FILE = "wfcontracts.toml"
CONFIG_ENV = "WFCONTRACTS_CONFIG"
#: Same name as ``wfcontracts.contract.loader.CONTRACT_ENV`` (which reads it).
CONTRACT_ENV = "WFCONTRACTS_CONTRACT"
#: A repository's own contract, preferred to the shipped one when present.
LOCAL_CONTRACT = Path("contracts") / "cdf-workflows.openapi.yaml"
_SECRET_KEYS = frozenset({"token", "client-secret", "read-only-token"})


class ConfigError(WfcontractsError):
    """The config file cannot be used; one line naming the file, key and problem."""


@dataclass(frozen=True)
class _Key:
    section: str
    name: str
    dest: str  # the argparse dest (= RunOptions field) it fills
    convert: Callable[[Any, str, Path], Any]

    @property
    def label(self) -> str:
        return f"[{self.section}] {self.name}"


def _string(value: Any, label: str, base: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


def _path(value: Any, label: str, base: Path) -> Path:
    return base / _string(value, label, base)


def _int(minimum: int | None) -> Callable[[Any, str, Path], int]:
    def convert(value: Any, label: str, base: Path) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return convert


def _number(*, positive: bool) -> Callable[[Any, str, Path], float]:
    def convert(value: Any, label: str, base: Path) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise ValueError("must be a number")
        if value < 0 or (positive and value == 0):
            raise ValueError("must be > 0" if positive else "must be >= 0")
        return float(value)

    return convert


def _suites(value: Any, label: str, base: Path) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"must be a non-empty list of suite names ({', '.join(SUITES)})")
    unknown = [name for name in value if name not in SUITES]
    if unknown:
        raise ValueError(f"unknown suite {unknown[0]!r}; choose from {', '.join(SUITES)}")
    return list(dict.fromkeys(value))


def _fail_on(value: Any, label: str, base: Path) -> str:
    from wfcontracts.reporting.gate import parse_fail_on

    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = ",".join(value) or "none"
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError("must be a list of severities or a comma-separated string")
    try:
        parse_fail_on(text)
    except WfcontractsError as exc:
        raise ValueError(str(exc).removeprefix("--fail-on: ")) from None
    return text


_KEYS: tuple[_Key, ...] = (
    _Key("target", "base-url", "base_url", _string),
    _Key("target", "project", "project", _string),
    _Key("target", "async-function-external-id", "async_function_external_id", _string),
    _Key("target", "max-rps", "max_requests_per_second", _number(positive=False)),
    _Key("run", "suites", "suite", _suites),
    _Key("run", "max-examples", "max_examples", _int(1)),
    _Key("run", "seed", "seed", _int(None)),
    _Key("run", "deadline", "deadline_s", _number(positive=True)),
    _Key("run", "contract", "contract_path", _path),
    _Key("run", "cassettes", "cassettes_dir", _path),
    _Key("report", "dir", "report_dir", _path),
    _Key("report", "history", "history", _path),
    _Key("gate", "fail-on", "fail_on", _fail_on),
)
_SECTIONS = {key.section for key in _KEYS}
#: Settings resolved after parsing rather than as argparse defaults: an env variable sits
#: between flag and file (target, contract), or argparse would extend a list (suites).
_RESOLVED_LATER = frozenset({"base_url", "project", "contract_path", "suite"})


@dataclass(frozen=True)
class ProjectConfig:
    """The settings of one config file (empty when there is none), keyed by argparse dest."""

    path: Path | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        if self.path is None:
            return "no config file"
        return f"{self.path.name} [tool.wfcontracts]" if self._in_pyproject else self.path.name

    @property
    def _in_pyproject(self) -> bool:
        return self.path is not None and self.path.name == "pyproject.toml"

    def target_defaults(self) -> TargetDefaults | None:
        """The file's target, for :func:`wfcontracts.target.config.resolve_target`'s last
        fallback (below flags and CDF_* variables)."""
        base_url, project = self.settings.get("base_url"), self.settings.get("project")
        if base_url is None and project is None:
            return None
        return TargetDefaults(base_url=base_url, project=project, source=self.source)

    def parser_defaults(self, dests: set[str] | frozenset[str]) -> dict[str, Any]:
        """argparse defaults for the settings no environment variable overrides, restricted to
        the ``dests`` a command has: a flag given on the command line still wins."""
        return {
            dest: value
            for dest, value in self.settings.items()
            if dest in dests and dest not in _RESOLVED_LATER
        }

    def suites(self) -> list[str] | None:
        suites = self.settings.get("suite")
        return list(suites) if suites is not None else None

    def contract(self, env: Mapping[str, str], cwd: Path) -> Path | None:
        """The contract when no --contract flag is given: None lets the loader pick
        ($WFCONTRACTS_CONTRACT, else the shipped contract)."""
        if env.get(CONTRACT_ENV):
            return None
        configured = self.settings.get("contract_path")
        if isinstance(configured, Path):
            return configured
        return local_contract(cwd)


def local_contract(cwd: Path) -> Path | None:
    """The repository's own contract, ``./contracts/cdf-workflows.openapi.yaml``, if present."""
    candidate = cwd / LOCAL_CONTRACT
    return candidate if candidate.is_file() else None


def find_config(
    explicit: Path | None = None,
    env: Mapping[str, str] = os.environ,
    cwd: Path | None = None,
) -> Path | None:
    """The config file of this run (see the module docstring), or None."""
    # Relative by default: paths from the file then print as the user wrote them.
    here = cwd if cwd is not None else Path()
    named = explicit or (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
    if named is not None:
        path = named if named.is_absolute() or explicit is not None else here / named
        if not path.is_file():
            origin = "--config" if explicit is not None else CONFIG_ENV
            raise ConfigError(f"{origin}: no such file {path}")
        return path
    if (here / CONFIG_FILE).is_file():
        return here / CONFIG_FILE
    pyproject = here / "pyproject.toml"
    if pyproject.is_file() and "wfcontracts" in _read(pyproject).get("tool", {}):
        return pyproject
    return None


def load_config(
    explicit: Path | None = None,
    env: Mapping[str, str] = os.environ,
    cwd: Path | None = None,
) -> ProjectConfig:
    """Find and validate the config file; an empty :class:`ProjectConfig` when there is none.

    Raises :class:`ConfigError` (one line) for unreadable TOML, an unknown section or key, a
    value of the wrong type, or a secret.
    """
    path = find_config(explicit, env, cwd)
    if path is None:
        return ProjectConfig()
    data = _read(path)
    where = path.name
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("wfcontracts", {})
        where = f"{path.name} [tool.wfcontracts]"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table of settings")
    return ProjectConfig(path, _settings(data, where, path.parent))


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _settings(data: Mapping[str, Any], where: str, base: Path) -> dict[str, Any]:
    keys = {(key.section, key.name): key for key in _KEYS}
    settings: dict[str, Any] = {}
    for section, table in data.items():
        if section not in _SECTIONS:
            valid = ", ".join(f"[{name}]" for name in sorted(_SECTIONS))
            raise ConfigError(f"{where}: unknown section [{section}]; valid sections: {valid}")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{section}] must be a table")
        for name, value in table.items():
            if name in _SECRET_KEYS:
                raise ConfigError(
                    f"{where}: [{section}] {name}: credentials do not belong in a file of the "
                    "repository; set CDF_TOKEN (or IDP_CLIENT_ID, IDP_CLIENT_SECRET and "
                    "IDP_TOKEN_URL), e.g. from CI secrets"
                )
            key = keys.get((section, name))
            if key is None:
                valid = ", ".join(k.name for k in _KEYS if k.section == section)
                raise ConfigError(f"{where}: unknown key [{section}] {name}; valid keys: {valid}")
            try:
                settings[key.dest] = key.convert(value, key.label, base)
            except ValueError as exc:
                raise ConfigError(f"{where}: {key.label} {exc}") from None
    return settings
