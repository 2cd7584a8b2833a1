"""Transient faults: 429 / 502 / 503 / 504 and dropped connections at a seeded rate, injected
before the request reaches the domain (so a throttled or dropped write was not applied).

In-process through the httpx transport, over loopback HTTP against a served mock, and through
`wfcontracts mock serve` as a user starts it.
"""

from __future__ import annotations

import functools
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from wfcontracts.cli import main
from wfcontracts.contract import Contract, load_contract
from wfcontracts.mock.clock import VirtualClock
from wfcontracts.mock.faults import (
    ALL_FAULTS,
    CONTRACT_FAULTS,
    FAULTS,
    TRANSIENT_FAULTS,
    FaultSet,
    FaultSpecError,
    UnknownFaultError,
    parse_fault_spec,
)
from wfcontracts.mock.server import serve_in_background
from wfcontracts.mock.service import MockService

TOKEN = "transient-token-3c7d"
AUTH = {"authorization": f"Bearer {TOKEN}"}
API = "/api/v1/projects/p"
WORKFLOW = {"items": [{"externalId": "wf"}]}


@functools.cache
def _contract() -> Contract:
    return load_contract()


def _service(*faults: str, seed: int = 0) -> MockService:
    return MockService(
        _contract(), clock=VirtualClock(), tokens=[TOKEN], faults=faults, fault_seed=seed
    )


def _client(service: MockService) -> httpx.Client:
    return httpx.Client(transport=service.transport(), base_url="http://mock", headers=AUTH)


def _outcomes(service: MockService, count: int) -> list[int | str]:
    """Status code or exception name of `count` reads, in order."""
    seen: list[int | str] = []
    with _client(service) as http:
        for _ in range(count):
            try:
                seen.append(http.get(f"{API}/workflows").status_code)
            except httpx.HTTPError as exc:
                seen.append(type(exc).__name__)
    return seen


# -- the registry and the specs -----------------------------------------------------------------


def test_transient_faults_are_apart_from_the_contract_faults() -> None:
    assert FAULTS is CONTRACT_FAULTS  # what selftest iterates: every one must fail verify
    assert not set(TRANSIENT_FAULTS) & set(CONTRACT_FAULTS)
    assert set(ALL_FAULTS) == set(CONTRACT_FAULTS) | set(TRANSIENT_FAULTS)
    assert list(ALL_FAULTS) == sorted(ALL_FAULTS)
    assert {
        "throttle", "gateway_502", "gateway_503", "gateway_504", "drop_connection",
        "reset_connection", "drop_after_write",
    } == set(TRANSIENT_FAULTS)  # fmt: skip
    assert all(f.transient and f.layer == "transient" for f in TRANSIENT_FAULTS.values())
    assert not any(f.transient for f in CONTRACT_FAULTS.values())


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("throttle", ("throttle", 1.0)),
        ("throttle:0.05", ("throttle", 0.05)),
        ("gateway_503:0", ("gateway_503", 0.0)),
        ("drop_connection:1", ("drop_connection", 1.0)),
        ("retry_new_id", ("retry_new_id", None)),
    ],
)
def test_fault_specs(spec: str, parsed: tuple[str, float | None]) -> None:
    assert parse_fault_spec(spec) == parsed


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("throttle:1.5", ["0 to 1", "throttle:1.5"]),
        ("throttle:-0.1", ["0 to 1"]),
        ("throttle:often", ["0 to 1"]),
        ("throttle:nan", ["0 to 1"]),
        ("throttle:", ["0 to 1"]),
        ("retry_new_id:0.5", ["takes no rate", "throttle"]),
    ],
)
def test_bad_fault_specs_are_one_line_errors(spec: str, words: list[str]) -> None:
    with pytest.raises(FaultSpecError) as caught:
        FaultSet([spec])
    message = str(caught.value)
    assert "\n" not in message and all(word in message for word in words), message


