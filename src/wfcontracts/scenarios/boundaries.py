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
from wfcontracts.contract import operations as ops

Expect = Literal["accept", "reject"]
# A value builder gets a unique, valid seed string (e.g. the run prefix) and returns the value.
Builder = Callable[[str], Any]

BOUNDED_OPERATIONS = (
    ops.UPSERT_WORKFLOW,
    ops.RUN,
    ops.CANCEL,
    ops.LIST,
    ops.UPDATE,
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


def boundary_cases(
    contract: Contract, operations: tuple[str, ...] = BOUNDED_OPERATIONS
) -> list[BoundaryCase]:
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


def _walk(
    contract: Contract, op: str, schema: Any, path: tuple[str | int, ...]
) -> Iterator[BoundaryCase]:
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


def _pair(
    op: str, path: tuple[str | int, ...], constraint: str, limit: int, at: Builder, past: Builder
) -> Iterator[BoundaryCase]:
    yield BoundaryCase(op, path, constraint, limit, "accept", at)
    yield BoundaryCase(op, path, constraint, limit, "reject", past)


def _constant(value: Any) -> Builder:
    return lambda _seed: value


def _padded_to(length: int) -> Builder:
    return lambda seed: padded(seed, length)


def _cases_for(
    op: str, node: dict[str, Any], path: tuple[str | int, ...]
) -> Iterator[BoundaryCase]:
    kind = node.get("type")
    if "x-max-json-bytes" in node:
        n = int(node["x-max-json-bytes"])
        at, past = json_object_of_size(n), json_object_of_size(n + 1)
        yield from _pair(op, path, "x-max-json-bytes", n, _constant(at), _constant(past))
    if kind == "object" and "maxProperties" in node:
        n = int(node["maxProperties"])
        at_pairs, past_pairs = _pairs(n), _pairs(n + 1)
        yield from _pair(op, path, "maxProperties", n, _constant(at_pairs), _constant(past_pairs))
    names = node.get("propertyNames")
    if isinstance(names, dict) and "maxLength" in names:
        n = int(names["maxLength"])
        at, past = {"k" * n: "v"}, {"k" * (n + 1): "v"}
        yield from _pair(op, path, "propertyNames.maxLength", n, _constant(at), _constant(past))
    values = node.get("additionalProperties")
    if isinstance(values, dict) and "maxLength" in values:
        n = int(values["maxLength"])
        at, past = {"k": "v" * n}, {"k": "v" * (n + 1)}
        name = "additionalProperties.maxLength"
        yield from _pair(op, path, name, n, _constant(at), _constant(past))
    if kind == "string" and "maxLength" in node:
        n = int(node["maxLength"])
        yield from _pair(op, path, "maxLength", n, _padded_to(n), _padded_to(n + 1))
        if "pattern" in node:
            # The only documented string pattern: no leading/trailing whitespace (external ids).
            yield BoundaryCase(
                op, path, "no-surrounding-whitespace", 0, "reject", lambda seed: f" {seed} "
            )
    if kind == "integer":
        for key, delta in (("minimum", -1), ("maximum", 1)):
            if key in node and abs(int(node[key])) < 2**62:  # int64 range ends are not limits
                n = int(node[key])
                yield from _pair(op, path, key, n, _constant(n), _constant(n + delta))


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
