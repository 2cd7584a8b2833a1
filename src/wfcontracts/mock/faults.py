"""Named faults that turn the mock into a bad server, so every check can prove it has teeth.

Contract faults (:data:`CONTRACT_FAULTS`, also :data:`FAULTS`) each break exactly one documented
rule: ``domain`` faults are implemented by the pure backend (``backend.py`` / ``engine.py``),
``http`` faults by the HTTP layer (``http.py``). Every one of them must make verify fail
(`wfcontracts selftest`).

Transient faults (:data:`TRANSIENT_FAULTS`) break no rule: they are what a real network and
gateway do now and then (429, 502/503/504, a dropped connection), so a client's resilience can be
tested. Each is switched on with a rate, ``throttle:0.05``, and decided per request by a seeded
random generator, so a run is reproducible.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from wfcontracts.errors import WfcontractsError

__all__ = [
    "ALL_FAULTS",
    "CONTRACT_FAULTS",
    "FAULTS",
    "TRANSIENT_FAULTS",
    "Fault",
    "FaultSet",
    "FaultSpecError",
    "UnknownFaultError",
    "parse_fault_spec",
]

Layer = Literal["domain", "http", "transient"]


@dataclass(frozen=True, slots=True)
class Fault:
    """One way of breaking the mock: its name, what it does, where it lives."""

    name: str
    description: str
    layer: Layer

    @property
    def transient(self) -> bool:
        """Whether the fault takes a rate (``NAME:RATE``) and is drawn per request."""
        return self.layer == "transient"


class FaultSpecError(WfcontractsError):
    """A fault spec the mock cannot switch on (unknown name, bad or misplaced rate)."""


class UnknownFaultError(FaultSpecError):
    """A fault name that is not registered."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown fault {name!r}; valid faults: {', '.join(ALL_FAULTS)}")


_DOMAIN: dict[str, str] = {
    "short_execution_id": "execution ids are 35 characters, not the documented 36-char UUID",
    "non_uuid4_ids": "execution ids carry UUID version nibble 1 instead of a UUIDv4",
    "negative_timestamps": "createdTime is negative although EpochTimestamp is >= 0",
    "end_before_start": "a terminal execution reports endTime earlier than startTime",
    "unknown_execution_status": "a COMPLETED execution is reported as SUCCEEDED, outside the enum",
    "unknown_task_status": "a COMPLETED task is reported as DONE, outside the task-status enum",
    "missing_required_field": "execution bodies omit the required workflowExternalId",
    "string_timestamps": "createdTime is a string instead of an int64 epoch in ms",
    "metadata_not_echoed": "executions return metadata {} instead of the run's metadata",
    "input_not_echoed": "the detailed execution drops the run input",
    "list_ignores_status_filter": "executions list ignores filter.status",
    "list_ignores_workflow_filter": "executions list ignores filter.workflowFilters",
    "list_limit_ignored": "executions list returns limit+5 items when more exist",
    "cursor_repeats_items": "nextCursor restarts at the current page's first item (duplicates)",
    "cancel_not_terminating": "cancel answers 200 but the execution stays RUNNING",
    "cancel_leaves_tasks_running": "cancel terminates the execution but its tasks are never"
    " cancelled: they stay IN_PROGRESS and keep working (a synchronous one still finishes)",
    "cancel_ignores_reason": "cancel stores 'cancelled' instead of the given reason",
    "cancel_finished_accepted": "cancel of a finished execution answers 200 and sets TERMINATED",
    "retry_running_accepted": "retry of a RUNNING or COMPLETED execution answers 200",
    "retry_new_id": "retry creates a copy with a new id instead of resuming in place",
    "retry_reruns_completed": "retry re-runs COMPLETED tasks, not only the failed ones",
    "retry_no_extra_attempt": "retry gives exhausted tasks no extra attempt; they fail at once",
    "retry_resets_attempts": "retry resets exhausted tasks' retry counts instead of +1 attempt",
    "retry_reruns_skipped": "retry re-runs optional (skipTask) COMPLETED_WITH_ERRORS tasks",
    "skiptask_aborts": "a skipTask task's failure fails the workflow instead of continuing",
    "terminal_error_retried": "a FAILED_WITH_TERMINAL_ERROR task update is retried",
    "failed_update_not_retried": "a FAILED task update is not retried despite retries left",
    "dependson_ignored": "tasks start before their dependsOn tasks are done",
    "references_unresolved": "task input keeps ${...} references instead of resolved values",
    "abort_without_reason": "a FAILED execution has no reasonForIncompletion",
    "update_output_not_merged": "task update output is dropped instead of merged",
    "unknown_version_runs": "run of an unknown workflow version answers 202 instead of 4xx",
    "server_error_on_unknown_id": "retrieving an unknown execution id answers 500, not 4xx",
}

