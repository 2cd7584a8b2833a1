"""On a live project the fuzzer may read anything but writes only what the run created.

Applied to every generated case (stateless, stateful, and so every check's re-sent probe) when
the target is live:

- resource ids in write bodies (`items[].externalId`, `items[].workflowExternalId`) become
  ids of the fuzzer's own namespace (`<run prefix>-fz-<crc>`), deterministic so the contract's
  links still chain an upsert to its delete — also ids of the run's other resources, so the
  seed version (which runs) and other tests' workflows are never overwritten or deleted;
  whitespace around an id is kept, so a case negating the id stays negative, and ids no server
  can hold (empty, too long, non-strings) are left alone;
- runs always start the run's own probe version: a generated version could call arbitrary CDF
  resources (`cdf` tasks with generated `resourcePath`/`method`/`body`, functions,
  transformations) and is only ever created, under the run prefix, never run;
- execution and task ids in write paths (cancel, retry, task update) are the seeded ones, so
  nothing another user started is cancelled, retried or completed.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from wfcontracts.contract import operations as ops
from wfcontracts.contract.rules import EXTERNAL_ID_MAX_LENGTH, WHITESPACE, is_external_id

if TYPE_CHECKING:
    from schemathesis import Case

    from wfcontracts.fuzzing.seed import SeedData

#: Keys of `items[]` entries that name a resource a write creates, changes or deletes.
RESOURCE_KEYS = ("externalId", "workflowExternalId")
_WHITESPACE = "".join(sorted(WHITESPACE))
NUL = "\x00"


class LiveWriteGuard:
    def __init__(self, run_prefix: str, data: SeedData) -> None:
        self.run_prefix = run_prefix
        self.data = data

    def apply(self, case: Case[Any], operation_id: str, *, negative_path: bool) -> None:
        """Rewrite `case` (a write) onto the run's resources. A negated path stays negated: its
        workflow id is prefixed, not pinned (a lenient server trimming " x " must not run x)."""
        if negative_path:
            self._prefix_path(case)
        else:
            if operation_id == ops.RUN:
                self._pin_run(case)
            self._pin_path_ids(case)
        body = case.body
        if isinstance(body, dict):
            items = body.get("items")
            if isinstance(items, list):
                case.body = {**body, "items": [self._prefixed_item(item) for item in items]}

    def prefixed(self, value: str) -> str:
        """The run's own id standing for a generated one (same value, same id).

        A valid id becomes `<run prefix>-fz-<crc>`. An invalid one keeps what makes it invalid
        (whitespace around it, a NUL) around a run-prefixed core, so a negative case stays
        negative while a lenient server that normalises it still lands on the run's own id.
        Ids no server can hold (empty, too long, only whitespace) are left as they are.
        """
        if value.startswith(f"{self.run_prefix}-fz-"):
            return value
        # Anything else — also the run's other resources (the seed version, which the fuzzer
        # runs; another test's workflow) — maps into the fuzzer's own namespace: a generated
        # definition must never replace one that is run, nor a write disturb another test.
        own = f"{self.run_prefix}-fz-{zlib.crc32(value.encode()):08x}"
        if is_external_id(value):
            return own
        lead = value[: len(value) - len(value.lstrip(_WHITESPACE))]
        trail = value[len(value.rstrip(_WHITESPACE)) :]
        core = value[len(lead) : len(value) - len(trail)]
        if not core or len(value) > EXTERNAL_ID_MAX_LENGTH:
            return value
        nul = NUL if NUL in core else ""
        return f"{lead}{own}{nul}{trail}"

    def _prefixed_item(self, item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        item = dict(item)
        for key in RESOURCE_KEYS:
            if isinstance(item.get(key), str):
                item[key] = self.prefixed(item[key])
        return item

    def _pin_run(self, case: Case[Any]) -> None:
        params = case.path_parameters
        if params is not None:
            case.path_parameters = {
                **params,
                "workflowExternalId": self.data.workflow_external_id,
                "version": self.data.version,
            }

    def _prefix_path(self, case: Case[Any]) -> None:
        params = case.path_parameters
        if params and isinstance(params.get("workflowExternalId"), str):
            case.path_parameters = {
                **params,
                "workflowExternalId": self.prefixed(params["workflowExternalId"]),
            }

    def _pin_path_ids(self, case: Case[Any]) -> None:
        params = case.path_parameters
        if not params:
            return
        pinned = dict(params)
        if "executionId" in pinned and self.data.execution_ids:
            if not self.data.owns(pinned["executionId"]):  # a probe's fresh one stays its own
                pinned["executionId"] = _stable_pick(self.data.execution_ids, pinned["executionId"])
        if "taskId" in pinned and self.data.waiting_task_ids:
            pinned["taskId"] = _stable_pick(self.data.waiting_task_ids, pinned["taskId"])
        case.path_parameters = pinned


def _stable_pick(values: list[str], generated: Any) -> str:
    return values[zlib.crc32(repr(generated).encode()) % len(values)]
