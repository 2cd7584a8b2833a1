"""An httpx transport that hands requests to the mock in-process: no sockets, no event loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from wfcontracts.mock.http import MockRequest

if TYPE_CHECKING:
    from wfcontracts.mock.service import MockService


class MockTransport(httpx.BaseTransport):
    def __init__(self, service: MockService) -> None:
        self.service = service

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path.decode("ascii")
        path, _, query = raw_path.partition("?")
        response = self.service.handle(
            MockRequest(
                method=request.method,
                raw_path=path,
                query=query,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=request.read(),
            )
        )
        return httpx.Response(response.status, headers=response.headers, content=response.body)
