"""Named checks over request/response exchanges; each failure contrasts seen with allowed."""

from __future__ import annotations

from wfcontracts.checks import executions as _executions  # noqa: F401  (registers checks)
from wfcontracts.checks import lifecycle as _lifecycle  # noqa: F401  (registers checks)
from wfcontracts.checks import response as _response  # noqa: F401  (registers checks)
from wfcontracts.checks.exchange import Exchange
from wfcontracts.checks.failures import CheckFailure, Severity
from wfcontracts.checks.registry import (
    REGISTRY,
    Check,
    CheckContext,
    RunEcho,
    check,
    get_check,
    run_checks,
)
from wfcontracts.checks.session import CheckedSession

__all__ = [
    "REGISTRY",
    "Check",
    "CheckContext",
    "CheckFailure",
    "CheckedSession",
    "Exchange",
    "RunEcho",
    "Severity",
    "check",
    "get_check",
    "run_checks",
]
