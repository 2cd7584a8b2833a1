"""`wfcontracts verify` against a live target over HTTP, as a user runs it: one runtime drives
every suite (fuzzing included), requests go only to the target, the rate bound holds for the
whole run, the fuzzer writes only what the run created, and a harness crash is an error.

The target is `wfcontracts mock serve`'s app served on loopback in this process (so the test can
see every request it got); verify runs in a subprocess like a CI job.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from wfcontracts.mock.http import MockRequest, MockResponse
from wfcontracts.mock.server import BackgroundServer, serve_in_background
from wfcontracts.mock.service import MockService

TOKEN = "wfc-live-target-token-5d1e"
SUITES = Path(__file__).resolve().parents[2] / "suites"
PROJECT = "ref"


@dataclass
class Seen:
    method: str
    path: str
    fuzzed: bool  # sent by schemathesis (its test-case header), not by the suites' client
    at: float


class RecordingMock(MockService):
    """The mock, remembering every request it answered."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.seen: list[Seen] = []
        self._lock = threading.Lock()

    def respond(self, request: MockRequest) -> tuple[MockResponse, float]:
        with self._lock:
            self.seen.append(
                Seen(
                    request.method,
                    request.raw_path,
                    "x-schemathesis-testcaseid" in request.headers,
                    time.monotonic(),
                )
            )
        return super().respond(request)


@pytest.fixture
def target() -> Iterator[tuple[RecordingMock, BackgroundServer]]:
    service = RecordingMock(tokens=[TOKEN])
    with serve_in_background(service) as server:
        yield service, server


@pytest.fixture
def trap() -> Iterator[tuple[RecordingMock, BackgroundServer]]:
    """A second server standing where the environment points (CDF_URL): it must hear nothing."""
    service = RecordingMock(tokens=[TOKEN])
    with serve_in_background(service) as server:
        yield service, server


def verify(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "wfcontracts.cli", "verify", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd, env=environment,
    )  # fmt: skip


def summary_of(directory: Path) -> dict[str, object]:
    return json.loads((directory / "reports" / "summary.json").read_text())


