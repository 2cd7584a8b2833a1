"""Deleting what a run created on a live target: by record first, then by the run prefix.

Runs at the end of a session, also after failures and Ctrl-C, so it has to work when the
target is the problem and when the user is impatient:

- it never raises: a transport error, a non-2xx answer or a page that is not JSON becomes a line
  of :class:`CleanupReport` (``left`` for what is still there, ``notes`` for the rest);
- it ignores Ctrl-C while it runs (it was most likely started *by* one), bounded by its deadline,
  which also caps every request and every retry the client's transport would make;
- once the target is unreachable or the token is gone it stops asking and reports the rest.

Order: cancel the RUNNING executions the run started (CDF refuses to delete a workflow that
has one) — the recorded ones, then whatever a paged ``executions/list`` finds running under the
run's workflows; delete recorded versions of workflows that stay; delete the run's workflows
(recorded ones by id, then every workflow the paged listing shows with the run prefix); list
the prefix again to report what survived; revoke the sessions the run created.

Only what the run created is touched: recorded resources that the target showed as new, and
names with the run prefix. A recorded workflow that existed before the run is kept (noted).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import httpx

from wfcontracts.errors import WfcontractsError
from wfcontracts.target import RetriesExhaustedError, WriteOutcomeUnknownError
from wfcontracts.target.ledger import ResourceLedger
from wfcontracts.target.retry import DEADLINE_EXTENSION

if TYPE_CHECKING:
    from wfcontracts.runtime import Runtime

__all__ = ["CleanupReport", "cleanup", "delete_run_resources"]

log = logging.getLogger("wfcontracts.cleanup")

PAGE_LIMIT = 100
BATCH = 100  # the contract's maxItems for deletes and workflow filters
MAX_PAGES = 1000  # a target that hands out cursors forever must not keep cleanup busy
REQUEST_TIMEOUT = 15.0
CANCEL_REASON = "wfcontracts cleanup"
REVOKE_PATH = "sessions/revoke"


@dataclass
class CleanupReport:
    """What cleanup did and, above all, what it could not do."""

    deleted_workflows: list[str] = field(default_factory=list)
    deleted_versions: list[str] = field(default_factory=list)  # "<workflow>/<version>"
    cancelled_executions: list[str] = field(default_factory=list)
    revoked_sessions: list[int] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # still on the target, with why
    notes: list[str] = field(default_factory=list)  # worth knowing, nothing left behind
    interrupts: int = 0  # Ctrl-C presses ignored while cleaning
    elapsed_s: float = 0.0

    @property
    def deleted(self) -> list[str]:
        return [f"workflow {x}" for x in self.deleted_workflows] + [
            f"version {v}" for v in self.deleted_versions
        ]

    @property
    def complete(self) -> bool:
        return not self.left

    def to_dict(self) -> dict[str, Any]:
        """For summary.json."""
        return {
            "complete": self.complete,
            "deletedWorkflows": list(self.deleted_workflows),
            "deletedVersions": list(self.deleted_versions),
            "cancelledExecutions": list(self.cancelled_executions),
            "revokedSessions": list(self.revoked_sessions),
            "left": list(self.left),
            "notes": list(self.notes),
            "interrupts": self.interrupts,
            "elapsedSeconds": round(self.elapsed_s, 3),
        }


def cleanup(
    client: httpx.Client,
    ledger: ResourceLedger | None,
    run_prefix: str,
    deadline_s: float = 60.0,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> CleanupReport:
    """Cancel, delete and revoke what the run created; never raises, returns what is left.

    ``ledger`` is the run's :class:`ResourceLedger` (None: sweep the prefix only). ``sleep``
    is the wait between attempts to delete a workflow whose executions are still stopping.
    """
    report = CleanupReport()
    started = time.monotonic()
    recorded = ledger if ledger is not None else ResourceLedger()
    job = _Cleanup(client, recorded, run_prefix, started + deadline_s, sleep)
    with _sigint_shield(report, deadline_s):
        try:
            job.run(report)
        except Exception as exc:  # a bug here must not hide the run's own outcome
            report.left.append(f"cleanup stopped early: {type(exc).__name__}: {exc}")
            log.warning("cleanup stopped early", exc_info=True)
        job.report_pending(report)
    report.elapsed_s = time.monotonic() - started
    # Not a warning: the adapters show `left` (summary.json, the CLI's output), and stderr
    # is kept for the one line that says why a run failed.
    for line in report.left:
        log.info("left on the target: %s", line)
    return report


def delete_run_resources(runtime: Runtime) -> list[str]:
    """Compatibility wrapper: clean up with the runtime's ledger (if any); the deleted workflows.

    Prefer ``cleanup(runtime.client, ledger, runtime.run_prefix)`` and keep its report.
    """
    ledger = getattr(runtime, "ledger", None)
    recorded = ledger if isinstance(ledger, ResourceLedger) else None
    return cleanup(runtime.client, recorded, runtime.run_prefix).deleted_workflows


@contextmanager
def _sigint_shield(report: CleanupReport, deadline_s: float) -> Iterator[None]:
    """Count Ctrl-C instead of raising while cleaning (only the main thread gets signals)."""

    def on_sigint(signum: int, frame: object) -> None:
        report.interrupts += 1
        log.warning(
            "cleaning up the run's resources (at most %.0f s); Ctrl-C is ignored until then",
            deadline_s,
        )

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


class _OutOfTime(Exception):
    pass


class _Unusable(Exception):
    """The target cannot be reached or no longer accepts the token: stop asking."""


@dataclass
class _Answer:
    response: httpx.Response | None = None
    problem: str | None = None  # why there is no usable response

    @property
    def ok(self) -> bool:
        return self.response is not None and self.response.is_success

    def body(self) -> Any:
        if self.response is None:
            return None
        try:
            return self.response.json()
        except ValueError:
            return None

    def describe(self) -> str:
        if self.problem is not None:
            return self.problem
        assert self.response is not None
        return f"answered {self.response.status_code}"


class _Cleanup:
    def __init__(
        self,
        client: httpx.Client,
        ledger: ResourceLedger,
        prefix: str,
        deadline: float,
        sleep: Callable[[float], None],
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.prefix = prefix
        self.deadline = deadline
        self.sleep = sleep
        self.unusable: str | None = None
        self.verified = False  # the final listing of the prefix completed
        # What should be gone, with the last reason it is not (yet).
        self.pending_workflows: dict[str, str] = {}
        self.pending_versions: dict[tuple[str, str], str] = {}
        self.pending_sessions: dict[int, str] = {}

    # -- the steps -----------------------------------------------------------------------------

    def run(self, report: CleanupReport) -> None:
        ours = self._recorded_workflows(report)
        self.pending_workflows = dict.fromkeys(ours, "not deleted yet")
        self.pending_versions = {
            (v.workflow_external_id, v.version): "not deleted yet"
            for v in self.ledger.versions()
            if v.workflow_external_id not in ours
            and (v.created or v.workflow_external_id.startswith(self.prefix))
        }
        self.pending_sessions = dict.fromkeys(self.ledger.sessions(), "not revoked yet")
        try:
            self._cancel(self.ledger.running_executions(), report)
            swept = self._sweep_prefix(report)
            for xid in swept:
                self.pending_workflows.setdefault(xid, "not deleted yet")
            self._cancel(self._running_under(list(self.pending_workflows), report), report)
            self._delete_versions(report)
            self._delete_workflows(report)
            self._verify(report)
        except (_OutOfTime, _Unusable):
            pass
        # Sessions are revoked last (running tasks use them) but even when deletion stopped.
        try:
            self._revoke_sessions(report)
        except (_OutOfTime, _Unusable):
            pass

    def report_pending(self, report: CleanupReport) -> None:
        why = self.unusable
        if why is None and time.monotonic() >= self.deadline:
            why = "cleanup deadline reached"
        for xid, reason in self.pending_workflows.items():
            report.left.append(f"workflow {xid}: {why or reason}")
        for (xid, version), reason in self.pending_versions.items():
            report.left.append(f"version {xid}/{version}: {why or reason}")
        for session, reason in self.pending_sessions.items():
            report.left.append(f"session {session}: {why or reason}")
        if not self.verified and why is not None:
            report.left.append(f"workflows named {self.prefix}*: not all listed ({why})")
        self.pending_workflows.clear()
        self.pending_versions.clear()
        self.pending_sessions.clear()
        report.left = list(dict.fromkeys(report.left))

    def _recorded_workflows(self, report: CleanupReport) -> list[str]:
        ours: dict[str, None] = {}
        for workflow in self.ledger.workflows():
            if workflow.created or workflow.external_id.startswith(self.prefix):
                ours[workflow.external_id] = None
            else:
                report.notes.append(
                    f"kept workflow {workflow.external_id}: the run updated it but it existed "
                    "before"
                )
        # A version upsert creates its workflow when missing: a prefixed one is the run's.
        for version in self.ledger.versions():
            if version.workflow_external_id.startswith(self.prefix):
                ours[version.workflow_external_id] = None
        return list(ours)

    def _cancel(self, execution_ids: list[str], report: CleanupReport) -> None:
        for execution_id in execution_ids:
            if execution_id in report.cancelled_executions:
                continue
            answer = self._call(
                "POST",
                f"workflows/executions/{execution_id}/cancel",
                json={"reason": CANCEL_REASON},
            )
            if answer.ok:
                report.cancelled_executions.append(execution_id)
                body = answer.body()
                status = body.get("status") if isinstance(body, dict) else None
                self.ledger.set_status(execution_id, str(status or "TERMINATED"))
            else:
                # Usually it ended on its own meanwhile; deleting its workflow settles it.
                report.notes.append(f"cancel of execution {execution_id} {answer.describe()}")

    def _sweep_prefix(self, report: CleanupReport) -> list[str]:
        """Every workflow named with the run prefix, from the paged workflow listing."""
        found: list[str] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"limit": PAGE_LIMIT}
            if cursor:
                params["cursor"] = cursor
            answer = self._call("GET", "workflows", params=params)
            page = _page(answer)
            if page is None:
                report.left.append(
                    f"workflows named {self.prefix}*: listing them {_failed(answer)}"
                )
                return found
            items, cursor = page
            found.extend(
                xid
                for item in items
                if isinstance(xid := item.get("externalId"), str) and xid.startswith(self.prefix)
            )
            if not cursor or cursor in seen:
                return found
            seen.add(cursor)
        return found

    def _running_under(self, workflows: list[str], report: CleanupReport) -> list[str]:
        """Ids of RUNNING executions of these workflows, all pages collected before cancelling
        (a cancel changes what the status filter matches, and so what a cursor points at)."""
        running: list[str] = []
        for start in range(0, len(workflows), BATCH):
            chunk = workflows[start : start + BATCH]
            body: dict[str, Any] = {
                "filter": {
                    "workflowFilters": [{"externalId": xid} for xid in chunk],
                    "status": ["RUNNING"],
                },
                "limit": PAGE_LIMIT,
            }
            seen: set[str] = set()
            for _ in range(MAX_PAGES):
                answer = self._call("POST", "workflows/executions/list", json=body)
                page = _page(answer)
                if page is None:
                    report.notes.append(f"listing running executions {_failed(answer)}")
                    break
                items, cursor = page
                running.extend(
                    item["id"]
                    for item in items
                    if isinstance(item.get("id"), str) and item.get("status") == "RUNNING"
                )
                if not cursor or cursor in seen:
                    break
                seen.add(cursor)
                body = {**body, "cursor": cursor}
        return list(dict.fromkeys(running))

    def _delete_versions(self, report: CleanupReport) -> None:
        keys = list(self.pending_versions)
        for start in range(0, len(keys), BATCH):
            chunk = keys[start : start + BATCH]
            answer = self._call(
                "POST",
                "workflows/versions/delete",
                params={"ignoreUnknownIds": "true"},
                json={"items": [{"workflowExternalId": x, "version": v} for x, v in chunk]},
            )
            for key in chunk:
                if answer.ok:
                    del self.pending_versions[key]
                    report.deleted_versions.append(f"{key[0]}/{key[1]}")
                else:
                    self.pending_versions[key] = f"delete {answer.describe()}"

    def _delete_workflows(self, report: CleanupReport) -> None:
        xids = list(self.pending_workflows)
        for start in range(0, len(xids), BATCH):
            chunk = xids[start : start + BATCH]
            if len(chunk) > 1 and self._delete_batch(chunk).ok:
                self._deleted(chunk, report)
                continue
            # All or nothing failed: one at a time, so one stuck workflow keeps only itself.
            for xid in chunk:
                self._delete_one(xid, report)

    def _delete_one(self, xid: str, report: CleanupReport) -> None:
        delay = 0.5
        while True:
            answer = self._delete_batch([xid])
            if answer.ok or (answer.response is not None and answer.response.status_code == 404):
                self._deleted([xid], report)
                return
            self.pending_workflows[xid] = f"delete {answer.describe()}"
            status = answer.response.status_code if answer.response is not None else None
            # 409: its executions are still stopping; anything else will not change by waiting.
            if status != httpx.codes.CONFLICT or time.monotonic() + delay >= self.deadline:
                return
            self.sleep(delay)
            delay = min(delay * 2, 4.0)

    def _delete_batch(self, xids: list[str]) -> _Answer:
        return self._call(
            "POST",
            "workflows/delete",
            params={"ignoreUnknownIds": "true"},
            json={"items": [{"externalId": xid} for xid in xids]},
        )

    def _deleted(self, xids: list[str], report: CleanupReport) -> None:
        for xid in xids:
            self.pending_workflows.pop(xid, None)
            report.deleted_workflows.append(xid)

    def _verify(self, report: CleanupReport) -> None:
        """List the prefix again: a workflow created while cleaning, or one the target still
        lists after a 2xx delete, is reported rather than assumed gone."""
        listing_failed = len(report.left)
        for xid in self._sweep_prefix(report):
            self.pending_workflows.setdefault(xid, "still listed after cleanup")
            if xid in report.deleted_workflows:
                report.deleted_workflows.remove(xid)
        self.verified = len(report.left) == listing_failed

    def _revoke_sessions(self, report: CleanupReport) -> None:
        ids = list(self.pending_sessions)
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            answer = self._call("POST", REVOKE_PATH, json={"items": [{"id": i} for i in chunk]})
            status = answer.response.status_code if answer.response is not None else None
            if answer.ok:
                for session in chunk:
                    del self.pending_sessions[session]
                report.revoked_sessions.extend(chunk)
            elif status in (404, 405, 501):
                # The target has no Sessions API to revoke with (the mock does not): sessions
                # expire on their own, so this is worth a note, not a leftover.
                for session in chunk:
                    del self.pending_sessions[session]
                report.notes.append(
                    f"{len(chunk)} session(s) not revoked: POST /{REVOKE_PATH} {answer.describe()}"
                )
            else:
                for session in chunk:
                    self.pending_sessions[session] = f"revoke {answer.describe()}"

    # -- one request ---------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> _Answer:
        if self.unusable is not None:
            raise _Unusable(self.unusable)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _OutOfTime
        try:
            response = self.client.request(
                method,
                path,
                params=params,
                json=json,
                timeout=min(remaining, REQUEST_TIMEOUT),
                extensions={DEADLINE_EXTENSION: self.deadline},
            )
            response.read()
        except WriteOutcomeUnknownError as exc:
            # Only this request's answer was lost; the final listing shows what is left.
            return _Answer(problem=f"outcome unknown: {exc.what}")
        except RetriesExhaustedError as exc:
            if exc.retries == 0:  # a write the policy may not resend: only this one failed
                return _Answer(problem=f"failed: {exc.what}")
            self._give_up(str(exc))
        except WfcontractsError as exc:  # a revoked token, an unreachable token endpoint
            self._give_up(str(exc))
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # a client without retries
            self._give_up(f"cannot reach the target: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return _Answer(problem=f"failed: {type(exc).__name__}")
        return _Answer(response)

    def _give_up(self, why: str) -> NoReturn:
        self.unusable = why
        raise _Unusable(why)


def _page(answer: _Answer) -> tuple[list[dict[str, Any]], str | None] | None:
    """Items and next cursor of a list answer; None if it is not a 2xx JSON page."""
    if not answer.ok:
        return None
    body = answer.body()
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return None
    items = [item for item in body["items"] if isinstance(item, dict)]
    cursor = body.get("nextCursor")
    return items, cursor if isinstance(cursor, str) and cursor else None


def _failed(answer: _Answer) -> str:
    if answer.ok:
        return "answered something that is not a JSON page of items"
    return answer.describe()
