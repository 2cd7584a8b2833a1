"""Probe workflows: driving executions through their lifecycle with the public API only.

- a task that succeeds: `cdf` GET /workflows;
- a task that fails: `cdf` GET of a workflow that does not exist (404);
- a task that waits: an async `function` task, held IN_PROGRESS until the scenario updates it.

Names start with the run prefix so cleanup finds them. A live target shows a write's effect a
moment after answering it, so every wait polls with backoff (50 ms growing to 1 s) up to the
run's deadline (``--deadline``) and says what it waits for every few seconds; on the embedded
mock it advances the virtual clock instead of sleeping, and a replay never sleeps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from wfcontracts.checks import CheckedSession
from wfcontracts.checks.lifecycle import history_of
from wfcontracts.contract import operations as ops
from wfcontracts.contract.vocabulary import TERMINAL_EXECUTION_STATUSES
from wfcontracts.target import WriteOutcomeUnknownError

if TYPE_CHECKING:
    from wfcontracts.runtime import Runtime

TERMINAL = TERMINAL_EXECUTION_STATUSES
FIRST_PAUSE_S = 0.05
MAX_PAUSE_S = 1.0
BACKOFF = 1.6
#: A wait longer than this says what it waits for (and again as often).
PROGRESS_EVERY_S = 5.0

Detail = dict[str, Any]
_T = TypeVar("_T")


class DeadlineExceeded(AssertionError):
    """The target did not reach the awaited state in time."""


class Stopped(RuntimeError):
    """The run is ending: a wait gave up early (another scenario failed the run, Ctrl-C)."""


class _ReplayClock:
    """A replay's time: the pauses it would have taken (it never sleeps)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._now = 0.0

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


#: How often a probe asks again for something whose creation answer was lost (a nonce).
LOST_ANSWER_ATTEMPTS = 3


def succeed_task(external_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "externalId": external_id,
        "type": "cdf",
        "parameters": {"cdfRequest": {"resourcePath": "/workflows", "method": "GET"}},
        "retries": 0,
        **extra,
    }


def fail_task(
    external_id: str, missing_workflow: str, retries: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "externalId": external_id,
        "type": "cdf",
        "parameters": {
            "cdfRequest": {"resourcePath": f"/workflows/{missing_workflow}", "method": "GET"}
        },
        "retries": retries,
        **extra,
    }


def wait_task(
    external_id: str, function_external_id: str, retries: int = 0, **extra: Any
) -> dict[str, Any]:
    return {
        "externalId": external_id,
        "type": "function",
        "parameters": {
            "function": {"externalId": function_external_id, "data": {}},
            "isAsyncComplete": True,
        },
        "retries": retries,
        **extra,
    }


def depends(*task_ids: str) -> dict[str, Any]:
    return {"dependsOn": [{"externalId": t} for t in task_ids]}