def test_every_suite_runs_over_http_and_only_against_the_target(
    target: tuple[RecordingMock, BackgroundServer],
    trap: tuple[RecordingMock, BackgroundServer],
    tmp_path: Path,
) -> None:
    service, server = target
    trap_service, trap_server = trap
    result = verify(
        "--base-url", server.base_url, "--project", PROJECT, "--token", TOKEN,
        "--max-examples", "5", "--seed", "1",
        cwd=tmp_path,
        env={"CDF_URL": trap_server.base_url, "CDF_PROJECT": "elsewhere", "CDF_TOKEN": "other"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.startswith(f"wfcontracts: verifying {server.base_url}/api/v1/projects/ref")
    summary = summary_of(tmp_path)
    assert summary["suites"] == ["compat", "contract", "fuzz", "lifecycle"]
    fuzzed = [s for s in service.seen if s.fuzzed]
    assert len(fuzzed) > 100, "the fuzz suite did not reach the target"
    assert all(s.path.startswith(f"/api/v1/projects/{PROJECT}/") for s in service.seen)
    assert trap_service.seen == [], "a request went to the environment's CDF_URL"
    assert TOKEN not in result.stdout + result.stderr


HOSTS_PATCH = """
import socket
_real = socket.getaddrinfo
def _getaddrinfo(host, *args, **kwargs):
    # A remote-looking name for a loopback server: the harness must treat it as remote.
    return _real("127.0.0.1" if host == "{name}" else host, *args, **kwargs)
socket.getaddrinfo = _getaddrinfo
"""


def test_max_rps_bounds_the_whole_run_fuzzing_included(
    target: tuple[RecordingMock, BackgroundServer], tmp_path: Path
) -> None:
    """Through the plugin (same runtime as verify) so the fuzz part can be cut to one
    operation: seeding (httpx) and fuzzing (requests) share the one bucket."""
    service, server = target
    name = "cdf-target.wfcontracts.test"
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(HOSTS_PATCH.replace("{name}", name))
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", str(SUITES / "fuzz"), "-p", "no:cacheprovider",
            "-k", "test_operation and executions and list", "-q",
            "--base-url", f"http://{name}:{server.port}", "--project", PROJECT,
            "--token", TOKEN, "--max-rps", "5", "--max-examples", "3", "--seed", "2",
            "--fuzz-seconds", "200",  # ~12 s for the one operation: enough cases to measure
        ],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    times = [s.at for s in service.seen]
    assert sum(s.fuzzed for s in service.seen) >= 20, "the fuzz suite did not reach the target"
    span = times[-1] - times[0]
    rate = (len(times) - 1) / span
    assert rate <= 5.0, f"{len(times)} requests in {span:.1f} s = {rate:.2f}/s"
    for start in times:  # and no burst: any second holds at most 5 (+1 at its edge)
        close = [s for s in service.seen if 0 <= s.at - start < 1.0]
        assert len(close) <= 6, [(s.method, s.path, round(s.at - start, 3)) for s in close]


FOREIGN = ("0", "a", "string", "my-workflow")


def test_fuzzing_writes_only_what_the_run_created(
    target: tuple[RecordingMock, BackgroundServer], tmp_path: Path
) -> None:
    service, server = target
    api = httpx.Client(
        base_url=f"{server.base_url}/api/v1/projects/{PROJECT}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    task = {
        "externalId": "hold",
        "type": "function",
        "parameters": {"function": {"externalId": "f"}, "isAsyncComplete": True},
    }
    for xid in FOREIGN:  # one item per upsert: the API takes one version at a time
        item = {"workflowExternalId": xid, "version": "1", "workflowDefinition": {"tasks": [task]}}
        assert api.post("/workflows/versions", json={"items": [item]}).status_code == 200
    running = api.post(
        "/workflows/my-workflow/versions/1/run", json={"authentication": {"nonce": "n"}}
    ).json()["id"]
    before = api.get("/workflows/versions", params={"limit": 1000}).json()

    result = verify(
        "--base-url", server.base_url, "--project", PROJECT, "--token", TOKEN,
        "--suite", "fuzz", "--max-examples", "15", "--seed", "4",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    after = api.get("/workflows/versions", params={"limit": 1000}).json()
    assert after == before, "a version the run did not create was changed or deleted"
    workflows = api.get("/workflows", params={"limit": 1000}).json()["items"]
    assert sorted(w["externalId"] for w in workflows) == sorted(FOREIGN)
    assert api.get(f"/workflows/executions/{running}").json()["status"] == "RUNNING"
    # The fuzzer did write (upserts and deletes), under the run prefix only.
    deletes = [s for s in service.seen if s.path.endswith("/workflows/delete")]
    assert deletes, "the fuzz suite sent no workflow delete: this test proves nothing"


CRASH_PLUGIN = '''
"""Injected through PYTEST_ADDOPTS: a scenario step blows up like a harness bug would."""
from wfcontracts.scenarios import probes


def _broken_cancel(self, *args, **kwargs):
    raise KeyError("id")


probes.Probe.cancel = _broken_cancel
'''


def test_a_harness_crash_is_an_error_not_a_violation(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "wfc_crash_plugin.py").write_text(textwrap.dedent(CRASH_PLUGIN))
    result = verify(
        "--suite", "lifecycle", "--seed", "1",
        cwd=tmp_path, env={"PYTHONPATH": str(site), "PYTEST_ADDOPTS": "-p wfc_crash_plugin"},
    )  # fmt: skip
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "errored" in lines[0] and "KeyError" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    summary = summary_of(tmp_path)
    outcomes = {entry["outcome"] for entry in summary["checks"]}  # type: ignore[index]
    assert "error" in outcomes and "failed" not in outcomes
    junit = ET.parse(tmp_path / "reports" / "junit.xml")
    assert junit.find(".//testcase/error") is not None
    assert junit.find(".//testcase/failure") is None
    assert "badge-error" in (tmp_path / "reports" / "index.html").read_text()