def test_unknown_fault_names_transient_ones_too() -> None:
    with pytest.raises(UnknownFaultError) as caught:
        FaultSet(["throtle:0.1"])
    assert "'throtle'" in str(caught.value) and "drop_connection" in str(caught.value)


def test_fault_set_lists_specs_that_switch_the_same_faults_on() -> None:
    faults = FaultSet(["gateway_503:0.02", "throttle", "no_request_id"], seed=7)
    assert faults.specs == ["gateway_503:0.02", "no_request_id", "throttle:1"]
    assert FaultSet(faults.specs).specs == faults.specs
    assert "throttle" in faults and faults.seed == 7
    faults.disable("throttle")
    assert faults.specs == ["gateway_503:0.02", "no_request_id"]


# -- decisions: rate and seed --------------------------------------------------------------------


def test_draws_are_deterministic_for_a_seed_and_differ_across_seeds() -> None:
    specs = ["throttle:0.2", "gateway_503:0.1", "drop_connection:0.1"]
    first = _outcomes(_service(*specs, seed=42), 60)
    assert first == _outcomes(_service(*specs, seed=42), 60)
    assert first != _outcomes(_service(*specs, seed=43), 60)
    assert {429, 503, 200, "RemoteProtocolError"} == set(first)


def test_rates_are_honoured() -> None:
    faults = FaultSet(["throttle:0.3", "gateway_502:0.1"], seed=5)
    draws = [faults.draw() for _ in range(4000)]
    assert 0.27 < draws.count("throttle") / 4000 < 0.33
    assert 0.08 < draws.count("gateway_502") / 4000 < 0.12
    assert 0.57 < draws.count(None) / 4000 < 0.63


def test_no_transient_fault_means_no_draw() -> None:
    faults = FaultSet(["no_request_id"], seed=1)
    assert {faults.draw() for _ in range(100)} == {None}


def test_reset_and_set_faults_restart_the_draws() -> None:
    service = _service("throttle:0.5", seed=9)
    first = _outcomes(service, 20)
    service.reset()
    assert _outcomes(service, 20) == first
    service.set_faults(["throttle:0.5"], seed=9)
    assert _outcomes(service, 20) == first
    service.set_faults(["throttle:0.5"], seed=10)
    assert _outcomes(service, 20) != first


# -- what each fault does, in process ------------------------------------------------------------


def _assert_envelope(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("x-request-id")
    assert response.json()["error"]["code"] == status
    assert response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("fault", "status"),
    [("throttle", 429), ("gateway_502", 502), ("gateway_503", 503), ("gateway_504", 504)],
)
def test_status_faults_answer_the_envelope_and_apply_nothing(fault: str, status: int) -> None:
    service = _service(fault)  # no rate: every request
    with _client(service) as http:
        response = http.post(f"{API}/workflows", json=WORKFLOW)
        _assert_envelope(response, status)
        assert response.headers.get("retry-after") == ("1" if fault == "throttle" else None)
        service.set_faults([])
        assert http.get(f"{API}/workflows/wf").status_code == 404  # the write never happened


def test_throttle_message_is_the_documented_rate_message() -> None:
    with _client(_service("throttle")) as http:
        response = http.get(f"{API}/workflows")
    assert response.json()["error"]["message"] == "Too high rate of requests"


def test_transient_faults_come_before_auth() -> None:
    with _client(_service("gateway_503")) as http:
        assert http.get(f"{API}/workflows", headers={"authorization": ""}).status_code == 503


def test_drop_connection_in_process_raises_remote_protocol_error_and_applies_nothing() -> None:
    service = _service("drop_connection")
    with _client(service) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.post(f"{API}/workflows", json=WORKFLOW)
        service.set_faults([])
        assert http.get(f"{API}/workflows/wf").status_code == 404


def test_reset_connection_in_process_raises_read_error_and_applies_nothing() -> None:
    service = _service("reset_connection")
    with _client(service) as http:
        with pytest.raises(httpx.ReadError, match="reset"):
            http.post(f"{API}/workflows", json=WORKFLOW)
        service.set_faults([])
        assert http.get(f"{API}/workflows/wf").status_code == 404


