"""The quality gate: which failed checks fail a run, by severity (`--fail-on`).

A check whose outcome is ``failed`` or ``error`` counts against the gate, and so does an unknown
or missing outcome (counted as ``error``): only ``passed`` and ``skipped`` are known to be fine.
Its severity decides whether it *fails* the gate (the severity is in the policy) or only *warns*.
A check without a severity counts as ``major``; an unknown severity counts as ``critical`` so that
a typo in a suite can never quietly let a failure through.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from wfcontracts.errors import WfcontractsError

SEVERITIES: tuple[str, ...] = ("critical", "major", "minor")
FAILING_OUTCOMES: frozenset[str] = frozenset({"failed", "error"})
HARMLESS_OUTCOMES: frozenset[str] = frozenset({"passed", "skipped"})
DEFAULT_FAIL_ON: frozenset[str] = frozenset({"critical", "major"})
_MISSING_SEVERITY = "major"
_UNKNOWN_SEVERITY = "critical"
_NONE = "none"


class ReportInputError(WfcontractsError):
    """Report inputs or tools are unusable (bad `--fail-on`, corrupt summary.json, no Allure)."""


@dataclass(frozen=True)
class GatePolicy:
    """The severities whose failures fail the gate; failures of other severities only warn."""

    fail_on: frozenset[str] = DEFAULT_FAIL_ON

    def fails(self, severity: str) -> bool:
        """Whether a failed check of this (normalised) severity fails the gate."""
        return severity in self.fail_on

    def as_dict(self) -> dict[str, str]:
        """``{"critical": "fail", "major": "fail", "minor": "warn"}`` — the summary's `failOn`."""
        return {severity: "fail" if self.fails(severity) else "warn" for severity in SEVERITIES}

    def describe(self) -> str:
        """The policy as it would be written on the command line, e.g. ``critical,major``."""
        chosen = [severity for severity in SEVERITIES if self.fails(severity)]
        return ",".join(chosen) if chosen else _NONE


def parse_fail_on(text: str) -> GatePolicy:
    """Parse a ``--fail-on`` value: comma-separated severities, or ``none`` (never fail).

    Raises ReportInputError with one line for an empty or unknown value.
    """
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if names == [_NONE]:
        return GatePolicy(frozenset())
    unknown = [name for name in names if name not in SEVERITIES]
    if unknown or not names:
        shown = ", ".join(repr(name) for name in unknown) or "an empty value"
        raise ReportInputError(
            f"--fail-on: {shown} is not a severity; "
            f"use a comma-separated list of {', '.join(SEVERITIES)} (or 'none')"
        )
    return GatePolicy(frozenset(names))


def normalise_severity(value: object) -> str:
    """The severity a check counts as (see the module docstring for missing/unknown values)."""
    if value is None or value == "":
        return _MISSING_SEVERITY
    text = str(value).strip().lower()
    return text if text in SEVERITIES else _UNKNOWN_SEVERITY


def normalise_outcome(value: object) -> str:
    """``passed``, ``failed``, ``skipped`` or ``error`` — anything unknown is an ``error``."""
    text = str(value or "").strip().lower()
    return text if text in HARMLESS_OUTCOMES or text in FAILING_OUTCOMES else "error"


def failing_checks(checks: Iterable[object]) -> list[Mapping[str, Any]]:
    """The checks that count against the gate, most severe first, in a stable order."""
    failing = [
        check
        for check in checks
        if isinstance(check, Mapping)
        and normalise_outcome(check.get("outcome")) in FAILING_OUTCOMES
    ]
    return sorted(failing, key=_gate_sort_key)


def evaluate_gate(checks: list[dict[str, Any]], policy: GatePolicy | None = None) -> dict[str, Any]:
    """Judge a run's checks: ``{"passed", "failOn", "reasons", "warnings"}``.

    `reasons` lists each failure that fails the gate, `warnings` each failure the policy only
    warns about (and a note when no check ran at all).
    """
    policy = policy or GatePolicy()
    reasons: list[str] = []
    warnings: list[str] = []
    for check in failing_checks(checks):
        severity = normalise_severity(check.get("severity"))
        (reasons if policy.fails(severity) else warnings).append(_describe(check, severity))
    if not any(isinstance(check, Mapping) for check in checks):
        warnings.append("no check ran: the gate has nothing to judge")
    return {
        "passed": not reasons,
        "failOn": policy.as_dict(),
        "reasons": reasons,
        "warnings": warnings,
    }


def _describe(check: Mapping[str, Any], severity: str) -> str:
    name = str(check.get("check") or "unnamed check")
    where = " · ".join(str(check[key]) for key in ("suite", "operation") if check.get(key))
    verb = "errored" if normalise_outcome(check.get("outcome")) == "error" else "failed"
    return f"{severity}: {name} {verb}" + (f" ({where})" if where else "")


def _gate_sort_key(check: Mapping[str, Any]) -> tuple[int, str, str, str, str]:
    severity = normalise_severity(check.get("severity"))
    return (
        SEVERITIES.index(severity),
        str(check.get("suite", "")),
        str(check.get("operation", "")),
        str(check.get("check", "")),
        str(check.get("nodeid", "")),
    )