@dataclass
class Probe:
    """Helpers bound to one runtime and one checked session."""

    runtime: Runtime
    session: CheckedSession
    #: Set when the run is ending: every wait stops at its next pause.
    stop: threading.Event | None = field(default=None, kw_only=True)
    #: Names the waits in progress lines (several scenarios may wait at once).
    label: str = field(default="", kw_only=True)

    def __post_init__(self) -> None:
        history_of(self.session.context).use_clock(self.now, self.deadline_s)

    @property
    def prefix(self) -> str:
        return self.runtime.run_prefix

    @property
    def async_function(self) -> str:
        return self.runtime.options.async_function_external_id

    @property
    def missing_workflow(self) -> str:
        return f"{self.prefix}-missing"

    @property
    def deadline_s(self) -> float:
        """How long a write may take to show (``--deadline``)."""
        return float(self.runtime.options.deadline_s)

    def name(self, scenario: str) -> str:
        return f"{self.prefix}-{scenario}"

    def nonce(self) -> str:
        """A session nonce from the target's Sessions API (how the SDK gets one).

        When the answer to creating one was lost, another one is asked for: a session whose
        nonce nobody received is never bound, and the nonce expires unused (about a minute on
        CDF). The transport itself never sends a creation twice.
        """
        for attempt in range(LOST_ANSWER_ATTEMPTS):
            try:
                exchange = self.session.call(
                    ops.SESSIONS, json={"items": [{"tokenExchange": True}]}
                )
            except WriteOutcomeUnknownError:
                if attempt + 1 == LOST_ANSWER_ATTEMPTS:
                    raise
                continue
            return str(exchange.response_json["items"][0]["nonce"])
        raise AssertionError("unreachable")

    def upsert(
        self, scenario: str, tasks: list[dict[str, Any]], version: str = "1"
    ) -> tuple[str, str]:
        xid = self.name(scenario)
        item = {
            "workflowExternalId": xid,
            "version": version,
            "workflowDefinition": {"tasks": tasks},
        }
        self.session.call(ops.UPSERT_VERSION, json={"items": [item]})
        return xid, version

    def run(
        self,
        xid: str,
        version: str = "1",
        *,
        input: dict[str, Any] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"authentication": {"nonce": self.nonce()}}
        if input is not None:
            body["input"] = input
        if metadata is not None:
            body["metadata"] = metadata
        exchange = self.session.call(
            ops.RUN,
            path={"workflowExternalId": xid, "version": version},
            json=body,
        )
        return dict(exchange.response_json)

    def get(self, execution_id: str) -> dict[str, Any]:
        exchange = self.session.call(ops.GET, path={"executionId": execution_id})
        return dict(exchange.response_json)

    def cancel(self, execution_id: str, reason: str | None = None) -> dict[str, Any]:
        body = {"reason": reason} if reason is not None else {}
        exchange = self.session.call(ops.CANCEL, path={"executionId": execution_id}, json=body)
        return dict(exchange.response_json)

    def retry(self, execution_id: str) -> dict[str, Any]:
        exchange = self.session.call(
            ops.RETRY,
            path={"executionId": execution_id},
            json={"authentication": {"nonce": self.nonce()}},
        )
        return dict(exchange.response_json)

    def update_task(
        self, task_id: str, status: str, output: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"status": status}
        if output is not None:
            body["output"] = output
        exchange = self.session.call(ops.UPDATE, path={"taskId": task_id}, json=body)
        return dict(exchange.response_json)

    def list_ids(self, xid: str) -> set[str]:
        """The ids of the executions of workflow ``xid`` the list shows now."""
        body = {"filter": {"workflowFilters": [{"externalId": xid}]}, "limit": 1000}
        items = self.session.call(ops.LIST, json=body).response_json["items"]
        return {str(item.get("id")) for item in items if isinstance(item, dict)}

    def nothing_created(
        self, xid: str, version: str, what: str, known: frozenset[str] = frozenset()
    ) -> None:
        """Prove that ``what`` (a refused request on ``xid``) created no execution.

        An empty list right after it proves nothing on a server whose list lags: a control
        run is started, and once the list shows it, anything else it shows (but ``known``, our
        own earlier runs) was created by the refused request.
        """
        control = str(self.run(xid, version)["id"])
        listed = self.poll(
            lambda: self.list_ids(xid),
            lambda ids: control in ids,
            f"the control run of {xid} to be listed",
        )
        extra = sorted(listed - known - {control})
        if extra:
            raise AssertionError(f"{what} created execution(s) {extra} (listed with a later run)")

    def wait_until(
        self,
        execution_id: str,
        predicate: Callable[[Detail], bool],
        what: str,
        timeout_s: float | None = None,
    ) -> Detail:
        """Poll the execution until `predicate` holds, or fail naming `what` at the deadline."""
        try:
            return self.poll(lambda: self.get(execution_id), predicate, what, timeout_s)
        except GaveUp as gave_up:
            detail = gave_up.last
            raise DeadlineExceeded(
                f"execution {execution_id} did not reach {what} within {gave_up.waited:.0f} s "
                f"(status {detail.get('status')}, tasks {task_states(detail)})"
            ) from None

    def poll(
        self,
        observe: Callable[[], _T],
        predicate: Callable[[_T], bool],
        what: str,
        timeout_s: float | None = None,
        give_up: Callable[[_T], bool] | None = None,
    ) -> _T:
        """Observe with backoff until ``predicate`` holds; raise :class:`GaveUp` (with the
        last observation) at the deadline or as soon as ``give_up`` says it never will."""
        deadline = self.deadline_s if timeout_s is None else timeout_s
        start = self.now()
        delay, report_at = FIRST_PAUSE_S, PROGRESS_EVERY_S
        while True:
            seen = observe()
            if predicate(seen):
                return seen
            waited = self.now() - start
            if waited >= deadline or (give_up is not None and give_up(seen)):
                raise GaveUp(seen, waited)
            if waited >= report_at and self.realtime:
                who = f"{self.label}: " if self.label else ""
                self.runtime.progress(f"wfcontracts: {who}waiting for {what}… {waited:.0f} s")
                report_at += PROGRESS_EVERY_S
            # The last pause ends just past the deadline: the final look is after it.
            self._pause(min(delay, deadline - waited + 0.01))
            delay = min(delay * BACKOFF, MAX_PAUSE_S)

    def wait_for_task(
        self, execution_id: str, task_external_id: str, status: str = "IN_PROGRESS"
    ) -> dict[str, Any]:
        """Wait until the task is in `status`; return that task execution."""
        detail = self.wait_until(
            execution_id,
            lambda d: task_of(d, task_external_id, status) is not None,
            f"task {task_external_id} {status}",
        )
        task = task_of(detail, task_external_id, status)
        assert task is not None
        return task

    def wait_terminal(self, execution_id: str) -> dict[str, Any]:
        return self.wait_until(
            execution_id, lambda d: d.get("status") in TERMINAL, "a terminal status"
        )

    @property
    def realtime(self) -> bool:
        """Waits take wall-clock time (not the embedded mock's virtual clock, not a replay)."""
        mock = self.runtime.mock
        return self.runtime.config.kind != "replay" and not (mock and mock.virtual_clock)

    def now(self) -> float:
        """Seconds on the clock waits are measured by (any origin)."""
        mock = self.runtime.mock
        if mock is not None and mock.virtual_clock:
            return mock.clock.now_ms() / 1000
        if self.runtime.config.kind == "replay":
            return self._replay_clock().now()
        return time.monotonic()

    def _pause(self, seconds: float) -> None:
        if self.stop is not None and self.stop.is_set():
            raise Stopped("the run is ending")
        mock = self.runtime.mock
        if mock is not None and mock.virtual_clock:
            mock.advance(max(int(seconds * 1000), 1))
        elif self.runtime.config.kind == "replay":
            self._replay_clock().advance(seconds)  # recorded answers do not change with time
        elif self.stop is not None:
            if self.stop.wait(seconds):
                raise Stopped("the run is ending")
        else:
            time.sleep(seconds)

    def _replay_clock(self) -> _ReplayClock:
        context = self.session.context
        with context.lock:
            found = context.extras.setdefault("replay_clock", _ReplayClock())
        assert isinstance(found, _ReplayClock)
        return found


class GaveUp(Exception):
    """A poll ended without its condition: the last observation and how long it waited."""

    def __init__(self, last: Any, waited: float) -> None:
        super().__init__(f"gave up after {waited:.1f} s")
        self.last = last
        self.waited = waited


def task_of(
    detail: dict[str, Any], external_id: str, status: str | None = None
) -> dict[str, Any] | None:
    """The task execution with this external id (the newest matching one, if attempts repeat)."""
    found = None
    for task in detail.get("executedTasks") or []:
        if task.get("externalId") == external_id and (
            status is None or task.get("status") == status
        ):
            found = task
    return found


def task_states(detail: dict[str, Any]) -> dict[str, str]:
    return {
        t.get("externalId", "?"): t.get("status", "?") for t in detail.get("executedTasks") or []
    }
