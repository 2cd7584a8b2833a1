"""Boundary cases generated from the contract: every documented limit at the limit (accepted)
and one past it (rejected).

The generator walks the request schemas of the operations a suite knows how to call and turns
each constraint it finds into a pair of cases, so a new constraint in the contract becomes a new
test without anyone listing fields by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from wfcontracts.contract import Contract

Expect = Literal["accept", "reject"]
# A value builder gets a unique, valid seed string (e.g. the run prefix) and returns the value.
Builder = Callable[[str], Any]

BOUNDED_OPERATIONS = (
    "CreateOrUpdateWorkflow",
    "TriggerRunOfSpecificVersionOfWorkflow",
    "WorkflowExecutionCancellation",
    "ListWorkflowExecutions",
    "UpdateTaskStatus",
)


@dataclass(frozen=True)
class BoundaryCase:
    operation_id: str
    path: tuple[str | int, ...]  # where in the request body the value goes
    constraint: str
    limit: int
    expect: Expect
    build: Builder

    @property
    def id(self) -> str:
        where = "/".join(str(p) for p in self.path)
        return f"{self.operation_id}:{where}:{self.constraint}={self.limit}:{self.expect}"


def boundary_cases(contract: Contract, operations: tuple[str, ...] = BOUNDED_OPERATIONS) -> list[BoundaryCase]:
    """Every boundary case the contract implies for the given operations, in a stable order."""
    cases: list[BoundaryCase] = []
    for operation_id in operations:
        operation = contract.operation(operation_id)
        if operation.request_schema is not None:
            cases.extend(_walk(contract, operation_id, operation.request_schema, ()))
    return cases


# Filter members reuse the ExternalId schema, but the docs state the limits for the resources
# themselves; a server that answers an over-long filter with an empty list is not wrong.
SKIPPED_PATHS = (("filter", "workflowFilters"),)


def _walk(contract: Contract, op: str, schema: Any, path: tuple[str | int, ...]) -> Iterator[BoundaryCase]:
    if any(path[: len(skip)] == skip for skip in SKIPPED_PATHS):
        return
    node = _merged(contract, schema)
    yield from _cases_for(op, node, path)
    for name, sub in node.get("properties", {}).items():
        yield from _walk(contract, op, sub, (*path, name))
    if node.get("type") == "array" and "items" in node:
        yield from _walk(contract, op, node["items"], (*path, 0))


def _merged(contract: Contract, schema: Any) -> dict[str, Any]:
    """Resolve refs and fold allOf parts into one mapping (enough for boundary discovery)."""
    node = dict(contract.resolve(schema) or {})
    for part in node.pop("allOf", []):
        for key, value in _merged(contract, part).items():
            node.setdefault(key, value)
    return node


def _cases_for(op: str, node: dict[str, Any], path: tuple[str | int, ...]) -> Iterator[BoundaryCase]:
    if "x-max-json-bytes" in node:
        limit = int(node["x-max-json-bytes"])
        yield BoundaryCase(op, path, "x-max-json-bytes", limit, "accept", lambda _s, n=limit: json_object_of_size(n))
        yield BoundaryCase(op, path, "x-max-json-bytes", limit, "reject", lambda _s, n=limit + 1: json_object_of_size(n))
    if node.get("type") == "object" and "maxProperties" in node:
        limit = int(node["maxProperties"])
        yield BoundaryCase(op, path, "maxProperties", limit, "accept", lambda _s, n=limit: _pairs(n))
        yield BoundaryCase(op, path, "maxProperties", limit, "reject", lambda _s, n=limit + 1: _pairs(n))
    key_limit = (node.get("propertyNames") or {}).get("maxLength")
    if key_limit is not None:
        k = int(key_limit)
        yield BoundaryCase(op, path, "propertyNames.maxLength", k, "accept", lambda _s, n=k: {"k" * n: "v"})
        yield BoundaryCase(op, path, "propertyNames.maxLength", k, "reject", lambda _s, n=k + 1: {"k" * n: "v"})
    value_limit = (node.get("additionalProperties") or {}).get("maxLength") if isinstance(node.get("additionalProperties"), dict) else None
    if value_limit is not None:
        v = int(value_limit)
        yield BoundaryCase(op, path, "additionalProperties.maxLength", v, "accept", lambda _s, n=v: {"k": "v" * n})
        yield BoundaryCase(op, path, "additionalProperties.maxLength", v, "reject", lambda _s, n=v + 1: {"k": "v" * n})
    if node.get("type") == "string" and "maxLength" in node:
        limit = int(node["maxLength"])
        yield BoundaryCase(op, path, "maxLength", limit, "accept", lambda s, n=limit: padded(s, n))
        yield BoundaryCase(op, path, "maxLength", limit, "reject", lambda s, n=limit + 1: padded(s, n))
    if node.get("type") == "string" and "pattern" in node and "maxLength" in node:
        # The only documented pattern on strings: no leading/trailing whitespace (external ids).
        yield BoundaryCase(op, path, "no-surrounding-whitespace", 0, "reject", lambda s: f" {s} ")
    if node.get("type") == "integer":
        for key, delta in (("minimum", -1), ("maximum", 1)):
            if key in node:
                limit = int(node[key])
                yield BoundaryCase(op, path, key, limit, "accept", lambda _s, n=limit: n)
                yield BoundaryCase(op, path, key, limit, "reject", lambda _s, n=limit + delta: n)


def padded(seed: str, length: int) -> str:
    """A valid, unique-looking string of exactly `length` characters starting with `seed`."""
    text = (seed + "-" + "x" * length)[:length]
    return text if text[-1].strip() else text[:-1] + "x"


def json_object_of_size(size: int) -> dict[str, str]:
    """An object whose compact UTF-8 JSON is exactly `size` bytes."""
    overhead = len(json.dumps({"pad": ""}, separators=(",", ":")))
    if size < overhead:
        raise ValueError(f"cannot build a JSON object of {size} bytes")
    return {"pad": "x" * (size - overhead)}


def _pairs(count: int) -> dict[str, str]:
    return {f"k{i}": f"v{i}" for i in range(count)}


def set_path(body: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy of `body` with `value` placed at `path` (creating objects on the way)."""
    result: Any = json.loads(json.dumps(body))
    node = result
    for key in path[:-1]:
        node = node[key] if isinstance(key, int) else node.setdefault(key, {})
    node[path[-1]] = value
    return dict(result)
