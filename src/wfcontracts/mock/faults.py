"""Named faults that turn the mock into a bad server, so every check can prove it has teeth.

Each fault breaks exactly one documented rule. ``domain`` faults are implemented by the pure
backend (``backend.py`` / ``engine.py``); ``http`` faults by the HTTP layer (``app.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from wfcontracts.errors import WfcontractsError

__all__ = ["FAULTS", "Fault", "FaultSet", "UnknownFaultError"]

Layer = Literal["domain", "http"]


@dataclass(frozen=True, slots=True)
class Fault:
    """One way of breaking the contract: its name, the rule it breaks, where it lives."""

    name: str
    description: str
    layer: Layer


class UnknownFaultError(WfcontractsError):
    """A fault name that is not registered."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown fault {name!r}; valid faults: {', '.join(FAULTS)}")


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
    "cancel_leaves_tasks_running": "cancel terminates the execution but tasks stay IN_PROGRESS",
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


def _registry() -> dict[str, Fault]:
    faults = [Fault(n, d, "domain") for n, d in _DOMAIN.items()]
    faults += [Fault(n, d, "http") for n, d in _HTTP.items()]
    return {f.name: f for f in sorted(faults, key=lambda f: f.name)}


FAULTS: dict[str, Fault] = _registry()


class FaultSet:
    """The faults switched on for one mock; ``"name" in faults`` asks whether one is on.

    Thread-safe; unknown names raise :class:`UnknownFaultError`.
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._on: frozenset[str] = frozenset(_known(names))

    def __contains__(self, name: object) -> bool:
        return name in self._on

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._on))

    def __len__(self) -> int:
        return len(self._on)

    def __repr__(self) -> str:
        return f"FaultSet({sorted(self._on)!r})"

    @property
    def names(self) -> list[str]:
        """The enabled fault names, sorted."""
        return sorted(self._on)

    def enable(self, name: str) -> None:
        """Switch ``name`` on."""
        _known([name])
        with self._lock:
            self._on = self._on | {name}

    def disable(self, name: str) -> None:
        """Switch ``name`` off (no error if it was off)."""
        _known([name])
        with self._lock:
            self._on = self._on - {name}

    def clear(self) -> None:
        """Switch every fault off."""
        with self._lock:
            self._on = frozenset()


def _known(names: Iterable[str]) -> list[str]:
    checked = list(names)
    for name in checked:
        if name not in FAULTS:
            raise UnknownFaultError(name)
    return checked
