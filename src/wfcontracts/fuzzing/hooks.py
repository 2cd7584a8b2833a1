"""schemathesis hooks: seeded ids into generated cases, and byte-limit probes.

A `map_case` hook (schema-scoped) rewrites generated cases:

- path ids: executions, async task ids and the probe workflow version come from the seed most of
  the time, so get / cancel / retry / update / run hit real resources — but only where the path
  is not the part a negative case is negating;
- `x-max-json-bytes` fields (run `input`, task-update `output`): some positive cases carry an
  object of exactly the limit or limit + 1 compact-JSON bytes; the `max_json_bytes` check judges
  the answer (accept at the limit, a 4xx above it).

Choices derive from a CRC of the generated values, so a seeded run stays deterministic.
"""

from __future__ import annotations

import json
import zlib
from typing import TYPE_CHECKING, Any

from schemathesis.core.parameters import ParameterLocation

from wfcontracts.checks import CheckContext
from wfcontracts.fuzzing.checks import compact_size, vouch_for_nonce
from wfcontracts.fuzzing.seed import SeedData

if TYPE_CHECKING:
    from schemathesis import BaseSchema, Case, HookContext, Response
    from schemathesis.core.failures import Failure

    from wfcontracts.contract import Contract, Operation

RUN = "TriggerRunOfSpecificVersionOfWorkflow"
UPDATE = "UpdateTaskStatus"
VERSION_OPERATIONS = {RUN, "GetSpecificVersion", "fetchWorkflowDetails"}
#: Out of 8 draws: how often a path id is taken from the seed (the rest stay generated).
SEEDED_SHARE = 6
#: Out of 16 positive run/update cases: one at the byte limit, one just over it.
AT_LIMIT, OVER_LIMIT = 3, 7
PAD = "pad"


def install(schema: BaseSchema) -> CaseRewriter:
    """Register the seed and byte-limit hook on `schema` only; bind its seed later."""
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
    """Rewrites generated cases towards seeded resources and byte-limit boundaries."""

    def __init__(self) -> None:
        self._data: SeedData | None = None
        self._context: CheckContext | None = None

    def bind(self, data: SeedData, context: CheckContext) -> None:
        """Draw from `data`; vouch for byte probes in `context` (the run's check context)."""
        self._data, self._context = data, context

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
        if _fully_positive(case) and isinstance(case.body, dict):
            self._byte_probe(case, self.contract.operation(operation_id), draw)
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

    def _byte_probe(self, case: Case[Any], operation: Operation, draw: int) -> None:
        slot = (draw >> 3) % 16
        if slot not in (AT_LIMIT, OVER_LIMIT) or not operation.byte_limits:
            return
        limit = operation.byte_limits[0]
        size = limit.limit + (0 if slot == AT_LIMIT else 1)
        body = case.body
        assert isinstance(body, dict)
        _put(body, limit.path, object_of_size(size))
        if operation.operation_id == RUN and case.path_parameters is not None:
            # Everything else valid, so the at-limit probe must be accepted.
            case.path_parameters["workflowExternalId"] = self.data.workflow_external_id
            case.path_parameters["version"] = self.data.version
            nonce = self.data.fresh_nonce()
            body["authentication"] = {"nonce": nonce}
            vouch_for_nonce(self.context, nonce)


def object_of_size(size: int) -> dict[str, str]:
    """A JSON object of exactly `size` compact-JSON UTF-8 bytes (size >= 10)."""
    value = {PAD: "x" * (size - compact_size({PAD: ""}))}
    assert compact_size(value) == size
    return value


def _put(body: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = body
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value


def _pick(values: list[str], draw: int) -> str:
    return values[(draw >> 8) % len(values)]


def _crc(case: Case[Any]) -> int:
    generated = [case.path_parameters, case.query, case.body]
    return zlib.crc32(json.dumps(generated, sort_keys=True, default=repr).encode())


def _negative_at(case: Case[Any], location: ParameterLocation) -> bool:
    meta = case.meta
    return meta is not None and meta.is_negative_at(location)


def _fully_positive(case: Case[Any]) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive
