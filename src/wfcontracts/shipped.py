"""Where the files wfcontracts ships live, and fingerprints of them for the reports.

An installed wheel carries them as package data (``wfcontracts/_suites``, ``_cassettes``,
``_contracts``); a source checkout (editable install) has them beside ``src/``. Packaged data
wins, so an installed harness never reads a checkout that happens to sit around it.

Nothing here writes: the user's directory holds every output, the package is read-only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["describe_version", "in_package", "package_dir", "shipped_path", "tree_digest"]

#: The contract's file name, in ``_contracts/`` of the package or ``contracts/`` of a checkout.
CONTRACT_NAME = "cdf-workflows.openapi.yaml"

#: File names that are caches of a run, never part of what is shipped.
_CACHE_PARTS = frozenset({"__pycache__", ".pytest_cache", ".hypothesis"})


def package_dir() -> Path:
    """The directory of the imported ``wfcontracts`` package."""
    return Path(__file__).resolve().parent


def shipped_path(packaged: str, checkout: str) -> Path | None:
    """``wfcontracts/<packaged>`` of an installed wheel, else ``<checkout>`` beside ``src/`` in a
    source checkout; None when neither exists."""
    here = package_dir()
    candidates = [here / packaged]
    if here.parent.name == "src":  # src layout: only a checkout has src/wfcontracts
        candidates.append(here.parent.parent / checkout)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


def in_package(path: Path) -> bool:
    """Whether ``path`` lies inside the installed package (which a run must never write to)."""
    try:
        path.resolve().relative_to(package_dir())
    except ValueError:
        return False
    return True


def tree_digest(root: Path) -> str:
    """sha256 over every shipped file below ``root`` (relative path and content, caches skipped).

    Relative paths make the checkout's ``suites/`` and the wheel's ``_suites/`` hash alike, so a
    report says whether two runs used the same suites whatever the install.
    """
    digest = hashlib.sha256()
    files = sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and path.suffix != ".pyc"
        and not _CACHE_PARTS.intersection(path.relative_to(root).parts)
    )
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def describe_version() -> str:
    """``wfcontracts 0.1.0 (contract sha256:…, suites sha256:…)``: the harness version and
    digests of what it ships, enough to tell two installs apart in a CI log or a bug report."""
    from wfcontracts import __version__

    parts = []
    contracts = shipped_path("_contracts", "contracts")
    if contracts is not None and (contracts / CONTRACT_NAME).is_file():
        raw = (contracts / CONTRACT_NAME).read_bytes()
        parts.append(f"contract sha256:{hashlib.sha256(raw).hexdigest()[:12]}")
    suites = shipped_path("_suites", "suites")
    if suites is not None:
        parts.append(f"suites sha256:{tree_digest(suites)[:12]}")
    return f"wfcontracts {__version__} ({', '.join(parts) or 'no shipped data found'})"
