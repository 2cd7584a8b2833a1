"""The mock's per-project state, with one method per API operation (no HTTP here).

Bodies arrive parsed and already shape-validated against the contract; this module does the
semantic validation, returns JSON-ready response bodies and raises :class:`DomainError`.

Picks where the documentation is silent (checks must not depend on them), as the default
(``strict``) profile makes them; ``profiles.Profile`` names each, and the ``alternative``
profile takes the other legitimate answer (README, "Choices where the documentation is silent"):

* run of an unknown workflow/version: 404 with ``missing``;
* retrieve of an unknown execution id: 400 (what the Python SDK maps to ``None``);
* cancel of a non-RUNNING execution, retry of a non-FAILED/TIMED_OUT/TERMINATED one: 409, state
  unchanged; cancel/retry/update of an unknown id: 404 with ``missing``;
* task update of a task that is not async or not IN_PROGRESS: 400;
* a FAILED task update answers with the task as reported (FAILED); the retry (same task id, back
  to IN_PROGRESS) happens right after;
* execution retry works in place: same execution id, same task ids; re-run tasks go back to
  SCHEDULED and start on the next progression;
* deleting a workflow deletes its versions and its executions (refused with 409 while one runs);
* execution lists are newest first: createdTime descending, then creation order descending
  (ids are random, so creation order is the stable tie-break that allows O(1) appends);
* the run's 202 body is RUNNING with no task started; tasks start on the next operation;
* ``maxConcurrentExecutions`` and the project concurrency limit are not enforced;
* ``cdf`` tasks calling resources outside the Workflows API (``/timeseries``, ``/assets/list``,
  ...) get 200 ``{"items": []}``, as an empty real project would answer.

Pace (``clock.Pace``): at ``instant`` every effect lands inside its request; otherwise a run is
picked up, listed, re-run after a retry, its tasks cancelled after a cancel and a task update
shown only after a delay drawn per execution. Nothing scans the store: per project, a heap of
wake-ups (executions with a due event) and a heap of not-yet-listed executions are popped up to
``clock.now_ms()``.

Every public method holds one re-entrant lock and first progresses every execution with a due
event to ``clock.now_ms()``. ``cdf`` tasks call ``cdf_request`` while that lock is held, from the
same thread: the requester must be synchronous (it may call back into this backend).
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hashlib
import heapq
import itertools
import json
import secrets
import threading
import uuid
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import unquote

from wfcontracts.contract.vocabulary import RETRIABLE_EXECUTION_STATUSES, TASK_UPDATE_STATUSES
from wfcontracts.mock.clock import Clock, Pace, Window
from wfcontracts.mock.engine import (
    MAX_EXECUTION_MS,
    Engine,
    check_tasks,
    fill_task_defaults,
    is_async_task,
)
from wfcontracts.mock.faults import FaultSet
from wfcontracts.mock.models import (
    DomainError,
    Execution,
    TaskExecution,
    Workflow,
    WorkflowVersion,
)
from wfcontracts.mock.profiles import STRICT, Profile

__all__ = ["CdfRequester", "WorkflowsBackend"]

CdfRequester = Callable[[str, str, str, dict[str, Any] | None, Any], tuple[int, Any]]
"""``(project, method, resource_path, query, body) -> (status, body)`` for ``cdf`` tasks."""

_P = ParamSpec("_P")
_R = TypeVar("_R")
_RETRIABLE = RETRIABLE_EXECUTION_STATUSES
_UPDATE_STATUSES = frozenset(TASK_UPDATE_STATUSES)
_SESSION_TYPES = (
    ("tokenExchange", "TOKEN_EXCHANGE"),
    ("oneshotTokenExchange", "ONESHOT_TOKEN_EXCHANGE"),
    ("clientId", "CLIENT_CREDENTIALS"),
)


def _sort_key(ex: Execution) -> tuple[int, int]:
    return ex.sort_key


@dataclass(slots=True)
class _Project:
    """Everything one CDF project holds."""

    workflows: dict[str, Workflow] = field(default_factory=dict)
    versions: dict[tuple[str, str], WorkflowVersion] = field(default_factory=dict)
    # Ascending on (createdTime, seq): appends are O(1), pages are slices from a bisect.
    executions: list[Execution] = field(default_factory=list)
    by_workflow: dict[str, list[Execution]] = field(default_factory=dict)
    by_id: dict[str, Execution] = field(default_factory=dict)
    task_owner: dict[str, Execution] = field(default_factory=dict)
    # Heap of (time, seq, wake_token, execution): only executions with a pending event.
    wakeups: list[tuple[int, int, int, Execution]] = field(default_factory=list)
    # Heap of (time, seq, execution): runs that executions/list does not show yet (paced).
    unlisted: list[tuple[int, int, Execution]] = field(default_factory=list)
    # Executions run so far: the k of "the k-th execution" that pace draws derive from.
    runs: int = 0


class _ProjectEnvironment:
    """The engine's view of one project (satisfies ``engine.TaskEnvironment``)."""

    def __init__(self, backend: WorkflowsBackend, name: str, project: _Project) -> None:
        self._backend = backend
        self._name = name
        self._project = project

    def find_version(self, workflow_external_id: str, version: str) -> WorkflowVersion | None:
        return self._project.versions.get((workflow_external_id, version))

    def cdf_request(
        self, method: str, resource_path: str, query: dict[str, Any] | None, body: Any
    ) -> tuple[int, Any]:
        if not _in_workflows_api(resource_path):
            # The mock serves the Workflows API only; the rest of the project answers as an
            # empty one would, or refuses the session access (the alternative profile).
            status = self._backend.profile.cdf_outside_api_status
            if status == 200:
                return 200, {"items": []}
            message = f"The session has no access to {resource_path}"
            return status, {"error": {"code": status, "message": message}}
        requester = self._backend.cdf_request
        if requester is None:
            return self._backend._answer_cdf(self._project, method, resource_path)
        try:
            return requester(self._name, method, resource_path, query, body)
        except Exception as error:  # a crashing route is a failed attempt, not a crashed engine
            return 500, {"error": {"code": 500, "message": f"cdf request failed: {error}"}}

    def register_task(self, execution: Execution, task: TaskExecution) -> None:
        self._project.task_owner[task.id] = execution


