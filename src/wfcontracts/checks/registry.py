"""The check registry: named plain functions, each judging one exchange."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from wfcontracts.checks.exchange import Exchange
from wfcontracts.checks.failures import CheckFailure, Severity
from wfcontracts.contract import Contract


@dataclass
class RunEcho:
    """What a run request sent, so later responses about the execution can be compared."""

    input: Any
    metadata: dict[str, Any] | None


@dataclass
class CheckContext:
    """State shared by the checks of one verify run (thread-safe)."""

    contract: Contract
    echoes: dict[str, RunEcho] = field(default_factory=dict)
    # Per-run state other layers attach (e.g. "transitions": the lifecycle coverage).
    extras: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def remember_run(self, execution_id: str, echo: RunEcho) -> None:
        with self.lock:
            self.echoes[execution_id] = echo

    def echo_for(self, execution_id: Any) -> RunEcho | None:
        with self.lock:
            return self.echoes.get(execution_id) if isinstance(execution_id, str) else None


CheckFn = Callable[[CheckContext, Exchange], None]


@dataclass(frozen=True)
class Check:
    name: str
    severity: Severity
    description: str
    fn: CheckFn

    def fail(self, exchange: Exchange, seen: str, allowed: str) -> CheckFailure:
        return CheckFailure(
            check=self.name,
            operation=exchange.label,
            seen=seen,
            allowed=allowed,
            severity=self.severity,
            reproduction=exchange.curl,
        )


class DuplicateCheckError(ValueError):
    pass


REGISTRY: dict[str, Check] = {}


def check(name: str, *, severity: Severity, description: str) -> Callable[[CheckFn], CheckFn]:
    """Register a check. The function raises :class:`CheckFailure` (via `Check.fail`)."""

    def register(fn: CheckFn) -> CheckFn:
        if name in REGISTRY:
            raise DuplicateCheckError(f"a check named {name!r} is already registered")
        REGISTRY[name] = Check(name, severity, description, fn)
        return fn

    return register


def get_check(name: str) -> Check:
    return REGISTRY[name]


def run_checks(
    context: CheckContext, exchange: Exchange, names: Iterable[str] | None = None
) -> list[CheckFailure]:
    """Run the named checks (all by default) and return every failure."""
    failures: list[CheckFailure] = []
    for name in names if names is not None else sorted(REGISTRY):
        try:
            REGISTRY[name].fn(context, exchange)
        except CheckFailure as failure:
            failures.append(failure)
    return failures
