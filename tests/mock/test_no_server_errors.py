"""No 500 is reachable from outside.

Three angles: schemathesis generates valid and invalid requests for every contract operation and
sends them over loopback to a served mock; hypothesis throws adversarial bytes (random bytes,
deep nesting, huge numbers, invalid UTF-8, odd content types and encodings, gzip garbage) at
every route, contract and control plane, through the in-process dispatcher (many examples) and
over real HTTP (fewer). Small, seeded budgets so it runs in CI on every push; `suites/fuzz/` runs
the big campaigns.
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from wfcontracts.contract import Contract, load_contract
from wfcontracts.contract.loader import default_contract_path
from wfcontracts.mock.clock import VirtualClock
from wfcontracts.mock.http import MAX_JSON_DEPTH, MockRequest, MockResponse, _deeper_than
from wfcontracts.mock.server import BackgroundServer, serve_in_background
from wfcontracts.mock.service import MockService

TOKEN = "no-server-errors-token"
PROJECT = "fuzzed"
MAX_EXAMPLES = 30
SEED = 20240611

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES, "mode": "all", "deterministic": True},
    }
)
schema = schemathesis.openapi.from_path(str(default_contract_path()), config=CONFIG)


@pytest.fixture(scope="module")
def api_root() -> Iterator[str]:
    service = MockService(tokens=[TOKEN], task_latency_ms=0)
    _seed(service)
    with serve_in_background(service) as server:
        yield _root(server)


def _root(server: BackgroundServer) -> str:
    return f"{server.base_url}/api/v1/projects/{PROJECT}"


def _seed(service: MockService) -> dict[str, list[str]]:
    """Real state to hit, so generated requests reach more than the 404 paths; returns the ids
    worth putting into paths."""
    task = {
        "externalId": "wait",
        "type": "function",
        "parameters": {"function": {"externalId": "fn"}, "isAsyncComplete": True},
    }
    backend = service.backend
    executions: list[str] = []
    for workflow in ("seeded", "a"):
        backend.upsert_version(
            PROJECT,
            {
                "workflowExternalId": workflow,
                "version": "1",
                "workflowDefinition": {"tasks": [task]},
            },
        )
        run_body: dict[str, Any] = {"authentication": {"nonce": "n"}, "input": {"x": 1}}
        for _ in range(3):
            executions.append(backend.run_execution(PROJECT, workflow, "1", run_body)["id"])
    backend.advance()  # start the waiting tasks, so task ids exist
    tasks = [
        task["id"]
        for execution in executions
        for task in backend.retrieve_execution(PROJECT, execution).get("executedTasks", [])
    ]
    return {
        "workflowExternalId": ["seeded", "a"],
        "version": ["1"],
        "executionId": executions,
        "taskId": tasks,
    }


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(case: schemathesis.Case[Any], api_root: str) -> None:
    case.call_and_validate(
        base_url=api_root,
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=[not_a_server_error],
        timeout=10,
    )


# -- adversarial bytes, every route -------------------------------------------------------------

CONTROL_ROUTES = [
    ("POST", "/_mock/reset"),
    ("GET", "/_mock/clock"),
    ("POST", "/_mock/clock"),
    ("GET", "/_mock/faults"),
    ("PUT", "/_mock/faults"),
    ("GET", "/_mock/tokens"),
    ("PUT", "/_mock/tokens"),
    ("DELETE", "/_mock/faults"),
    ("GET", "/_mock/nowhere"),
]


@functools.cache
def _contract() -> Contract:
    return load_contract()


def _api_routes() -> list[tuple[str, str]]:
    return sorted(
        (op.method.upper(), f"/api/v1/projects/{PROJECT}{op.path_template}")
        for op in _contract().operations.values()
    )


ROUTES = _api_routes() + CONTROL_ROUTES

# What a body is made of: enough JSON shape to get past the parser into validation and the
# domain, and enough garbage to try every guard in front of them.
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["RUNNING", "FAILED", "COMPLETED", "${workflow.input}", "", "1", "seeded"]),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(
                st.sampled_from(
                    [
                        "items",
                        "filter",
                        "limit",
                        "cursor",
                        "externalId",
                        "version",
                        "workflowExternalId",
                        "workflowDefinition",
                        "tasks",
                        "authentication",
                        "nonce",
                        "input",
                        "metadata",
                        "status",
                        "output",
                        "reason",
                        "workflowFilters",
                        "createdTimeStart",
                        "tokenExchange",
                        "parameters",
                    ]
                ),
                st.text(max_size=10),
            ),
            inner,
            max_size=5,
        ),
    ),
    max_leaves=25,
)


def _deep(depth: int, opener: str, closer: str, core: str = "1") -> bytes:
    return (opener * depth + core + closer * depth).encode()


_NESTINGS = [
    ("[", "]"),
    ('{"a":', "}"),
    ('{"items":[', "]}"),
    ('{"input":', "}"),
    ('{"filter":{"workflowFilters":[', "]}}"),
]
_deep_bodies = st.builds(
    lambda depth, nesting: _deep(depth, *nesting),
    st.integers(min_value=MAX_JSON_DEPTH - 2, max_value=5000),
    st.sampled_from(_NESTINGS),
)
_numbers = st.one_of(
    st.integers(min_value=300, max_value=20000).map(
        lambda n: b'{"limit": 1e' + str(n).encode() + b"}"
    ),
    st.integers(min_value=1, max_value=6000).map(lambda n: b'{"limit": ' + b"9" * n + b"}"),
    st.sampled_from(
        [
            b"NaN",
            b"Infinity",
            b"-Infinity",
            b'{"limit": NaN}',
            b'{"input": {"x": -Infinity}}',
            b'{"limit": -0}',
            b'{"limit": 1.0e-99999}',
            b'{"limit": 10.0}',
            b'{"limit": true}',
        ]
    ),
)
_invalid_utf8 = st.one_of(
    st.binary(min_size=1, max_size=40).map(lambda b: b'{"items": [{"externalId": "' + b + b'"}]}'),
    st.sampled_from([b"\xff\xfe{\x00}\x00", b'{"a": "\xc3("}', b"\xed\xa0\x80", b"\x00" * 8]),
)
_ids = st.one_of(st.sampled_from(["seeded", "a", "1", "wait"]), st.text(max_size=12))
_task = st.fixed_dictionaries(
    {
        "externalId": _ids,
        "type": st.sampled_from(
            ["function", "transformation", "cdf", "dynamic", "subworkflow", "simulation", "x"]
        ),
        "parameters": _json,
    },
    optional={
        "dependsOn": st.lists(st.fixed_dictionaries({"externalId": _ids}), max_size=2),
        "retries": _scalars,
        "timeout": _scalars,
        "onFailure": st.sampled_from(["abortWorkflow", "skipTask", "x"]),
        "isAsyncComplete": _scalars,
    },
)
_run = st.fixed_dictionaries(
    {
        "authentication": st.fixed_dictionaries(
            {"nonce": st.one_of(st.just("n"), st.just("n"), _scalars)}
        )
    },
    optional={
        "input": st.dictionaries(st.text(max_size=10), _json, max_size=4),
        "metadata": st.dictionaries(st.text(max_size=40), st.text(max_size=300), max_size=12),
    },
)
_filters = st.lists(
    st.fixed_dictionaries({"externalId": _ids}, optional={"version": _ids}), max_size=2
)
# Bodies shaped like each operation's (by path suffix), with odd values where the schema leaves
# room: these get past validation into the domain.
_SHAPED: dict[str, st.SearchStrategy[Any]] = {
    "/workflows": st.fixed_dictionaries(
        {"items": st.lists(st.fixed_dictionaries({"externalId": _ids}), min_size=1, max_size=2)},
        optional={"dataSetId": _scalars, "maxConcurrentExecutions": _scalars},
    ),
    "/workflows/delete": st.fixed_dictionaries(
        {"items": st.lists(st.fixed_dictionaries({"externalId": _ids}), max_size=2)}
    ),
    "/workflows/versions": st.builds(
        lambda wf, version, tasks: {
            "items": [
                {
                    "workflowExternalId": wf,
                    "version": version,
                    "workflowDefinition": {"tasks": tasks},
                }
            ]
        },
        _ids,
        _ids,
        st.lists(_task, max_size=3),
    ),
    "/workflows/versions/list": st.fixed_dictionaries(
        {},
        optional={
            "filter": st.fixed_dictionaries({"workflowFilters": _filters}),
            "limit": _scalars,
        },
    ),
    "/workflows/versions/delete": st.fixed_dictionaries(
        {"items": st.lists(st.fixed_dictionaries({"workflowExternalId": _ids, "version": _ids}))}
    ),
    "/run": _run,
    "/retry": _run,
    "/workflows/executions/list": st.fixed_dictionaries(
        {},
        optional={
            "filter": st.fixed_dictionaries(
                {},
                optional={
                    "workflowFilters": _filters,
                    "status": st.lists(st.sampled_from(["RUNNING", "FAILED", "x"]), max_size=2),
                    "createdTimeStart": _scalars,
                    "createdTimeEnd": _scalars,
                },
            ),
            "limit": _scalars,
            "cursor": _scalars,
        },
    ),
    "/update": st.fixed_dictionaries(
        {"status": st.sampled_from(["COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "x"])},
        optional={"output": _json},
    ),
    "/cancel": st.fixed_dictionaries({}, optional={"reason": _scalars}),
    "/sessions": st.just({"items": [{"tokenExchange": True}]}),
}


def _shaped_for(path: str) -> st.SearchStrategy[bytes]:
    suffixes = [suffix for suffix in _SHAPED if path.endswith(suffix)]
    shaped = _SHAPED[max(suffixes, key=len)] if suffixes else _json
    return shaped.map(lambda value: json.dumps(value).encode())


_json_bodies = _json.map(lambda value: json.dumps(value).encode())
_plain_bodies = st.one_of(
    st.binary(max_size=300),
    _json_bodies,
    _deep_bodies,
    _numbers,
    _invalid_utf8,
    st.just(b""),
)
_gzip_bodies = st.one_of(
    _plain_bodies.map(gzip.compress),
    st.tuples(_plain_bodies.map(gzip.compress), st.integers(0, 40)).map(lambda t: t[0][: t[1]]),
    st.binary(max_size=100),
    st.just(b"\x1f\x8b\x08\x00" + b"\x00" * 20),
)
_content_types = st.one_of(
    st.sampled_from(
        [
            None,
            *["application/json"] * 12,
            "application/json; charset=utf-16",
            "text/plain",
            "",
            "application/problem+json",
            "multipart/form-data; boundary=x",
            "*/*",
            ";;;",
            "application/x-www-form-urlencoded",
            "APPLICATION/JSON",
        ]
    ),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
)


@st.composite
def _bodies(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """A body and the headers that describe it (or lie about it)."""
    headers: dict[str, str] = {}
    content_type = draw(_content_types)
    if content_type is not None:
        headers["content-type"] = content_type
    encoding = draw(st.sampled_from([None, None, "gzip", "GZIP", "deflate", "br", "gzip, br"]))
    if encoding is not None:
        headers["content-encoding"] = encoding
        return draw(_gzip_bodies if "gzip" in encoding.lower() else _plain_bodies), headers
    return draw(_plain_bodies), headers


_segment = st.one_of(
    st.text(max_size=40).map(lambda t: quote(t, safe="")),
    st.sampled_from(["%", "%zz", "%ff%fe", "..", "%2F", "a/b", " x ", "%00", "~" * 300]),
)


@st.composite
def _requests(draw: st.DrawFn, ids: dict[str, list[str]], headers_ok: bool) -> MockRequest:
    method, template = draw(st.sampled_from(ROUTES))
    method = draw(st.sampled_from([method] * 8 + ["GET", "POST", "PUT", "DELETE", "PATCH"]))
    path = template
    for name, known in ids.items():
        placeholder = "{" + name + "}"
        if placeholder in path:
            known_or_odd = [st.sampled_from(known)] * 3 if known else []
            value = draw(st.one_of(*known_or_odd, _segment))
            path = path.replace(placeholder, value)
    if draw(st.booleans()):
        body, headers = draw(_shaped_for(template)), {"content-type": "application/json"}
    else:
        body, headers = draw(_bodies())
    auth = draw(st.sampled_from([f"Bearer {TOKEN}"] * 6 + ["", "Bearer", f"bearer  {TOKEN} "]))
    if auth:
        headers["authorization"] = auth
    if headers_ok:  # what an HTTP client can put on the wire: no spaces at the ends, no CR/LF
        headers = {k: v.strip() for k, v in headers.items()}
        path = path.replace(" ", "%20")
    else:  # the in-process dispatcher also gets what no HTTP client would send
        headers.update(
            draw(st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3))
        )
    query = draw(
        st.one_of(
            st.just(""),
            st.sampled_from(
                [
                    "limit=",
                    "limit=0",
                    "limit=-1",
                    "limit=1e3",
                    "limit=" + "9" * 5000,
                    "cursor=%ff",
                    "cursor=" + "A" * 500,
                    "ignoreUnknownIds=maybe",
                    "limit=5&limit=6",
                    "&&=&",
                    "%zz=1",
                ]
            ),
            st.text(max_size=40).map(lambda t: quote(t, safe="=&")),
        )
    )
    return MockRequest(method=method, raw_path=path, query=query, headers=headers, body=body)


def _assert_not_a_server_error(response: MockResponse | httpx.Response, label: str) -> None:
    status = response.status if isinstance(response, MockResponse) else response.status_code
    assert status < 500, f"{label} → {status}: {response.json()}"
    if status >= 400:
        error = json.loads(
            response.content if isinstance(response, httpx.Response) else response.body
        )
        assert error["error"]["code"] == status, label
        assert isinstance(error["error"]["message"], str), label


def _fresh_service() -> MockService:
    return MockService(_contract(), clock=VirtualClock(), tokens=[TOKEN])


@given(data=st.data())
@settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_bytes_on_any_route_get_a_server_error_in_process(data: st.DataObject) -> None:
    service = _fresh_service()
    ids = _seed(service)  # a fresh mock per example: a reset or a revoke cannot leak across
    request = data.draw(_requests(ids, headers_ok=False))
    response = service.handle(request)
    _assert_not_a_server_error(response, f"{request.method} {request.raw_path}?{request.query}")


@pytest.fixture(scope="module")
def served_with_ids() -> Iterator[tuple[BackgroundServer, dict[str, list[str]]]]:
    service = _fresh_service()
    ids = _seed(service)
    with serve_in_background(service) as server:
        yield server, ids


@given(data=st.data())
@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_bytes_on_any_route_get_a_server_error_over_http(
    data: st.DataObject, served_with_ids: tuple[BackgroundServer, dict[str, list[str]]]
) -> None:
    server, ids = served_with_ids
    request = data.draw(_requests(ids, headers_ok=True))
    url = httpx.URL(server.base_url).copy_with(
        raw_path=(request.raw_path + ("?" + request.query if request.query else "")).encode(
            "ascii", "replace"
        )
    )
    response = httpx.request(
        request.method, url, content=request.body, headers=dict(request.headers), timeout=30
    )
    _assert_not_a_server_error(response, f"{request.method} {url}")


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_a_2kb_body_nested_1000_deep_is_400_on_every_route(method: str, route: str) -> None:
    service = _fresh_service()
    ids = _seed(service)
    path = route
    for name, known in ids.items():
        path = path.replace("{" + name + "}", known[0])
    body = _deep(1000, "[", "]")
    assert len(body) <= 2048
    response = service.handle(
        MockRequest(
            method=method,
            raw_path=path,
            headers={"authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
            body=body,
        )
    )
    # Routing comes first: the rows for a missing control action or method keep their answer.
    expected = {"/_mock/nowhere": 404}.get(route, 405 if method == "DELETE" else 400)
    assert response.status == expected, response.json()
    assert response.json()["error"]["code"] == expected


# -- the depth guard ----------------------------------------------------------------------------


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_tricky_text = st.text(st.sampled_from('[]{}"\\ aé\u2028'), max_size=8)
_nested = st.recursive(
    st.one_of(st.none(), st.integers(), _tricky_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_tricky_text, inner, max_size=3)
    ),
    max_leaves=30,
)


@given(
    value=_nested,
    limit=st.integers(min_value=0, max_value=8),
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-32"]),
    ascii_only=st.booleans(),
)
@settings(max_examples=500, derandomize=True, deadline=None)
def test_depth_guard_is_exact_whatever_the_strings_hold(
    value: Any, limit: int, encoding: str, ascii_only: bool
) -> None:
    """Brackets, quotes and backslashes inside strings never fool it, either way."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert json.loads(text.encode(encoding)) == value
    assert _deeper_than(text, limit) is (_depth(value) > limit), text
