"""Recording and replaying lifecycle scenarios: roundtrip, secrets, and every way a cassette
can be unusable (corrupt, stale, unmatched request, unused interaction)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from wfcontracts.cassettes.recorder import (
    RERECORD_HINT,
    CassetteMismatchError,
    CorruptCassetteError,
    Recorder,
    StaleCassetteError,
    UnusedInteractionsError,
    api_path,
    body_without_secrets,
    build_cassette_runtime,
    read_cassette,
)
from wfcontracts.errors import WfcontractsError
from wfcontracts.mock.server import serve_in_background
from wfcontracts.mock.service import MockService
from wfcontracts.runtime import RunOptions, Runtime
from wfcontracts.scenarios import lifecycle_flows as flows
from wfcontracts.scenarios.lifecycle_flows import LifecycleProbe, Scenario
from wfcontracts.scenarios.probes import succeed_task

pytest_plugins = ("pytester",)

TOKEN = "tok-RECOGNISABLE-lifecycle-4b1d"
CLIENT_SECRET = "secret-RECOGNISABLE-lifecycle-9e7c"


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with serve_in_background(MockService(tokens=[TOKEN])) as server:
        yield server.base_url


def record(directory: Path, base_url: str, scenario: Scenario, name: str = "case") -> Path:
    options = RunOptions(record_mode="all", base_url=base_url, project="p", token=TOKEN)
    runtime, recorder = build_cassette_runtime(options, directory)
    path = recorder.path("lifecycle", name)
    with recorder.use(path):
        scenario(LifecycleProbe(runtime, runtime.session()))
    runtime.close()
    return path


def replay(directory: Path, scenario: Scenario, name: str = "case") -> Runtime:
    runtime, recorder = build_cassette_runtime(RunOptions(replay=True), directory)
    with recorder.use(recorder.path("lifecycle", name)) as cassette:
        scenario(LifecycleProbe(runtime, runtime.session()))
        recorder.verify_all_played(cassette)
    return runtime


def edit(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


# --- roundtrip -----------------------------------------------------------------------------


def test_record_then_replay_offline(tmp_path: Path, served: str) -> None:
    path = record(tmp_path, served, flows.cancel_twice)
    assert path == tmp_path / "lifecycle" / "case.yaml"
    meta, requests, _ = read_cassette(path)
    assert meta.project == "p" and meta.base_url == served and meta.recorded_at
    upserts = [r.body.decode() for r in requests if r.path.endswith("/workflows/versions")]
    assert upserts and all('"wfcontracts-rec-cancel-twice"' in body for body in upserts)
    runtime = replay(tmp_path, flows.cancel_twice)
    assert runtime.config.kind == "replay" and runtime.run_id == "rec"
    assert meta.contract_sha256 == runtime.contract.sha256
    coverage = runtime.context.extras["transitions"].as_dict()
    assert any(e["exercised"] for e in coverage["illegal"])  # checks ran on the replay


def test_replay_never_reaches_the_network(tmp_path: Path, served: str) -> None:
    record(tmp_path, served, flows.cancel_completed)
    runtime, _ = build_cassette_runtime(RunOptions(replay=True), tmp_path)
    with pytest.raises(WfcontractsError, match="replay is offline"):
        runtime.client.get("workflows")


def test_recording_against_the_embedded_mock(tmp_path: Path) -> None:
    runtime, recorder = build_cassette_runtime(RunOptions(record_mode="all"), tmp_path)
    with recorder.use(recorder.path("lifecycle", "case")):
        flows.run_fails(LifecycleProbe(runtime, runtime.session()))
    replay(tmp_path, flows.run_fails)


# --- secrets -------------------------------------------------------------------------------


class _TokenEndpoint(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600})
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def token_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token"
    server.shutdown()


def leaky_run(p: LifecycleProbe) -> None:
    """A run whose metadata carries the token: masked wherever it would land in a cassette."""
    xid, version = p.upsert("leak", [succeed_task("only")])
    started = p.run(xid, version, metadata={"note": TOKEN})
    p.finished(started["id"], "COMPLETED", "lifecycle_transition")


def test_no_token_or_client_secret_in_cassettes(
    tmp_path: Path, served: str, token_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDP_CLIENT_ID", "wfcontracts-test")
    monkeypatch.setenv("IDP_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("IDP_TOKEN_URL", token_url)
    monkeypatch.delenv("CDF_TOKEN", raising=False)
    options = RunOptions(record_mode="all", base_url=served, project="p")
    runtime, recorder = build_cassette_runtime(options, tmp_path)
    assert runtime.config.client_credentials is not None
    for name, scenario in (("leak", leaky_run), ("cancel", flows.cancel_with_reason)):
        with recorder.use(recorder.path("lifecycle", name)):
            scenario(LifecycleProbe(runtime, runtime.session()))
    files = sorted(tmp_path.rglob("*.yaml"))
    assert len(files) == 2
    text = "".join(f.read_text() for f in files)
    assert TOKEN not in text and CLIENT_SECRET not in text
    assert "Bearer ***" in text
    assert '"nonce":"***"' in text
    assert "/token" not in text  # the identity provider's exchange is never recorded


# --- unusable cassettes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("interactions: [unclosed\n", "invalid YAML at line 2, column 1"),
        ("- just\n- a list\n", "not a vcrpy cassette: expected a mapping, got a list"),
        ("version: 1\ninteractions: []\n", "no `wfcontracts.contractSha256`"),
        ("wfcontracts: {contractSha256: abc}\nversion: 1\n", "missing 'interactions'"),
        (
            "wfcontracts: {contractSha256: abc}\ninteractions:\n"
            "- request: {method: GET, uri: 'http://x/', body: null, headers: {}}\n"
            "  response: {status: {message: OK}, headers: {}, body: {string: ''}}\n",
            "interactions[0]: response has no integer status 'code'",
        ),
        (
            "wfcontracts: {contractSha256: abc}\ninteractions:\n"
            "- request: {method: GET, uri: 'http://x/'}\n"
            "  response: {status: {code: 200}, headers: {}, body: {string: ''}}\n",
            "interactions[0]: request needs 'body' and 'headers'",
        ),
        (
            "wfcontracts: {contractSha256: abc}\ninteractions:\n"
            "- request: {method: GET, uri: 'http://x/', body: null, headers: {}}\n"
            "  response: {status: {code: 200}, headers: {content-type: [application/json]},"
            " body: {string: '{\"id\": '}}\n",
            "interactions[0]: response body is not JSON",
        ),
    ],
)
def test_corrupt_cassette_names_the_file_and_problem(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "lifecycle" / "case.yaml"
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(CorruptCassetteError) as caught:
        read_cassette(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and problem in message, message
    assert message.endswith(RERECORD_HINT) and "\n" not in message
    _, recorder = build_cassette_runtime(RunOptions(replay=True), tmp_path)
    with pytest.raises(CorruptCassetteError), recorder.use(path):
        pass


def test_stale_cassette_is_reported(tmp_path: Path, served: str) -> None:
    path = record(tmp_path, served, flows.cancel_completed)
    edit(path, lambda data: data["wfcontracts"].update(contractSha256="0" * 64))
    with pytest.raises(StaleCassetteError) as caught:
        replay(tmp_path, flows.cancel_completed)
    assert str(caught.value).startswith(f"stale cassette {path}: recorded under contract sha256")
    assert RERECORD_HINT in str(caught.value)


def test_unmatched_request_says_how_to_rerecord(tmp_path: Path, served: str) -> None:
    record(tmp_path, served, flows.cancel_completed)
    with pytest.raises(CassetteMismatchError) as caught:
        replay(tmp_path, flows.run_fails)
    message = str(caught.value)
    assert "no recorded interaction matches POST /workflows/versions" in message
    assert "wfcontracts record --base-url" in message
    assert "pytest suites/lifecycle --record-mode=all --base-url" in message


def test_running_out_of_recorded_polls_fails_clearly(tmp_path: Path, served: str) -> None:
    path = record(tmp_path, served, flows.cancel_completed)
    edit(path, lambda data: data["interactions"].pop())
    with pytest.raises(CassetteMismatchError, match="asked more often than recorded"):
        replay(tmp_path, flows.cancel_completed)


def test_unused_interaction_fails(tmp_path: Path, served: str) -> None:
    path = record(tmp_path, served, flows.cancel_completed)
    edit(path, lambda data: data["interactions"].append(data["interactions"][-1]))
    with pytest.raises(UnusedInteractionsError) as caught:
        replay(tmp_path, flows.cancel_completed)
    assert "1 recorded interaction(s) never used (first: GET /workflows/executions/" in str(
        caught.value
    )


def test_missing_cassette_in_replay(tmp_path: Path) -> None:
    _, recorder = build_cassette_runtime(RunOptions(replay=True), tmp_path)
    path = recorder.path("lifecycle", "absent")
    with pytest.raises(CassetteMismatchError, match="no cassette"), recorder.use(path):
        pass


def test_unknown_record_mode(tmp_path: Path) -> None:
    runtime, recorder = build_cassette_runtime(RunOptions(replay=True), tmp_path)
    with pytest.raises(WfcontractsError, match="unknown record mode"):
        Recorder(tmp_path, "sometimes", recorder.persister.meta)


# --- matching ------------------------------------------------------------------------------


class _Request:
    def __init__(self, path: str, body: bytes) -> None:
        self.path, self.body = path, body


def test_paths_match_under_any_base_url_and_project() -> None:
    api_path(
        _Request("/api/v1/projects/p/workflows/executions/list", b""),
        _Request("/base/api/v1/projects/other/workflows/executions/list", b""),
    )
    with pytest.raises(AssertionError):
        api_path(_Request("/api/v1/projects/p/a", b""), _Request("/api/v1/projects/p/b", b""))


def test_bodies_match_without_secrets() -> None:
    first = _Request("/", b'{"authentication":{"nonce":"n1"},"input":{"a":1}}')
    second = _Request("/", b'{"input": {"a": 1}, "authentication": {"nonce": "***"}}')
    body_without_secrets(first, second)
    with pytest.raises(AssertionError):
        body_without_secrets(first, _Request("/", b'{"input":{"a":2}}'))
    body_without_secrets(_Request("/", b"not json"), _Request("/", b"not json"))


# --- the pytest plugin ---------------------------------------------------------------------

SUITE_TEST = """
def test_case(wfc_cassette, wfc_session):
    wfc_session.call("FetchAllWorkflows")
"""


def test_plugin_exits_2_on_a_corrupt_cassette(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(**{"suites/lifecycle/test_case.py": SUITE_TEST})
    cassette = pytester.path / "cassettes" / "lifecycle" / "test_case.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text("interactions: [\n")
    result = pytester.runpytest("--replay", "-p", "no:cacheprovider")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*wfcontracts: *test_case.yaml: invalid YAML at line*re-record*"])


def test_plugin_records_and_replays(pytester: pytest.Pytester, served: str) -> None:
    pytester.makepyfile(**{"suites/lifecycle/test_case.py": SUITE_TEST})
    flags = ["-p", "no:cacheprovider", "--base-url", served, "--project", "p", "--token", TOKEN]
    pytester.runpytest("--record-mode=all", *flags).assert_outcomes(passed=1)
    assert (pytester.path / "cassettes" / "lifecycle" / "test_case.yaml").is_file()
    pytester.runpytest("--replay", "-p", "no:cacheprovider").assert_outcomes(passed=1)