_HTTP: dict[str, str] = {
    "bare_error_body": "errors are plain text instead of the {error: {code, message}} envelope",
    "error_code_mismatch": "error.code in the body differs from the HTTP status",
    "no_request_id": "responses lack the x-request-id header",
    "auth_ignored": "requests without a valid bearer token are served instead of 401",
    "wrong_content_type": "JSON bodies are served with a non-JSON content type",
    "run_returns_200": "run answers 200 instead of the documented 202",
    "input_limit_off_by_one": "run input of exactly 100 KB plus one byte is accepted",
    "input_limit_too_strict": "run input well under 100 KB is rejected",
    "metadata_pairs_unchecked": "metadata with more than 10 pairs is accepted",
    "metadata_key_length_unchecked": "metadata keys longer than 32 characters are accepted",
    "metadata_value_length_unchecked": "metadata values longer than 255 characters are accepted",
    "metadata_too_strict": "valid metadata at the documented limits is rejected",
    "reason_length_unchecked": "cancel reasons longer than 500 characters are accepted",
    "external_id_length_unchecked": "workflow external ids longer than 255 chars are accepted",
    "whitespace_ids_accepted": "ids with leading or trailing whitespace are accepted",
    "missing_nonce_accepted": "run/retry without authentication.nonce are accepted",
    "readonly_token_writes": "a read-only token may call write operations",
}


_TRANSIENT: dict[str, str] = {
    "throttle": "429 with Retry-After: 1 and the error envelope; the request is not applied",
    "gateway_502": "502 Bad Gateway with the error envelope; the request is not applied",
    "gateway_503": "503 Service Unavailable with the error envelope; the request is not applied",
    "gateway_504": "504 Gateway Timeout with the error envelope; the request is not applied",
    "drop_connection": "the connection is closed without a response; the request is not applied",
    "reset_connection": "the connection is reset (TCP RST) without a response; not applied",
    "drop_after_write": "the request IS applied, then the connection closes without a response",
}


# Paced faults: effects that are answered but never land. At the instant pace a plain oracle
# sees them at once; at fast/real the clean mock also shows the old state for a while, so only
# an oracle that waits out the pace's window can tell them from it.
_PACED: dict[str, str] = {
    "update_never_applied": "an async task's COMPLETED update answers 200 but never shows: the"
    " task stays IN_PROGRESS and the execution RUNNING",
    "cancel_tasks_stuck": "cancel terminates the execution but its tasks stay IN_PROGRESS forever"
    " (frozen; with cancel_leaves_tasks_running they keep working and may still finish)",
    "retry_never_reruns": "retry answers 200 RUNNING but nothing is ever re-run: the failed"
    " tasks keep their status until the 24 h timeout",
}


def _registry() -> dict[str, Fault]:
    faults = [Fault(n, d, "domain") for n, d in _DOMAIN.items()]
    faults += [Fault(n, d, "domain") for n, d in _PACED.items()]
    faults += [Fault(n, d, "http") for n, d in _HTTP.items()]
    return {f.name: f for f in sorted(faults, key=lambda f: f.name)}


#: The faults that break the contract: verify must fail on each (what selftest iterates).
CONTRACT_FAULTS: dict[str, Fault] = _registry()
FAULTS = CONTRACT_FAULTS
#: Environment faults with a rate: no contract violation, a resilience test for clients.
TRANSIENT_FAULTS: dict[str, Fault] = {
    name: Fault(name, _TRANSIENT[name], "transient") for name in sorted(_TRANSIENT)
}
#: Every name `--fault` and `PUT /_mock/faults` accept.
ALL_FAULTS: dict[str, Fault] = dict(sorted({**CONTRACT_FAULTS, **TRANSIENT_FAULTS}.items()))