def test_drop_after_write_applies_the_write_then_drops() -> None:
    service = _service("drop_after_write")
    with _client(service) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.post(f"{API}/workflows", json=WORKFLOW)
        service.set_faults([])
        assert http.get(f"{API}/workflows/wf").status_code == 200


def test_control_plane_is_never_hit_by_transient_faults() -> None:
    service = _service("throttle", "drop_connection")
    with _client(service) as http:
        assert http.get("/_mock/faults").status_code == 200
        assert http.post("/_mock/reset").status_code == 200


def test_cdf_tasks_internal_calls_are_not_hit() -> None:
    """A cdf task calls the mock's own routes; a gateway fault there would be a domain effect."""
    service = _service()
    version = {
        "items": [
            {
                "workflowExternalId": "wf",
                "version": "1",
                "workflowDefinition": {
                    "tasks": [
                        {
                            "externalId": "call",
                            "type": "cdf",
                            "parameters": {
                                "cdfRequest": {"resourcePath": "/workflows", "method": "GET"}
                            },
                        }
                    ]
                },
            }
        ]
    }
    with _client(service) as http:
        assert http.post(f"{API}/workflows/versions", json=version).status_code == 200
        run = http.post(
            f"{API}/workflows/wf/versions/1/run", json={"authentication": {"nonce": "n"}}
        ).json()
        service.set_faults(["gateway_503"])
        service.advance(60_000)
        service.set_faults([])
        detail = http.get(f"{API}/workflows/executions/{run['id']}").json()
    assert detail["status"] == "COMPLETED", detail


# -- switched on through the control plane -------------------------------------------------------


def test_put_faults_with_rates_and_seed() -> None:
    service = _service()
    with _client(service) as http:
        answer = http.put(
            "/_mock/faults", json={"faults": ["throttle:0.5", "no_request_id"], "seed": 3}
        ).json()
        assert answer["enabled"] == ["no_request_id", "throttle:0.5"]
        assert answer["seed"] == 3
        assert set(TRANSIENT_FAULTS) <= set(answer["available"])
        assert http.get("/_mock/faults").json()["enabled"] == answer["enabled"]
    assert _outcomes(service, 20) == _outcomes(_service("throttle:0.5", seed=3), 20)


@pytest.mark.parametrize(
    "body",
    [
        {"faults": ["throttle:2"]},
        {"faults": ["retry_new_id:0.1"]},
        {"faults": "throttle"},
        {"faults": [1]},
        {"faults": [], "seed": "x"},
        {"faults": [], "seed": True},
    ],
)
def test_put_faults_rejects_bad_specs_and_changes_nothing(body: object) -> None:
    service = _service("gateway_504:0.5", seed=1)
    with _client(service) as http:
        _assert_envelope(http.put("/_mock/faults", json=body), 400)
    assert service.faults.specs == ["gateway_504:0.5"] and service.faults.seed == 1


# -- over loopback HTTP --------------------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[MockService, str]]:
    service = _service()
    with serve_in_background(service) as server:
        yield service, server.base_url


def test_drop_connection_over_http_closes_without_a_response(
    served: tuple[MockService, str], caplog: pytest.LogCaptureFixture
) -> None:
    service, base_url = served
    service.set_faults(["drop_connection"])
    with caplog.at_level(logging.WARNING), httpx.Client(base_url=base_url, headers=AUTH) as http:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            http.post(f"{API}/workflows", json=WORKFLOW)
        service.set_faults([])
        assert http.get(f"{API}/workflows/wf").status_code == 404  # not applied; server up
    # uvicorn neither logged an error nor tried to send a 500 into the closed socket
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")], caplog.records


