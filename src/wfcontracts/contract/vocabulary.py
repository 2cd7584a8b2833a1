"""The statuses of the executions API, named once (the contract's enums, and how they group).

Everyone who speaks of a status — the mock's domain, the checks, the lifecycle model, the
report — takes it from here; `tests/contract/test_vocabulary.py` pins these to the contract's
own enums, so a contract edit cannot leave a copy behind.
"""

from __future__ import annotations

EXECUTION_STATUSES = ("RUNNING", "COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED")
TERMINAL_EXECUTION_STATUSES = frozenset({"COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"})
#: Executions a retry may resume ([DOC]: "FAILED, TIMED_OUT or TERMINATED").
RETRIABLE_EXECUTION_STATUSES = frozenset({"FAILED", "TIMED_OUT", "TERMINATED"})

TASK_STATUSES = (
    "IN_PROGRESS",
    "CANCELED",
    "FAILED",
    "FAILED_WITH_TERMINAL_ERROR",
    "COMPLETED",
    "COMPLETED_WITH_ERRORS",
    "SCHEDULED",
    "TIMED_OUT",
    "SKIPPED",
)
#: Tasks still to finish: none may remain after a cancel.
ACTIVE_TASK_STATUSES = frozenset({"IN_PROGRESS", "SCHEDULED"})
#: Task outcomes a retry runs again (unfinished work); COMPLETED tasks are never re-run.
RETRIED_TASK_STATUSES = frozenset({"CANCELED", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT"})
#: What an async task's update may set.
TASK_UPDATE_STATUSES = ("COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR")
