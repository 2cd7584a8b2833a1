"""schemathesis hooks: seeded ids into generated cases, and single-constraint probes.

A `map_case` hook (schema-scoped) rewrites generated cases:

- path ids: executions, async task ids and the probe workflow version come from the seed most of
  the time, so get / cancel / retry / update / run hit real resources — but only where the path
  is not the part a negative case is negating;
- single-constraint probes: schemathesis' negative cases break several fields at once, so a
  server refuses them for one reason while ignoring another. Some positive stateless run /
  cancel / update / retry cases instead carry exactly one value at or just past one limit the
  contract documents (`boundary_cases`: metadata pairs and key/value lengths, cancel reason
  length, byte limits), or lack exactly the required `authentication` / its `nonce`. Run and
  cancel probes target the seeded version or a fresh RUNNING execution, so all else is valid
  and the hook vouches for the body. The `documented_limits` check judges the answers.

Seeded ids derive from a CRC of the generated values; probes take turns per operation (every
other positive case until each probe went once, then one in eight), so a seeded run stays
deterministic.
"""

from __future__ import annotations

import copy
import json
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase

from wfcontracts.checks import CheckContext
from wfcontracts.contract import operations as ops
from wfcontracts.fuzzing.checks import vouch_for_body
from wfcontracts.fuzzing.live_guard import LiveWriteGuard
from wfcontracts.fuzzing.seed import SeedData
from wfcontracts.scenarios.boundaries import boundary_cases

if TYPE_CHECKING:
    from schemathesis import BaseSchema, Case, HookContext, Response
    from schemathesis.core.failures import Failure

    from wfcontracts.contract import Contract

RUN, CANCEL, RETRY, UPDATE = ops.RUN, ops.CANCEL, ops.RETRY, ops.UPDATE
VERSION_OPERATIONS = {RUN, ops.GET_VERSION, ops.GET_WORKFLOW}
#: Operations whose positive cases carry single-constraint probes.
PROBED_OPERATIONS = (RUN, CANCEL, UPDATE)
#: Operations whose body must carry a session nonce (dropping it is a probe too).
NONCE_OPERATIONS = (RUN, RETRY)
#: Out of 8 draws: how often a path id is taken from the seed (the rest stay generated).
SEEDED_SHARE = 6
#: After every probe went once, one positive case in this many carries the next one.
PROBE_PERIOD = 8
#: The seed of probe values where uniqueness does not matter (task-update output).
PLAIN_SEED = "wfcontracts-fuzz"


@dataclass(frozen=True)
class SingleProbe:
    """One value of an otherwise valid body, set at a limit / just past it, or removed."""

    name: str
    path: tuple[str | int, ...]
    expect: Literal["accept", "reject"]
    build: Callable[[str], Any] | None  # None: remove the value at `path`

    def apply(self, body: dict[str, Any], seed: str) -> None:
        if self.build is None:
            _drop(body, self.path)
        else:
            _put(body, self.path, self.build(seed))


def single_probes(contract: Contract) -> dict[str, list[SingleProbe]]:
    """The contract's documented limits as probes, by operation, plus dropped nonces."""
    probes: dict[str, list[SingleProbe]] = {}
    for case in boundary_cases(contract, PROBED_OPERATIONS):
        probe = SingleProbe(case.id, case.path, case.expect, case.build)
        probes.setdefault(case.operation_id, []).append(probe)
    for operation_id in NONCE_OPERATIONS:
        for path in (("authentication", "nonce"), ("authentication",)):
            name = f"{operation_id}:{'/'.join(path)}:required:reject"
            probes.setdefault(operation_id, []).append(SingleProbe(name, path, "reject", None))
    return probes


def install(schema: BaseSchema) -> CaseRewriter:
    """Register the seed and probe hook on `schema` only; bind its seed later."""
    rewriter = CaseRewriter()

    def map_case(ctx: HookContext, case: Case[Any]) -> Case[Any]:
        return rewriter.rewrite(case)

    schema.hook("map_case")(map_case)
    schema.hook("filter_failure")(keep_failure)
    return rewriter


def keep_failure(ctx: HookContext, failure: Failure, case: Case[Any], response: Response) -> bool:
    """Drop one narrow class: a JSON `null` body accepted where the body is optional.

    The docs do not say whether `null` counts as "no body" for an optional body; treating it so
    is a reasonable server choice, so flagging it would be a false positive. Required bodies
    sent as `null` are still reported.
    """
    if failure.title != "Schema-violating request accepted" or case.body is not None:
        return True
    request_body = case.operation.definition.raw.get("requestBody") or {}
    return bool(request_body.get("required", False))


