"""Domain entities of the mock CDF Workflows backend (no HTTP; the standard library and the
contract's vocabulary only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from wfcontracts.contract.vocabulary import (
    ACTIVE_TASK_STATUSES,
    EXECUTION_STATUSES,
    RETRIABLE_EXECUTION_STATUSES,
    RETRIED_TASK_STATUSES,
    TASK_STATUSES,
    TERMINAL_EXECUTION_STATUSES,
)

__all__ = [
    "ACTIVE_TASK_STATUSES",
    "CONTAINER_TYPES",
    "DONE_TASK_STATUSES",
    "EXECUTION_STATUSES",
    "NEVER",
    "RETRIABLE_EXECUTION_STATUSES",
    "RETRYABLE_TASK_STATUSES",
    "TASK_STATUSES",
    "TERMINAL_EXECUTION_STATUSES",
    "DomainError",
    "Execution",
    "PendingReport",
    "TaskExecution",
    "Workflow",
    "WorkflowVersion",
]

# The API's statuses are the contract's vocabulary, named once (wfcontracts.contract.vocabulary).
# A dependency is satisfied by these; an execution completes when every task is in one of them.
DONE_TASK_STATUSES = frozenset({"COMPLETED", "COMPLETED_WITH_ERRORS"})
# What an execution retry re-runs (documented list).
RETRYABLE_TASK_STATUSES = RETRIED_TASK_STATUSES
CONTAINER_TYPES = frozenset({"dynamic", "subworkflow"})
# A due time that never comes (a held execution that is never resumed still times out at 24 h).
NEVER = 2**62


class DomainError(Exception):
    """A request the backend refuses; the HTTP layer renders it as the CDF error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        missing: list[dict[str, Any]] | None = None,
        duplicated: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.missing = missing
        self.duplicated = duplicated

    def __repr__(self) -> str:
        return f"DomainError({self.status}, {self.message!r})"


@dataclass(slots=True)
class Workflow:
    """A workflow: the container of versions."""

    external_id: str
    created_time: int
    last_updated_time: int
    description: str | None = None
    data_set_id: int | None = None
    max_concurrent_executions: int | None = None


@dataclass(slots=True)
class WorkflowVersion:
    """A version of a workflow; ``definition`` is ``{hash, description?, tasks}`` (defaulted).

    ``definition`` is never mutated: an upsert replaces it, so executions can share it.
    """

    workflow_external_id: str
    version: str
    definition: dict[str, Any]
    created_time: int
    last_updated_time: int


class PendingReport(NamedTuple):
    """A task update that was answered but is not visible yet (paced)."""

    due: int
    status: str
    output: dict[str, Any]
    reported_at: int


@dataclass(slots=True)
class TaskExecution:
    """One task of one execution; retries and execution retries reuse the same object (same id)."""

    id: str
    external_id: str
    task_type: str
    definition: dict[str, Any]
    parent_external_id: str | None = None
    status: str = "SCHEDULED"
    input: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    start_time: int | None = None
    end_time: int | None = None
    reason: str | None = None
    attempts_used: int = 0
    attempts_allowed: int = 1
    attempt_start: int = 0
    # When the running attempt of a synchronous task finishes; None for async/containers.
    finish_at: int | None = None
    # Task definitions a dynamic/subworkflow container expanded to (None until expanded).
    children: list[dict[str, Any]] | None = None
    # An accepted task update that GET shows only from ``due`` on.
    pending_report: PendingReport | None = None


@dataclass(slots=True)
class Execution:
    """One run of a workflow version."""

    id: str
    engine_execution_id: str
    workflow_external_id: str
    version: str
    definition: dict[str, Any]
    created_time: int
    seq: int
    status: str = "RUNNING"
    start_time: int | None = None
    end_time: int | None = None
    reason: str | None = None
    metadata: dict[str, Any] | None = None
    input: Any = None
    has_input: bool = False
    tasks: list[TaskExecution] = field(default_factory=list)
    # Simulated time up to which the engine has progressed this execution.
    cursor_ms: int = 0
    # Running longer than this makes the execution TIMED_OUT (24 h after (re)start).
    deadline_ms: int = 0
    # Bumped whenever the execution is rescheduled, to ignore stale wake-up entries.
    wake_token: int = 0
    # What the pace's jitter for this execution derives from (0 at the instant pace).
    pace_key: int = 0
    # RUNNING but not yet picked up (after run) or not yet re-run (after retry) until then.
    resume_at: int | None = None
    # TERMINATED, and its active tasks turn CANCELED at this time.
    cancel_at: int | None = None
    # How often it was retried: tells apart the draws of successive cancels and retries.
    rounds: int = 0

    @property
    def sort_key(self) -> tuple[int, int]:
        """Listing order key (the list is newest first, i.e. descending on this key)."""
        return (self.created_time, self.seq)

    def task_by_external_id(self) -> dict[str, TaskExecution]:
        """The reached tasks keyed by external id."""
        return {t.external_id: t for t in self.tasks}
