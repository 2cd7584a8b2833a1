from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import vcr
import yaml
from vcr.request import Request

from wfcontracts.cassettes.scrub import before_record_request, before_record_response, vcr_config

TOKEN = "tok-RECOGNISABLE-7f3a9c1e5b"
CLIENT_SECRET = "secret-RECOGNISABLE-2d8e6b4a"
NONCE = "nonce-RECOGNISABLE-91c0ff"
ECHOED = "echo-RECOGNISABLE-55aa77"


class _EchoHandler(BaseHTTPRequestHandler):
    """Answers every request with a JSON body full of secrets, gzip-encoded on /gzip."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        payload = {
            "items": [{"id": 1, "nonce": NONCE, "status": "READY"}],
            "access_token": TOKEN,
            "note": f"echoed {ECHOED}",
        }
        body = json.dumps(payload).encode()
        gzipped = self.path.startswith("/gzip")
        if gzipped:
            body = gzip.compress(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", f"session={TOKEN}; HttpOnly")
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _record(cassette: Path, base_url: str, path: str, **config: Any) -> httpx.Response:
    recorder = vcr.VCR(**vcr_config(**config))
    with recorder.use_cassette(str(cassette), record_mode="once"):
        with httpx.Client(base_url=base_url) as client:
            return client.post(
                path,
                params={"access_token": TOKEN, "limit": "1"},
                headers={"Authorization": f"Bearer {TOKEN}", "X-Api-Key": CLIENT_SECRET},
                json={
                    "authentication": {"nonce": NONCE},
                    "items": [{"clientId": "app", "clientSecret": CLIENT_SECRET}],
                },
            )


def test_recorded_cassette_contains_no_secret(echo_server: str, tmp_path: Path) -> None:
    cassette = tmp_path / "interaction.yaml"
    response = _record(cassette, echo_server, "/plain")
    assert response.status_code == 200  # the live response itself is untouched
    assert response.json()["access_token"] == TOKEN
    text = cassette.read_text()
    for secret in (TOKEN, CLIENT_SECRET, NONCE):
        assert secret not in text
    interaction = yaml.safe_load(text)["interactions"][0]
    headers = {name.lower(): value for name, value in interaction["request"]["headers"].items()}
    assert headers["authorization"] == ["Bearer ***"]
    sent = json.loads(interaction["request"]["body"])
    assert sent["authentication"] == {"nonce": "***"}
    assert sent["items"] == [{"clientId": "app", "clientSecret": "***"}]


def test_gzip_response_is_stored_decoded_and_scrubbed(echo_server: str, tmp_path: Path) -> None:
    cassette = tmp_path / "gzip.yaml"
    _record(cassette, echo_server, "/gzip")
    text = cassette.read_text()
    assert TOKEN not in text and NONCE not in text
    response = yaml.safe_load(text)["interactions"][0]["response"]
    headers = {name.lower(): value for name, value in response["headers"].items()}
    assert "content-encoding" not in headers
    assert json.loads(response["body"]["string"])["items"][0]["nonce"] == "***"


def test_known_secret_values_are_masked_anywhere(echo_server: str, tmp_path: Path) -> None:
    cassette = tmp_path / "known.yaml"
    _record(cassette, echo_server, "/plain", secrets=[ECHOED, None])
    assert ECHOED not in cassette.read_text()


def test_scrubbed_cassette_replays_offline(echo_server: str, tmp_path: Path) -> None:
    cassette = tmp_path / "replay.yaml"
    _record(cassette, echo_server, "/plain")
    replayer = vcr.VCR(**vcr_config())
    with replayer.use_cassette(str(cassette), record_mode="none") as recorded:
        with httpx.Client(base_url=echo_server) as client:
            response = client.post("/plain", params={"access_token": "other", "limit": "1"})
        assert recorded.play_count == 1
    assert response.json()["access_token"] == "***"


def _vcr_request(body: bytes | str, headers: dict[str, str]) -> Request:
    return Request("POST", f"https://h.example/x?token={TOKEN}", body, headers)


@pytest.mark.parametrize("as_text", [False, True])
def test_request_hook_accepts_bytes_and_text_bodies(as_text: bool) -> None:
    raw = json.dumps({"nonce": NONCE, "keep": 1})
    request = _vcr_request(raw if as_text else raw.encode(), {"Content-Type": "application/json"})
    scrubbed = before_record_request(request)
    assert json.loads(scrubbed.body) == {"nonce": "***", "keep": 1}
    assert TOKEN not in scrubbed.uri


def test_request_hook_decodes_a_gzip_request_body() -> None:
    body = gzip.compress(json.dumps({"clientSecret": CLIENT_SECRET}).encode())
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    scrubbed = before_record_request(_vcr_request(body, headers))
    assert json.loads(scrubbed.body) == {"clientSecret": "***"}
    assert "content-encoding" not in {name.lower() for name in scrubbed.headers}


def test_request_hook_scrubs_form_bodies() -> None:
    body = f"grant_type=client_credentials&client_secret={CLIENT_SECRET}"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    scrubbed = before_record_request(_vcr_request(body, headers))
    assert CLIENT_SECRET.encode() not in scrubbed.body
    assert b"grant_type=client_credentials" in scrubbed.body


def test_response_hook_returns_a_scrubbed_copy() -> None:
    body = gzip.compress(json.dumps({"refresh_token": TOKEN}).encode())
    response: dict[str, Any] = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Encoding": ["gzip"], "Set-Cookie": ["a=b"], "Content-Length": ["9"]},
        "body": {"string": body},
    }
    scrubbed = before_record_response(response)
    assert response["body"]["string"] == body  # the original is untouched
    assert json.loads(scrubbed["body"]["string"]) == {"refresh_token": "***"}
    assert scrubbed["headers"]["Set-Cookie"] == ["***"]
    assert scrubbed["headers"]["Content-Length"] == [str(len(scrubbed["body"]["string"]))]
    assert "Content-Encoding" not in scrubbed["headers"]


def _full_request_hook() -> Any:
    """The request hook vcrpy composes from vcr_config (built-in filters, then ours)."""
    config = vcr_config()
    return vcr.VCR(**config)._build_before_record_request(config)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (gzip.compress(json.dumps({"clientSecret": CLIENT_SECRET}).encode(), mtime=0),
         {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
        (b'{"clientSecret": "' + CLIENT_SECRET.encode() + b'", ',
         {"Content-Type": "application/json"}),
        (b'["token", "nonce"]', {"Content-Type": "application/json"}),
    ],
)  # fmt: skip
def test_vcr_config_records_compressed_and_malformed_json_bodies(
    body: bytes, headers: dict[str, str]
) -> None:
    scrubbed = _full_request_hook()(_vcr_request(body, headers))
    assert CLIENT_SECRET.encode() not in scrubbed.body
    if headers.get("Content-Encoding"):
        assert json.loads(scrubbed.body) == {"clientSecret": "***"}


def test_vcr_config_keeps_the_bearer_shape_through_vcrpy_filters() -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Cookie": "a=b"}
    scrubbed = _full_request_hook()(_vcr_request(b"", headers))
    assert dict(scrubbed.headers) == {"authorization": "Bearer ***", "cookie": "***"}
    assert vcr_config()["decode_compressed_response"] is True
