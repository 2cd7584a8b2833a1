"""Each compatibility rule fires on its breaking variant and stays quiet on the compatible one."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from wfcontracts.compat.diff import Finding, diff_contracts
from wfcontracts.compat.loading import load_document
from wfcontracts.compat.rules import RULES, rule

LIST_PATH = "/workflows/executions/list"
DETAIL_PATH = "/workflows/executions/{executionId}"
OK = {"description": "ok"}


def api(paths: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths, **extra}


def obj(props: dict[str, Any], required: tuple[str, ...] = (), **keywords: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required), **keywords}


def string(**keywords: Any) -> dict[str, Any]:
    return {"type": "string", **keywords}


def media(schema: dict[str, Any], types: tuple[str, ...] = ("application/json",)) -> dict[str, Any]:
    return {"content": {t: {"schema": schema} for t in types}}


def request(
    schema: dict[str, Any],
    *,
    required: bool = True,
    types: tuple[str, ...] = ("application/json",),
) -> dict[str, Any]:
    """POST list-executions whose request body is `schema`."""
    body = {"required": required, **media(schema, types)}
    return api({LIST_PATH: {"post": {"requestBody": body, "responses": {"200": OK}}}})


def request_property(**keywords: Any) -> dict[str, Any]:
    """A request body with one property `value` described by `keywords`."""
    return request(obj({"value": keywords}))


def response(
    schema: dict[str, Any],
    *,
    types: tuple[str, ...] = ("application/json",),
    links: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """GET execution whose 200 response body is `schema`."""
    ok: dict[str, Any] = {"description": "ok", **media(schema, types)}
    if links is not None:
        ok["links"] = links
    return api({DETAIL_PATH: {"get": {"responses": {"200": ok}}}})


def response_property(**keywords: Any) -> dict[str, Any]:
    return response(obj({"value": keywords}, required=("value",)))


def with_header(name: str, *, required: bool) -> dict[str, Any]:
    header = {"required": required, "schema": string()}
    ok = {"description": "ok", "headers": {name: header}}
    return api({DETAIL_PATH: {"get": {"responses": {"200": ok}}}})


def statuses(*codes: str) -> dict[str, Any]:
    return api({DETAIL_PATH: {"get": {"responses": dict.fromkeys(codes, OK)}}})


def operations(*keys: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for key in keys:
        method, path = key.split(" ", 1)
        paths.setdefault(path, {})[method.lower()] = {"responses": {"200": OK}}
    return api(paths)


def query(name: str, *, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": {"type": "string"}}


def with_parameters(*parameters: dict[str, Any]) -> dict[str, Any]:
    path_param = {"name": "executionId", "in": "path", "required": True, "schema": string()}
    operation = {"parameters": [path_param, *parameters], "responses": {"200": OK}}
    return api({DETAIL_PATH: {"get": operation}})


def secured(
    requirement: dict[str, list[str]], scheme_description: str = "bearer token"
) -> dict[str, Any]:
    schemes = {
        "bearer": {"type": "http", "scheme": "bearer", "description": scheme_description},
        "oauth": {
            "type": "oauth2",
            "flows": {"clientCredentials": {"tokenUrl": "https://idp/token", "scopes": {}}},
        },
    }
    document = operations(f"GET {DETAIL_PATH}")
    document["components"] = {"securitySchemes": schemes}
    document["security"] = [requirement]
    return document


def link(parameter: str = "$response.body#/id", description: str = "") -> dict[str, Any]:
    return {
        "operationId": "retrieveExecution",
        "parameters": {"executionId": parameter},
        "description": description,
    }


# --- one firing and one quiet pair per rule ---------------------------------------------

R, S = request_property, response_property
FIRES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "operation-removed": (
        operations(f"GET {DETAIL_PATH}", f"POST {LIST_PATH}"),
        operations(f"GET {DETAIL_PATH}"),
    ),
    "operation-added": (
        operations(f"GET {DETAIL_PATH}"),
        operations(f"GET {DETAIL_PATH}", f"POST {LIST_PATH}"),
    ),
    "response-status-removed": (statuses("200", "400"), statuses("200")),
    "response-status-added": (statuses("200"), statuses("200", "400")),
    "response-media-type-removed": (
        response(string(), types=("application/json", "text/plain")),
        response(string()),
    ),
    "request-media-type-removed": (
        request(string(), types=("application/json", "text/plain")),
        request(string()),
    ),
    "request-body-became-required": (request(obj({}), required=False), request(obj({}))),
    "request-parameter-added-required": (
        with_parameters(),
        with_parameters(query("cursor", required=True)),
    ),
    "request-parameter-added": (with_parameters(), with_parameters(query("cursor"))),
    "request-parameter-became-required": (
        with_parameters(query("cursor")),
        with_parameters(query("cursor", required=True)),
    ),
    "request-parameter-removed": (with_parameters(query("cursor")), with_parameters()),
    "security-changed": (secured({"bearer": []}), secured({"oauth": ["read"]})),
    "link-removed": (response(obj({}), links={"Retrieve": link()}), response(obj({}), links={})),
    "response-header-removed": (with_header("x-request-id", required=True), statuses("200")),
    "response-optional-header-removed": (
        with_header("x-request-id", required=False),
        statuses("200"),
    ),
    "link-changed": (
        response(obj({}), links={"Retrieve": link()}),
        response(obj({}), links={"Retrieve": link("$response.body#/executionId")}),
    ),
    "link-added": (response(obj({}), links={}), response(obj({}), links={"Retrieve": link()})),
    "response-property-removed": (
        response(obj({"id": string(), "status": string()}, required=("id", "status"))),
        response(obj({"id": string()}, required=("id",))),
    ),
    "response-optional-property-removed": (
        response(obj({"id": string(), "endTime": string()})),
        response(obj({"id": string()})),
    ),
    "response-property-became-optional": (
        response(obj({"id": string()}, required=("id",))),
        response(obj({"id": string()})),
    ),
    "response-property-added": (
        response(obj({"id": string()})),
        response(obj({"id": string(), "endTime": string()})),
    ),
    "request-property-became-required": (
        request(obj({"reason": string()})),
        request(obj({"reason": string()}, required=("reason",))),
    ),
    "request-property-added-required": (
        request(obj({})),
        request(obj({"nonce": string()}, required=("nonce",))),
    ),
    "request-property-added": (request(obj({})), request(obj({"reason": string()}))),
    "request-property-removed": (request(obj({"reason": string()})), request(obj({}))),
    "request-additional-properties-disallowed": (
        request(obj({})),
        request(obj({}, additionalProperties=False)),
    ),
    "type-changed": (R(type="string"), R(type="integer")),
    "response-type-narrowed": (S(type=["string", "null"]), S(type="string")),
    "format-changed": (R(type="string", format="date-time"), R(type="string", format="uuid")),
    "request-max-length-decreased": (R(maxLength=255), R(maxLength=128)),
    "request-max-items-decreased": (R(maxItems=100), R(maxItems=10)),
    "request-max-properties-decreased": (R(maxProperties=10), R(maxProperties=5)),
    "request-maximum-decreased": (R(maximum=1000), R(maximum=100)),
    "request-max-json-bytes-decreased": (
        R(**{"x-max-json-bytes": 102400}),
        R(**{"x-max-json-bytes": 51200}),
    ),
    "request-min-length-increased": (R(minLength=1), R(minLength=2)),
    "request-min-items-increased": (R(minItems=0), R(minItems=1)),
    "request-min-properties-increased": (R(minProperties=0), R(minProperties=1)),
    "request-minimum-increased": (R(minimum=0), R(minimum=1)),
    "request-pattern-added": (R(type="string"), R(type="string", pattern="^\\S.*$")),
    "request-pattern-changed": (R(pattern="^a"), R(pattern="^b")),
    "request-enum-value-removed": (R(enum=["A", "B"]), R(enum=["A"])),
    "request-became-enum": (R(type="string"), R(type="string", enum=["A"])),
    "response-enum-value-added": (S(enum=["RUNNING"]), S(enum=["RUNNING", "TERMINATED"])),
    "response-enum-value-removed": (S(enum=["RUNNING", "TERMINATED"]), S(enum=["RUNNING"])),
    "request-constraint-relaxed": (R(maxLength=10), R(maxLength=20)),
    "request-variant-removed": (
        R(oneOf=[string(), {"type": "integer"}]),
        R(oneOf=[string()]),
    ),
    "response-variant-added": (
        S(oneOf=[string()]),
        S(oneOf=[string(), {"type": "integer"}]),
    ),
}

QUIET: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "operation-removed": FIRES["operation-added"],
    "operation-added": FIRES["operation-removed"],
    "response-status-removed": FIRES["response-status-added"],
    "response-status-added": FIRES["response-status-removed"],
    "response-media-type-removed": (
        response(string()),
        response(string(), types=("application/json", "text/plain")),
    ),
    "request-media-type-removed": (
        request(string()),
        request(string(), types=("application/json", "text/plain")),
    ),
    "request-body-became-required": (request(obj({})), request(obj({}), required=False)),
    "request-parameter-added-required": FIRES["request-parameter-added"],
    "request-parameter-added": FIRES["request-parameter-added-required"],
    "request-parameter-became-required": (
        with_parameters(query("cursor", required=True)),
        with_parameters(query("cursor")),
    ),
    "request-parameter-removed": FIRES["request-parameter-added"],
    "security-changed": (
        secured({"bearer": []}),
        secured({"bearer": []}, scheme_description="a CDF access token"),
    ),
    "link-removed": FIRES["link-added"],
    "response-header-removed": (
        with_header("x-request-id", required=True),
        with_header("X-Request-Id", required=True),
    ),
    "response-optional-header-removed": (
        statuses("200"),
        with_header("x-request-id", required=False),
    ),
    "link-changed": (
        response(obj({}), links={"Retrieve": link()}),
        response(obj({}), links={"Retrieve": link(description="reads the execution")}),
    ),
    "link-added": FIRES["link-removed"],
    "response-property-removed": FIRES["response-optional-property-removed"],
    "response-optional-property-removed": FIRES["response-property-added"],
    "response-property-became-optional": (
        response(obj({"id": string()})),
        response(obj({"id": string()}, required=("id",))),
    ),
    "response-property-added": FIRES["response-optional-property-removed"],
    "request-property-became-required": (
        request(obj({"reason": string()}, required=("reason",))),
        request(obj({"reason": string()})),
    ),
    "request-property-added-required": FIRES["request-property-added"],
    "request-property-added": FIRES["request-property-added-required"],
    "request-property-removed": FIRES["request-property-added"],
    "request-additional-properties-disallowed": (
        request(obj({}, additionalProperties=False)),
        request(obj({})),
    ),
    "type-changed": (R(type="string"), R(type=["string", "null"])),
    "response-type-narrowed": (S(type="string"), S(type=["string", "null"])),
    "format-changed": (R(type="string", format="uuid"), R(type="string")),
    "request-max-length-decreased": (R(maxLength=128), R(maxLength=255)),
    "request-max-items-decreased": (R(maxItems=10), R(maxItems=100)),
    "request-max-properties-decreased": (R(maxProperties=5), R(maxProperties=10)),
    "request-maximum-decreased": (R(maximum=100), R(maximum=1000)),
    "request-max-json-bytes-decreased": (
        R(**{"x-max-json-bytes": 51200}),
        R(**{"x-max-json-bytes": 102400}),
    ),
    "request-min-length-increased": (R(minLength=2), R(minLength=1)),
    "request-min-items-increased": (R(minItems=1), R()),
    "request-min-properties-increased": (R(minProperties=1), R(minProperties=0)),
    "request-minimum-increased": (R(minimum=1), R(minimum=0)),
    "request-pattern-added": (R(type="string", pattern="^a"), R(type="string")),
    "request-pattern-changed": (R(pattern="^a"), R(pattern="^a")),
    "request-enum-value-removed": (R(enum=["A"]), R(enum=["A", "B"])),
    "request-became-enum": (R(type="string", enum=["A"]), R(type="string")),
    "response-enum-value-added": (S(enum=["RUNNING", "TERMINATED"]), S(enum=["RUNNING"])),
    "response-enum-value-removed": (S(enum=["RUNNING"]), S(enum=["RUNNING", "TERMINATED"])),
    "request-constraint-relaxed": (R(maxLength=20), R(maxLength=10)),
    "request-variant-removed": (
        R(oneOf=[string()]),
        R(oneOf=[string(), {"type": "integer"}]),
    ),
    "response-variant-added": (
        S(oneOf=[string(), {"type": "integer"}]),
        S(oneOf=[string()]),
    ),
}


def fired(old: dict[str, Any], new: dict[str, Any], rule: str) -> list[Finding]:
    return [f for f in diff_contracts(old, new) if f.rule == rule]


def test_every_rule_has_a_firing_and_a_quiet_case() -> None:
    assert sorted(FIRES) == sorted(RULES)
    assert sorted(QUIET) == sorted(RULES)


@pytest.mark.parametrize("rule", sorted(FIRES))
def test_rule_fires_on_its_variant(rule: str) -> None:
    findings = fired(*FIRES[rule], rule)
    assert findings, f"{rule} did not fire"
    assert {f.severity for f in findings} == {RULES[rule].severity}
    assert all(
        "old" in f.message and "new" in f.message and "\n" not in f.message for f in findings
    )


@pytest.mark.parametrize("rule", sorted(QUIET))
def test_rule_stays_quiet_on_the_compatible_variant(rule: str) -> None:
    assert fired(*QUIET[rule], rule) == []


@pytest.mark.parametrize("rule", sorted(FIRES))
def test_each_side_compared_with_itself_reports_nothing(rule: str) -> None:
    old, new = FIRES[rule]
    assert diff_contracts(old, copy.deepcopy(old)) == []
    assert diff_contracts(new, copy.deepcopy(new)) == []


def test_registry_entries_are_complete() -> None:
    for name, entry in RULES.items():
        assert entry.name == name
        assert entry.severity in ("breaking", "warning", "info")
        assert entry.description.endswith(".")


def test_registering_a_rule_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="operation-removed"):
        rule("operation-removed", "info", "api", "Duplicate.")(lambda pair: iter(()))


# --- locations, messages and walking -----------------------------------------------------


def test_location_names_operation_body_and_dotted_property_path() -> None:
    limit = {"type": "integer", "maximum": 1000}
    old = request(obj({"filter": obj({"limit": limit})}))
    new = request(obj({"filter": obj({"limit": {**limit, "maximum": 100}})}))
    assert diff_contracts(old, new) == [
        Finding(
            "request-maximum-decreased",
            "breaking",
            "POST /workflows/executions/list request body filter.limit",
            "maximum tightened: old 1000, new 100",
        )
    ]


def test_array_items_and_additional_properties_are_walked() -> None:
    def shape(max_length: int) -> dict[str, Any]:
        tasks = {"type": "array", "items": obj({"externalId": string(maxLength=max_length)})}
        metadata = {"type": "object", "additionalProperties": string(maxLength=max_length)}
        return request(obj({"tasks": tasks, "metadata": metadata}))

    locations = {f.location.rsplit(" ", 1)[-1] for f in diff_contracts(shape(255), shape(32))}
    assert locations == {"tasks[].externalId", "metadata.*"}


def test_response_property_removed_names_the_property() -> None:
    (finding,) = fired(*FIRES["response-property-removed"], "response-property-removed")
    assert finding.location == "GET /workflows/executions/{executionId} response 200 body status"
    assert finding.message == "response property removed: old required, new absent"


def test_response_type_widening_is_breaking() -> None:
    (finding,) = fired(S(type="string"), S(type=["string", "null"]), "type-changed")
    assert finding.message == "type changed: old string, new null|string"


def test_integer_to_number_widens_a_request_and_breaks_a_response() -> None:
    assert fired(R(type="integer"), R(type="number"), "type-changed") == []
    assert fired(S(type="integer"), S(type="number"), "type-changed")


def test_openapi_30_nullable_counts_as_a_null_type() -> None:
    assert fired(S(type="string"), S(type="string", nullable=True), "type-changed")


def test_const_is_a_one_value_enum() -> None:
    (finding,) = fired(R(const="abortWorkflow"), R(const="skipTask"), "request-enum-value-removed")
    assert finding.message == 'enum value removed: old allowed "abortWorkflow", new does not'


def test_refs_are_resolved_and_reported_where_used() -> None:
    def document(max_length: int) -> dict[str, Any]:
        doc = request(obj({"workflowExternalId": {"$ref": "#/components/schemas/ExternalId"}}))
        doc["components"] = {"schemas": {"ExternalId": string(maxLength=max_length)}}
        return doc

    (finding,) = diff_contracts(document(255), document(100))
    assert finding.location.endswith("request body workflowExternalId")


def test_recursive_schemas_terminate() -> None:
    def document(maximum: int) -> dict[str, Any]:
        node = obj({"child": {"$ref": "#/components/schemas/Node"}, "n": {"maximum": maximum}})
        doc = request({"$ref": "#/components/schemas/Node"})
        doc["components"] = {"schemas": {"Node": node}}
        return doc

    assert [f.location for f in diff_contracts(document(5), document(4))] == [
        "POST /workflows/executions/list request body n"
    ]


def test_all_of_branches_are_flattened() -> None:
    both = response(
        {"allOf": [obj({"id": string()}, ("id",)), obj({"status": string()}, ("status",))]}
    )
    moved = response(
        {"allOf": [obj({"id": string(), "status": string()}, ("id", "status")), obj({})]}
    )
    shrunk = response({"allOf": [obj({"id": string()}, ("id",))]})
    assert diff_contracts(both, moved) == []
    assert [f.rule for f in diff_contracts(both, shrunk)] == ["response-property-removed"]


def test_one_of_branches_pair_by_ref_name_not_position() -> None:
    schemas = {"Cdf": obj({"resourcePath": string(maxLength=10)}), "Fn": obj({"id": string()})}
    old = request(
        {"oneOf": [{"$ref": "#/components/schemas/Cdf"}, {"$ref": "#/components/schemas/Fn"}]}
    )
    new = copy.deepcopy(old)
    new["paths"][LIST_PATH]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "oneOf"
    ].reverse()
    old["components"] = {"schemas": schemas}
    new["components"] = copy.deepcopy({"schemas": schemas})
    assert diff_contracts(old, new) == []
    new["components"]["schemas"]["Cdf"]["properties"]["resourcePath"]["maxLength"] = 5
    (finding,) = diff_contracts(old, new)
    assert finding.location.endswith("request body [oneOf:Cdf].resourcePath")


def test_renamed_path_parameter_is_the_same_operation() -> None:
    old = with_parameters()
    new = copy.deepcopy(old)
    operation = new["paths"].pop(DETAIL_PATH)
    operation["get"]["parameters"][0]["name"] = "id"
    new["paths"]["/workflows/executions/{id}"] = operation
    assert diff_contracts(old, new) == []


def test_yaml_integer_status_codes_match_string_ones() -> None:
    old = statuses("200", "404")
    new = copy.deepcopy(old)
    responses = new["paths"][DETAIL_PATH]["get"]["responses"]
    new["paths"][DETAIL_PATH]["get"]["responses"] = {int(k): v for k, v in responses.items()}
    assert diff_contracts(old, new) == []


def test_operation_security_overrides_global_security() -> None:
    old = secured({"bearer": []})
    new = copy.deepcopy(old)
    new["paths"][DETAIL_PATH]["get"]["security"] = []
    (finding,) = diff_contracts(old, new)
    assert finding.message == "security changed: old bearer[], new none"


# --- whole contracts ---------------------------------------------------------------------


def rich_contract() -> dict[str, Any]:
    """3.1 features together: type arrays, const, vendor keywords, refs, allOf, links, security."""
    execution = {
        "allOf": [
            obj({"id": string(format="uuid", minLength=36, maxLength=36)}, ("id",)),
            obj(
                {
                    "status": string(enum=["RUNNING", "COMPLETED", "FAILED", "TERMINATED"]),
                    "endTime": {"type": ["integer", "null"], "minimum": 0},
                    "input": {"type": "object", "x-max-json-bytes": 102400},
                },
                ("status",),
            ),
        ]
    }
    run_body = obj(
        {
            "input": {"type": "object", "x-max-json-bytes": 102400},
            "metadata": {"type": "object", "maxProperties": 10, "additionalProperties": string()},
            "authentication": obj({"nonce": string()}, ("nonce",)),
            "kind": {"const": "run"},
        },
        ("authentication",),
        additionalProperties=False,
    )
    links = {"Retrieve": link()}
    document = request(run_body)
    document["paths"][DETAIL_PATH] = {
        "parameters": [{"name": "executionId", "in": "path", "required": True, "schema": string()}],
        "get": {
            "responses": {
                "200": {
                    "description": "ok",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Execution"}}
                    },
                    "links": links,
                }
            }
        },
    }
    document["components"] = {
        "schemas": {"Execution": execution},
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    }
    document["security"] = [{"bearer": []}]
    return document


def test_a_contract_compared_with_itself_reports_nothing() -> None:
    assert diff_contracts(rich_contract(), rich_contract()) == []


def test_findings_are_sorted_and_deterministic() -> None:
    old = rich_contract()
    new = rich_contract()
    execution = new["components"]["schemas"]["Execution"]["allOf"][1]
    execution["properties"]["status"]["enum"].append("TIMED_OUT")
    del execution["properties"]["endTime"]
    execution["required"] = []
    body = new["paths"][LIST_PATH]["post"]["requestBody"]["content"]["application/json"]["schema"]
    body["properties"]["input"]["x-max-json-bytes"] = 1024
    body["properties"]["reason"] = string()
    del new["paths"][DETAIL_PATH]["get"]["responses"]["200"]["links"]
    first = diff_contracts(old, new)
    reordered = {key: new[key] for key in reversed(list(new))}
    assert diff_contracts(old, reordered) == first == diff_contracts(old, new)
    assert [f.severity for f in first] == sorted(
        (f.severity for f in first), key=("breaking", "warning", "info").index
    )
    assert {f.rule for f in first} == {
        "link-removed",
        "request-max-json-bytes-decreased",
        "response-property-became-optional",
        "response-optional-property-removed",
        "response-enum-value-added",
        "request-property-added",
    }


def test_shipped_contract_compared_with_itself_reports_nothing() -> None:
    contracts = sorted((Path(__file__).parents[2] / "contracts").glob("*.openapi.yaml"))
    if not contracts:
        pytest.skip("no contracts/*.openapi.yaml yet")
    for path in contracts:
        document = load_document(path)
        assert diff_contracts(document, copy.deepcopy(document)) == []


def test_read_only_properties_are_not_request_fields() -> None:
    old = request(obj({}))
    new = request(obj({"id": string(readOnly=True)}, required=("id",)))
    assert diff_contracts(old, new) == []


def test_parameter_schemas_are_compared_where_the_parameter_lives() -> None:
    def document(maximum: int) -> dict[str, Any]:
        limit = {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": maximum}}
        return with_parameters(limit)

    (finding,) = diff_contracts(document(1000), document(100))
    assert finding.location == "GET /workflows/executions/{executionId} query parameter limit"


def test_header_parameter_names_are_case_insensitive() -> None:
    header = {"name": "X-Request-Id", "in": "header", "schema": string()}
    renamed = {**header, "name": "x-request-id"}
    assert diff_contracts(with_parameters(header), with_parameters(renamed)) == []


def test_compat_rules_document_lists_every_rule_with_its_severity() -> None:
    document = (Path(__file__).parents[2] / "contracts" / "COMPAT_RULES.md").read_text("utf-8")
    rows = {
        cells[1].strip("` "): cells[2].strip()
        for cells in (line.split("|") for line in document.splitlines())
        if len(cells) > 3 and cells[1].strip().startswith("`")
    }
    assert {name: rows.get(name) for name in RULES} == {n: r.severity for n, r in RULES.items()}