def test_reset_connection_over_http_is_a_connection_reset(
    served: tuple[MockService, str], caplog: pytest.LogCaptureFixture
) -> None:
    service, base_url = served
    service.set_faults(["reset_connection"])
    with caplog.at_level(logging.WARNING), httpx.Client(base_url=base_url, headers=AUTH) as http:
        with pytest.raises(httpx.ReadError, match="reset by peer"):
            http.post(f"{API}/workflows", json=WORKFLOW)
        service.set_faults([])
        assert http.get(f"{API}/workflows/wf").status_code == 404
    assert not [r for r in caplog.records if r.name.startswith("uvicorn")], caplog.records


def test_mixed_faults_over_http_match_the_in_process_draws(served: tuple[MockService, str]) -> None:
    service, base_url = served
    specs = ["throttle:0.25", "gateway_502:0.1", "drop_connection:0.1", "reset_connection:0.1"]
    service.set_faults(specs, seed=11)
    seen: list[int | str] = []
    with httpx.Client(base_url=base_url, headers=AUTH) as http:
        for _ in range(40):
            try:
                response = http.get(f"{API}/workflows")
                seen.append(response.status_code)
                if response.status_code == 429:
                    assert response.headers["retry-after"] == "1"
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                seen.append(type(exc).__name__)
    assert seen == _outcomes(_service(*specs, seed=11), 40)


def test_the_sdk_rides_out_transient_faults_without_duplicate_runs(
    served: tuple[MockService, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The official SDK retries 429/502/503/504 and connection resets; since those faults strike
    before the domain, its retried run creates exactly one execution."""
    from cognite.client import ClientConfig, CogniteClient, global_config
    from cognite.client.credentials import Token
    from cognite.client.data_classes import (
        FunctionTaskParameters,
        WorkflowDefinitionUpsert,
        WorkflowTask,
        WorkflowVersionUpsert,
    )

    monkeypatch.setattr(global_config, "max_retry_backoff", 0)  # retry at once: a fast test
    service, base_url = served
    config = ClientConfig(
        client_name="wfcontracts-transient",
        project="p",
        credentials=Token(TOKEN),
        base_url=base_url,
    )
    client = CogniteClient(config)
    specs = ["throttle:0.15", "gateway_502:0.1", "gateway_503:0.1", "gateway_504:0.1"]
    service.set_faults([*specs, "reset_connection:0.1"], seed=2)
    task = WorkflowTask(
        external_id="echo", parameters=FunctionTaskParameters(external_id="fn", data={"a": 1})
    )
    client.workflows.versions.upsert(
        WorkflowVersionUpsert(
            workflow_external_id="wf",
            version="1",
            workflow_definition=WorkflowDefinitionUpsert(tasks=[task]),
        )
    )
    for _ in range(5):
        client.workflows.executions.run("wf", "1", input={"n": 1})
    assert len(client.workflows.executions.list(("wf", "1"), limit=None)) == 5
    service.set_faults([])
    assert len(service.backend.list_executions("p", {"limit": 100})["items"]) == 5


def test_mock_serve_takes_fault_rates_and_seed() -> None:
    """`wfcontracts mock serve --fault throttle --fault-seed N` as a user starts it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [
        sys.executable, "-m", "wfcontracts.cli", "mock", "serve", "--port", str(port),
        "--token", TOKEN, "--fault", "throttle", "--fault", "gateway_503:0", "--fault-seed", "4",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                faults = httpx.get(f"{base_url}/_mock/faults", headers=AUTH, timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.1)
        assert faults.json()["enabled"] == ["gateway_503:0", "throttle:1"]
        assert faults.json()["seed"] == 4
        response = httpx.get(f"{base_url}{API}/workflows", headers=AUTH)
        assert response.status_code == 429 and response.headers["retry-after"] == "1"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_mock_faults_lists_transient_faults_with_their_rate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["mock", "faults"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(ALL_FAULTS)
    for name in TRANSIENT_FAULTS:
        (line,) = [line for line in lines if line.startswith(name + " ")]
        assert "transient" in line and "takes a rate" in line
    (contract_line,) = [line for line in lines if line.startswith("retry_new_id ")]
    assert "rate" not in contract_line
