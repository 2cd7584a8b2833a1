"""Every resource a run creates on the target, recorded from the answers that created it.

Cleanup deletes by record first and sweeps the run prefix second, so a run can tidy up what it
made even where a name escaped the prefix, without listing (let alone touching) anything else
in a shared project.

Two ways in: :meth:`ResourceLedger.install` adds a response event hook to an httpx client (the
suites' client), and :meth:`ResourceLedger.record_exchange` takes one exchange from any other
HTTP stack (the fuzzer's ``requests`` session). Both recognise, by method, path and a 2xx
status:

==========================================================  ===================================
``POST /workflows``                                         workflows (``items[].externalId``)
``POST /workflows/versions``                                versions (``items[]``)
``POST /workflows/{xid}/versions/{version}/run``            an execution, with its status
``POST /workflows/executions/{id}/retry``                   an execution running again
``POST /workflows/executions/{id}/cancel``,                 status updates of recorded
``GET /workflows/executions/{id}``,                         executions (so cleanup does not
``POST /workflows/executions/list``                         cancel what already ended)
``POST /sessions``                                          sessions (``items[].id``)
==========================================================  ===================================

An upsert does not say whether it created or replaced; the ledger takes ``createdTime ==
lastUpdatedTime`` in the first answer it sees as "created by this run", so cleanup never deletes
a pre-existing workflow the run merely updated (unless it carries the run prefix). Bodies that
are not JSON, or not shaped as expected, are ignored: recording must never break a request.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = [
    "RecordedExecution",
    "RecordedVersion",
    "RecordedWorkflow",
    "ResourceLedger",
]

log = logging.getLogger("wfcontracts.ledger")

# The API root in a URL path; the rest is matched against the contract's paths.
_API_ROOT = re.compile(r"/api/v1/projects/[^/]+")


@dataclass(frozen=True)
class RecordedWorkflow:
    external_id: str
    created: bool  # the first answer seen showed it new; False: it may pre-date the run


@dataclass(frozen=True)
class RecordedVersion:
    workflow_external_id: str
    version: str
    created: bool


@dataclass
class RecordedExecution:
    id: str
    workflow_external_id: str | None
    version: str | None
    status: str | None  # the last status seen; None when no answer said


class ResourceLedger:
    """What a run created: workflows, versions, executions (with status), sessions. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workflows: dict[str, RecordedWorkflow] = {}
        self._versions: dict[tuple[str, str], RecordedVersion] = {}
        self._executions: dict[str, RecordedExecution] = {}
        self._sessions: dict[int, None] = {}  # a dict keeps creation order without duplicates

    # -- recording -----------------------------------------------------------------------------

    def install(self, client: httpx.Client) -> None:
        """Record from every response ``client`` receives from now on (idempotent)."""
        hooks = client.event_hooks["response"]
        if self._on_response not in hooks:
            hooks.append(self._on_response)

    def record_exchange(self, method: str, url: str | httpx.URL, status: int, body: object) -> None:
        """Record one exchange; ``body`` is the response body (bytes, text or parsed JSON)."""
        try:
            kind = _recognise(method, url, status)
            if kind is not None:
                self._record(kind, _parsed(body))
        except Exception:  # a ledger must never break the request it watches
            log.debug("ledger could not record %s %s", method, url, exc_info=True)

    def _on_response(self, response: httpx.Response) -> None:
        request = response.request
        try:
            kind = _recognise(request.method, request.url, response.status_code)
            if kind is None:
                return
            response.read()  # a response hook sees the response before its body is read
            self._record(kind, _parsed(response.content))
        except Exception:
            log.debug("ledger could not record %s %s", request.method, request.url, exc_info=True)

    def _record(self, kind: tuple[str, str | None], body: Any) -> None:
        what, execution_id = kind
        with self._lock:
            if what == "workflows":
                for item in _items(body):
                    self._add_workflow(item)
            elif what == "versions":
                for item in _items(body):
                    self._add_version(item)
            elif what == "sessions":
                for item in _items(body):
                    if isinstance(item.get("id"), int) and not isinstance(item["id"], bool):
                        self._sessions[item["id"]] = None
            elif what == "started":
                self._add_execution(body, execution_id, start=True)
            elif what == "status":
                self._add_execution(body, execution_id, start=False)
            elif what == "statuses":
                for item in _items(body):
                    self._add_execution(item, None, start=False)

    def _add_workflow(self, item: dict[str, Any]) -> None:
        xid = item.get("externalId")
        if not isinstance(xid, str) or not xid:
            return
        known = self._workflows.get(xid)
        created = known.created if known is not None else _looks_new(item)
        self._workflows[xid] = RecordedWorkflow(xid, created)

    def _add_version(self, item: dict[str, Any]) -> None:
        xid, version = item.get("workflowExternalId"), item.get("version")
        if not isinstance(xid, str) or not isinstance(version, str) or not xid:
            return
        known = self._versions.get((xid, version))
        created = known.created if known is not None else _looks_new(item)
        self._versions[(xid, version)] = RecordedVersion(xid, version, created)

    def _add_execution(self, body: Any, path_id: str | None, *, start: bool) -> None:
        if not isinstance(body, dict):
            body = {}
        found = body.get("id")
        execution_id = found if isinstance(found, str) and found else path_id
        if execution_id is None:
            return
        status = body.get("status") if isinstance(body.get("status"), str) else None
        known = self._executions.get(execution_id)
        if known is None:
            if not start:
                return  # a status of someone else's execution: not ours to track
            xid, version = body.get("workflowExternalId"), body.get("version")
            self._executions[execution_id] = RecordedExecution(
                execution_id,
                xid if isinstance(xid, str) else None,
                version if isinstance(version, str) else None,
                status or "RUNNING",  # run and retry answer with a running execution
            )
            return
        known.status = status or ("RUNNING" if start else known.status)

    # -- reading -------------------------------------------------------------------------------

    def workflows(self) -> list[RecordedWorkflow]:
        with self._lock:
            return list(self._workflows.values())

    def versions(self) -> list[RecordedVersion]:
        with self._lock:
            return list(self._versions.values())

    def executions(self) -> list[RecordedExecution]:
        with self._lock:
            return [RecordedExecution(**vars(e)) for e in self._executions.values()]

    def sessions(self) -> list[int]:
        with self._lock:
            return list(self._sessions)

    def running_executions(self) -> list[str]:
        """Ids of recorded executions last seen RUNNING (or never seen with a status)."""
        with self._lock:
            return [e.id for e in self._executions.values() if e.status in (None, "RUNNING")]

    def set_status(self, execution_id: str, status: str) -> None:
        """Update a recorded execution's status (e.g. after cleanup cancelled it)."""
        with self._lock:
            known = self._executions.get(execution_id)
            if known is not None:
                known.status = status

    def records(self) -> dict[str, list[Any]]:
        """Everything recorded, as plain data (what an xdist worker sends its controller)."""
        with self._lock:
            return {
                "workflows": [vars(w) for w in self._workflows.values()],
                "versions": [vars(v) for v in self._versions.values()],
                "executions": [dict(vars(e)) for e in self._executions.values()],
                "sessions": list(self._sessions),
            }

    def absorb(self, records: dict[str, list[Any]]) -> None:
        """Add another ledger's :meth:`records` (a worker's): one cleanup then covers both."""
        with self._lock:
            for item in records.get("workflows", []):
                workflow = RecordedWorkflow(**item)
                self._workflows.setdefault(workflow.external_id, workflow)
            for item in records.get("versions", []):
                version = RecordedVersion(**item)
                self._versions.setdefault((version.workflow_external_id, version.version), version)
            for item in records.get("executions", []):
                self._executions[item["id"]] = RecordedExecution(**item)
            for session in records.get("sessions", []):
                self._sessions[session] = None

    def to_dict(self) -> dict[str, Any]:
        """For summary.json: what the run created, by kind."""
        with self._lock:
            return {
                "workflows": [w.external_id for w in self._workflows.values()],
                "versions": [
                    {"workflowExternalId": v.workflow_external_id, "version": v.version}
                    for v in self._versions.values()
                ],
                "executions": {e.id: e.status for e in self._executions.values()},
                "sessions": list(self._sessions),
            }