def parse_fault_spec(spec: str) -> tuple[str, float | None]:
    """``NAME`` or ``NAME:RATE`` → (name, rate); a transient fault without a rate gets 1.0,
    a contract fault never has one."""
    name, sep, rate_text = spec.strip().partition(":")
    if name not in ALL_FAULTS:
        raise UnknownFaultError(name)
    if name not in TRANSIENT_FAULTS:
        if sep:
            raise FaultSpecError(
                f"fault {name!r} takes no rate; only transient faults do "
                f"({', '.join(TRANSIENT_FAULTS)})"
            )
        return name, None
    if not sep:
        return name, 1.0
    try:
        rate = float(rate_text)
    except ValueError:
        rate = math.nan
    if not 0.0 <= rate <= 1.0:  # NaN fails too
        raise FaultSpecError(f"fault rate must be a number from 0 to 1, got {spec.strip()!r}")
    return name, rate


class FaultSet:
    """The faults switched on for one mock; ``"name" in faults`` asks whether one is on.

    Specs are ``NAME`` or, for transient faults, ``NAME:RATE``. :meth:`draw` decides, per
    request, which transient fault (if any) hits it, from a generator seeded with ``seed``: the
    same seed and the same request sequence give the same faults.
    Thread-safe; unknown names raise :class:`UnknownFaultError`, bad rates :class:`FaultSpecError`.
    """

    def __init__(self, names: Iterable[str] = (), *, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._on, self._rates = _parse(names)
        self._seed = seed
        self._random = random.Random(seed)

    def __contains__(self, name: object) -> bool:
        return name in self._on

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._on))

    def __len__(self) -> int:
        return len(self._on)

    def __repr__(self) -> str:
        return f"FaultSet({self.specs!r}, seed={self._seed})"

    @property
    def names(self) -> list[str]:
        """The enabled fault names, sorted."""
        return sorted(self._on)

    @property
    def specs(self) -> list[str]:
        """The enabled faults as specs that switch them on again (``throttle:0.05``)."""
        rates = self._rates
        return [f"{n}:{rates[n]:g}" if n in rates else n for n in sorted(self._on)]

    @property
    def seed(self) -> int:
        return self._seed

    def enable(self, name: str) -> None:
        """Switch ``name`` (a spec, ``NAME[:RATE]``) on."""
        on, rates = _parse([name])
        with self._lock:
            self._on = self._on | on
            self._rates = dict(sorted({**self._rates, **rates}.items()))

    def disable(self, name: str) -> None:
        """Switch ``name`` off (no error if it was off)."""
        _parse([name])
        with self._lock:
            self._on = self._on - {name}
            self._rates = {k: v for k, v in self._rates.items() if k != name}

    def clear(self) -> None:
        """Switch every fault off."""
        with self._lock:
            self._on = frozenset()
            self._rates = {}

    def replace(self, specs: Iterable[str], *, seed: int | None = None) -> None:
        """Switch exactly ``specs`` on and restart the draws (from ``seed`` when given); an
        invalid spec raises and changes nothing."""
        on, rates = _parse(specs)
        with self._lock:
            self._on, self._rates = on, rates
            self._reseed(seed)

    def reseed(self, seed: int | None = None) -> None:
        """Restart the draws from ``seed`` (default: the current seed)."""
        with self._lock:
            self._reseed(seed)

    def draw(self) -> str | None:
        """The transient fault that hits this request, or None.

        One draw per request while any transient fault is on (none otherwise, so a run without
        them is unaffected); rates add up in name order, the first ones winning past 1.0.
        """
        with self._lock:
            if not self._rates:
                return None
            point = self._random.random()
            total = 0.0
            for name, rate in self._rates.items():
                total += rate
                if point < total:
                    return name
            return None

    def _reseed(self, seed: int | None) -> None:
        if seed is not None:
            self._seed = seed
        self._random = random.Random(self._seed)


def _parse(specs: Iterable[str]) -> tuple[frozenset[str], dict[str, float]]:
    on: set[str] = set()
    rates: dict[str, float] = {}
    for spec in specs:
        name, rate = parse_fault_spec(spec)
        on.add(name)
        if rate is not None:
            rates[name] = rate
    return frozenset(on), dict(sorted(rates.items()))
