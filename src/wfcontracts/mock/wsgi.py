"""The mock as a WSGI app: how schemathesis reaches the embedded mock in-process.

schemathesis sends every request of a schema with an `app` — its checks' probes included —
through it, synchronously: no event loop, no socket. The ASGI adapter (`app.py`, served by
uvicorn) and the httpx transport (`transport.py`) are its siblings over the same dispatcher.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from wfcontracts.mock.http import MockRequest

if TYPE_CHECKING:
    from wfcontracts.mock.service import MockService

_KNOWN = {status.value for status in HTTPStatus}


class MockWsgiApp:
    """A WSGI app answering from `service`."""

    def __init__(self, service: MockService) -> None:
        self.service = service

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raw_uri = environ.get("RAW_URI") or environ.get("PATH_INFO", "/")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        answer = self.service.handle(
            MockRequest(
                method=environ["REQUEST_METHOD"],
                raw_path=raw_uri.partition("?")[0],
                query=environ.get("QUERY_STRING", ""),
                headers=headers,
                body=environ["wsgi.input"].read(length) if length else b"",
            )
        )
        reason = HTTPStatus(answer.status).phrase if answer.status in _KNOWN else ""
        start_response(f"{answer.status} {reason}", list(answer.headers.items()))
        return [answer.body]