def _locked(
    method: Callable[Concatenate[WorkflowsBackend, _P], _R],
) -> Callable[Concatenate[WorkflowsBackend, _P], _R]:
    """Run ``method`` under the backend lock, after progressing executions to now."""

    @functools.wraps(method)
    def wrapper(backend: WorkflowsBackend, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with backend._lock:
            backend._advance()
            return method(backend, *args, **kwargs)

    return wrapper


class WorkflowsBackend:
    """The stateful CDF Workflows backend: per-project state and the operations on it."""

    def __init__(
        self,
        clock: Clock,
        faults: FaultSet | None = None,
        *,
        cdf_request: CdfRequester | None = None,
        task_latency_ms: int | None = None,
        pace: Pace | None = None,
        profile: Profile = STRICT,
    ) -> None:
        self.clock = clock
        self.faults = faults if faults is not None else FaultSet()
        self.cdf_request = cdf_request
        self.pace = pace if pace is not None else Pace()
        self.profile = profile
        self.engine = Engine(self.faults, task_latency_ms, self.pace, profile)
        self._lock = threading.RLock()
        self._advancing = False
        self._projects: dict[str, _Project] = {}
        self._seq = itertools.count()
        self._session_ids = itertools.count(1)
        # (project, nonce) for every nonce POST /sessions handed out and no run took yet.
        self._nonces: set[tuple[str, str]] = set()

    # -- lifecycle -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every project, execution and session."""
        with self._lock:
            self._projects.clear()
            self._nonces.clear()

    def advance(self) -> None:
        """Progress every execution with a due event to ``clock.now_ms()``."""
        with self._lock:
            self._advance()

    def _advance(self) -> None:
        if self._advancing:  # a cdf task calling back into the backend mid-progression
            return
        self._advancing = True
        try:
            now = self.clock.now_ms()
            for name, project in list(self._projects.items()):
                self._advance_project(name, project, now)
        finally:
            self._advancing = False

    def _advance_project(self, name: str, project: _Project, now: int) -> None:
        unlisted = project.unlisted
        while unlisted and unlisted[0][0] <= now:
            _, _, ex = heapq.heappop(unlisted)
            if project.by_id.get(ex.id) is ex:  # not deleted meanwhile
                _insert_sorted(project.executions, ex)
                _insert_sorted(project.by_workflow.setdefault(ex.workflow_external_id, []), ex)
        environment = _ProjectEnvironment(self, name, project)
        heap = project.wakeups
        while heap and heap[0][0] <= now:
            _, _, token, ex = heapq.heappop(heap)
            if token == ex.wake_token:
                self.engine.step(ex, now, environment)
                self._schedule(project, ex, self.engine.next_event(ex))

    def _schedule(self, project: _Project, ex: Execution, at: int | None) -> None:
        ex.wake_token += 1
        if at is not None:
            heapq.heappush(project.wakeups, (at, ex.seq, ex.wake_token, ex))

    def _project(self, name: str) -> _Project:
        return self._projects.setdefault(name, _Project())

    def _environment(self, name: str) -> _ProjectEnvironment:
        return _ProjectEnvironment(self, name, self._project(name))

    def _delay(self, ex: Execution, purpose: str, window: Window) -> int:
        return 0 if self.pace.instant else self.pace.draw(ex.pace_key, purpose, window)

    # -- workflows -----------------------------------------------------------------------------

    @_locked
    def upsert_workflow(self, project: str, item: dict[str, Any]) -> dict[str, Any]:
        """Create or replace a workflow (description etc. are overwritten, also with None)."""
        state, now = self._project(project), self.clock.now_ms()
        xid = item["externalId"]
        old = state.workflows.get(xid)
        workflow = Workflow(
            external_id=xid,
            created_time=old.created_time if old else now,
            last_updated_time=now,
            description=item.get("description"),
            data_set_id=item.get("dataSetId"),
            max_concurrent_executions=item.get("maxConcurrentExecutions"),
        )
        state.workflows[xid] = workflow
        return _render_workflow(workflow)

    @_locked
    def retrieve_workflow(self, project: str, external_id: str) -> dict[str, Any]:
        """The workflow, or 404."""
        workflow = self._project(project).workflows.get(external_id)
        if workflow is None:
            raise DomainError(
                404, f"Workflow '{external_id}' not found", missing=[{"externalId": external_id}]
            )
        return _render_workflow(workflow)

    @_locked
    def list_workflows(self, project: str, limit: int, cursor: str | None) -> dict[str, Any]:
        """A page of workflows ordered by external id."""
        return self._workflow_page(self._project(project), limit, cursor)

    def _workflow_page(self, state: _Project, limit: int, cursor: str | None) -> dict[str, Any]:
        signature = _signature({})
        after = _decode_cursor(cursor, signature)
        if after is not None and not isinstance(after, str):
            raise _bad_cursor()
        down = self.profile.definitions_descending
        xids = sorted(
            (x for x in state.workflows if after is None or (x < after if down else x > after)),
            reverse=down,
        )
        page = [_render_workflow(state.workflows[x]) for x in xids[:limit]]
        return self._page(
            page, len(xids) > limit, lambda: _encode_cursor(xids[limit - 1], signature)
        )

    def _page(
        self, items: list[dict[str, Any]], more: bool, cursor: Callable[[], str]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"items": items}
        if more and items:
            body["nextCursor"] = cursor()
        elif self.profile.null_next_cursor:
            body["nextCursor"] = None
        return body

    def _filter_signature(self, parameters: dict[str, Any]) -> str:
        """What a cursor is bound to: the request's filter, or (unbound) only its list."""
        if not self.profile.cursor_bound_to_filter:
            parameters = dict.fromkeys(parameters, "*")
        return _signature(parameters)

    @_locked
    def delete_workflows(
        self, project: str, external_ids: list[str], ignore_unknown_ids: bool
    ) -> None:
        """Delete workflows with their versions and executions; all or nothing."""
        state = self._project(project)
        wanted = list(dict.fromkeys(external_ids))
        missing = [x for x in wanted if x not in state.workflows]
        if missing and not ignore_unknown_ids:
            raise DomainError(
                404,
                f"Some workflows were not found: {', '.join(missing)}",
                missing=[{"externalId": x} for x in missing],
            )
        present = [x for x in wanted if x in state.workflows]
        for xid in present:
            if any(ex.status == "RUNNING" for ex in _all_of_workflow(state, xid)):
                raise DomainError(
                    self.profile.delete_running_status,
                    f"Workflow '{xid}' cannot be deleted while it has running executions",
                )
        for xid in present:
            self._delete_workflow(state, xid)

    def _delete_workflow(self, state: _Project, xid: str) -> None:
        del state.workflows[xid]
        for key in [k for k in state.versions if k[0] == xid]:
            del state.versions[key]
        if self.profile.delete_keeps_executions:
            return  # the history stays: executions carry their own copy of the definition
        gone = list(_all_of_workflow(state, xid))
        state.by_workflow.pop(xid, None)
        if not gone:
            return
        state.executions = [ex for ex in state.executions if ex.workflow_external_id != xid]
        for ex in gone:
            del state.by_id[ex.id]
            for task in ex.tasks:
                state.task_owner.pop(task.id, None)

    # -- versions ------------------------------------------------------------------------------

    @_locked
    def upsert_version(self, project: str, item: dict[str, Any]) -> dict[str, Any]:
        """Create or replace a version (and its workflow if absent); defaults filled, hashed."""
        state, now = self._project(project), self.clock.now_ms()
        xid, version = item["workflowExternalId"], item["version"]
        definition = _definition(item.get("workflowDefinition") or {})
        if xid not in state.workflows:
            state.workflows[xid] = Workflow(xid, created_time=now, last_updated_time=now)
        old = state.versions.get((xid, version))
        stored = WorkflowVersion(
            xid, version, definition, old.created_time if old else now, last_updated_time=now
        )
        state.versions[(xid, version)] = stored
        return _render_version(stored)

    @_locked
    def retrieve_version(
        self, project: str, workflow_external_id: str, version: str
    ) -> dict[str, Any]:
        """The version, or 404."""
        found = self._project(project).versions.get((workflow_external_id, version))
        if found is None:
            raise _version_not_found([(workflow_external_id, version)])
        return _render_version(found)

    @_locked
    def list_versions(
        self, project: str, workflow_filters: list[dict[str, Any]], limit: int, cursor: str | None
    ) -> dict[str, Any]:
        """A page of versions matching any filter (all when none), by (workflow, version)."""
        state = self._project(project)
        signature = self._filter_signature({"filters": workflow_filters})
        after = _decode_cursor(cursor, signature)
        if after is not None and not (
            isinstance(after, list) and len(after) == 2 and all(isinstance(a, str) for a in after)
        ):
            raise _bad_cursor()
        down = self.profile.definitions_descending
        keys = sorted(
            (
                key
                for key in state.versions
                if _version_matches(key, workflow_filters)
                and (after is None or (list(key) < after if down else list(key) > after))
            ),
            reverse=down,
        )
        page = [_render_version(state.versions[k]) for k in keys[:limit]]
        return self._page(
            page, len(keys) > limit, lambda: _encode_cursor(keys[limit - 1], signature)
        )

    @_locked
    def delete_versions(
        self, project: str, items: list[dict[str, Any]], ignore_unknown_ids: bool
    ) -> None:
        """Delete versions; all or nothing unless ``ignore_unknown_ids``."""
        state = self._project(project)
        keys = list(dict.fromkeys((i["workflowExternalId"], i["version"]) for i in items))
        missing = [k for k in keys if k not in state.versions]
        if missing and not ignore_unknown_ids:
            raise _version_not_found(missing)
        for key in keys:
            state.versions.pop(key, None)

    # -- sessions ------------------------------------------------------------------------------

    @_locked
    def create_sessions(self, project: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Create sessions; each answer carries a fresh nonce (remembered, never logged)."""
        created = []
        for item in items:
            kind = next((t for key, t in _SESSION_TYPES if item.get(key)), "TOKEN_EXCHANGE")
            nonce = secrets.token_urlsafe(24)
            self._nonces.add((project, nonce))
            session: dict[str, Any] = {
                "id": next(self._session_ids),
                "status": "READY",
                "nonce": nonce,
                "type": kind,
            }
            if kind == "CLIENT_CREDENTIALS":
                session["clientId"] = item["clientId"]
            created.append(session)
        return {"items": created}

    # -- executions ----------------------------------------------------------------------------

    @_locked
    def run_execution(
        self, project: str, workflow_external_id: str, version: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Start an execution (202 body, RUNNING). Any nonce is accepted (CDF issues them),
        unless the profile takes only the ones POST /sessions handed out."""
        state, now = self._project(project), self.clock.now_ms()
        found = state.versions.get((workflow_external_id, version))
        if found is not None:
            definition = found.definition
        elif "unknown_version_runs" in self.faults:
            definition = _definition({"tasks": []})
        else:
            raise _version_not_found(
                [(workflow_external_id, version)], self.profile.unknown_version_status
            )
        self._check_concurrency(state, workflow_external_id)
        self._take_nonce(project, body)
        run_input = body.get("input")
        state.runs += 1
        ex = Execution(
            id=self._new_execution_id(),
            engine_execution_id=str(uuid.uuid4()),
            workflow_external_id=workflow_external_id,
            version=version,
            definition=definition,
            created_time=now,
            seq=next(self._seq),
            start_time=now,
            metadata=body.get("metadata"),
            input=run_input,
            has_input=run_input is not None,
            cursor_ms=now,
            deadline_ms=now + MAX_EXECUTION_MS,
            pace_key=self.pace.execution_key(project, state.runs),
        )
        profile = self.pace.profile
        pickup = self._delay(ex, "pickup", profile.pickup)
        if pickup > 0:  # not picked up yet: no task, and (unless the profile says) no startTime
            ex.resume_at = now + pickup
            if not self.profile.start_time_in_run_answer:
                ex.start_time = None
        listed = self._delay(ex, "listing", profile.listing)
        if listed > 0:
            self._store(state, ex, listed_at=now + listed)
        else:
            self._store(state, ex)
        self._schedule(state, ex, now)
        return self._render_execution(ex)

    def _check_concurrency(self, state: _Project, workflow_external_id: str) -> None:
        if not self.profile.enforce_max_concurrent:
            return
        workflow = state.workflows.get(workflow_external_id)
        limit = workflow.max_concurrent_executions if workflow is not None else None
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            return
        executions = _all_of_workflow(state, workflow_external_id)
        running = sum(ex.status == "RUNNING" for ex in executions)
        if running >= limit:
            raise DomainError(
                409,
                f"Workflow '{workflow_external_id}' already has {running} running executions"
                f" (maxConcurrentExecutions {limit})",
            )

    def _take_nonce(self, project: str, body: dict[str, Any]) -> None:
        """Under ``nonces_from_sessions``: refuse a nonce POST /sessions did not hand out in
        this project, or one a run or retry already took; else consume it."""
        if not self.profile.nonces_from_sessions:
            return
        authentication = body.get("authentication")
        nonce = authentication.get("nonce") if isinstance(authentication, dict) else None
        key = (project, nonce) if isinstance(nonce, str) else None
        if key is None or key not in self._nonces:
            raise DomainError(
                400, "Invalid nonce: use a nonce from POST /sessions of this project, once"
            )
        self._nonces.discard(key)

    def _new_execution_id(self) -> str:
        value = str(uuid.uuid4())
        if "non_uuid4_ids" in self.faults:
            value = value[:14] + "1" + value[15:]
        if "short_execution_id" in self.faults:
            value = value[:35]
        return value

    def _store(self, state: _Project, ex: Execution, listed_at: int | None = None) -> None:
        state.by_id[ex.id] = ex
        for task in ex.tasks:
            state.task_owner[task.id] = ex
        if listed_at is not None:
            heapq.heappush(state.unlisted, (listed_at, ex.seq, ex))
            return
        _insert_sorted(state.executions, ex)
        _insert_sorted(state.by_workflow.setdefault(ex.workflow_external_id, []), ex)

    @_locked
    def list_executions(self, project: str, body: dict[str, Any]) -> dict[str, Any]:
        """A page of executions, newest first; the cursor is bound to the filter.

        Not to ``limit``: the SDK shrinks ``limit`` on its last page when paging to a total.
        """
        state = self._project(project)
        filter_: dict[str, Any] = body.get("filter") or {}
        sent = body.get("limit")
        # Out of 1..1000 only under the lenient profile (the bounds are not documented here).
        limit = self.profile.default_list_limit if sent is None else min(max(int(sent), 1), 1000)
        signature = self._filter_signature({"filter": filter_})
        position = _decode_position(body.get("cursor"), signature)
        matcher = self._matcher(filter_)
        take = limit + 5 if "list_limit_ignored" in self.faults else limit
        found: list[Execution] = []
        oldest_first = self.profile.executions_oldest_first
        for ex in _candidates(state, position, matcher.workflow_ids, oldest_first):
            if matcher(ex):
                found.append(ex)
                if len(found) > take:
                    break
        page = found[:take]
        return self._page(
            [self._render_execution(ex) for ex in page],
            len(found) > take,
            lambda: self._next_position(page, signature),
        )

    def _matcher(self, filter_: dict[str, Any]) -> _Matcher:
        workflows = filter_.get("workflowFilters") or None
        statuses = filter_.get("status") or None
        if "list_ignores_workflow_filter" in self.faults:
            workflows = None
        if "list_ignores_status_filter" in self.faults:
            statuses = None
        return _Matcher(
            workflows,
            statuses,
            filter_.get("createdTimeStart"),
            filter_.get("createdTimeEnd"),
            end_inclusive=not self.profile.created_time_end_exclusive,
        )

    def _next_position(self, page: list[Execution], signature: str) -> str:
        if "cursor_repeats_items" in self.faults:
            return _encode_cursor({"k": list(page[0].sort_key), "incl": True}, signature)
        return _encode_cursor({"k": list(page[-1].sort_key), "incl": False}, signature)

    @_locked
    def retrieve_execution(self, project: str, execution_id: str) -> dict[str, Any]:
        """The detailed execution; an unknown id is a 400 (the SDK maps that to None), or what
        the profile says."""
        ex = self._project(project).by_id.get(execution_id)
        if ex is None:
            if "server_error_on_unknown_id" in self.faults:
                raise RuntimeError(f"execution lookup crashed for {execution_id!r}")
            raise DomainError(
                self.profile.unknown_execution_status,
                f"Workflow execution '{execution_id}' not found",
                missing=[{"id": execution_id}],
            )
        return self._render_detailed(ex)

    @_locked
    def cancel_execution(
        self, project: str, execution_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """RUNNING -> TERMINATED (reason or "cancelled"); otherwise 409 and nothing changes."""
        ex = self._execution(project, execution_id)
        default = self.profile.default_cancel_reason
        reason = body.get("reason") or default
        if "cancel_ignores_reason" in self.faults:
            reason = default
        if ex.status != "RUNNING":
            if "cancel_finished_accepted" not in self.faults:
                raise DomainError(
                    self.profile.illegal_transition_status,
                    f"Workflow execution is {ex.status}; only a RUNNING execution can be cancelled",
                )
            ex.status, ex.reason = "TERMINATED", reason
        elif "cancel_not_terminating" not in self.faults:
            now = self.clock.now_ms()
            tasks_at = now + self._delay(ex, f"cancel:{ex.rounds}", self.pace.profile.cancel)
            self.engine.cancel(ex, now, reason, tasks_at)
            self._schedule(self._project(project), ex, self.engine.next_event(ex))
        return self._render_execution(ex)

    @_locked
    def retry_execution(
        self, project: str, execution_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """FAILED/TIMED_OUT/TERMINATED -> RUNNING in place; otherwise 409 and nothing changes."""
        state = self._project(project)
        ex = self._execution(project, execution_id)
        if ex.status not in _RETRIABLE:
            if "retry_running_accepted" in self.faults:
                return self._render_execution(ex)
            raise DomainError(
                self.profile.illegal_transition_status,
                f"Workflow execution is {ex.status}; only a FAILED, TIMED_OUT or TERMINATED"
                " execution can be retried",
            )
        self._take_nonce(project, body)
        if "retry_new_id" in self.faults:
            ex = self._copy_execution(state, ex)
        now = self.clock.now_ms()
        rerun_at = now + self._delay(ex, f"retry:{ex.rounds}", self.pace.profile.retry)
        self.engine.retry(ex, now, self._environment(project), rerun_at)
        self._schedule(state, ex, now)
        return self._render_execution(ex)

    def _copy_execution(self, state: _Project, ex: Execution) -> Execution:
        tasks = [replace(t, id=str(uuid.uuid4())) for t in ex.tasks]
        now = self.clock.now_ms()
        copied = replace(
            ex, id=self._new_execution_id(), created_time=now, seq=next(self._seq), tasks=tasks
        )
        self._store(state, copied)
        return copied

    def _execution(self, project: str, execution_id: str) -> Execution:
        ex = self._project(project).by_id.get(execution_id)
        if ex is None:
            raise DomainError(
                404,
                f"Workflow execution '{execution_id}' not found",
                missing=[{"id": execution_id}],
            )
        return ex

    # -- tasks ---------------------------------------------------------------------------------

    @_locked
    def update_task(self, project: str, task_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Complete or fail an async (isAsyncComplete) task that is IN_PROGRESS.

        Unknown task id: 404. Not async, not IN_PROGRESS, or already reported: 400. The answer
        shows the task as reported; GET shows it so once the pace's update delay has passed,
        and a FAILED report is then retried per ``retries`` (same task, IN_PROGRESS).
        """
        state = self._project(project)
        ex = state.task_owner.get(task_id)
        task = next((t for t in ex.tasks if t.id == task_id), None) if ex else None
        if ex is None or task is None:
            raise DomainError(
                self.profile.unknown_task_status,
                f"Task '{task_id}' not found",
                missing=[{"id": task_id}],
            )
        status = body.get("status")
        if status not in _UPDATE_STATUSES:
            raise DomainError(400, f"Task status must be one of {sorted(_UPDATE_STATUSES)}")
        _check_updatable(task, self.profile.task_not_updatable_status)
        now = self.clock.now_ms()
        output = body.get("output") or {}
        purpose = f"update:{task.external_id}:{task.attempts_used}"
        due = now + self._delay(ex, purpose, self.pace.profile.update)
        answer = self._render_task(self.engine.preview_report(task, now, status, output))
        self.engine.accept_report(ex, task, now, status, output, self._environment(project), due)
        self._schedule(state, ex, now)
        return answer

    # -- cdf tasks without an HTTP layer -------------------------------------------------------

    def _answer_cdf(self, state: _Project, method: str, resource_path: str) -> tuple[int, Any]:
        path = resource_path.split("?", 1)[0].rstrip("/")
        if method.upper() != "GET":
            return 200, {}
        if path == "/workflows":
            return 200, self._workflow_page(state, 100, None)
        prefix = "/workflows/"
        if path.startswith(prefix) and "/" not in path[len(prefix) :]:
            xid = unquote(path[len(prefix) :])
            workflow = state.workflows.get(xid)
            if workflow is None:
                message = f"Workflow '{xid}' not found"
                return 404, {"error": {"code": 404, "message": message}}
            return 200, _render_workflow(workflow)
        return 200, {}

    # -- rendering (faults that distort responses live here) -----------------------------------

    def _render_execution(self, ex: Execution) -> dict[str, Any]:
        faults = self.faults
        status = ex.status
        if status == "COMPLETED" and "unknown_execution_status" in faults:
            status = "SUCCEEDED"
        created: Any = ex.created_time
        if "negative_timestamps" in faults:
            created = -abs(created) - 1
        if "string_timestamps" in faults:
            created = str(created)
        body: dict[str, Any] = {
            "id": ex.id,
            "workflowExternalId": ex.workflow_external_id,
            "version": ex.version,
            "status": status,
            "engineExecutionId": ex.engine_execution_id,
            "createdTime": created,
            "metadata": {} if "metadata_not_echoed" in faults else dict(ex.metadata or {}),
        }
        if "missing_required_field" in faults:
            del body["workflowExternalId"]
        self._render_times(ex, body)
        if ex.reason is not None:
            body["reasonForIncompletion"] = ex.reason
        return body

    def _render_times(self, ex: Execution, body: dict[str, Any]) -> None:
        if ex.start_time is not None:
            body["startTime"] = ex.start_time
        if ex.end_time is not None:
            end = ex.end_time
            if "end_before_start" in self.faults and ex.start_time is not None:
                end = ex.start_time - 1000
            body["endTime"] = end

    def _render_detailed(self, ex: Execution) -> dict[str, Any]:
        body = self._render_execution(ex)
        body["workflowDefinition"] = copy.deepcopy(ex.definition)
        body["executedTasks"] = [self._render_task(t) for t in ex.tasks]
        if ex.has_input and "input_not_echoed" not in self.faults:
            body["input"] = copy.deepcopy(ex.input)
        return body

    def _render_task(self, task: TaskExecution) -> dict[str, Any]:
        status = task.status
        if status == "COMPLETED" and "unknown_task_status" in self.faults:
            status = "DONE"
        body: dict[str, Any] = {
            "id": task.id,
            "externalId": task.external_id,
            "status": status,
            "taskType": task.task_type,
            "input": copy.deepcopy(task.input),
            "output": copy.deepcopy(task.output),
        }
        optional = (
            ("parentTaskExternalId", task.parent_external_id),
            ("startTime", task.start_time),
            ("endTime", task.end_time),
            ("reasonForIncompletion", task.reason),
        )
        body.update({key: value for key, value in optional if value is not None})
        return body


# ---------------------------------------------------------------------------------------------
# Module helpers


class _Matcher:
    """An executions-list filter; ``workflow_ids`` lets listing scan only those workflows."""

    def __init__(
        self,
        workflows: list[dict[str, Any]] | None,
        statuses: list[str] | None,
        start: int | None,
        end: int | None,
        *,
        end_inclusive: bool = True,
    ) -> None:
        self._workflows = workflows
        self.workflow_ids = sorted({f["externalId"] for f in workflows}) if workflows else None
        self._statuses = frozenset(statuses) if statuses else None
        self._start = start
        self._end = end
        self._end_inclusive = end_inclusive

    def __call__(self, ex: Execution) -> bool:
        if self._workflows and not any(_same_workflow(f, ex) for f in self._workflows):
            return False
        if self._statuses is not None and ex.status not in self._statuses:
            return False
        if self._start is not None and ex.created_time < self._start:
            return False
        if self._end is None:
            return True
        return ex.created_time <= self._end if self._end_inclusive else ex.created_time < self._end


def _same_workflow(filter_: dict[str, Any], ex: Execution) -> bool:
    version = filter_.get("version")
    return filter_["externalId"] == ex.workflow_external_id and version in (None, ex.version)


def _candidates(
    state: _Project,
    position: tuple[list[int], bool] | None,
    workflow_ids: list[str] | None,
    oldest_first: bool = False,
) -> Iterator[Execution]:
    """Executions newest (or oldest) first, from the cursor position on, lazily."""
    walk = _ascending if oldest_first else _descending
    if workflow_ids is None:
        return walk(state.executions, position)
    streams = [walk(state.by_workflow.get(x, []), position) for x in workflow_ids]
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=_sort_key, reverse=not oldest_first)


def _descending(
    executions: list[Execution], position: tuple[list[int], bool] | None
) -> Iterator[Execution]:
    stop = len(executions)
    if position is not None:
        key, inclusive = (position[0][0], position[0][1]), position[1]
        bisect = bisect_right if inclusive else bisect_left
        stop = bisect(executions, key, key=_sort_key)
    return (executions[i] for i in range(stop - 1, -1, -1))


def _ascending(
    executions: list[Execution], position: tuple[list[int], bool] | None
) -> Iterator[Execution]:
    start = 0
    if position is not None:
        key, inclusive = (position[0][0], position[0][1]), position[1]
        bisect = bisect_left if inclusive else bisect_right
        start = bisect(executions, key, key=_sort_key)
    return (executions[i] for i in range(start, len(executions)))


def _insert_sorted(executions: list[Execution], ex: Execution) -> None:
    if not executions or executions[-1].sort_key <= ex.sort_key:
        executions.append(ex)  # the usual case: the clock did not go backwards
    else:
        insort(executions, ex, key=_sort_key)


def _signature(parameters: dict[str, Any]) -> str:
    canonical = json.dumps(parameters, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(canonical.encode()).hexdigest()[:16]


def _bad_cursor() -> DomainError:
    return DomainError(400, "Invalid cursor: pass nextCursor exactly as received")


def _encode_cursor(position: Any, signature: str) -> str:
    raw = json.dumps({"p": position, "s": signature}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, signature: str) -> Any:
    if not cursor:  # an empty cursor (which only the lenient profile lets in) is the first page
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position, used_with = decoded["p"], decoded["s"]
    except (ValueError, TypeError, KeyError, binascii.Error) as error:
        raise _bad_cursor() from error
    if used_with != signature:
        raise DomainError(
            400,
            "The cursor belongs to another request: all parameters except cursor must stay"
            " the same",
        )
    return position


def _decode_position(cursor: str | None, signature: str) -> tuple[list[int], bool] | None:
    position = _decode_cursor(cursor, signature)
    if position is None:
        return None
    try:
        created, seq = position["k"]
        return [int(created), int(seq)], bool(position["incl"])
    except (TypeError, KeyError, ValueError) as error:
        raise _bad_cursor() from error


def _definition(workflow_definition: dict[str, Any]) -> dict[str, Any]:
    tasks = list(workflow_definition.get("tasks") or [])
    check_tasks(tasks)
    filled = [fill_task_defaults(task) for task in tasks]
    description = workflow_definition.get("description")
    canonical = json.dumps(
        {"description": description, "tasks": filled}, sort_keys=True, separators=(",", ":")
    )
    definition: dict[str, Any] = {"hash": hashlib.sha1(canonical.encode()).hexdigest().upper()}
    if description is not None:
        definition["description"] = description
    definition["tasks"] = filled
    return definition


def _version_matches(key: tuple[str, str], filters: Iterable[dict[str, Any]]) -> bool:
    filters = list(filters)
    if not filters:
        return True
    return any(
        f.get("externalId") == key[0] and f.get("version") in (None, key[1]) for f in filters
    )


def _version_not_found(keys: list[tuple[str, str]], status: int = 404) -> DomainError:
    names = ", ".join(f"{x}/{v}" for x, v in keys)
    return DomainError(
        status,
        f"Workflow versions not found: {names}",
        missing=[{"workflowExternalId": x, "version": v} for x, v in keys],
    )


def _check_updatable(task: TaskExecution, refused: int = 400) -> None:
    if not is_async_task(task):
        raise DomainError(
            refused,
            f"Task '{task.external_id}' is not an async task (isAsyncComplete is not true)",
        )
    if task.status != "IN_PROGRESS":
        raise DomainError(
            refused, f"Task '{task.external_id}' is {task.status}; only IN_PROGRESS can be updated"
        )
    if task.pending_report is not None:
        reported = task.pending_report.status
        raise DomainError(
            refused,
            f"Task '{task.external_id}' was already reported {reported}; it cannot change",
        )


_WORKFLOWS_API = ("/workflows", "/sessions")


def _in_workflows_api(resource_path: str) -> bool:
    path = "/" + resource_path.split("?", 1)[0].strip("/")
    return any(path == root or path.startswith(root + "/") for root in _WORKFLOWS_API)


def _all_of_workflow(state: _Project, xid: str) -> Iterator[Execution]:
    """A workflow's executions, the ones executions/list does not show yet included."""
    yield from state.by_workflow.get(xid, [])
    for _, _, ex in state.unlisted:
        if ex.workflow_external_id == xid and state.by_id.get(ex.id) is ex:
            yield ex


def _render_workflow(workflow: Workflow) -> dict[str, Any]:
    body: dict[str, Any] = {
        "externalId": workflow.external_id,
        "createdTime": workflow.created_time,
        "lastUpdatedTime": workflow.last_updated_time,
    }
    optional = (
        ("description", workflow.description),
        ("dataSetId", workflow.data_set_id),
        ("maxConcurrentExecutions", workflow.max_concurrent_executions),
    )
    body.update({key: value for key, value in optional if value is not None})
    return body


def _render_version(version: WorkflowVersion) -> dict[str, Any]:
    return {
        "workflowExternalId": version.workflow_external_id,
        "version": version.version,
        "workflowDefinition": copy.deepcopy(version.definition),
        "createdTime": version.created_time,
        "lastUpdatedTime": version.last_updated_time,
    }