class CaseRewriter:
    """Rewrites generated cases towards seeded resources and single-constraint probes."""

    def __init__(self) -> None:
        self._data: SeedData | None = None
        self._context: CheckContext | None = None
        self._probes: dict[str, list[SingleProbe]] = {}
        self._turns: Counter[str] = Counter()
        self._guard: LiveWriteGuard | None = None

    def bind(
        self, data: SeedData, context: CheckContext, *, live_prefix: str | None = None
    ) -> None:
        """Draw from `data`; vouch for probes in `context` (the run's check context). With
        `live_prefix` (a live target), every write is guarded onto the run's own resources."""
        self._data, self._context = data, context
        self._probes = single_probes(context.contract)
        self._turns.clear()
        self._guard = LiveWriteGuard(live_prefix, data) if live_prefix else None

    @property
    def contract(self) -> Contract:
        """The run's contract (the check context's: loaded once per run)."""
        return self.context.contract

    @property
    def data(self) -> SeedData:
        assert self._data is not None
        return self._data

    @property
    def context(self) -> CheckContext:
        assert self._context is not None
        return self._context

    def rewrite(self, case: Case[Any]) -> Case[Any]:
        if self._data is None:
            return case  # collection-time examples, before the seed exists
        operation_id = case.operation.definition.raw.get("operationId")
        if not isinstance(operation_id, str) or operation_id not in self.contract.operations:
            return case
        draw = _crc(case)
        if not _negative_at(case, ParameterLocation.PATH) and draw % 8 < SEEDED_SHARE:
            self._seed_path(case, operation_id, draw)
        if _fully_positive(case) and isinstance(case.body, dict) and not _stateful(case):
            self._single_probe(case, operation_id)
        if self._guard is not None and _writes(self.contract, operation_id):
            self._guard.apply(
                case, operation_id, negative_path=_negative_at(case, ParameterLocation.PATH)
            )
        return case

    def _seed_path(self, case: Case[Any], operation_id: str, draw: int) -> None:
        params = case.path_parameters
        if params is None:
            return
        if "executionId" in params and self.data.execution_ids:
            params["executionId"] = _pick(self.data.execution_ids, draw)
        if "taskId" in params and self.data.waiting_task_ids:
            params["taskId"] = _pick(self.data.waiting_task_ids, draw)
        if operation_id in VERSION_OPERATIONS and "workflowExternalId" in params:
            params["workflowExternalId"] = self.data.workflow_external_id
            if "version" in params:
                params["version"] = self.data.version

    def _single_probe(self, case: Case[Any], operation_id: str) -> None:
        probes = self._probes.get(operation_id)
        if not probes:
            return
        turn = self._turns[operation_id]
        self._turns[operation_id] += 1
        index = probe_index(turn, len(probes))
        if index is None:
            return
        # Coverage cases may share one body (and path) between variants: probe a copy only.
        probe, body = probes[index], copy.deepcopy(case.body)
        assert isinstance(body, dict)
        case.body = body
        if case.path_parameters is not None:
            case.path_parameters = dict(case.path_parameters)
        seed = self._make_valid(case, operation_id, body)
        probe.apply(body, seed)
        if probe.expect == "accept" and operation_id in (RUN, CANCEL):
            vouch_for_body(self.context, body)

    def _make_valid(self, case: Case[Any], operation_id: str, body: dict[str, Any]) -> str:
        """Aim a run at the seeded version with a fresh nonce, a cancel at a fresh RUNNING
        execution: then only the probed value can make the target refuse. A unique seed."""
        params = case.path_parameters
        if operation_id == RUN and params is not None:
            params["workflowExternalId"] = self.data.workflow_external_id
            params["version"] = self.data.version
            nonce = self.data.fresh_nonce()
            body["authentication"] = {"nonce": nonce}
            return nonce
        if operation_id == CANCEL and params is not None:
            params["executionId"] = self.data.fresh_execution()
            return str(params["executionId"])
        return PLAIN_SEED


def probe_index(turn: int, count: int) -> int | None:
    """Which probe the `turn`-th positive case of an operation carries (None: none).

    Every other case until each probe went once (so a small budget meets them all), then one
    in :data:`PROBE_PERIOD`, round robin.
    """
    if turn < 2 * count:
        return turn // 2 if turn % 2 else None
    if turn % PROBE_PERIOD != PROBE_PERIOD - 1:
        return None
    return (turn - 2 * count) // PROBE_PERIOD % count


def _put(body: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    node: Any = body
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value


def _drop(body: dict[str, Any], path: tuple[str | int, ...]) -> None:
    node: Any = body
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)


def _writes(contract: Contract, operation_id: str) -> bool:
    """Operations that change the project: WRITE in the contract's `x-acl`, and sessions."""
    return contract.operations[operation_id].writes or operation_id == ops.SESSIONS


def _pick(values: list[str], draw: int) -> str:
    return values[(draw >> 8) % len(values)]


def _crc(case: Case[Any]) -> int:
    generated = [case.path_parameters, case.query, case.body]
    return zlib.crc32(json.dumps(generated, sort_keys=True, default=repr).encode())


def _negative_at(case: Case[Any], location: ParameterLocation) -> bool:
    meta = case.meta
    return meta is not None and meta.is_negative_at(location)


def _stateful(case: Case[Any]) -> bool:
    """Steps of the link walk stay as generated: a probe refused mid-walk would end the walk."""
    return case.meta is not None and case.meta.phase.name == TestPhase.STATEFUL


def _fully_positive(case: Case[Any]) -> bool:
    """Positive in every part (a coverage case may be "positive" with a negated body)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return False
    return all(info.mode.is_positive for info in meta.components.values())
