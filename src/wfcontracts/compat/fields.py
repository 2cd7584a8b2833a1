"""Response bodies against contract schemas: which fields a schema declares, which it does not.

Field pointers are JSON pointers where ``[]`` stands for every array item and ``*`` for every
key of an ``additionalProperties`` map (``/items/[]/metadata/*``); the root is ``""``, shown
as ``/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wfcontracts.contract import Contract

__all__ = ["Node", "Schemas", "declared_pointers", "json_type", "parent", "show", "walk"]


def json_type(value: Any) -> str:
    """The JSON Schema type name of a parsed JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _child(pointer: str, segment: str) -> str:
    return f"{pointer}/{segment.replace('~', '~0').replace('/', '~1')}"


def parent(pointer: str) -> str:
    """The pointer one level up (``""`` for a top-level field)."""
    return pointer.rsplit("/", 1)[0]


def show(pointer: str) -> str:
    """A pointer for people: the root is ``/``."""
    return pointer or "/"


@dataclass(slots=True)
class _Shape:
    """What a group of schemas (a `$ref`/allOf/anyOf/oneOf closure) declares for one node."""

    properties: dict[str, list[Any]] = field(default_factory=dict)
    patterns: list[tuple[str, Any]] = field(default_factory=list)
    additional: list[Any] = field(default_factory=list)
    open_map: bool = False
    items: list[Any] = field(default_factory=list)
    parts: tuple[int, ...] = ()

    @property
    def free_object(self) -> bool:
        """No property declared at all: a free-form object (``input``, ``output``)."""
        return not (self.properties or self.patterns or self.additional or self.open_map)

    def member(self, key: str) -> tuple[str, list[Any]] | None:
        """(pointer segment, schemas) for a key, or None when the key is undocumented."""
        if key in self.properties:
            return key, self.properties[key]
        matched = [schema for pattern, schema in self.patterns if re.search(pattern, key)]
        if matched or self.additional:
            return "*", matched + self.additional
        return ("*", []) if self.open_map else None


class Schemas:
    """Schema closures of one contract, merged into shapes (cached: cassettes repeat a lot)."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self._shapes: dict[tuple[int, ...], tuple[list[Any], _Shape]] = {}

    def shape(self, schemas: list[Any]) -> _Shape:
        key = tuple(id(s) for s in schemas)
        cached = self._shapes.get(key)
        if cached is None:
            cached = (schemas, self._merge(self._parts(schemas)))
            self._shapes[key] = cached
        return cached[1]

    def _parts(self, schemas: list[Any]) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        stack, seen = list(schemas), set()
        while stack:
            node = stack.pop()
            if not isinstance(node, dict) or id(node) in seen:
                continue
            seen.add(id(node))
            if "$ref" in node:
                stack.append(self.contract.resolve({"$ref": node["$ref"]}))
            parts.append(node)
            for key in ("allOf", "anyOf", "oneOf"):
                stack.extend(node.get(key) or [])
        return parts

    @staticmethod
    def _merge(parts: list[dict[str, Any]]) -> _Shape:
        shape = _Shape(parts=tuple(id(p) for p in parts))
        for part in parts:
            for name, sub in (part.get("properties") or {}).items():
                shape.properties.setdefault(name, []).append(sub)
            shape.patterns.extend((part.get("patternProperties") or {}).items())
            extra = part.get("additionalProperties")
            if isinstance(extra, dict):
                shape.additional.append(extra)
            shape.open_map = shape.open_map or extra is True
            if isinstance(part.get("items"), dict):
                shape.items.append(part["items"])
        return shape


@dataclass(frozen=True, slots=True)
class Node:
    """A node of a response body; ``kind``: declared, undocumented (topmost) or below."""

    pointer: str
    json_type: str
    kind: str


def walk(schemas: Schemas, declared: list[Any] | None, value: Any, pointer: str) -> Iterator[Node]:
    """Every node of `value`; `declared` None means below an undocumented field."""
    if isinstance(value, dict):
        yield from _walk_object(schemas, declared, value, pointer)
    elif isinstance(value, list):
        items = None if declared is None else schemas.shape(declared).items
        if declared is None or items:
            for item in value:
                yield from _visit(schemas, items, item, pointer + "/[]")


def _visit(
    schemas: Schemas, declared: list[Any] | None, value: Any, pointer: str
) -> Iterator[Node]:
    yield Node(pointer, json_type(value), "declared" if declared is not None else "below")
    yield from walk(schemas, declared, value, pointer)


def _walk_object(
    schemas: Schemas, declared: list[Any] | None, value: dict[str, Any], pointer: str
) -> Iterator[Node]:
    if declared is None:
        for key, item in value.items():
            yield from _visit(schemas, None, item, _child(pointer, key))
        return
    shape = schemas.shape(declared)
    if shape.free_object:
        return
    for key, item in value.items():
        member = shape.member(key)
        if member is None:
            child = _child(pointer, key)
            yield Node(child, json_type(item), "undocumented")
            yield from walk(schemas, None, item, child)
        elif member[1]:  # empty: a key of an open map, nothing declared below it
            yield from _visit(schemas, member[1], item, _child(pointer, member[0]))


def declared_pointers(
    schemas: Schemas, declared: list[Any], pointer: str, trail: frozenset[tuple[int, ...]]
) -> Iterator[str]:
    """Every property pointer the schema declares (maps and free-form objects not expanded)."""
    shape = schemas.shape(declared)
    if shape.parts in trail or len(trail) > 32:
        return  # a recursive schema: its fields were listed one level up
    trail = trail | {shape.parts}
    for name, subs in shape.properties.items():
        child = _child(pointer, name)
        yield child
        yield from declared_pointers(schemas, subs, child, trail)
    if shape.items:
        yield pointer + "/[]"
        yield from declared_pointers(schemas, shape.items, pointer + "/[]", trail)
