"""The named compatibility rules: small functions over pairs of contract parts, in a registry.

A rule never walks the document itself: `wfcontracts.compat.diff` resolves `$ref`s, pairs the
old and new parts (APIs, operations, schema nodes) and hands each pair to the rules of its
scope. A rule yields `Hit`s; the diff turns them into findings carrying the rule's name and
severity, so a rule's name and severity are stated exactly once, here.

Direction matters for schemas: a request schema is what clients send (tightening it breaks
them), a response schema is what clients read (loosening it breaks them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

Severity = Literal["breaking", "warning", "info"]
Direction = Literal["request", "response"]
Scope = Literal["api", "operation", "schema"]
Schema = Mapping[str, Any]

SEVERITIES: tuple[Severity, ...] = ("breaking", "warning", "info")


class Hit(NamedTuple):
    """One thing a rule found: `where` is appended to the location of the pair it inspected."""

    where: str
    message: str


@dataclass(frozen=True)
class OperationView:
    """An operation with its `$ref`s resolved and path-level parameters merged in."""

    key: str
    parameters: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    request_body: Mapping[str, Any] | None = None
    responses: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    security: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...] = ()
    security_schemes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    links: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    headers: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiPair:
    old: Mapping[str, OperationView]
    new: Mapping[str, OperationView]


@dataclass(frozen=True)
class OperationPair:
    old: OperationView
    new: OperationView


@dataclass(frozen=True)
class SchemaPair:
    """Two schema nodes at the same place; both resolved and with `allOf` flattened."""

    old: Schema
    new: Schema
    direction: Direction


RuleCheck = Callable[[Any], Iterator[Hit]]


@dataclass(frozen=True)
class Rule:
    name: str
    severity: Severity
    scope: Scope
    description: str
    check: RuleCheck


RULES: dict[str, Rule] = {}


def rule(
    name: str, severity: Severity, scope: Scope, description: str
) -> Callable[[RuleCheck], RuleCheck]:
    """Register a rule; a duplicate name is a programming error."""

    def register(check: RuleCheck) -> RuleCheck:
        if name in RULES:
            raise ValueError(f"compat rule {name!r} is registered twice")
        RULES[name] = Rule(name, severity, scope, description, check)
        return check

    return register


def rules_for(scope: Scope) -> list[Rule]:
    """The rules of one scope, in name order (so the diff runs them deterministically)."""
    return sorted((r for r in RULES.values() if r.scope == scope), key=lambda r: r.name)


def show(value: Any) -> str:
    """Compact, stable rendering of a contract value for one-line messages."""
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def _parameter_label(
    params: Mapping[tuple[str, str], Mapping[str, Any]], key: tuple[str, str]
) -> str:
    return f"{key[0]} parameter {params[key].get('name', key[1])}"


# --- api scope ---------------------------------------------------------------------------


@rule("operation-removed", "breaking", "api", "An operation (method + path) was removed.")
def operation_removed(pair: ApiPair) -> Iterator[Hit]:
    for key in sorted(pair.old.keys() - pair.new.keys()):
        yield Hit(pair.old[key].key, "operation removed: old documented it, new does not")


@rule("operation-added", "info", "api", "A new operation was added.")
def operation_added(pair: ApiPair) -> Iterator[Hit]:
    for key in sorted(pair.new.keys() - pair.old.keys()):
        yield Hit(pair.new[key].key, "operation added: old did not document it, new does")


# --- operation scope ---------------------------------------------------------------------


@rule("response-status-removed", "breaking", "operation", "A documented response status is gone.")
def response_status_removed(pair: OperationPair) -> Iterator[Hit]:
    for status in sorted(pair.old.responses.keys() - pair.new.responses.keys()):
        yield Hit(f"response {status}", f"response status removed: old {status}, new none")


@rule("response-status-added", "info", "operation", "A new response status is documented.")
def response_status_added(pair: OperationPair) -> Iterator[Hit]:
    for status in sorted(pair.new.responses.keys() - pair.old.responses.keys()):
        yield Hit(f"response {status}", f"response status added: old none, new {status}")


def _media_types(container: Mapping[str, Any] | None) -> set[str]:
    content = (container or {}).get("content") or {}
    return set(content) if isinstance(content, Mapping) else set()


@rule(
    "response-media-type-removed",
    "breaking",
    "operation",
    "A response no longer offers a media type clients parse.",
)
def response_media_type_removed(pair: OperationPair) -> Iterator[Hit]:
    for status in sorted(pair.old.responses.keys() & pair.new.responses.keys()):
        old_types = _media_types(pair.old.responses[status])
        new_types = _media_types(pair.new.responses[status])
        for media in sorted(old_types - new_types):
            yield Hit(f"response {status}", f"media type removed: old {media}, new none")


@rule(
    "request-media-type-removed",
    "breaking",
    "operation",
    "The request body no longer accepts a media type clients send.",
)
def request_media_type_removed(pair: OperationPair) -> Iterator[Hit]:
    if pair.old.request_body is None or pair.new.request_body is None:
        return
    removed = _media_types(pair.old.request_body) - _media_types(pair.new.request_body)
    for media in sorted(removed):
        yield Hit("request body", f"media type removed: old {media}, new none")


def _body_required(body: Mapping[str, Any] | None) -> bool:
    return bool(body and body.get("required", False))


@rule(
    "request-body-became-required",
    "breaking",
    "operation",
    "A request body became required (or a required one was added).",
)
def request_body_became_required(pair: OperationPair) -> Iterator[Hit]:
    if _body_required(pair.new.request_body) and not _body_required(pair.old.request_body):
        old = "absent" if pair.old.request_body is None else "optional"
        yield Hit("request body", f"request body became required: old {old}, new required")


def _param_required(param: Mapping[str, Any], key: tuple[str, str]) -> bool:
    return key[0] == "path" or bool(param.get("required", False))


@rule(
    "request-parameter-added-required",
    "breaking",
    "operation",
    "A new required parameter (path, query, header, cookie) was added.",
)
def request_parameter_added_required(pair: OperationPair) -> Iterator[Hit]:
    new = pair.new.parameters
    for key in sorted(new.keys() - pair.old.parameters.keys()):
        if _param_required(new[key], key):
            label = _parameter_label(new, key)
            yield Hit(label, f"required parameter added: old none, new {label}")


@rule("request-parameter-added", "info", "operation", "A new optional parameter was added.")
def request_parameter_added(pair: OperationPair) -> Iterator[Hit]:
    new = pair.new.parameters
    for key in sorted(new.keys() - pair.old.parameters.keys()):
        if not _param_required(new[key], key):
            label = _parameter_label(new, key)
            yield Hit(label, f"optional parameter added: old none, new {label}")


@rule(
    "request-parameter-became-required",
    "breaking",
    "operation",
    "An optional parameter became required.",
)
def request_parameter_became_required(pair: OperationPair) -> Iterator[Hit]:
    old, new = pair.old.parameters, pair.new.parameters
    for key in sorted(old.keys() & new.keys()):
        if _param_required(new[key], key) and not _param_required(old[key], key):
            yield Hit(
                _parameter_label(new, key), "parameter became required: old optional, new required"
            )


@rule(
    "request-parameter-removed",
    "warning",
    "operation",
    "A parameter was removed; clients still sending it may be rejected.",
)
def request_parameter_removed(pair: OperationPair) -> Iterator[Hit]:
    old = pair.old.parameters
    for key in sorted(old.keys() - pair.new.parameters.keys()):
        label = _parameter_label(old, key)
        yield Hit(label, f"parameter removed: old {label}, new none")


def _requirement_text(requirement: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    if not requirement:
        return "anonymous"
    return "+".join(f"{name}[{','.join(scopes)}]" for name, scopes in requirement)


def _security_text(security: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]) -> str:
    return " | ".join(_requirement_text(r) for r in security) if security else "none"


def _scheme_essentials(scheme: Mapping[str, Any]) -> dict[str, Any]:
    # Descriptions do not change what a client must send.
    return {k: v for k, v in scheme.items() if k != "description"}


@rule(
    "security-changed",
    "breaking",
    "operation",
    "The operation's security requirements or the schemes they use changed.",
)
def security_changed(pair: OperationPair) -> Iterator[Hit]:
    old, new = pair.old, pair.new
    if old.security != new.security:
        yield Hit(
            "security",
            f"security changed: old {_security_text(old.security)}, "
            f"new {_security_text(new.security)}",
        )
    for name in sorted(old.security_schemes.keys() & new.security_schemes.keys()):
        before = _scheme_essentials(old.security_schemes[name])
        after = _scheme_essentials(new.security_schemes[name])
        if before != after:
            yield Hit(
                f"security scheme {name}",
                f"security scheme changed: old {show(before)}, new {show(after)}",
            )


def _link_where(key: tuple[str, str]) -> str:
    return f"response {key[0]} link {key[1]}"


@rule(
    "link-removed",
    "breaking",
    "operation",
    "A response link was removed; stateful clients chain operations through links.",
)
def link_removed(pair: OperationPair) -> Iterator[Hit]:
    for key in sorted(pair.old.links.keys() - pair.new.links.keys()):
        yield Hit(_link_where(key), f"link removed: old {key[1]}, new none")


@rule("link-changed", "warning", "operation", "A response link now targets or passes differently.")
def link_changed(pair: OperationPair) -> Iterator[Hit]:
    old, new = pair.old.links, pair.new.links
    for key in sorted(old.keys() & new.keys()):
        before = _scheme_essentials(old[key])
        after = _scheme_essentials(new[key])
        if before != after:
            yield Hit(_link_where(key), f"link changed: old {show(before)}, new {show(after)}")


@rule("link-added", "info", "operation", "A new response link was added.")
def link_added(pair: OperationPair) -> Iterator[Hit]:
    for key in sorted(pair.new.links.keys() - pair.old.links.keys()):
        yield Hit(_link_where(key), f"link added: old none, new {key[1]}")


def _removed_headers(pair: OperationPair, required: bool) -> Iterator[Hit]:
    old, new = pair.old.headers, pair.new.headers
    shared_statuses = pair.old.responses.keys() & pair.new.responses.keys()
    for key in sorted(old.keys() - new.keys()):
        if key[0] in shared_statuses and bool(old[key].get("required")) == required:
            kind = "required" if required else "optional"
            yield Hit(
                f"response {key[0]} header {key[1]}",
                f"response header removed: old {kind}, new absent",
            )


@rule(
    "response-header-removed",
    "breaking",
    "operation",
    "A required response header (e.g. x-request-id) is no longer documented.",
)
def response_header_removed(pair: OperationPair) -> Iterator[Hit]:
    yield from _removed_headers(pair, required=True)


@rule(
    "response-optional-header-removed",
    "warning",
    "operation",
    "An optional response header is no longer documented.",
)
def response_optional_header_removed(pair: OperationPair) -> Iterator[Hit]:
    yield from _removed_headers(pair, required=False)


# --- schema scope: properties ------------------------------------------------------------


def _hidden(prop: Any, direction: Direction) -> bool:
    # readOnly properties are never sent and writeOnly ones never returned (OpenAPI 3.x).
    keyword = "readOnly" if direction == "request" else "writeOnly"
    return isinstance(prop, Mapping) and prop.get(keyword) is True


def _all_properties(schema: Schema) -> Mapping[str, Any]:
    props = schema.get("properties")
    return props if isinstance(props, Mapping) else {}


def _hidden_names(schema: Schema, direction: Direction) -> set[str]:
    return {str(n) for n, p in _all_properties(schema).items() if _hidden(p, direction)}


def _props(pair: SchemaPair, side: Schema) -> set[str]:
    return {str(name) for name in _all_properties(side)} - _hidden_names(side, pair.direction)


def _req(pair: SchemaPair, side: Schema) -> set[str]:
    required = side.get("required")
    names = {str(name) for name in required} if isinstance(required, list) else set()
    return names - _hidden_names(side, pair.direction)


@rule(
    "response-property-removed",
    "breaking",
    "schema",
    "A required response property was removed; clients reading it break.",
)
def response_property_removed(pair: SchemaPair) -> Iterator[Hit]:
    if pair.direction != "response":
        return
    gone = _props(pair, pair.old) - _props(pair, pair.new)
    for name in sorted(gone & _req(pair, pair.old)):
        yield Hit(name, "response property removed: old required, new absent")


@rule(
    "response-optional-property-removed",
    "warning",
    "schema",
    "An optional response property was removed; clients using it lose data.",
)
def response_optional_property_removed(pair: SchemaPair) -> Iterator[Hit]:
    if pair.direction != "response":
        return
    gone = _props(pair, pair.old) - _props(pair, pair.new)
    for name in sorted(gone - _req(pair, pair.old)):
        yield Hit(name, "response property removed: old optional, new absent")


@rule(
    "response-property-became-optional",
    "breaking",
    "schema",
    "A required response property became optional; clients may no longer rely on it.",
)
def response_property_became_optional(pair: SchemaPair) -> Iterator[Hit]:
    if pair.direction != "response":
        return
    kept = _props(pair, pair.old) & _props(pair, pair.new)
    for name in sorted(kept & (_req(pair, pair.old) - _req(pair, pair.new))):
        yield Hit(name, "response property became optional: old required, new optional")


@rule("response-property-added", "info", "schema", "A new response property was added.")
def response_property_added(pair: SchemaPair) -> Iterator[Hit]:
    if pair.direction != "response":
        return
    for name in sorted(_props(pair, pair.new) - _props(pair, pair.old)):
        yield Hit(name, "response property added: old absent, new present")


@rule(
    "request-property-became-required",
    "breaking",
    "schema",
    "An existing optional request property became required.",
)
def request_property_became_required(pair: SchemaPair) -> Iterator[Hit]:
    if pair.direction != "request":
        return
    kept = _props(pair, pair.old) & _props(pair, pair.new)
    for name in sorted(kept & (_req(pair, pair.new) - _req(pair, pair.old))):
        yield Hit(name, "request property became required: old optional, new required")


@rule(
    "request-property-added-required",
    "breaking",
    "schema",
    "A new required request property was added; existing clients do not send it.",
)
def request_property_added_required(pair: SchemaPair) -> Iterator[Hit]:
    if pair.direction != "request":
        return
    added = _props(pair, pair.new) - _props(pair, pair.old)
    for name in sorted(added & _req(pair, pair.new)):
        yield Hit(name, "required request property added: old absent, new required")


@rule("request-property-added", "info", "schema", "A new optional request property was added.")
def request_property_added(pair: SchemaPair) -> Iterator[Hit]:
    if pair.direction != "request":
        return
    added = _props(pair, pair.new) - _props(pair, pair.old)
    for name in sorted(added - _req(pair, pair.new)):
        yield Hit(name, "optional request property added: old absent, new optional")


@rule(
    "request-property-removed",
    "warning",
    "schema",
    "A request property was removed; clients still sending it may be rejected or ignored.",
)
def request_property_removed(pair: SchemaPair) -> Iterator[Hit]:
    if pair.direction != "request":
        return
    for name in sorted(_props(pair, pair.old) - _props(pair, pair.new)):
        yield Hit(name, "request property removed: old present, new absent")


def _closed(schema: Schema) -> bool:
    return schema.get("additionalProperties") is False


@rule(
    "request-additional-properties-disallowed",
    "breaking",
    "schema",
    "A request object now rejects properties it did not declare (additionalProperties: false).",
)
def request_additional_properties_disallowed(pair: SchemaPair) -> Iterator[Hit]:
    if pair.direction == "request" and _closed(pair.new) and not _closed(pair.old):
        old = show(pair.old.get("additionalProperties", True))
        yield Hit("", f"additionalProperties tightened: old {old}, new false")


# --- schema scope: types and formats -----------------------------------------------------


def types_of(schema: Schema) -> frozenset[str] | None:
    """The JSON types a schema allows, or None when it does not say (3.0 `nullable` included)."""
    declared = schema.get("type")
    if declared is None:
        return None
    types = {str(t) for t in declared} if isinstance(declared, list) else {str(declared)}
    if schema.get("nullable") is True:
        types.add("null")
    return frozenset(types)


def _covers(wide: frozenset[str], narrow: frozenset[str]) -> bool:
    # "number" admits every integer, so integer -> number widens and number -> integer narrows.
    return all(t in wide or (t == "integer" and "number" in wide) for t in narrow)


def _type_text(types: frozenset[str]) -> str:
    return "|".join(sorted(types))


def _type_change(pair: SchemaPair) -> tuple[frozenset[str], frozenset[str]] | None:
    old, new = types_of(pair.old), types_of(pair.new)
    if old is None or new is None or old == new:
        return None
    return old, new


def _type_change_is_safe(pair: SchemaPair, old: frozenset[str], new: frozenset[str]) -> bool:
    return _covers(new, old) if pair.direction == "request" else _covers(old, new)


@rule(
    "type-changed",
    "breaking",
    "schema",
    "A type changed incompatibly (request narrowed or response widened/replaced).",
)
def type_changed(pair: SchemaPair) -> Iterator[Hit]:
    change = _type_change(pair)
    if change and not _type_change_is_safe(pair, *change):
        old, new = change
        yield Hit("", f"type changed: old {_type_text(old)}, new {_type_text(new)}")


@rule(
    "response-type-narrowed",
    "info",
    "schema",
    "A response type narrowed (e.g. null no longer returned); clients still cope.",
)
def response_type_narrowed(pair: SchemaPair) -> Iterator[Hit]:
    change = _type_change(pair)
    if pair.direction == "response" and change and _type_change_is_safe(pair, *change):
        old, new = change
        yield Hit("", f"response type narrowed: old {_type_text(old)}, new {_type_text(new)}")


def _format_change_breaks(pair: SchemaPair) -> bool:
    old, new = pair.old.get("format"), pair.new.get("format")
    if old == new:
        return False
    if old is not None and new is not None:
        return True
    # A format added to a request, or dropped from a response, takes a guarantee away.
    return new is not None if pair.direction == "request" else old is not None


@rule(
    "format-changed",
    "breaking",
    "schema",
    "A format was changed, added to a request or dropped from a response.",
)
def format_changed(pair: SchemaPair) -> Iterator[Hit]:
    if _format_change_breaks(pair):
        old, new = pair.old.get("format"), pair.new.get("format")
        yield Hit("", f"format changed: old {old or 'none'}, new {new or 'none'}")


# --- schema scope: request constraints ---------------------------------------------------


@dataclass(frozen=True)
class Bound:
    keywords: tuple[str, ...]
    upper: bool
    rule_name: str
    label: str


BOUNDS: tuple[Bound, ...] = (
    Bound(("maxLength",), True, "request-max-length-decreased", "maxLength"),
    Bound(("maxItems",), True, "request-max-items-decreased", "maxItems"),
    Bound(("maxProperties",), True, "request-max-properties-decreased", "maxProperties"),
    Bound(("maximum", "exclusiveMaximum"), True, "request-maximum-decreased", "maximum"),
    Bound(("x-max-json-bytes",), True, "request-max-json-bytes-decreased", "x-max-json-bytes"),
    Bound(("minLength",), False, "request-min-length-increased", "minLength"),
    Bound(("minItems",), False, "request-min-items-increased", "minItems"),
    Bound(("minProperties",), False, "request-min-properties-increased", "minProperties"),
    Bound(("minimum", "exclusiveMinimum"), False, "request-minimum-increased", "minimum"),
)


def _number(value: Any) -> float | None:
    # bool is an int subclass; 3.0's boolean exclusiveMaximum is not a bound of its own.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _bound_changes(pair: SchemaPair, bound: Bound) -> Iterator[tuple[str, Any, Any, bool]]:
    """(keyword, old, new, tightened) for every keyword of the bound whose value changed."""
    for keyword in bound.keywords:
        old, new = _number(pair.old.get(keyword)), _number(pair.new.get(keyword))
        if old == new:
            continue
        if old is None or new is None:
            tightened = new is not None
        else:
            tightened = new < old if bound.upper else new > old
        yield keyword, pair.old.get(keyword), pair.new.get(keyword), tightened


def _bound_rule(bound: Bound) -> None:
    verb = "lowered or added" if bound.upper else "raised or added"

    @rule(bound.rule_name, "breaking", "schema", f"A request {bound.label} was {verb}.")
    def check(pair: SchemaPair) -> Iterator[Hit]:
        if pair.direction != "request":
            return
        for keyword, old, new, tightened in _bound_changes(pair, bound):
            if tightened:
                before = "none" if old is None else show(old)
                yield Hit("", f"{keyword} tightened: old {before}, new {show(new)}")


for _bound in BOUNDS:
    _bound_rule(_bound)


def _pattern(schema: Schema) -> str | None:
    pattern = schema.get("pattern")
    return pattern if isinstance(pattern, str) else None


@rule("request-pattern-added", "breaking", "schema", "A request value gained a pattern.")
def request_pattern_added(pair: SchemaPair) -> Iterator[Hit]:
    old, new = _pattern(pair.old), _pattern(pair.new)
    if pair.direction == "request" and old is None and new is not None:
        yield Hit("", f"pattern added: old none, new {show(new)}")


@rule(
    "request-pattern-changed",
    "breaking",
    "schema",
    "A request pattern changed (whether it is wider cannot be decided in general).",
)
def request_pattern_changed(pair: SchemaPair) -> Iterator[Hit]:
    old, new = _pattern(pair.old), _pattern(pair.new)
    if pair.direction == "request" and old is not None and new is not None and old != new:
        yield Hit("", f"pattern changed: old {show(old)}, new {show(new)}")


def enum_values(schema: Schema) -> dict[str, Any] | None:
    """Allowed values keyed by their canonical JSON (`const` counts as a one-value enum)."""
    if isinstance(schema.get("enum"), list):
        return {show(v): v for v in schema["enum"]}
    if "const" in schema:
        return {show(schema["const"]): schema["const"]}
    return None


def _enum_pair(pair: SchemaPair) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    return enum_values(pair.old), enum_values(pair.new)


@rule(
    "request-enum-value-removed",
    "breaking",
    "schema",
    "A request enum (or const) no longer accepts a value it accepted.",
)
def request_enum_value_removed(pair: SchemaPair) -> Iterator[Hit]:
    old, new = _enum_pair(pair)
    if pair.direction != "request" or old is None or new is None:
        return
    for value in sorted(old.keys() - new.keys()):
        yield Hit("", f"enum value removed: old allowed {value}, new does not")


@rule(
    "request-became-enum",
    "breaking",
    "schema",
    "A free request value was restricted to an enum (or const).",
)
def request_became_enum(pair: SchemaPair) -> Iterator[Hit]:
    old, new = _enum_pair(pair)
    if pair.direction == "request" and old is None and new is not None:
        yield Hit("", f"restricted to enum: old any value, new {', '.join(sorted(new))}")


@rule(
    "response-enum-value-added",
    "warning",
    "schema",
    "A response enum gained a value (or lost its enum); clients may not handle it.",
)
def response_enum_value_added(pair: SchemaPair) -> Iterator[Hit]:
    old, new = _enum_pair(pair)
    if pair.direction != "response" or old is None:
        return
    if new is None:
        yield Hit("", "enum restriction removed: old enum, new any value")
        return
    for value in sorted(new.keys() - old.keys()):
        yield Hit("", f"enum value added: old did not return {value}, new may")


@rule(
    "response-enum-value-removed", "info", "schema", "A response enum value is no longer returned."
)
def response_enum_value_removed(pair: SchemaPair) -> Iterator[Hit]:
    old, new = _enum_pair(pair)
    if pair.direction != "response" or old is None or new is None:
        return
    for value in sorted(old.keys() - new.keys()):
        yield Hit("", f"enum value removed: old may return {value}, new does not")


# --- schema scope: relaxations -----------------------------------------------------------


def _relaxed_bounds(pair: SchemaPair) -> Iterator[Hit]:
    for bound in BOUNDS:
        for keyword, old, new, tightened in _bound_changes(pair, bound):
            if not tightened:
                after = "none" if new is None else show(new)
                yield Hit("", f"{keyword} relaxed: old {show(old)}, new {after}")


def _relaxed_vocabulary(pair: SchemaPair) -> Iterator[Hit]:
    if _pattern(pair.old) is not None and _pattern(pair.new) is None:
        yield Hit("", f"pattern removed: old {show(_pattern(pair.old))}, new none")
    old_enum, new_enum = _enum_pair(pair)
    if old_enum is not None and new_enum is None:
        yield Hit("", "enum removed: old enum, new any value")
    elif old_enum is not None and new_enum is not None:
        for value in sorted(new_enum.keys() - old_enum.keys()):
            yield Hit("", f"enum value added: old rejected {value}, new accepts it")
    if _closed(pair.old) and not _closed(pair.new):
        yield Hit("", "additionalProperties relaxed: old false, new allowed")


def _relaxed_shape(pair: SchemaPair) -> Iterator[Hit]:
    kept = _props(pair, pair.old) & _props(pair, pair.new)
    for name in sorted(kept & (_req(pair, pair.old) - _req(pair, pair.new))):
        yield Hit(name, "request property became optional: old required, new optional")
    change = _type_change(pair)
    if change and _type_change_is_safe(pair, *change):
        old, new = change
        yield Hit("", f"type widened: old {_type_text(old)}, new {_type_text(new)}")
    if pair.old.get("format") is not None and pair.new.get("format") is None:
        yield Hit("", f"format removed: old {pair.old['format']}, new none")


@rule(
    "request-constraint-relaxed",
    "info",
    "schema",
    "A request constraint was relaxed (bound widened or dropped, pattern/enum/format loosened).",
)
def request_constraint_relaxed(pair: SchemaPair) -> Iterator[Hit]:
    if pair.direction != "request":
        return
    yield from _relaxed_bounds(pair)
    yield from _relaxed_vocabulary(pair)
    yield from _relaxed_shape(pair)


# --- schema scope: composition -----------------------------------------------------------


def variants(schema: Schema) -> tuple[str, list[Any]] | None:
    """The `oneOf` / `anyOf` list of a schema, with its keyword."""
    for keyword in ("oneOf", "anyOf"):
        if isinstance(schema.get(keyword), list):
            return keyword, schema[keyword]
    return None


def _variant_counts(pair: SchemaPair) -> tuple[str, int, int] | None:
    old, new = variants(pair.old), variants(pair.new)
    if old is None or new is None or len(old[1]) == len(new[1]):
        return None
    return new[0], len(old[1]), len(new[1])


@rule(
    "request-variant-removed",
    "breaking",
    "schema",
    "A request oneOf/anyOf lost an alternative clients may send.",
)
def request_variant_removed(pair: SchemaPair) -> Iterator[Hit]:
    counts = _variant_counts(pair)
    if pair.direction == "request" and counts and counts[2] < counts[1]:
        keyword, old, new = counts
        yield Hit("", f"{keyword} alternatives removed: old {old}, new {new}")


@rule(
    "response-variant-added",
    "warning",
    "schema",
    "A response oneOf/anyOf gained an alternative clients may not handle.",
)
def response_variant_added(pair: SchemaPair) -> Iterator[Hit]:
    counts = _variant_counts(pair)
    if pair.direction == "response" and counts and counts[2] > counts[1]:
        keyword, old, new = counts
        yield Hit("", f"{keyword} alternatives added: old {old}, new {new}")
