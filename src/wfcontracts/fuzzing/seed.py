"""Seed data so generated requests reach business logic instead of 404s.

A probe workflow version (`<run prefix>-fuzz`: an async wait task, then a succeed task) and
executions in every reachable status, created with the public API only (the probe-workflow
convention), so the same seed works on the embedded mock and on a live project.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wfcontracts.scenarios.probes import (
    LOST_ANSWER_ATTEMPTS,
    Probe,
    depends,
    succeed_task,
    wait_task,
)
from wfcontracts.target import WriteOutcomeUnknownError

if TYPE_CHECKING:
    from wfcontracts.runtime import Runtime

WAIT = "wait"
DONE = "done"
RUNNING_EXECUTIONS = 3


@dataclass
class SeedData:
    """Ids the generators draw from: a version, executions by status, async task ids."""

    workflow_external_id: str
    version: str
    executions: dict[str, list[str]] = field(default_factory=dict)
    waiting_task_ids: list[str] = field(default_factory=list)
    #: Executions started on demand (single-constraint probes): the run's own, like the seeds.
    fresh: set[str] = field(default_factory=set)
    probe: Probe | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def execution_ids(self) -> list[str]:
        """Every seeded execution id, in a stable order (status, then creation)."""
        return [xid for status in sorted(self.executions) for xid in self.executions[status]]

    def fresh_nonce(self) -> str:
        """A session nonce from the target (CDF validates nonces; the mock takes any)."""
        if self.probe is None:
            return "wfcontracts-fuzz-nonce"
        with self._lock:
            return self.probe.nonce()

    def fresh_execution(self) -> str:
        """A new RUNNING execution of the probe version (its wait task holds it there)."""
        if self.probe is None:
            raise RuntimeError("fresh executions need the seed's probe")
        with self._lock:
            execution_id = _run(self.probe, self.workflow_external_id, self.version, input={})
            self.fresh.add(execution_id)
            return execution_id

    def owns(self, execution_id: object) -> bool:
        """Whether the run started this execution (seeded or started on demand)."""
        return execution_id in self.fresh or execution_id in self.execution_ids

    def add_execution(self, status: str, execution_id: str) -> None:
        with self._lock:
            self.executions.setdefault(status, []).append(execution_id)


def seed(runtime: Runtime, scenario: str = "fuzz") -> SeedData:
    """Create the probe version and one execution per status (several RUNNING).

    Every run starts first and is then waited on, so on a paced target the pickups and task
    delays overlap instead of adding up.
    """
    # Seeding is judged by every check too: a target that breaks the contract while being
    # seeded (say, ids the contract's own paths reject) fails here at once, with the check's
    # message, instead of timing out while polling; the lifecycle oracle also learns the seeds.
    probe = Probe(runtime, runtime.session())
    tasks = [wait_task(WAIT, probe.async_function), succeed_task(DONE, **depends(WAIT))]
    xid, version = probe.upsert(scenario, tasks)
    data = SeedData(xid, version, probe=probe)
    plan = ["RUNNING"] * RUNNING_EXECUTIONS + ["COMPLETED", "FAILED", "TERMINATED"]
    started = [_run(probe, xid, version) for _ in plan]
    waiting = [str(probe.wait_for_task(execution_id, WAIT)["id"]) for execution_id in started]
    for goal, execution_id, task_id in zip(plan, started, waiting, strict=True):
        data.waiting_task_ids.append(task_id)
        if goal == "COMPLETED":
            probe.update_task(task_id, "COMPLETED")
        elif goal == "FAILED":
            probe.update_task(task_id, "FAILED_WITH_TERMINAL_ERROR")
        elif goal == "TERMINATED":
            probe.cancel(execution_id, reason="wfcontracts fuzz seed")
    for goal, execution_id in zip(plan, started, strict=True):
        if goal in ("COMPLETED", "FAILED"):
            goal = str(probe.wait_terminal(execution_id).get("status", goal))
        data.add_execution(goal, execution_id)
    return data


def _run(probe: Probe, xid: str, version: str, input: dict[str, object] | None = None) -> str:
    """Start an execution of the seed version; when the answer to a run was lost, start
    another: the lost one, if it started, runs the run's own probe version and cleanup's
    prefix sweep cancels it. The transport itself never sends a run twice."""
    for attempt in range(LOST_ANSWER_ATTEMPTS):
        try:
            return str(
                probe.run(xid, version, input={"seed": True} if input is None else input)["id"]
            )
        except WriteOutcomeUnknownError:
            if attempt + 1 == LOST_ANSWER_ATTEMPTS:
                raise
    raise AssertionError("unreachable")
