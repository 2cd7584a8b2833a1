"""The task engine: moves executions through virtual time (standard library only).

Rules (``shared/reference/cdf-workflows-api.md`` §3-§6):

* a task starts when all of its ``dependsOn`` tasks are COMPLETED or COMPLETED_WITH_ERRORS;
* each task gets ``1 + retries`` attempts; a synchronous attempt lasts what the pace draws for
  its task type (``task_latency_ms`` overrides that for every type);
* ``abortWorkflow``: exhausted failures make the task FAILED and the execution FAILED; a timeout
  is never retried (task TIMED_OUT, execution FAILED);
* ``skipTask``: failures and timeouts are retried until exhausted, then COMPLETED_WITH_ERRORS and
  downstream tasks continue;
* async function tasks (``isAsyncComplete``) stay IN_PROGRESS until a task update or timeout;
* ``dynamic`` / ``subworkflow`` containers expand into child tasks (``parentTaskExternalId``);
  a child whose failure aborts fails its container, whose own ``onFailure`` then applies;
  containers themselves have no attempts and no timeout (the children's timeouts apply);
* an execution running longer than 24 h is TIMED_OUT (its active tasks are CANCELED).

Paced effects (``clock.Pace``; at the instant pace each lands inside its request): a run is picked
up (``startTime``, first tasks) at ``resume_at``; a retry re-runs its tasks at ``resume_at``; a
cancel's tasks turn CANCELED at ``cancel_at``; an accepted task update shows at its
``pending_report.due``. They are events like task finishes and timeouts: :meth:`Engine.next_event`
tells the backend's wake-up heap when an execution next needs the engine.

Attempts (``profiles.Profile.appended_attempts``): by default a task's further attempts (its own
retries, an execution retry's re-run) reuse its task execution (same id); the alternative
profile appends a new one (new id) per attempt, the old one keeping its final status. The
latest task execution of an external id is the one that runs.

Simulated behaviour of the task types: a function "echoes" its ``data`` as ``response`` (so a
dispatcher function can feed a dynamic task); ``cdf`` calls the injected requester and fails the
attempt on a non-2xx status; ``transformation`` and ``simulation`` always succeed.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Protocol

from wfcontracts.mock.clock import Pace
from wfcontracts.mock.faults import FaultSet
from wfcontracts.mock.models import (
    ACTIVE_TASK_STATUSES,
    CONTAINER_TYPES,
    DONE_TASK_STATUSES,
    NEVER,
    RETRYABLE_TASK_STATUSES,
    DomainError,
    Execution,
    PendingReport,
    TaskExecution,
    WorkflowVersion,
)
from wfcontracts.mock.profiles import STRICT, Profile

__all__ = [
    "MAX_EXECUTION_MS",
    "MAX_TASKS_PER_EXECUTION",
    "Engine",
    "TaskEnvironment",
    "check_tasks",
    "fill_task_defaults",
    "is_async_task",
    "resolve_references",
]

MAX_EXECUTION_MS = 24 * 3600 * 1000
MAX_TASKS_PER_EXECUTION = 200
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
#: Parameter members the engine reads as objects (each may also be a whole reference string).
_OBJECT_PARAMETERS = (
    "function",
    "transformation",
    "cdfRequest",
    "dynamic",
    "subworkflow",
    "simulation",
)


class TaskEnvironment(Protocol):
    """What the engine needs from the project it runs in."""

    def find_version(self, workflow_external_id: str, version: str) -> WorkflowVersion | None:
        """The stored version, or None."""
        ...

    def cdf_request(
        self, method: str, resource_path: str, query: dict[str, Any] | None, body: Any
    ) -> tuple[int, Any]:
        """Execute a ``cdf`` task's request; return (status code, parsed body)."""
        ...

    def register_task(self, execution: Execution, task: TaskExecution) -> None:
        """Called once per task execution created, so it can be found by id."""
        ...


# ---------------------------------------------------------------------------------------------
# Definitions: defaults and semantic validation (shared by version upsert and dynamic expansion)


