"""Structural diff of two OpenAPI documents (plain dicts) into findings of the named rules.

The diff owns the walking: it resolves local `$ref`s, pairs operations, parameters, bodies and
schema nodes, and runs the rules of `wfcontracts.compat.rules` on each pair. Schema nodes are
compared recursively through properties, items, additionalProperties, allOf (flattened) and
oneOf/anyOf (paired by `$ref` name, else by position) — best effort, always deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from wfcontracts.compat.rules import (
    SEVERITIES,
    ApiPair,
    Direction,
    Hit,
    OperationPair,
    OperationView,
    Rule,
    Schema,
    SchemaPair,
    rules_for,
    variants,
)

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Recursive schemas are cut here; real contracts nest far less deeply.
MAX_DEPTH = 32


@dataclass(frozen=True, order=True)
class Finding:
    """One compatibility finding: which rule, how bad, where, and old-vs-new in one line."""

    rule: str
    severity: Literal["breaking", "warning", "info"]
    location: str
    message: str


def diff_contracts(old: dict[str, Any], new: dict[str, Any]) -> list[Finding]:
    """Compare two parsed OpenAPI documents; findings sorted by severity, location, rule."""
    old_doc, new_doc = _Document(old), _Document(new)
    old_ops, new_ops = _operations(old_doc), _operations(new_doc)
    findings = list(_run(rules_for("api"), ApiPair(old_ops, new_ops), ""))
    for key in sorted(old_ops.keys() & new_ops.keys()):
        findings.extend(_diff_operation(old_ops[key], new_ops[key], old_doc, new_doc))
    return sorted(set(findings), key=_sort_key)


def _sort_key(finding: Finding) -> tuple[int, str, str, str]:
    return (SEVERITIES.index(finding.severity), finding.location, finding.rule, finding.message)


def _run(rules: list[Rule], pair: object, base: str, join: str = " ") -> Iterator[Finding]:
    for rule in rules:
        for hit in rule.check(pair):
            yield Finding(rule.name, rule.severity, _locate(base, hit, join), hit.message)


def _locate(base: str, hit: Hit, join: str) -> str:
    if not hit.where:
        return base
    if not base:
        return hit.where
    return f"{base}{join}{hit.where}"


# --- references ---------------------------------------------------------------------------


class _Document:
    """A document with local `$ref` resolution (JSON pointers into the same document)."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def resolve(self, node: Any) -> tuple[Mapping[str, Any], str | None]:
        """The node with `$ref` chains followed, siblings kept (3.1), and the last ref name."""
        seen: list[str] = []
        current = node if isinstance(node, Mapping) else {}
        while isinstance(current.get("$ref"), str) and current["$ref"] not in seen:
            ref = current["$ref"]
            seen.append(ref)
            target = self._pointer(ref)
            siblings = {k: v for k, v in current.items() if k != "$ref"}
            current = {**target, **siblings} if siblings else target
        return current, (seen[-1] if seen else None)

    def _pointer(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#"):
            return {}  # external refs are out of scope: compared as opaque, never guessed
        node: Any = self.root
        for token in ref[1:].split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            node = node.get(token) if isinstance(node, Mapping) else None
        return node if isinstance(node, Mapping) else {}

    def flatten(self, node: Any) -> tuple[Mapping[str, Any], str | None]:
        """Resolve and merge `allOf` branches into one schema (properties and required united)."""
        schema, ref = self.resolve(node)
        branches = schema.get("allOf")
        if not isinstance(branches, list):
            return schema, ref
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for branch in branches:
            part, _ = self.flatten(branch)
            _merge_into(merged, part)
        return merged, ref


def _merge_into(merged: dict[str, Any], part: Mapping[str, Any]) -> None:
    for keyword, value in part.items():
        if keyword == "properties" and isinstance(value, Mapping):
            merged["properties"] = {**value, **(merged.get("properties") or {})}
        elif keyword == "required" and isinstance(value, list):
            merged["required"] = sorted({*merged.get("required", []), *map(str, value)})
        else:
            merged.setdefault(keyword, value)


# --- operations ---------------------------------------------------------------------------


def _template_key(path: str) -> str:
    # Renaming a path parameter does not change which URLs an operation answers.
    return re.sub(r"\{[^}]*\}", "{}", path)


def _operations(doc: _Document) -> dict[str, OperationView]:
    paths = doc.root.get("paths")
    views: dict[str, OperationView] = {}
    for path, raw_item in sorted((paths or {}).items()) if isinstance(paths, Mapping) else []:
        item, _ = doc.resolve(raw_item)
        for method in HTTP_METHODS:
            if isinstance(item.get(method), Mapping):
                key = f"{method.upper()} {_template_key(str(path))}"
                views[key] = _operation_view(doc, str(path), method, item)
    return views


def _operation_view(
    doc: _Document, path: str, method: str, item: Mapping[str, Any]
) -> OperationView:
    operation: Mapping[str, Any] = item[method]
    responses = _responses(doc, operation)
    security = _security(doc, operation)
    return OperationView(
        key=f"{method.upper()} {path}",
        parameters=_parameters(doc, path, item, operation),
        request_body=_request_body(doc, operation),
        responses=responses,
        security=security,
        security_schemes=_schemes(doc, security),
        links=_per_response(doc, responses, "links"),
        headers=_per_response(doc, responses, "headers"),
    )


def _parameters(
    doc: _Document, path: str, item: Mapping[str, Any], operation: Mapping[str, Any]
) -> dict[tuple[str, str], Mapping[str, Any]]:
    positions = {name: str(i) for i, name in enumerate(re.findall(r"\{([^}]*)\}", path))}
    params: dict[tuple[str, str], Mapping[str, Any]] = {}
    for raw in [*(item.get("parameters") or []), *(operation.get("parameters") or [])]:
        param, _ = doc.resolve(raw)
        name, where = str(param.get("name", "")), str(param.get("in", ""))
        if where == "path":
            params[("path", positions.get(name, name))] = param
        else:
            params[(where, name.lower() if where == "header" else name)] = param
    return params


def _request_body(doc: _Document, operation: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if "requestBody" not in operation:
        return None
    body, _ = doc.resolve(operation["requestBody"])
    return body


def _responses(doc: _Document, operation: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    raw = operation.get("responses")
    if not isinstance(raw, Mapping):
        return {}
    # YAML reads an unquoted 200 as an int; statuses are compared as text.
    return {str(status): doc.resolve(response)[0] for status, response in raw.items()}


def _security(
    doc: _Document, operation: Mapping[str, Any]
) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]:
    raw = operation["security"] if "security" in operation else doc.root.get("security")
    requirements = {
        tuple(
            sorted((str(name), tuple(sorted(map(str, scopes or [])))) for name, scopes in r.items())
        )
        for r in (raw or [])
        if isinstance(r, Mapping)
    }
    return tuple(sorted(requirements))


def _schemes(
    doc: _Document, security: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]
) -> dict[str, Mapping[str, Any]]:
    components = doc.root.get("components") or {}
    declared = components.get("securitySchemes") or {} if isinstance(components, Mapping) else {}
    names = {name for requirement in security for name, _ in requirement}
    return {name: doc.resolve(declared.get(name))[0] for name in sorted(names)}


def _per_response(
    doc: _Document, responses: Mapping[str, Mapping[str, Any]], kind: str
) -> dict[tuple[str, str], Mapping[str, Any]]:
    """The ``links`` or ``headers`` of every response, resolved, keyed by (status, name)."""
    parts: dict[tuple[str, str], Mapping[str, Any]] = {}
    for status, response in responses.items():
        raw = response.get(kind)
        for name, part in raw.items() if isinstance(raw, Mapping) else []:
            # HTTP header names are case-insensitive; link names are not.
            key = str(name).lower() if kind == "headers" else str(name)
            parts[(status, key)] = doc.resolve(part)[0]
    return parts


# --- per-operation walking ----------------------------------------------------------------


def _diff_operation(
    old: OperationView, new: OperationView, old_doc: _Document, new_doc: _Document
) -> Iterator[Finding]:
    yield from _run(rules_for("operation"), OperationPair(old, new), new.key)
    walker = _SchemaWalker(old_doc, new_doc)
    for key in sorted(old.parameters.keys() & new.parameters.keys()):
        param = new.parameters[key]
        prefix = f"{new.key} {key[0]} parameter {param.get('name', key[1])}"
        yield from walker.compare(
            old.parameters[key].get("schema"), param.get("schema"), "request", prefix
        )
    yield from _diff_content(
        walker, old.request_body, new.request_body, "request", f"{new.key} request body"
    )
    for status in sorted(old.responses.keys() & new.responses.keys()):
        prefix = f"{new.key} response {status} body"
        yield from _diff_content(
            walker, old.responses[status], new.responses[status], "response", prefix
        )


def _diff_content(
    walker: _SchemaWalker,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    direction: Direction,
    prefix: str,
) -> Iterator[Finding]:
    old_content = (old or {}).get("content") or {}
    new_content = (new or {}).get("content") or {}
    for media in sorted(set(old_content) & set(new_content)):
        where = prefix if media == "application/json" else f"{prefix} ({media})"
        old_media, new_media = old_content[media] or {}, new_content[media] or {}
        yield from walker.compare(
            old_media.get("schema"), new_media.get("schema"), direction, where
        )


class _SchemaWalker:
    """Recursive comparison of two schemas; stops on a `$ref` pair already being compared."""

    def __init__(self, old_doc: _Document, new_doc: _Document) -> None:
        self.old_doc, self.new_doc = old_doc, new_doc
        self.schema_rules = rules_for("schema")

    def compare(self, old: Any, new: Any, direction: Direction, prefix: str) -> Iterator[Finding]:
        if old is None or new is None:
            return iter(())
        return self._node(old, new, direction, prefix, "", frozenset(), 0)

    def _node(
        self,
        old_raw: Any,
        new_raw: Any,
        direction: Direction,
        prefix: str,
        path: str,
        active: frozenset[tuple[str | None, str | None]],
        depth: int,
    ) -> Iterator[Finding]:
        old, old_ref = self.old_doc.flatten(old_raw)
        new, new_ref = self.new_doc.flatten(new_raw)
        refs = (old_ref, new_ref)
        if depth > MAX_DEPTH or (refs != (None, None) and refs in active):
            return
        active = active | {refs}
        base = f"{prefix} {path}" if path else prefix
        yield from _run(self.schema_rules, SchemaPair(old, new, direction), base, _path_join(path))
        for child, old_child, new_child in _children(old, new, self.old_doc, self.new_doc):
            child_path = _child_path(path, child)
            yield from self._node(
                old_child, new_child, direction, prefix, child_path, active, depth + 1
            )


def _path_join(path: str) -> str:
    # Property hits read as "body filter.limit"; at the body root as "body limit".
    return "." if path else " "


def _child_path(path: str, child: str) -> str:
    if child.startswith("[") or not path:
        return f"{path}{child}"
    return f"{path}.{child}"


def _children(
    old: Schema, new: Schema, old_doc: _Document, new_doc: _Document
) -> Iterator[tuple[str, Any, Any]]:
    old_props, new_props = old.get("properties") or {}, new.get("properties") or {}
    if isinstance(old_props, Mapping) and isinstance(new_props, Mapping):
        for name in sorted(old_props.keys() & new_props.keys()):
            yield str(name), old_props[name], new_props[name]
    for keyword, label in (("items", "[]"), ("additionalProperties", "*")):
        if isinstance(old.get(keyword), Mapping) and isinstance(new.get(keyword), Mapping):
            yield label, old[keyword], new[keyword]
    yield from _paired_variants(old, new, old_doc, new_doc)


def _paired_variants(
    old: Schema, new: Schema, old_doc: _Document, new_doc: _Document
) -> Iterator[tuple[str, Any, Any]]:
    old_variants, new_variants = variants(old), variants(new)
    if old_variants is None or new_variants is None:
        return
    keyword = new_variants[0]
    old_by_ref = {_ref_name(old_doc, v): i for i, v in enumerate(old_variants[1])}
    for index, branch in enumerate(new_variants[1]):
        name = _ref_name(new_doc, branch)
        match = old_by_ref.get(name) if name else None
        if match is None and name is None and index < len(old_variants[1]):
            match = index
        if match is not None:
            yield f"[{keyword}:{name or index}]", old_variants[1][match], branch


def _ref_name(doc: _Document, node: Any) -> str | None:
    _, ref = doc.resolve(node)
    return ref.rsplit("/", 1)[-1] if ref else None
