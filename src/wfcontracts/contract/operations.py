"""Operation ids of the contract that the harness refers to by name."""

from __future__ import annotations

RUN = "TriggerRunOfSpecificVersionOfWorkflow"
GET = "ExecutionOfSpecificRunOfWorkflow"
LIST = "ListWorkflowExecutions"
CANCEL = "WorkflowExecutionCancellation"
RETRY = "WorkflowExecutionRetry"
UPDATE = "UpdateTaskStatus"
SESSIONS = "createSessions"
UPSERT_VERSION = "CreateOrUpdateWorkflowVersion"
