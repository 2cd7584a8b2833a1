"""The CLI as a user runs it: a subprocess, exit codes 0/1/2, one-line errors, no secrets."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

SECRET = "wfc-RECOGNISABLE-secret-token-7f3a9c"


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfcontracts.cli", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd,
    )  # fmt: skip


def assert_usage_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in lines[0], lines[0]


@dataclass
class Served:
    base_url: str


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """`wfcontracts mock serve` in its own process, as a user would start it."""
    port = closed_port()
    command = [
        sys.executable,
        "-m",
        "wfcontracts.cli",
        "mock",
        "serve",
        "--port",
        str(port),
        "--token",
        SECRET,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base_url}/_mock/clock", timeout=1)
                break
            except httpx.HTTPError:
                assert process.poll() is None and time.monotonic() < deadline, (
                    "mock serve did not start"
                )
                time.sleep(0.1)
        yield Served(base_url)
    finally:
        process.terminate()
        process.wait(timeout=10)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unknown_flag() -> None:
    assert_usage_error(run_cli("verify", "--no-such-flag"), "--no-such-flag")


def test_unreachable_url() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    assert_usage_error(
        run_cli("verify", "--base-url", url, "--project", "p", "--token", SECRET), "127.0.0.1"
    )


def test_wrong_token_is_rejected_without_echoing_it(served: Served) -> None:
    wrong = "wfc-wrong-token-0123456789"
    result = run_cli("verify", "--base-url", served.base_url, "--project", "p", "--token", wrong)
    assert_usage_error(result, "401")
    assert wrong not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("openapi: 3.1.0\ninfo: [oops\n", "YAML"),
        (
            "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n"
            "      responses:\n        '200': {$ref: '#/components/responses/Nope'}\n",
            "does not resolve",
        ),
        ("openapi: 3.1.0\npaths: {}\n", "info"),
    ],
    ids=["syntax-error", "dangling-ref", "missing-required-field"],
)
def test_malformed_contract(tmp_path: Path, text: str, problem: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    assert_usage_error(run_cli("verify", "--contract", str(bad)), str(bad), problem)


def test_unknown_fault() -> None:
    assert_usage_error(run_cli("verify", "--fault", "no_such_fault"), "no_such_fault")


def test_compat_bad_input(tmp_path: Path) -> None:
    assert_usage_error(
        run_cli("compat", str(tmp_path / "missing.yaml"), str(tmp_path / "x.yaml")), "missing.yaml"
    )


def test_verify_over_http_passes_and_leaks_no_secret(served: Served, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = run_cli(
        "verify", "--base-url", served.base_url, "--project", "p", "--token", SECRET,
        "--suite", "contract", "--suite", "lifecycle", "--report-dir", str(reports),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "contract" in result.stdout and "gate: PASSED" in result.stdout
    assert "lifecycle" in result.stdout
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["totals"]["failed"] == 0 and summary["totals"]["passed"] > 20
    assert summary["target"] == {"kind": "live", "baseUrl": served.base_url, "project": "p"}
    outputs = [result.stdout, result.stderr] + [
        p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file()
    ]
    assert all(SECRET not in text for text in outputs)


def test_verify_with_a_fault_fails_with_exit_1(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = run_cli(
        "verify",
        "--suite",
        "contract",
        "--fault",
        "metadata_not_echoed",
        "--report-dir",
        str(reports),
    )
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads((reports / "summary.json").read_text())
    failed = {c["check"] for c in summary["checks"] if c["outcome"] == "failed"}
    assert "request_echo" in failed
    junit = (reports / "junit.xml").read_text()
    assert "request_echo" in junit and "<failure" in junit
    assert 'data-check="request_echo"' in (reports / "index.html").read_text()
    allure = [json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")]
    failed_allure = [r for r in allure if r["status"] == "failed"]
    assert failed_allure and all(
        {"name": "story", "value": "request_echo"} in r["labels"]
        or "request_echo" in r["statusDetails"]["message"]
        for r in failed_allure
    )
    assert (reports / "allure-results" / "environment.properties").is_file()


def test_mock_faults_lists_every_fault() -> None:
    result = run_cli("mock", "faults")
    assert result.returncode == 0
    assert "retry_new_id" in result.stdout and "auth_ignored" in result.stdout


CLIENT_SECRET = "wfc-RECOGNISABLE-client-secret-91b2"


class _TokenEndpoint:
    """A local OAuth2 token endpoint issuing SECRET for the right client credentials."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, HTTPServer
        from urllib.parse import parse_qs

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                ok = form.get("client_secret") == [CLIENT_SECRET]
                body = (
                    {"access_token": SECRET, "expires_in": 3600}
                    if ok
                    else {"error": "invalid_client"}
                )
                payload = json.dumps(body).encode()
                self.send_response(200 if ok else 401)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oauth2/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_verify_with_client_credentials(served: Served, tmp_path: Path) -> None:
    import os

    endpoint = _TokenEndpoint()
    env = {
        **os.environ,
        "IDP_CLIENT_ID": "wfcontracts-ci",
        "IDP_CLIENT_SECRET": CLIENT_SECRET,
        "IDP_TOKEN_URL": endpoint.url,
        "IDP_SCOPES": "https://example.invalid/.default",
    }
    env.pop("CDF_TOKEN", None)
    reports = tmp_path / "reports"
    command = [
        sys.executable, "-m", "wfcontracts.cli", "verify", "--base-url", served.base_url,
        "--project", "p", "--suite", "contract", "--report-dir", str(reports),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    endpoint.server.shutdown()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    outputs = [result.stdout, result.stderr] + [
        p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file()
    ]
    assert all(CLIENT_SECRET not in text and SECRET not in text for text in outputs)


def test_rejected_client_credentials_are_one_line(served: Served) -> None:
    import os

    endpoint = _TokenEndpoint()
    env = {
        **os.environ,
        "IDP_CLIENT_ID": "wfcontracts-ci",
        "IDP_CLIENT_SECRET": "wfc-wrong-client-secret-5555",
        "IDP_TOKEN_URL": endpoint.url,
    }
    env.pop("CDF_TOKEN", None)
    command = [
        sys.executable,
        "-m",
        "wfcontracts.cli",
        "verify",
        "--base-url",
        served.base_url,
        "--project",
        "p",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    endpoint.server.shutdown()
    assert_usage_error(result, "127.0.0.1")
    assert "wfc-wrong-client-secret-5555" not in result.stderr + result.stdout


def _copy_cassettes(tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "cassettes"
    shutil.copytree(Path(__file__).resolve().parents[2] / "cassettes", target)
    return target


def test_drift_of_the_shipped_cassettes_is_clean() -> None:
    result = run_cli("drift", "--cassettes", str(Path(__file__).resolve().parents[2] / "cassettes"))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "Result: clean" in result.stdout


def test_drift_reports_a_hand_edited_response(tmp_path: Path) -> None:
    cassettes = _copy_cassettes(tmp_path)
    victim = sorted(cassettes.rglob("*.yaml"))[0]
    victim.write_text(victim.read_text().replace('"status":"RUNNING"', '"status":"SUCCEEDED"'))
    result = run_cli("drift", "--cassettes", str(cassettes))
    assert result.returncode == 1, result.stdout[-2000:]
    assert "SUCCEEDED" in result.stdout


def test_drift_of_a_corrupt_cassette_is_one_line(tmp_path: Path) -> None:
    cassettes = _copy_cassettes(tmp_path)
    victim = sorted(cassettes.rglob("*.yaml"))[0]
    victim.write_text("interactions: [unclosed\n")
    assert_usage_error(run_cli("drift", "--cassettes", str(cassettes)), victim.name)
