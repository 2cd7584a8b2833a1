"""Where each constraint of the contract comes from, and the views of the contract it implies.

Provenance is written in the contract with two vendor keywords (contracts/README.md):

- `x-source` names the evidence with the tags of the API reference: `[SEED-n]`, `[DOC-n]` and
  `[EXPORT]` are the executions-API documentation; `[SDK]`, `[TK]`, `[3P]` and `[INFERRED]`
  are not (client-side code, third parties, our own inference).
- `x-inferred` marks what the documentation does not state: `true` on a schema makes every
  constraint of it, and of everything below it (through `$ref`s too), inferred; a list names the
  inferred keywords of that schema (on a `$ref`, of the referenced schema); on a parameter or an
  operation, `true` makes its request (and an operation's inline responses) inferred. Everything
  else is documented.

The **documented view** of the contract drops every inferred constraint. A request it rejects
breaks what the docs state (a server accepting it fails the gate); a request only the full
contract rejects breaks inferred rules only (an advisory). Responses are judged by the documented
view too: a server echoes what it accepted, so a request-side rule the docs do not state (the 200
`inputs` of a simulation task, a parameter's type from the SDK) is no response rule.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from wfcontracts.contract.loader import resolve_pointer

INFERRED = "x-inferred"
SOURCE = "x-source"
#: Source tags that are the executions-API documentation (the others are not).
DOCUMENTATION_TAGS = ("SEED", "DOC", "EXPORT")
NOT_DOCUMENTATION_TAGS = ("SDK", "TK", "3P", "INFERRED")
_TAG = re.compile(r"\[(SEED|DOC|EXPORT|SDK|TK|3P|INFERRED)\b[^\]]*\]")

#: Keywords that bound a value's size, length, range or spelling.
BOUNDS: frozenset[str] = frozenset(
    {
        "minLength", "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems",
        "minProperties", "maxProperties", "propertyNames", "x-max-json-bytes",
    }
)  # fmt: skip
#: Every keyword that constrains a value (what provenance must cover).
CONSTRAINTS = BOUNDS | frozenset(
    {"type", "enum", "const", "format", "required", "not", "additionalProperties"}
)
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMAS = ("items", "additionalProperties", "propertyNames", "not", "contains", "if",
               "then", "else", "unevaluatedItems", "unevaluatedProperties")  # fmt: skip
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def source_tags(source: str) -> list[str]:
    """The reference tags an `x-source` cites, e.g. ['SEED', 'DOC', 'SDK']."""
    return [match.group(1) for match in _TAG.finditer(source)]


def is_documented_source(source: str) -> bool:
    """Whether an `x-source` cites the executions-API documentation at all."""
    return any(tag in DOCUMENTATION_TAGS for tag in source_tags(source))


def documented_view(document: dict[str, Any]) -> dict[str, Any]:
    """The contract without its inferred constraints (see the module docstring)."""
    return _View(document).build()


class _View:
    """The documented view of a contract document: shared components stay shared unless a
    `$ref` gives provenance of its own (then the target is inlined, read in that place)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def build(self) -> dict[str, Any]:
        view = copy.deepcopy(self.document)
        components = view.get("components", {})
        for name, schema in components.get("schemas", {}).items():
            components["schemas"][name] = self.schema(schema, inherited=False)
        for parameter in components.get("parameters", {}).values():
            self.parameter(parameter, inherited=False)
        for response in components.get("responses", {}).values():
            self.content(response, inherited=False)
        for header in components.get("headers", {}).values():
            if "schema" in header:
                header["schema"] = self.schema(header["schema"], inherited=False)
        for item in view.get("paths", {}).values():
            for parameter in item.get("parameters", []):
                self.parameter(parameter, inherited=False)
            for method in HTTP_METHODS:
                if method in item:
                    self.operation(item[method])
        return view

    def operation(self, operation: dict[str, Any]) -> None:
        inherited = operation.get(INFERRED) is True
        for index, parameter in enumerate(operation.get("parameters", [])):
            if inherited and "$ref" in parameter:
                parameter = operation["parameters"][index] = copy.deepcopy(
                    resolve_pointer(self.document, parameter["$ref"])
                )
            self.parameter(parameter, inherited)
        body = operation.get("requestBody")
        if isinstance(body, dict):
            if inherited and "$ref" in body:
                body = operation["requestBody"] = copy.deepcopy(
                    resolve_pointer(self.document, body["$ref"])
                )
            self.content(body, inherited)
        for response in operation.get("responses", {}).values():
            if isinstance(response, dict) and "$ref" not in response:
                self.content(response, inherited)

    def parameter(self, parameter: dict[str, Any], inherited: bool) -> None:
        if "schema" in parameter:
            inferred = inherited or parameter.get(INFERRED) is True
            parameter["schema"] = self.schema(parameter["schema"], inferred)

    def content(self, holder: dict[str, Any], inherited: bool) -> None:
        for media in holder.get("content", {}).values():
            if isinstance(media, dict) and "schema" in media:
                media["schema"] = self.schema(media["schema"], inherited)

    def schema(self, node: Any, inherited: bool) -> Any:
        if not isinstance(node, dict):
            return node
        flag = node.get(INFERRED)
        if inherited or flag is True:
            return {}  # nothing of it is documented: anything goes
        named = set(flag) if isinstance(flag, list) else set()
        result = {key: value for key, value in node.items() if key not in named}
        if "$ref" in node and named:
            # The referenced schema, read in this place: inlined without the named keywords.
            del result["$ref"]
            target = self.schema(self._referenced(node["$ref"]), inherited=False)
            target = {key: value for key, value in target.items() if key not in named}
            if not _has_schema(result):
                return target
            return {"allOf": [target, self._children(result)]}
        return self._children(result)

    def _referenced(self, ref: str) -> dict[str, Any]:
        """The schema `ref` names, through aliases (`Version` → `ExternalId`)."""
        target: dict[str, Any] = resolve_pointer(self.document, ref)
        while "$ref" in target and INFERRED not in target:  # an alias with its own provenance
            siblings = {key: value for key, value in target.items() if key != "$ref"}
            if _has_schema(siblings):
                break
            target = resolve_pointer(self.document, target["$ref"])
        return target

    def _children(self, node: dict[str, Any]) -> dict[str, Any]:
        for key in _SUBSCHEMA_MAPS:
            if isinstance(node.get(key), dict):
                node[key] = {k: self.schema(v, False) for k, v in node[key].items()}
        for key in _SUBSCHEMA_LISTS:
            if isinstance(node.get(key), list):
                node[key] = [self.schema(v, False) for v in node[key]]
        for key in _SUBSCHEMAS:
            if isinstance(node.get(key), dict):
                node[key] = self.schema(node[key], False)
        return node


