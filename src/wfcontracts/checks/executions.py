"""Checks on execution and task bodies: ids, timestamps, enums and request echoes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from wfcontracts.checks.exchange import Exchange
from wfcontracts.checks.registry import CheckContext, RunEcho, check, get_check
from wfcontracts.contract.operations import GET, LIST, RUN, UPDATE
from wfcontracts.contract.rules import is_uuid4

EXECUTION_STATUSES = ("RUNNING", "COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED")
TERMINAL_STATUSES = ("COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED")
TASK_STATUSES = (
    "IN_PROGRESS", "CANCELED", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "COMPLETED",
    "COMPLETED_WITH_ERRORS", "SCHEDULED", "TIMED_OUT", "SKIPPED",
)  # fmt: skip
TIMESTAMP_KEYS = ("createdTime", "lastUpdatedTime", "startTime", "endTime")

EXECUTION_OPERATIONS = {RUN, GET, "WorkflowExecutionCancellation", "WorkflowExecutionRetry"}
#: ``CheckContext.extras`` key: the run's resource prefix (``wfcontracts-<run id>``), set by
#: whoever builds the context. Without it every execution counts as the run's own.
RUN_PREFIX = "run_prefix"


def made_by_run(ctx: CheckContext, execution: dict[str, Any]) -> bool:
    """Whether the run created this execution: its workflow carries the run prefix (or no
    prefix is known). Others, in a shared project, only ever get shape checks: whoever owns
    them may cancel or retry them at any time, and the run never saw what they were sent."""
    prefix = ctx.extras.get(RUN_PREFIX)
    if not isinstance(prefix, str) or not prefix:
        return True
    workflow = execution.get("workflowExternalId")
    return isinstance(workflow, str) and workflow.startswith(prefix)


def executions_in(ex: Exchange) -> Iterator[dict[str, Any]]:
    """The execution objects in a successful response of an execution operation."""
    body = ex.response_json
    if ex.status >= 300 or not isinstance(body, dict):
        return
    if ex.operation.operation_id in EXECUTION_OPERATIONS:
        yield body
    elif ex.operation.operation_id == LIST:
        yield from (item for item in body.get("items") or [] if isinstance(item, dict))


def tasks_in(ex: Exchange) -> Iterator[dict[str, Any]]:
    body = ex.response_json
    if ex.status >= 300 or not isinstance(body, dict):
        return
    if ex.operation.operation_id == UPDATE:
        yield body
    for execution in executions_in(ex):
        yield from (t for t in execution.get("executedTasks") or [] if isinstance(t, dict))


@check(
    "uuid4_ids",
    severity="critical",
    description="Execution, engine and task execution ids are 36-character UUIDv4 strings.",
)
def uuid4_ids(ctx: CheckContext, ex: Exchange) -> None:
    found = [("execution", e, "id") for e in executions_in(ex)]
    found += [("execution", e, "engineExecutionId") for e in executions_in(ex)]
    found += [("task", t, "id") for t in tasks_in(ex)]
    for kind, obj, key in found:
        value = obj.get(key)
        if value is None and key == "engineExecutionId":
            continue  # presence is the schema check's job
        if not is_uuid4(value):
            raise get_check("uuid4_ids").fail(
                ex, f"{kind} {key} {value!r} ({_len(value)})", "a UUIDv4 of exactly 36 characters"
            )


@check(
    "timestamps",
    severity="major",
    description="Timestamps are integer ms >= 0; terminal executions have endTime >= startTime.",
)
def timestamps(ctx: CheckContext, ex: Exchange) -> None:
    this = get_check("timestamps")
    for obj in [*executions_in(ex), *tasks_in(ex)]:
        for key in TIMESTAMP_KEYS:
            if key in obj and not _is_ms(obj[key]):
                raise this.fail(ex, f"{key} = {obj[key]!r}", "an integer number of ms >= 0")
    for execution in executions_in(ex):
        start, end = execution.get("startTime"), execution.get("endTime")
        terminal = execution.get("status") in TERMINAL_STATUSES
        if terminal and isinstance(start, int) and isinstance(end, int) and _is_ms(start):
            if _is_ms(end) and end < start:
                raise this.fail(
                    ex,
                    f"{execution.get('status')} execution with endTime {end} < startTime {start}",
                    "endTime >= startTime",
                )


@check(
    "enum_values_known",
    severity="major",
    description="Execution statuses, task statuses and task types are values the contract lists.",
)
def enum_values_known(ctx: CheckContext, ex: Exchange) -> None:
    this = get_check("enum_values_known")
    for execution in executions_in(ex):
        status = execution.get("status")
        if status not in EXECUTION_STATUSES:
            raise this.fail(ex, f"execution status {status!r}", " | ".join(EXECUTION_STATUSES))
    for task in tasks_in(ex):
        status = task.get("status")
        if status not in TASK_STATUSES:
            raise this.fail(ex, f"task status {status!r}", " | ".join(TASK_STATUSES))


@check(
    "request_echo",
    severity="critical",
    description="Run metadata and input come back exactly as sent, on every later response.",
)
def request_echo(ctx: CheckContext, ex: Exchange) -> None:
    if ex.operation.operation_id == RUN and ex.status < 300:
        sent = ex.request_json if isinstance(ex.request_json, dict) else {}
        execution_id = (ex.response_json or {}).get("id") if ex.response_is_json else None
        if isinstance(execution_id, str):
            ctx.remember_run(execution_id, RunEcho(sent.get("input"), sent.get("metadata")))
    # Only executions this run started have an echo: other listed ones are not compared.
    for execution in executions_in(ex):
        echo = ctx.echo_for(execution.get("id"))
        if echo is not None:
            _compare_echo(ex, execution, echo)


def _compare_echo(ex: Exchange, execution: dict[str, Any], echo: RunEcho) -> None:
    this = get_check("request_echo")
    expected_metadata = echo.metadata or {}
    # An absent metadata is the schema check's to judge; here only a different value counts.
    if "metadata" in execution and (execution["metadata"] or {}) != expected_metadata:
        raise this.fail(
            ex, f"metadata {_short(execution['metadata'])}", f"as sent: {_short(expected_metadata)}"
        )
    if ex.operation.operation_id != GET:
        return
    returned = execution.get("input")
    if echo.input is None:
        if returned not in (None, {}):
            raise this.fail(ex, f"input {_short(returned)}", "absent, null or {} (none was sent)")
    elif returned != echo.input:
        raise this.fail(ex, f"input {_short(returned)}", f"as sent: {_short(echo.input)}")


def _is_ms(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _len(value: Any) -> str:
    return f"{len(value)} chars" if isinstance(value, str) else type(value).__name__


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