def _recognise(method: str, url: str | httpx.URL, status: int) -> tuple[str, str | None] | None:
    """Which kind of record a successful exchange makes, and the execution id in its path."""
    if not 200 <= status < 300:
        return None
    raw = httpx.URL(url).raw_path.decode("ascii", "replace").split("?", 1)[0]
    match = _API_ROOT.search(raw)
    rest = raw[match.end() :] if match else raw
    parts = [p for p in rest.split("/") if p]
    method = method.upper()
    if method == "POST":
        if parts == ["workflows"]:
            return "workflows", None
        if parts == ["workflows", "versions"]:
            return "versions", None
        if parts == ["sessions"]:
            return "sessions", None
        if parts == ["workflows", "executions", "list"]:
            return "statuses", None
        if len(parts) == 5 and parts[0] == "workflows" and parts[2:3] == ["versions"]:
            return ("started", None) if parts[4] == "run" else None
        if len(parts) == 4 and parts[:2] == ["workflows", "executions"]:
            if parts[3] == "retry":
                return "started", parts[2]
            if parts[3] == "cancel":
                return "status", parts[2]
    if method == "GET" and len(parts) == 3 and parts[:2] == ["workflows", "executions"]:
        return "status", parts[2]
    return None


def _parsed(body: object) -> Any:
    if isinstance(body, bytes | bytearray | str):
        try:
            return json.loads(body)
        except ValueError:  # includes UnicodeDecodeError
            return None
    return body


def _items(body: Any) -> list[dict[str, Any]]:
    items = body.get("items") if isinstance(body, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _looks_new(item: dict[str, Any]) -> bool:
    created, updated = item.get("createdTime"), item.get("lastUpdatedTime")
    return isinstance(created, int) and created == updated
