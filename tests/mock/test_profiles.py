"""Mock profiles (issue 16): other legitimate servers, so "no false alarm" is a test.

- the acceptance: `wfcontracts verify` over HTTP against a served `lenient` and `alternative`
  mock (fast pace, seeds 1 and 2) exits 0;
- `lenient`: documented rules are still enforced, the rest is accepted or refused with a 400,
  never a 5xx, and what it accepted never breaks the engine later;
- `alternative`: one test per answer it gives differently from `strict` (README, "Choices where
  the documentation is silent"), each beside the strict answer.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from wfcontracts.cli import build_parser
from wfcontracts.contract import load_contract
from wfcontracts.mock.profiles import ALTERNATIVE, PROFILES, STRICT, UnknownProfileError
from wfcontracts.mock.server import serve_in_background
from wfcontracts.mock.service import LOCAL_READ_ONLY_TOKEN, LOCAL_TOKEN, MockService, embedded_mock

API = "/api/v1/projects/p"
AUTH = {"authorization": f"Bearer {LOCAL_TOKEN}"}
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
TOKEN = "wfcontracts-profiles-token"
READ_TOKEN = "wfcontracts-profiles-read-token"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def hold(xid: str = "hold", **extra: Any) -> dict[str, Any]:
    """An async function task: IN_PROGRESS until a task update."""
    parameters = {"function": {"externalId": "fn"}, "isAsyncComplete": True}
    return {"externalId": xid, "type": "function", "parameters": parameters, **extra}


def succeed(xid: str = "ok", **extra: Any) -> dict[str, Any]:
    request = {"resourcePath": "/workflows", "method": "GET"}
    return {"externalId": xid, "type": "cdf", "parameters": {"cdfRequest": request}, **extra}


class Api:
    """One profile's embedded mock (virtual clock) behind an httpx client."""

    def __init__(self, profile: str, *, pace: str = "instant") -> None:
        self.mock = embedded_mock(profile=profile, pace=pace)
        self.client = httpx.Client(transport=self.mock.transport(), base_url="http://mock")

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {**AUTH, **kwargs.pop("headers", {})}
        return self.client.request(method, API + path, json=body, headers=headers, **kwargs)

    def nonce(self) -> str:
        answer = self.call("POST", "/sessions", {"items": [{"tokenExchange": True}]})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["items"][0]["nonce"])

    def version(self, xid: str, tasks: list[dict[str, Any]], version: str = "1") -> None:
        item = {
            "workflowExternalId": xid,
            "version": version,
            "workflowDefinition": {"tasks": tasks},
        }
        answer = self.call("POST", "/workflows/versions", {"items": [item]})
        assert answer.status_code == 200, answer.text

    def run(self, xid: str, version: str = "1", **body: Any) -> httpx.Response:
        payload = {"authentication": {"nonce": self.nonce()}, **body}
        return self.call("POST", f"/workflows/{xid}/versions/{version}/run", payload)

    def started(self, xid: str, **body: Any) -> str:
        answer = self.run(xid, **body)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def get(self, execution_id: str) -> dict[str, Any]:
        self.mock.advance(10)
        answer = self.call("GET", f"/workflows/executions/{execution_id}")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def tasks(self, execution_id: str, external_id: str) -> list[dict[str, Any]]:
        return [
            t for t in self.get(execution_id)["executedTasks"] if t["externalId"] == external_id
        ]

    def task(self, execution_id: str, external_id: str) -> dict[str, Any]:
        return self.tasks(execution_id, external_id)[-1]

    def update(self, task_id: str, status: str) -> httpx.Response:
        return self.call("POST", f"/workflows/tasks/{task_id}/update", {"status": status})

    def cancel(self, execution_id: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.call("POST", f"/workflows/executions/{execution_id}/cancel", body or {})

    def retry(self, execution_id: str) -> httpx.Response:
        body = {"authentication": {"nonce": self.nonce()}}
        return self.call("POST", f"/workflows/executions/{execution_id}/retry", body)

    def list_executions(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.call("POST", "/workflows/executions/list", body)
        assert answer.status_code == 200, answer.text
        page: dict[str, Any] = answer.json()
        return page


def strict_and_alternative(strict: Any, alternative: Any) -> pytest.MarkDecorator:
    """Parametrize a test over both profiles with what each answers."""
    return pytest.mark.parametrize(
        ("profile", "expected"), [("strict", strict), ("alternative", alternative)]
    )


def envelope(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == status and isinstance(error["message"], str)
    return error


# -- acceptance: verify passes on every legitimate server ---------------------------------------


@pytest.mark.parametrize(
    ("profile", "seed"), [("lenient", 1), ("lenient", 2), ("alternative", 1), ("alternative", 2)]
)
def test_verify_passes_against_a_served_profile(profile: str, seed: int, tmp_path: Path) -> None:
    service = MockService(tokens=[TOKEN, f"{READ_TOKEN}:read"], pace="fast", profile=profile)
    command = [
        sys.executable, "-m", "wfcontracts.cli", "verify", "--seed", str(seed), "--quiet",
        "--project", "p", "--token", TOKEN, "--read-only-token", READ_TOKEN,
        "--report-dir", str(tmp_path / "reports"),
    ]  # fmt: skip
    with serve_in_background(service) as served:
        started = time.perf_counter()
        result = subprocess.run(
            [*command, "--base-url", served.base_url],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
    wall = time.perf_counter() - started
    output = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, (
        f"{profile} seed {seed}: exit {result.returncode} ({wall:.0f} s)\n{output}"
    )
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert summary["gate"]["passed"], summary["gate"]


# -- profiles by name ----------------------------------------------------------------------------


def test_profiles_by_name() -> None:
    assert list(PROFILES) == ["strict", "lenient", "alternative"]
    assert MockService(profile="strict").profile is STRICT
    assert embedded_mock(profile="alternative").profile is ALTERNATIVE
    with pytest.raises(UnknownProfileError, match="valid profiles: strict, lenient, alternative"):
        MockService(profile="relaxed")


def test_serve_and_selftest_take_a_profile() -> None:
    parser = build_parser()
    assert parser.parse_args(["mock", "serve"]).profile == "strict"
    assert parser.parse_args(["mock", "serve", "--profile", "lenient"]).profile == "lenient"
    assert parser.parse_args(["selftest", "--profile", "alternative"]).profile == "alternative"
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["mock", "serve", "--profile", "relaxed"])
    assert exited.value.code == 2


# -- lenient: documented rules only --------------------------------------------------------------


@pytest.fixture
def lenient() -> Api:
    return Api("lenient")


def test_lenient_still_enforces_what_the_docs_state(lenient: Api) -> None:
    lenient.version("wf", [succeed()])
    metadata = {f"k{i}": "v" for i in range(11)}
    envelope(lenient.run("wf", metadata=metadata), 400)
    envelope(lenient.call("POST", "/workflows/wf/versions/1/run", {"authentication": {}}), 400)
    envelope(lenient.call("POST", "/workflows", {"items": [{"externalId": " padded"}]}), 400)
    envelope(lenient.cancel(lenient.started("wf"), {"reason": "x" * 501}), 400)
    envelope(lenient.call("GET", "/workflows/executions/not-a-uuid"), 400)


def test_lenient_accepts_what_only_inferred_rules_refuse(lenient: Api) -> None:
    assert lenient.call("POST", "/workflows/delete", {"items": []}).status_code == 200
    assert lenient.call("POST", "/workflows/versions/delete", {"items": []}).status_code == 200
    zero = {"items": [{"externalId": "zero", "maxConcurrentExecutions": 0}]}
    answer = lenient.call("POST", "/workflows", zero)
    assert answer.status_code == 200 and answer.json()["items"][0]["maxConcurrentExecutions"] == 0
    assert lenient.call("POST", "/workflows", {"items": []}).json() == {"items": []}
    secret = {"items": [{"clientId": "c", "clientSecret": 12345}]}
    answer = lenient.call("POST", "/sessions", secret)
    assert answer.status_code == 200 and answer.json()["items"][0]["type"] == "CLIENT_CREDENTIALS"
    lenient.version("wf", [succeed()])
    empty_nonce = {"authentication": {"nonce": ""}}
    assert lenient.call("POST", "/workflows/wf/versions/1/run", empty_nonce).status_code == 202


def test_lenient_reads_an_empty_cursor_as_the_first_page(lenient: Api) -> None:
    lenient.version("wf", [succeed()])
    execution_id = lenient.started("wf")
    assert lenient.call("GET", "/workflows", params={"cursor": ""}).json()["items"]
    page = lenient.list_executions({"cursor": ""})
    assert [item["id"] for item in page["items"]] == [execution_id]
    answer = lenient.call("POST", "/workflows/versions/list", {"cursor": ""})
    assert answer.status_code == 200 and len(answer.json()["items"]) == 1


def test_lenient_runs_a_simulation_task_with_more_than_200_inputs(lenient: Api) -> None:
    inputs = [{"name": f"i{n}", "value": n} for n in range(250)]
    simulation = {"routineExternalId": "routine", "inputs": inputs}
    task = {"externalId": "sim", "type": "simulation", "parameters": {"simulation": simulation}}
    item = {"workflowExternalId": "sim", "version": "1", "workflowDefinition": {"tasks": [task]}}
    answer = lenient.call("POST", "/workflows/versions", {"items": [item]})
    assert answer.status_code == 200, answer.text
    echoed = answer.json()["items"][0]["workflowDefinition"]["tasks"][0]["parameters"]
    assert len(echoed["simulation"]["inputs"]) == 250
    execution_id = lenient.started("sim")
    lenient.mock.advance(60_000)
    assert lenient.get(execution_id)["status"] == "COMPLETED"


def test_lenient_clamps_undocumented_limits(lenient: Api) -> None:
    for n in range(3):
        lenient.call("POST", "/workflows", {"items": [{"externalId": f"wf{n}"}]})
    assert len(lenient.call("GET", "/workflows", params={"limit": 0}).json()["items"]) == 1
    assert len(lenient.call("GET", "/workflows", params={"limit": 5000}).json()["items"]) == 3
    assert lenient.list_executions({"limit": -3})["items"] == []


@pytest.mark.parametrize(
    ("path", "body", "params"),
    [
        ("/sessions", {"items": 5}, None),
        ("/sessions", {"items": ["not an object"]}, None),
        ("/sessions", ["no", "object"], None),
        ("/workflows/executions/list", {"filter": ["not", "an", "object"]}, None),
        ("/workflows/executions/list", {"filter": {"workflowFilters": ["x"]}}, None),
        ("/workflows/executions/list", {"limit": "many"}, None),
        ("/workflows", None, {"limit": "many"}),
    ],
    ids=["items-int", "items-str", "body-list", "filter-list", "filters-str", "limit-str", "qs"],
)
def test_lenient_refuses_what_it_cannot_process_with_a_400(
    lenient: Api, path: str, body: Any, params: dict[str, str] | None
) -> None:
    lenient.version("wf", [succeed()])
    lenient.started("wf")
    method = "GET" if body is None else "POST"
    envelope(lenient.call(method, path, body, params=params), 400)
    assert lenient.call("GET", "/workflows").status_code == 200  # still serving


def test_lenient_refuses_task_shapes_the_engine_cannot_run(lenient: Api) -> None:
    """A definition is kept and run later: a shape the engine cannot read is refused when it
    is stored, never a crash at some later request."""
    odd: list[dict[str, Any]] = [
        {"externalId": "a", "type": "function", "parameters": "not an object"},
        {"externalId": "a", "type": "function", "parameters": {"function": 5}},
        {"externalId": "a", "type": "cdf", "parameters": {"cdfRequest": ["GET"]}},
    ]
    for task in odd:
        item = {
            "workflowExternalId": "odd",
            "version": "1",
            "workflowDefinition": {"tasks": [task]},
        }
        envelope(lenient.call("POST", "/workflows/versions", {"items": [item]}), 400)


def test_lenient_runs_parameters_that_resolve_to_anything(lenient: Api) -> None:
    """A whole parameter may be a reference; whatever it resolves to, the engine goes on."""
    task = {
        "externalId": "fn",
        "type": "function",
        "parameters": {"function": "${workflow.input.fn}"},
    }
    lenient.version("ref", [task])
    execution_id = lenient.started("ref", input={"fn": [1, 2, 3]})
    lenient.mock.advance(60_000)
    assert lenient.get(execution_id)["status"] == "COMPLETED"
    assert lenient.call("GET", "/workflows").status_code == 200


@pytest.mark.parametrize("profile", list(PROFILES))
def test_dynamic_children_of_any_shape_fail_the_task_not_the_server(profile: str) -> None:
    api = Api(profile)
    dynamic = {
        "externalId": "fan",
        "type": "dynamic",
        "parameters": {"dynamic": {"tasks": "${workflow.input.tasks}"}},
    }
    api.version("dyn", [dynamic])
    children = [
        [{"externalId": "c", "type": "function", "parameters": "x"}],
        [{"externalId": "c", "type": "function", "retries": "many", "parameters": {}}],
        [{"externalId": "c", "type": "function", "dependsOn": [{"externalId": {}}]}],
    ]
    for tasks in children:
        execution_id = api.started("dyn", input={"tasks": tasks})
        detail = api.get(execution_id)
        assert detail["status"] == "FAILED", detail
        assert api.task(execution_id, "fan")["status"] == "FAILED"


# -- lenient: no 5xx for anything the documented view lets in ------------------------------------

LENIENT_EXAMPLES = 15
_documented = load_contract().documented
_lenient_schema = schemathesis.openapi.from_dict(
    _documented.document,
    config=schemathesis.Config.from_dict(
        {
            "seed": 16,
            "generation": {"max-examples": LENIENT_EXAMPLES, "mode": "positive"},
        }
    ),
)


@pytest.fixture(scope="module")
def lenient_root() -> Iterator[str]:
    service = MockService(tokens=[TOKEN], task_latency_ms=0, profile="lenient")
    with serve_in_background(service) as served:
        yield f"{served.base_url}{API}"


@_lenient_schema.parametrize()
@settings(
    max_examples=LENIENT_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_lenient_never_answers_5xx_to_what_the_docs_allow(
    case: schemathesis.Case[Any], lenient_root: str
) -> None:
    case.call_and_validate(
        base_url=lenient_root,
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=[not_a_server_error],
        timeout=10,
    )


# -- alternative: the other legitimate answer, one choice at a time ------------------------------


@strict_and_alternative(strict=True, alternative=False)
def test_request_id_on_success(profile: str, expected: bool) -> None:
    api = Api(profile)
    assert ("x-request-id" in api.call("GET", "/workflows").headers) is expected
    error = api.call("GET", f"/workflows/executions/{UNKNOWN_ID}")
    request_id = error.headers["x-request-id"]  # on errors in every profile (contract)
    assert bool(UUID4.match(request_id)) is (profile == "alternative")


@strict_and_alternative(strict={"missing": [{"id": UNKNOWN_ID}]}, alternative={})
def test_error_details(profile: str, expected: dict[str, Any]) -> None:
    error = envelope(Api(profile).cancel(UNKNOWN_ID), 404)  # 404 is documented for cancel
    assert {k: v for k, v in error.items() if k not in ("code", "message")} == expected


@strict_and_alternative(strict=400, alternative=404)
def test_get_of_an_unknown_execution(profile: str, expected: int) -> None:
    envelope(Api(profile).call("GET", f"/workflows/executions/{UNKNOWN_ID}"), expected)


@strict_and_alternative(strict=404, alternative=400)
def test_update_of_an_unknown_task(profile: str, expected: int) -> None:
    envelope(Api(profile).update(UNKNOWN_ID, "COMPLETED"), expected)


@strict_and_alternative(strict=404, alternative=400)
def test_run_of_an_unknown_version(profile: str, expected: int) -> None:
    api = Api(profile)
    api.version("wf", [succeed()])
    envelope(api.run("wf", version="2"), expected)
    envelope(api.run("nowhere"), expected)


@strict_and_alternative(strict=409, alternative=400)
def test_illegal_cancel_and_retry(profile: str, expected: int) -> None:
    api = Api(profile)
    api.version("wait", [hold()])
    api.version("done", [succeed()])
    running = api.started("wait")
    envelope(api.retry(running), expected)
    completed = api.started("done")
    assert api.get(completed)["status"] == "COMPLETED"
    envelope(api.cancel(completed), expected)
    envelope(api.retry(completed), expected)
    assert api.get(running)["status"] == "RUNNING"
    assert api.get(completed)["status"] == "COMPLETED"


@strict_and_alternative(strict=400, alternative=409)
def test_update_of_a_task_that_cannot_take_one(profile: str, expected: int) -> None:
    api = Api(profile)
    api.version("wf", [hold(), succeed("sync")])
    execution_id = api.started("wf")
    waiting = api.task(execution_id, "hold")
    assert api.update(waiting["id"], "COMPLETED").status_code == 200
    envelope(api.update(waiting["id"], "COMPLETED"), expected)  # already COMPLETED
    envelope(api.update(api.task(execution_id, "sync")["id"], "COMPLETED"), expected)  # not async


@strict_and_alternative(strict=(409, False), alternative=(400, True))
def test_deleting_a_workflow(profile: str, expected: tuple[int, bool]) -> None:
    status, kept = expected
    api = Api(profile)
    api.version("wf", [hold()])
    execution_id = api.started("wf")
    error = envelope(
        api.call("POST", "/workflows/delete", {"items": [{"externalId": "wf"}]}), status
    )
    assert "running executions" in error["message"]
    assert api.cancel(execution_id).status_code == 200
    assert (
        api.call("POST", "/workflows/delete", {"items": [{"externalId": "wf"}]}).status_code == 200
    )
    assert api.call("GET", "/workflows/wf").status_code == 404
    retrieved = api.call("GET", f"/workflows/executions/{execution_id}")
    assert (retrieved.status_code == 200) is kept
    listed = api.list_executions({"filter": {"workflowFilters": [{"externalId": "wf"}]}})
    assert bool(listed["items"]) is kept


@strict_and_alternative(strict=405, alternative=404)
def test_a_method_the_contract_does_not_declare(profile: str, expected: int) -> None:
    answer = Api(profile).call("DELETE", "/workflows")
    envelope(answer, expected)
    assert ("allow" in answer.headers) is (expected == 405)


@strict_and_alternative(strict=(413, 415), alternative=(400, 400))
def test_oversized_bodies_and_other_content_types(profile: str, expected: tuple[int, int]) -> None:
    too_large, media = expected
    api = Api(profile)
    bomb = gzip.compress(b"[" + b" " * (10 * 1024 * 1024 + 1) + b"]")
    headers = {**AUTH, "content-encoding": "gzip", "content-type": "application/json"}
    answer = api.client.post(API + "/workflows/executions/list", content=bomb, headers=headers)
    envelope(answer, too_large)
    headers = {**AUTH, "content-type": "text/plain"}
    answer = api.client.post(API + "/workflows/executions/list", content=b"{}", headers=headers)
    envelope(answer, media)


@strict_and_alternative(strict=100, alternative=64)
def test_json_depth(profile: str, expected: int) -> None:
    api = Api(profile)
    api.version("wf", [succeed()])

    def run_nested(levels: int) -> httpx.Response:
        nested: Any = 1
        for _ in range(levels - 2):  # the body and `input` are two levels
            nested = {"n": nested}
        return api.run("wf", input={"n": nested})

    assert run_nested(expected).status_code == 202
    envelope(run_nested(expected + 1), 400)


@strict_and_alternative(strict=403, alternative=401)
def test_a_read_only_token_writing(profile: str, expected: int) -> None:
    read_only = {"authorization": f"Bearer {LOCAL_READ_ONLY_TOKEN}"}
    api = Api(profile)
    assert api.call("GET", "/workflows", headers=read_only).status_code == 200
    envelope(
        api.call("POST", "/workflows", {"items": [{"externalId": "x"}]}, headers=read_only),
        expected,
    )


@strict_and_alternative(strict=202, alternative=400)
def test_a_nonce_no_session_handed_out(profile: str, expected: int) -> None:
    api = Api(profile)
    api.version("wf", [succeed()])
    body = {"authentication": {"nonce": "made-up"}}
    assert api.call("POST", "/workflows/wf/versions/1/run", body).status_code == expected


def test_alternative_takes_each_session_nonce_once_in_its_project() -> None:
    api = Api("alternative")
    api.version("wf", [succeed()])
    nonce = api.nonce()
    body = {"authentication": {"nonce": nonce}}
    other = api.client.post(
        "/api/v1/projects/other/workflows/wf/versions/1/run", json=body, headers=AUTH
    )
    envelope(other, 400)  # no such version there either; a nonce of p is no nonce of other
    assert api.call("POST", "/workflows/wf/versions/1/run", body).status_code == 202
    envelope(api.call("POST", "/workflows/wf/versions/1/run", body), 400)
    failed = api.started("wf")
    assert api.get(failed)["status"] == "COMPLETED"
    envelope(api.call("POST", f"/workflows/executions/{failed}/retry", body), 400)


@strict_and_alternative(strict=False, alternative=True)
def test_start_time_in_the_run_answer(profile: str, expected: bool) -> None:
    api = Api(profile, pace="fast")  # paced: the pickup comes later
    api.version("wf", [hold()])
    answer = api.run("wf")
    assert answer.status_code == 202
    assert ("startTime" in answer.json()) is expected
    detail = api.call("GET", f"/workflows/executions/{answer.json()['id']}").json()
    assert detail["executedTasks"] == []  # not picked up yet, in every profile


@strict_and_alternative(strict="cancelled", alternative=ALTERNATIVE.default_cancel_reason)
def test_default_cancel_reason(profile: str, expected: str) -> None:
    api = Api(profile)
    api.version("wf", [hold()])
    answer = api.cancel(api.started("wf"))
    assert answer.json()["reasonForIncompletion"] == expected


@strict_and_alternative(strict=False, alternative=True)
def test_a_failed_report_with_retries_left(profile: str, expected: bool) -> None:
    api = Api(profile)
    api.version("wf", [hold(retries=1)])
    execution_id = api.started("wf")
    first = api.task(execution_id, "hold")
    answer = api.update(first["id"], "FAILED")
    assert answer.json()["status"] == "FAILED" and answer.json()["id"] == first["id"]
    attempts = api.tasks(execution_id, "hold")
    assert attempts[-1]["status"] == "IN_PROGRESS"
    appended = len(attempts) == 2 and attempts[0]["status"] == "FAILED"
    assert appended is expected
    assert (attempts[-1]["id"] != first["id"]) is expected
    assert api.update(attempts[-1]["id"], "COMPLETED").status_code == 200
    assert api.get(execution_id)["status"] == "COMPLETED"


@strict_and_alternative(strict=False, alternative=True)
def test_an_execution_retry_reruns(profile: str, expected: bool) -> None:
    api = Api(profile)
    api.version(
        "wf", [succeed("first"), hold("second", retries=0, dependsOn=[{"externalId": "first"}])]
    )
    execution_id = api.started("wf")
    completed = api.task(execution_id, "first")
    failed = api.task(execution_id, "second")
    assert api.update(failed["id"], "FAILED").status_code == 200
    assert api.get(execution_id)["status"] == "FAILED"
    answer = api.retry(execution_id)
    assert answer.status_code == 200 and answer.json()["id"] == execution_id
    assert api.tasks(execution_id, "first") == [completed]  # never re-run
    attempts = api.tasks(execution_id, "second")
    assert attempts[-1]["status"] == "IN_PROGRESS"
    assert (attempts[-1]["id"] != failed["id"]) is expected
    assert ([a["status"] for a in attempts[:-1]] == ["FAILED"]) is expected
    assert api.update(attempts[-1]["id"], "COMPLETED").status_code == 200
    assert api.get(execution_id)["status"] == "COMPLETED"


@strict_and_alternative(strict="COMPLETED", alternative="FAILED")
def test_a_cdf_task_outside_the_workflows_api(profile: str, expected: str) -> None:
    api = Api(profile)
    request = {"resourcePath": "/timeseries", "method": "GET"}
    task = {"externalId": "ts", "type": "cdf", "parameters": {"cdfRequest": request}, "retries": 0}
    api.version("wf", [task])
    execution_id = api.started("wf")
    assert api.task(execution_id, "ts")["status"] == expected


@strict_and_alternative(strict=202, alternative=409)
def test_max_concurrent_executions(profile: str, expected: int) -> None:
    api = Api(profile)
    api.call("POST", "/workflows", {"items": [{"externalId": "wf", "maxConcurrentExecutions": 1}]})
    api.version("wf", [hold()])
    running = api.started("wf")
    assert api.run("wf").status_code == expected
    assert api.cancel(running).status_code == 200
    assert api.run("wf").status_code == 202  # a slot is free again


@strict_and_alternative(strict=False, alternative=True)
def test_list_orders(profile: str, expected: bool) -> None:
    api = Api(profile)
    api.version("b", [succeed()])
    api.version("a", [succeed()])
    api.version("a", [succeed()], version="2")
    ids = []
    for _ in range(3):
        ids.append(api.started("b"))
        api.mock.advance(5)
    listed = [item["id"] for item in api.list_executions({})["items"]]
    assert (listed == ids) is expected  # oldest first
    assert (listed == ids[::-1]) is not expected
    workflows = [w["externalId"] for w in api.call("GET", "/workflows").json()["items"]]
    assert (workflows == ["b", "a"]) is expected
    versions = api.call("POST", "/workflows/versions/list", {}).json()["items"]
    keys = [(v["workflowExternalId"], v["version"]) for v in versions]
    assert (keys == [("b", "1"), ("a", "2"), ("a", "1")]) is expected


@strict_and_alternative(strict=True, alternative=False)
def test_created_time_end_bound(profile: str, expected: bool) -> None:
    api = Api(profile)
    api.version("wf", [succeed()])
    created = api.get(api.started("wf"))["createdTime"]
    window = {"createdTimeStart": created, "createdTimeEnd": created}
    assert bool(api.list_executions({"filter": window})["items"]) is expected
    start_only = {"createdTimeStart": created, "createdTimeEnd": created + 1}
    assert api.list_executions({"filter": start_only})["items"]  # start: inclusive in both


@strict_and_alternative(strict=100, alternative=25)
def test_default_list_limit(profile: str, expected: int) -> None:
    api = Api(profile)
    for n in range(expected + 1):
        api.call("POST", "/workflows", {"items": [{"externalId": f"wf{n:03}"}]})
    page = api.call("GET", "/workflows").json()
    assert len(page["items"]) == expected and page["nextCursor"]
    assert api.call("POST", "/workflows/versions/list", {}).status_code == 200


@strict_and_alternative(strict=False, alternative=True)
def test_the_last_page_says_null(profile: str, expected: bool) -> None:
    api = Api(profile)
    for body in (api.call("GET", "/workflows").json(), api.list_executions({})):
        assert ("nextCursor" in body) is expected
        assert body.get("nextCursor") is None


@strict_and_alternative(strict=400, alternative=200)
def test_a_cursor_reused_with_another_filter(profile: str, expected: int) -> None:
    api = Api(profile)
    api.version("wf", [succeed()])
    for _ in range(3):
        api.started("wf")
    first = api.list_executions({"limit": 1})
    other = {"limit": 1, "cursor": first["nextCursor"], "filter": {"status": ["COMPLETED"]}}
    assert api.call("POST", "/workflows/executions/list", other).status_code == expected
    garbled = {"limit": 1, "cursor": "not-a-cursor"}
    envelope(api.call("POST", "/workflows/executions/list", garbled), 400)  # in every profile


def test_alternative_pages_oldest_first_without_repeats() -> None:
    api = Api("alternative")
    api.version("wf", [succeed()])
    ids = [api.started("wf") for _ in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        body: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.list_executions(body)
        seen += [item["id"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == ids


def test_selftest_serves_a_profile_even_at_instant_pace() -> None:
    from wfcontracts.selftest import _target

    with _target(None, "instant", "lenient") as args:
        assert args[0] == "--base-url"
        assert httpx.get(f"{args[1]}/api/v1/projects/p/workflows", headers=AUTH).status_code == 401
    with _target("bare_error_body", "instant") as args:
        assert args == ["--fault", "bare_error_body"]


def test_embedded_mock_takes_a_profile() -> None:
    mock = embedded_mock(profile="lenient")
    assert mock.virtual_clock and mock.profile.documented_only
    assert mock.dispatcher.rules is mock.contract.documented
    strict = embedded_mock()
    assert strict.dispatcher.rules is strict.contract


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("tasks", [[1], "not a list", "${workflow.input.tasks}"])
def test_inline_subworkflow_tasks_of_any_shape_never_crash(profile: str, tasks: Any) -> None:
    """`subworkflow` is only `type: object` in the contract: its `tasks` may be anything."""
    api = Api(profile)
    sub = {
        "externalId": "sub",
        "type": "subworkflow",
        "parameters": {"subworkflow": {"tasks": tasks}},
    }
    item = {"workflowExternalId": "sub", "version": "1", "workflowDefinition": {"tasks": [sub]}}
    answer = api.call("POST", "/workflows/versions", {"items": [item]})
    if not isinstance(tasks, list):  # a reference, or whatever it is: judged when it runs
        assert answer.status_code == 200, answer.text
        execution_id = api.started("sub", input={"tasks": [1]})
        assert api.get(execution_id)["status"] == "FAILED"
    else:
        envelope(answer, 400)
