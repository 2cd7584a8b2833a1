"""Operation ids of the contract, named once: the harness refers to operations only by these."""

from __future__ import annotations

# Workflows
LIST_WORKFLOWS = "FetchAllWorkflows"
UPSERT_WORKFLOW = "CreateOrUpdateWorkflow"
DELETE_WORKFLOWS = "DeleteWorkflows"
GET_WORKFLOW = "fetchWorkflowDetails"
# Versions
UPSERT_VERSION = "CreateOrUpdateWorkflowVersion"
LIST_VERSIONS = "ListWorkflowVersions"
DELETE_VERSIONS = "DeleteSpecificVersionsOfWorkflow"
GET_VERSION = "GetSpecificVersion"
# Executions
RUN = "TriggerRunOfSpecificVersionOfWorkflow"
LIST = "ListWorkflowExecutions"
GET = "ExecutionOfSpecificRunOfWorkflow"
CANCEL = "WorkflowExecutionCancellation"
RETRY = "WorkflowExecutionRetry"
UPDATE = "UpdateTaskStatus"
# Sessions
SESSIONS = "createSessions"

ALL = (
    LIST_WORKFLOWS,
    UPSERT_WORKFLOW,
    DELETE_WORKFLOWS,
    GET_WORKFLOW,
    UPSERT_VERSION,
    LIST_VERSIONS,
    DELETE_VERSIONS,
    GET_VERSION,
    RUN,
    LIST,
    GET,
    CANCEL,
    RETRY,
    UPDATE,
    SESSIONS,
)
