"""An httpx transport that hands requests to the mock in-process: no sockets, no event loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from wfcontracts.mock.http import ConnectionDropped, MockRequest

if TYPE_CHECKING:
    from wfcontracts.mock.service import MockService


class MockTransport(httpx.BaseTransport):
    def __init__(self, service: MockService) -> None:
        self.service = service

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path.decode("ascii")
        path, _, query = raw_path.partition("?")
        try:
            response = self.service.handle(
                MockRequest(
                    method=request.method,
                    raw_path=path,
                    query=query,
                    headers={k.lower(): v for k, v in request.headers.items()},
                    body=request.read(),
                )
            )
        except ConnectionDropped as dropped:
            # What httpx raises when a real server ends the connection without answering.
            if dropped.reset:
                raise httpx.ReadError(
                    "[Errno 104] Connection reset by peer", request=request
                ) from None
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None
        return httpx.Response(response.status, headers=response.headers, content=response.body)