def _has_schema(node: dict[str, Any]) -> bool:
    return any(not key.startswith("x-") and key not in ("description",) for key in node)


# -- the provenance of each constraint ---------------------------------------------------------


@dataclass(frozen=True)
class Constraint:
    """One constraint keyword at one place of the contract, with its provenance."""

    where: str  # JSON pointer of the schema holding it
    keyword: str
    source: str  # the nearest `x-source` (own, else the enclosing schema's or operation's)
    inferred: bool

    @property
    def documented(self) -> bool:
        return not self.inferred


def constraints(document: dict[str, Any]) -> Iterator[Constraint]:
    """Every constraint keyword written in the contract, where it is and where it comes from.

    Shared components are listed once, as written (an inferred context reaching one through a
    `$ref` does not show here; the views account for it).
    """
    components = document.get("components", {})
    for name, schema in components.get("schemas", {}).items():
        yield from _constraints(document, schema, f"#/components/schemas/{name}", "", False)
    for name, parameter in components.get("parameters", {}).items():
        source = str(parameter.get(SOURCE, ""))
        inferred = parameter.get(INFERRED) is True
        where = f"#/components/parameters/{name}/schema"
        yield from _constraints(document, parameter.get("schema"), where, source, inferred)
    for name, header in components.get("headers", {}).items():
        where = f"#/components/headers/{name}/schema"
        source = str(header.get(SOURCE, ""))
        yield from _constraints(document, header.get("schema"), where, source, False)
    for path, item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            source = str(operation.get(SOURCE, ""))
            inferred = operation.get(INFERRED) is True
            base = f"#/paths/{path.replace('~', '~0').replace('/', '~1')}/{method}"
            for index, parameter in enumerate(operation.get("parameters", [])):
                if "schema" in parameter:
                    where = f"{base}/parameters/{index}/schema"
                    own = str(parameter.get(SOURCE, source))
                    yield from _constraints(document, parameter["schema"], where, own, inferred)
            body = operation.get("requestBody", {})
            for media, content in body.get("content", {}).items():
                where = f"{base}/requestBody/content/{media.replace('/', '~1')}/schema"
                yield from _constraints(document, content.get("schema"), where, source, inferred)
            for status, response in operation.get("responses", {}).items():
                for media, content in response.get("content", {}).items():
                    where = f"{base}/responses/{status}/content/{media.replace('/', '~1')}/schema"
                    schema = content.get("schema")
                    yield from _constraints(document, schema, where, source, inferred)


def _constraints(
    document: dict[str, Any], node: Any, where: str, source: str, inherited: bool
) -> Iterator[Constraint]:
    if not isinstance(node, dict):
        return
    source = str(node.get(SOURCE, source))
    flag = node.get(INFERRED)
    everything = inherited or flag is True
    named = set(flag) if isinstance(flag, list) else set()
    for keyword in sorted(CONSTRAINTS & node.keys()):
        yield Constraint(where, keyword, source, everything or keyword in named)
    if "$ref" in node and (everything or named):
        # Provenance given where a shared schema is used: its keywords, read in this place.
        target = _alias_target(document, node["$ref"])
        for keyword in sorted(CONSTRAINTS & target.keys()):
            if everything or keyword in named:
                yield Constraint(f"{where} ({node['$ref']})", keyword, source, True)
    for key, sub in _subschemas(node):
        yield from _constraints(document, sub, f"{where}/{key}", source, everything)


def _alias_target(document: dict[str, Any], ref: str) -> dict[str, Any]:
    target: dict[str, Any] = resolve_pointer(document, ref)
    while set(target) - {SOURCE, "description"} == {"$ref"}:
        target = resolve_pointer(document, target["$ref"])
    return target


def _subschemas(node: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(relative pointer, subschema) of every schema directly inside `node`."""
    for key in _SUBSCHEMA_MAPS:
        for name, sub in (node.get(key) or {}).items():
            yield f"{key}/{name}", sub
    for key in _SUBSCHEMA_LISTS:
        for index, sub in enumerate(node.get(key) or []):
            yield f"{key}/{index}", sub
    for key in _SUBSCHEMAS:
        if isinstance(node.get(key), dict):
            yield key, node[key]