def fill_task_defaults(task: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a task definition with the documented defaults filled in."""
    filled = {k: v for k, v in task.items() if v is not None}
    filled.setdefault("retries", 3)
    filled.setdefault("timeout", 3600)
    filled.setdefault("onFailure", "abortWorkflow")
    filled.setdefault("dependsOn", [])
    params = dict(filled.get("parameters") or {})
    if filled.get("type") == "function":
        params.setdefault("isAsyncComplete", False)
    sub = params.get("subworkflow")
    # Inline tasks only: `tasks` may also be a reference, resolved (and checked) when it runs.
    if filled.get("type") == "subworkflow" and isinstance(sub, dict):
        inline = sub.get("tasks")
        if isinstance(inline, list):
            params["subworkflow"] = {**sub, "tasks": [fill_task_defaults(t) for t in inline]}
    filled["parameters"] = params
    return filled


def check_tasks(tasks: list[dict[str, Any]], *, nested: bool = False) -> None:
    """Raise DomainError(400) unless ``tasks`` is a valid task graph.

    Checks: unique external ids (including inline subworkflow tasks), reserved ids, dependsOn
    pointing at a task of the same list, no cycles, and no dynamic/subworkflow inside a container;
    and the shapes the engine reads (a contract-validated definition always has them; a dynamic
    task's resolved children, or a definition the lenient profile let in, may not).
    """
    seen: set[str] = set()
    for task in tasks:
        _check_task(task, seen, nested)
    _check_dependencies(tasks)


def _check_task(task: dict[str, Any], seen: set[str], nested: bool) -> None:
    xid = task.get("externalId")
    if not isinstance(xid, str) or not isinstance(task.get("type"), str):
        raise DomainError(400, "Every task needs a string externalId and type")
    _check_shapes(xid, task)
    if xid == "workflow" or xid.startswith("__"):
        raise DomainError(
            400, f"Task externalId '{xid}' is reserved: it cannot be 'workflow' or start with '__'"
        )
    if xid in seen:
        raise DomainError(
            400,
            f"Task externalIds must be unique within a workflow version: '{xid}' is duplicated",
            duplicated=[{"externalId": xid}],
        )
    seen.add(xid)
    if task["type"] in CONTAINER_TYPES and nested:
        raise DomainError(
            400, f"Task '{xid}': dynamic and subworkflow tasks cannot contain {task['type']} tasks"
        )
    inline = _inline_subworkflow_tasks(task)
    if inline is not None:
        for child in inline:
            if not isinstance(child, dict):
                raise DomainError(400, f"Task '{xid}': subworkflow tasks must be objects")
            _check_task(child, seen, True)
        _check_dependencies(inline)


def _check_shapes(xid: str, task: dict[str, Any]) -> None:
    for key in ("retries", "timeout"):
        value = task.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise DomainError(400, f"Task '{xid}': {key} must be an integer")
    depends_on = task.get("dependsOn")
    if depends_on is not None and not (
        isinstance(depends_on, list)
        and all(isinstance(d, dict) and isinstance(d.get("externalId"), str) for d in depends_on)
    ):
        raise DomainError(400, f"Task '{xid}': dependsOn must be a list of {{externalId}} objects")
    params = task.get("parameters")
    if params is None:
        return
    if not isinstance(params, dict):
        raise DomainError(400, f"Task '{xid}': parameters must be an object")
    for key in _OBJECT_PARAMETERS:
        member = params.get(key)
        if member is not None and not isinstance(member, dict) and not _is_reference(member):
            raise DomainError(400, f"Task '{xid}': parameters.{key} must be an object")


def _is_reference(value: Any) -> bool:
    return isinstance(value, str) and _REFERENCE.search(value) is not None


def _object(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else {} (a reference may resolve to anything)."""
    return value if isinstance(value, dict) else {}


def _inline_subworkflow_tasks(task: dict[str, Any]) -> list[dict[str, Any]] | None:
    sub = (task.get("parameters") or {}).get("subworkflow")
    if task.get("type") == "subworkflow" and isinstance(sub, dict):
        tasks = sub.get("tasks")
        return tasks if isinstance(tasks, list) else None
    return None


def _dependency_ids(task: dict[str, Any]) -> list[str]:
    return [d.get("externalId", "") for d in task.get("dependsOn") or [] if isinstance(d, dict)]


def _check_dependencies(tasks: list[dict[str, Any]]) -> None:
    graph = {t["externalId"]: _dependency_ids(t) for t in tasks}
    for xid, deps in graph.items():
        for dep in deps:
            if dep not in graph:
                raise DomainError(
                    400,
                    f"Task '{xid}' depends on '{dep}', which is not a task of the same workflow"
                    " definition",
                    missing=[{"externalId": dep}],
                )
    cycle = _find_cycle(graph)
    if cycle:
        raise DomainError(400, f"Tasks have a circular dependency: {' -> '.join(cycle)}")


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in graph[node]:
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep] if dep in path else [node, dep]
            if dep not in state:
                found = visit(dep, [*path, dep])
                if found:
                    return found
        state[node] = 2
        return None

    for start in graph:
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


# ---------------------------------------------------------------------------------------------
# References


def resolve_references(value: Any, lookup: Any) -> Any:
    """Resolve ``${...}`` references in ``value``; unchanged parts keep their identity.

    A string that is exactly one reference is replaced by the referenced value (any JSON type);
    references embedded in a longer string are interpolated (non-strings as JSON).
    """
    if isinstance(value, str):
        return _resolve_string(value, lookup) if "${" in value else value
    if isinstance(value, dict):
        items = {k: resolve_references(v, lookup) for k, v in value.items()}
        return value if all(items[k] is value[k] for k in value) else items
    if isinstance(value, list):
        resolved = [resolve_references(v, lookup) for v in value]
        return value if all(a is b for a, b in zip(resolved, value, strict=True)) else resolved
    return value


def _resolve_string(text: str, lookup: Any) -> Any:
    whole = _REFERENCE.fullmatch(text)
    if whole:
        return lookup(whole.group(1).strip())

    def interpolate(match: re.Match[str]) -> str:
        found = lookup(match.group(1).strip())
        if found is None:
            return ""
        return found if isinstance(found, str) else json.dumps(found)

    return _REFERENCE.sub(interpolate, text)


def _walk(root: Any, path: list[str]) -> Any:
    for part in path:
        if isinstance(root, dict):
            root = root.get(part)
        elif isinstance(root, list) and part.isdigit() and int(part) < len(root):
            root = root[int(part)]
        else:
            return None
    return root


# ---------------------------------------------------------------------------------------------
# The engine


class Engine:
    """Moves executions forward; the backend owns storage, locking and wake-up bookkeeping."""

    def __init__(
        self,
        faults: FaultSet,
        task_latency_ms: int | None = None,
        pace: Pace | None = None,
        profile: Profile = STRICT,
    ) -> None:
        self.faults = faults
        self.task_latency_ms = task_latency_ms
        self.pace = pace if pace is not None else Pace()
        self.profile = profile
        self._numbers = itertools.count(1_000_001)  # callId, jobId, runId, logId
        self._static_inputs: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._mentions_references: dict[int, tuple[dict[str, Any], bool]] = {}

    # -- progression ---------------------------------------------------------------------------

    def step(self, ex: Execution, now: int, env: TaskEnvironment) -> None:
        """Process every event of ``ex`` that happens at or before ``now``."""
        while True:
            if ex.status == "RUNNING" and ex.resume_at is None:
                self._propagate(ex, ex.cursor_ms, env)
            event = self.next_event(ex)
            if event is None or event > now:
                return
            ex.cursor_ms = max(ex.cursor_ms, event)
            self._fire(ex, event, env)

    def next_event(self, ex: Execution) -> int | None:
        """When ``ex`` next needs the engine (None when nothing is pending).

        Every time returned here is consumed by :meth:`_fire`, so :meth:`step` terminates.
        """
        times: list[int] = []
        if ex.cancel_at is not None:
            times.append(ex.cancel_at)
        running = ex.status == "RUNNING"
        if running:
            times.append(ex.deadline_ms)
            if ex.resume_at is not None:  # held: nothing of it moves until then
                times.append(ex.resume_at)
                return min(times)
        for task in ex.tasks:
            if task.status != "IN_PROGRESS" or task.task_type in CONTAINER_TYPES:
                continue
            if task.pending_report is not None:
                times.append(task.pending_report.due)
            elif running:
                times.append(_timeout_at(task))
                if task.finish_at is not None:
                    times.append(task.finish_at)
            elif ex.cancel_at is None and task.finish_at is not None:
                times.append(task.finish_at)  # left running by a faulty cancel
        return min(times) if times else None

    def _propagate(self, ex: Execution, at: int, env: TaskEnvironment) -> None:
        # Starting tasks can complete containers and completing containers can ready tasks.
        changed = True
        while changed and ex.status == "RUNNING":
            changed = self._start_ready(ex, at, env)
            if ex.status == "RUNNING":
                changed = self._settle(ex, at) or changed

    def _fire(self, ex: Execution, at: int, env: TaskEnvironment) -> None:
        if ex.cancel_at is not None and ex.cancel_at <= at:
            ex.cancel_at = None
            self._cancel_active(ex, at)
            return
        if ex.status == "RUNNING":
            if ex.deadline_ms <= at:
                self._stop_execution(ex, at, "TIMED_OUT", _EXECUTION_TIMEOUT)
                return
            if ex.resume_at is not None:
                if ex.resume_at <= at:
                    self._resume(ex, at, env)
                return
        for task in list(ex.tasks):
            if task.status != "IN_PROGRESS" or task.task_type in CONTAINER_TYPES:
                continue
            report = task.pending_report
            if report is not None:
                if report.due <= at:
                    self._apply_report(ex, task, at, report, env)
            elif ex.status == "RUNNING":
                self._fire_attempt(ex, task, at, env)
            elif ex.cancel_at is None and task.finish_at is not None and task.finish_at <= at:
                self._finish_orphan(task, at, env)

    def _fire_attempt(
        self, ex: Execution, task: TaskExecution, at: int, env: TaskEnvironment
    ) -> None:
        timeout_at = _timeout_at(task)
        if task.finish_at is not None and task.finish_at <= min(at, timeout_at):
            self._finish_attempt(ex, task, at, env)
        elif timeout_at <= at:
            seconds = task.definition.get("timeout", 3600)
            reason = f"Task '{task.external_id}' timed out after {seconds} seconds"
            self._attempt_failed(ex, task, at, reason, env, timed_out=True)

    def _resume(self, ex: Execution, at: int, env: TaskEnvironment) -> None:
        # The pickup of a run (startTime, then its first tasks) or the re-run of a retry.
        ex.resume_at = None
        if ex.start_time is None:
            ex.start_time = at
        self._rerun(ex, env)

    def _finish_orphan(self, task: TaskExecution, at: int, env: TaskEnvironment) -> None:
        # A task a faulty cancel left running: it finishes its work, nothing follows from it.
        task.finish_at = None
        ok, task.output, reason = self._perform(task, env)
        task.status, task.end_time = ("COMPLETED" if ok else "FAILED"), at
        task.reason = None if ok else reason

    # -- starting tasks ------------------------------------------------------------------------

    def _start_ready(self, ex: Execution, at: int, env: TaskEnvironment) -> bool:
        by_xid = ex.task_by_external_id()
        started = False
        for parent, definitions in list(self._scopes(ex, by_xid)):
            for definition in definitions:
                task = by_xid.get(definition["externalId"])
                if task is not None and task.status != "SCHEDULED":
                    continue
                if not self._dependencies_done(definition, by_xid):
                    continue
                if task is None:
                    task = self._reach(ex, definition, parent, env)
                    by_xid[task.external_id] = task
                self._start(ex, task, at, env, by_xid)
                started = True
                if ex.status != "RUNNING":
                    return True
        return started

    def _scopes(
        self, ex: Execution, by_xid: dict[str, TaskExecution]
    ) -> Iterator[tuple[str | None, list[dict[str, Any]]]]:
        yield None, ex.definition.get("tasks", [])
        for task in list(by_xid.values()):
            if task.children is not None and task.status == "IN_PROGRESS":
                yield task.external_id, task.children

    def _dependencies_done(
        self, definition: dict[str, Any], by_xid: dict[str, TaskExecution]
    ) -> bool:
        if "dependson_ignored" in self.faults:
            return True
        for dep in _dependency_ids(definition):
            task = by_xid.get(dep)
            if task is None or task.status not in DONE_TASK_STATUSES:
                return False
        return True

    def _reach(
        self, ex: Execution, definition: dict[str, Any], parent: str | None, env: TaskEnvironment
    ) -> TaskExecution:
        task = TaskExecution(
            id=str(uuid.uuid4()),
            external_id=definition["externalId"],
            task_type=definition["type"],
            definition=definition,
            parent_external_id=parent,
            attempts_allowed=1 + int(definition.get("retries", 3)),
        )
        ex.tasks.append(task)
        env.register_task(ex, task)
        return task

    def _start(
        self,
        ex: Execution,
        task: TaskExecution,
        at: int,
        env: TaskEnvironment,
        by_xid: dict[str, TaskExecution],
    ) -> None:
        task.status, task.start_time, task.end_time, task.reason = "IN_PROGRESS", at, None, None
        task.input = self._task_input(ex, task, by_xid)
        if task.task_type in CONTAINER_TYPES:
            self._expand(ex, task, at, env, by_xid)
        elif task.attempts_used >= task.attempts_allowed:
            # Only reachable under the retry_no_extra_attempt fault: nothing left to try.
            self._exhaust(ex, task, at, "FAILED")
        else:
            self._begin_attempt(ex, task, at)

    def _begin_attempt(self, ex: Execution, task: TaskExecution, at: int) -> None:
        task.status, task.end_time, task.reason = "IN_PROGRESS", None, None
        task.attempts_used += 1
        task.attempt_start = at
        if _is_async(task):
            task.finish_at = None
            function_xid = str(_object(task.input.get("function")).get("externalId", ""))
            task.output = {
                "callId": next(self._numbers),
                "functionId": _function_id(function_xid),
                "response": None,
            }
        else:
            task.finish_at = at + self._work_ms(ex, task)

    def _work_ms(self, ex: Execution, task: TaskExecution) -> int:
        if self.task_latency_ms is not None:
            return self.task_latency_ms
        window = self.pace.profile.task(task.task_type)
        purpose = f"task:{task.external_id}:{task.attempts_used}"
        return self.pace.draw(ex.pace_key, purpose, window)

    def _has_references(self, definition: dict[str, Any]) -> bool:
        # Walking the parameters for "${" on every task start was ~10 % of a run (profiled);
        # a definition never changes, so ask once per definition.
        cached = self._mentions_references.get(id(definition))
        if cached is None or cached[0] is not definition:
            found = "${" in json.dumps(definition.get("parameters") or {})
            cached = self._mentions_references[id(definition)] = (definition, found)
        return cached[1]

    def _task_input(
        self, ex: Execution, task: TaskExecution, by_xid: dict[str, TaskExecution]
    ) -> dict[str, Any]:
        original: dict[str, Any] = task.definition.get("parameters") or {}
        params = original
        if "references_unresolved" not in self.faults and self._has_references(task.definition):
            params = resolve_references(original, _Lookup(ex, by_xid))
        if task.task_type != "function":
            return params
        if params is not original or task.parent_external_id is not None:
            return {"asyncComplete": _is_async(task), "function": _object(params.get("function"))}
        # Without references the input depends on the definition only: share it between
        # executions (keeps memory per execution small with 100k stored executions).
        cached = self._static_inputs.get(id(task.definition))
        if cached is None or cached[0] is not task.definition:
            built = {"asyncComplete": _is_async(task), "function": _object(params.get("function"))}
            cached = self._static_inputs[id(task.definition)] = (task.definition, built)
        return cached[1]

    # -- containers ----------------------------------------------------------------------------

    def _expand(
        self,
        ex: Execution,
        task: TaskExecution,
        at: int,
        env: TaskEnvironment,
        by_xid: dict[str, TaskExecution],
    ) -> None:
        task.output = {}
        try:
            children = self._children(task, env)
            check_tasks(children, nested=True)
            _check_room(ex, children, by_xid)
        except DomainError as error:
            task.reason = f"Task '{task.external_id}' could not expand: {error.message}"
            self._exhaust(ex, task, at, "FAILED")
            return
        task.children = [fill_task_defaults(child) for child in children]

    def _children(self, task: TaskExecution, env: TaskEnvironment) -> list[dict[str, Any]]:
        key = "dynamic" if task.task_type == "dynamic" else "subworkflow"
        spec = task.input.get(key)
        if not isinstance(spec, dict):
            raise DomainError(400, f"parameters.{key} is missing")
        if key == "subworkflow" and "tasks" not in spec:
            return self._referenced_tasks(spec, env)
        tasks = spec.get("tasks")
        if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
            raise DomainError(400, f"parameters.{key}.tasks did not resolve to a list of tasks")
        return tasks

    def _referenced_tasks(self, spec: dict[str, Any], env: TaskEnvironment) -> list[dict[str, Any]]:
        xid, version = str(spec.get("workflowExternalId")), str(spec.get("version"))
        found = env.find_version(xid, version)
        if found is None:
            raise DomainError(400, f"subworkflow {xid}/{version} does not exist")
        tasks: list[dict[str, Any]] = found.definition.get("tasks", [])
        return tasks

    def _settle(self, ex: Execution, at: int) -> bool:
        by_xid = ex.task_by_external_id()
        changed = False
        for task in ex.tasks:
            if task.children is not None and task.status == "IN_PROGRESS":
                if _all_done(task.children, by_xid):
                    task.status, task.end_time = "COMPLETED", at
                    changed = True
        if _all_done(ex.definition.get("tasks", []), by_xid):
            ex.status, ex.end_time = "COMPLETED", at
        return changed

    # -- attempt outcomes ----------------------------------------------------------------------

    def _finish_attempt(
        self, ex: Execution, task: TaskExecution, at: int, env: TaskEnvironment
    ) -> None:
        task.finish_at = None
        ok, output, reason = self._perform(task, env)
        task.output = output
        if ok:
            task.status, task.end_time, task.reason = "COMPLETED", at, None
        else:
            self._attempt_failed(ex, task, at, reason, env)

    def _perform(
        self, task: TaskExecution, env: TaskEnvironment
    ) -> tuple[bool, dict[str, Any], str]:
        kind = task.task_type
        if kind == "function":
            return True, self._function_output(_object(task.input.get("function"))), ""
        if kind == "cdf":
            return self._perform_cdf(task, env)
        if kind == "transformation":
            return True, {"jobId": next(self._numbers)}, ""
        if kind == "simulation":
            run_id, log_id = next(self._numbers), next(self._numbers)
            return True, {"runId": run_id, "logId": log_id, "statusMessage": "Success"}, ""
        return True, {}, ""

    def _function_output(self, function: dict[str, Any]) -> dict[str, Any]:
        data = function.get("data")
        return {
            "callId": next(self._numbers),
            "functionId": _function_id(str(function.get("externalId", ""))),
            "response": data if data is not None else {},
        }

    def _perform_cdf(
        self, task: TaskExecution, env: TaskEnvironment
    ) -> tuple[bool, dict[str, Any], str]:
        request = _object(task.input.get("cdfRequest"))
        method = str(request.get("method", "GET")).upper()
        path = str(request.get("resourcePath", ""))
        query = request.get("queryParameters")
        status, body = env.cdf_request(
            method, path, query if isinstance(query, dict) else None, request.get("body")
        )
        reason = f"Task '{task.external_id}': CDF request {method} {path} returned {status}"
        return 200 <= status < 300, {"response": body, "statusCode": status}, reason

    def _attempt_failed(
        self,
        ex: Execution,
        task: TaskExecution,
        at: int,
        reason: str,
        env: TaskEnvironment,
        *,
        timed_out: bool = False,
        terminal: bool = False,
        exhausted_status: str = "FAILED",
    ) -> None:
        task.finish_at = None
        task.reason = reason
        if timed_out and self._aborts(task):
            self._give_up(ex, task, at, "TIMED_OUT")
        elif not terminal and task.attempts_used < task.attempts_allowed:
            if self.profile.appended_attempts:
                if task.status == "IN_PROGRESS":  # a reported attempt already shows FAILED
                    task.status, task.end_time = ("TIMED_OUT" if timed_out else "FAILED"), at
                task = self._append_attempt(ex, task, env)
                task.start_time = at
            self._begin_attempt(ex, task, at)
        else:
            self._exhaust(ex, task, at, exhausted_status)

    def _append_attempt(
        self, ex: Execution, task: TaskExecution, env: TaskEnvironment
    ) -> TaskExecution:
        """A new task execution (new id) for the next attempt of ``task``, which keeps its
        final status; attempt counts carry over."""
        fresh = replace(
            task,
            id=str(uuid.uuid4()),
            status="SCHEDULED",
            start_time=None,
            end_time=None,
            reason=None,
            output={},
            finish_at=None,
            pending_report=None,
        )
        ex.tasks.append(fresh)
        env.register_task(ex, fresh)
        return fresh

    def _exhaust(self, ex: Execution, task: TaskExecution, at: int, status: str) -> None:
        if self._aborts(task):
            self._give_up(ex, task, at, status)
        else:
            task.status, task.end_time = "COMPLETED_WITH_ERRORS", at

    def _aborts(self, task: TaskExecution) -> bool:
        optional = task.definition.get("onFailure") == "skipTask"
        return not optional or "skiptask_aborts" in self.faults

    def _give_up(self, ex: Execution, task: TaskExecution, at: int, status: str) -> None:
        task.status, task.end_time = status, at
        verb = "timed out" if status == "TIMED_OUT" else "failed"
        detail = f": {task.reason}" if task.reason else ""
        if task.parent_external_id is None:
            self._stop_execution(ex, at, "FAILED", f"Task '{task.external_id}' {verb}{detail}")
            return
        container = ex.task_by_external_id()[task.parent_external_id]
        self._cancel_children(ex, container, at)
        container.reason = f"Task '{task.external_id}' {verb}{detail}"
        self._exhaust(ex, container, at, "FAILED")

    def _cancel_active(self, ex: Execution, at: int) -> None:
        for task in ex.tasks:
            if task.status in ACTIVE_TASK_STATUSES:
                _cancel_task(task, at)

    def _cancel_children(self, ex: Execution, container: TaskExecution, at: int) -> None:
        for task in ex.tasks:
            if task.parent_external_id == container.external_id:
                if task.status in ACTIVE_TASK_STATUSES:
                    _cancel_task(task, at)

    def _stop_execution(self, ex: Execution, at: int, status: str, reason: str) -> None:
        ex.status, ex.end_time = status, at
        ex.reason = None if "abort_without_reason" in self.faults else reason
        ex.resume_at = None
        self._cancel_active(ex, at)

    # -- operations ----------------------------------------------------------------------------

    def cancel(self, ex: Execution, now: int, reason: str, tasks_at: int | None = None) -> None:
        """Terminate a RUNNING execution at once; its active tasks turn CANCELED at
        ``tasks_at`` (default: now), and no new task starts."""
        ex.status, ex.end_time, ex.reason = "TERMINATED", now, reason
        ex.resume_at = None
        if "cancel_leaves_tasks_running" in self.faults:
            return  # the tasks keep working: a synchronous one still finishes
        if "cancel_tasks_stuck" in self.faults:
            for task in ex.tasks:  # frozen: nothing will ever move them
                if task.status in ACTIVE_TASK_STATUSES:
                    task.finish_at, task.pending_report = None, None
            return
        if tasks_at is None or tasks_at <= now:
            self._cancel_active(ex, now)
        else:
            ex.cancel_at = tasks_at

    def retry(
        self, ex: Execution, now: int, env: TaskEnvironment, rerun_at: int | None = None
    ) -> None:
        """Resume a stopped execution in place from its points of failure (same execution id;
        same task ids unless the profile appends attempts): RUNNING at once, its failed tasks
        re-run at ``rerun_at`` (default: now)."""
        if ex.cancel_at is not None:  # a cancel still landing lands before the re-run
            ex.cancel_at = None
            self._cancel_active(ex, now)
        ex.status, ex.end_time, ex.reason = "RUNNING", None, None
        ex.cursor_ms, ex.deadline_ms = now, now + MAX_EXECUTION_MS
        ex.rounds += 1
        ex.resume_at = None
        if "retry_never_reruns" in self.faults:
            ex.resume_at = NEVER
        elif rerun_at is not None and rerun_at > now:
            ex.resume_at = rerun_at
        else:
            self._rerun(ex, env)

    def _rerun(self, ex: Execution, env: TaskEnvironment) -> None:
        by_xid = ex.task_by_external_id()
        # The latest task execution of each external id: earlier appended attempts are history.
        for task in list(by_xid.values()):
            if task.parent_external_id is None:
                self._retry_task(ex, task, by_xid, env)

    def _retry_task(
        self,
        ex: Execution,
        task: TaskExecution,
        by_xid: dict[str, TaskExecution],
        env: TaskEnvironment,
    ) -> None:
        if not self._reruns(task):
            return
        if task.children is not None:
            # The container is not retried itself; its failed children are, one by one.
            task.status, task.end_time, task.reason = "IN_PROGRESS", None, None
            for child in task.children:
                reached = by_xid.get(child["externalId"])
                if reached is not None:
                    self._retry_task(ex, reached, by_xid, env)
            return
        if self.profile.appended_attempts:
            task = self._append_attempt(ex, task, env)
        self._grant_attempt(task)
        task.status, task.end_time, task.reason, task.finish_at = "SCHEDULED", None, None, None

    def _reruns(self, task: TaskExecution) -> bool:
        if task.status in RETRYABLE_TASK_STATUSES:
            return True
        if task.status == "COMPLETED":
            return "retry_reruns_completed" in self.faults
        if task.status == "COMPLETED_WITH_ERRORS":
            return "retry_reruns_skipped" in self.faults
        return False

    def _grant_attempt(self, task: TaskExecution) -> None:
        if "retry_resets_attempts" in self.faults:
            task.attempts_allowed = task.attempts_used + 1 + int(task.definition.get("retries", 3))
        elif "retry_no_extra_attempt" not in self.faults:
            # Documented: exhausted tasks get exactly one more attempt per retry request.
            task.attempts_allowed = max(task.attempts_allowed, task.attempts_used + 1)

    def preview_report(
        self, task: TaskExecution, now: int, status: str, output: dict[str, Any]
    ) -> TaskExecution:
        """The task as a task update reports it (what the update's response shows)."""
        shown = replace(task)
        self._mark_reported(shown, now, status, output)
        return shown

    def accept_report(
        self,
        ex: Execution,
        task: TaskExecution,
        now: int,
        status: str,
        output: dict[str, Any],
        env: TaskEnvironment,
        due: int | None = None,
    ) -> None:
        """Take a task update: it shows (and the execution goes on) at ``due`` (default now)."""
        if status == "COMPLETED" and "update_never_applied" in self.faults:
            return
        report = PendingReport(now if due is None else due, status, output, now)
        if report.due <= now:
            self._apply_report(ex, task, now, report, env)
        else:
            task.pending_report = report

    def _apply_report(
        self,
        ex: Execution,
        task: TaskExecution,
        at: int,
        report: PendingReport,
        env: TaskEnvironment,
    ) -> None:
        task.pending_report = None
        # endTime is when it was reported, as the update's response said.
        self._mark_reported(task, report.reported_at, report.status, report.output)
        ex.cursor_ms = max(ex.cursor_ms, at)
        self._report_consequences(ex, task, at, report.status, env)

    def _mark_reported(
        self, task: TaskExecution, at: int, status: str, output: dict[str, Any]
    ) -> None:
        if output and "update_output_not_merged" not in self.faults:
            task.output = {**task.output, **output}
        task.status, task.end_time, task.finish_at = status, at, None
        task.reason = None if status == "COMPLETED" else f"Task reported {status} by a task update"

    def _report_consequences(
        self, ex: Execution, task: TaskExecution, now: int, status: str, env: TaskEnvironment
    ) -> None:
        # A FAILED / FAILED_WITH_TERMINAL_ERROR update is an attempt failure.
        if status == "COMPLETED" or ex.status != "RUNNING":
            return
        reason = task.reason or ""
        if status == "FAILED_WITH_TERMINAL_ERROR":
            terminal = "terminal_error_retried" not in self.faults
        else:
            terminal = "failed_update_not_retried" in self.faults
        self._attempt_failed(ex, task, now, reason, env, terminal=terminal, exhausted_status=status)


# ---------------------------------------------------------------------------------------------
# Helpers

_EXECUTION_TIMEOUT = "Workflow execution exceeded the maximum duration of 24 hours"


class _Lookup:
    """Resolves one reference expression against an execution's input and tasks."""

    def __init__(self, ex: Execution, by_xid: dict[str, TaskExecution]) -> None:
        self._ex = ex
        self._by_xid = by_xid

    def __call__(self, expression: str) -> Any:
        head, _, rest = expression.partition(".")
        path = rest.split(".") if rest else []
        if head == "workflow":
            return _walk({"input": self._ex.input}, path)
        task = self._by_xid.get(head)
        if task is None:
            return None
        return _walk({"input": task.input, "output": task.output}, path)


def _is_async(task: TaskExecution) -> bool:
    params = task.definition.get("parameters") or {}
    return task.task_type == "function" and params.get("isAsyncComplete") is True


def is_async_task(task: TaskExecution) -> bool:
    """True for a function task defined with ``isAsyncComplete: true``."""
    return _is_async(task)


def _timeout_at(task: TaskExecution) -> int:
    return task.attempt_start + int(task.definition.get("timeout", 3600)) * 1000


def _function_id(function_external_id: str) -> int:
    # Stable per function external id, like a deployed function's id.
    return 1_000_000_000 + zlib.crc32(function_external_id.encode())


def _cancel_task(task: TaskExecution, at: int) -> None:
    task.status, task.end_time, task.finish_at = "CANCELED", at, None
    task.pending_report = None


def _all_done(definitions: list[dict[str, Any]], by_xid: dict[str, TaskExecution]) -> bool:
    for definition in definitions:
        task = by_xid.get(definition["externalId"])
        if task is None or task.status not in DONE_TASK_STATUSES:
            return False
    return True


def _check_room(
    ex: Execution, children: list[dict[str, Any]], by_xid: dict[str, TaskExecution]
) -> None:
    planned = {t["externalId"] for t in ex.definition.get("tasks", [])} | set(by_xid)
    for child in children:
        if child["externalId"] in planned:
            raise DomainError(400, f"task externalId '{child['externalId']}' is already in use")
    if len(ex.tasks) + len(children) > MAX_TASKS_PER_EXECUTION:
        raise DomainError(400, f"an execution may hold at most {MAX_TASKS_PER_EXECUTION} tasks")
