"""The mock as a Starlette ASGI app adapting to the framework-free dispatcher.

Every request reaches one raw ASGI handler (the router's default): no per-request route
matching, Request or Response objects — the dispatcher routes by the contract itself, and the
mock must be fast enough to be the default target (bench: ≥ 2.5× Prism).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette

from wfcontracts.mock.http import MAX_BODY_BYTES, ConnectionDropped, MockRequest

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from wfcontracts.mock.service import MockService


def create_app(service: MockService) -> Starlette:
    """An ASGI app serving `/api/v1/projects/{project}/…` and `/_mock/*` for `service`."""

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        request = MockRequest(
            method=scope["method"],
            raw_path=raw_path.partition("?")[0],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            body=body,
        )
        # The domain is fast and serialised by its own lock: a threadpool hop would only add
        # latency with one worker. The pace's response latency is awaited, not slept, so
        # concurrent clients wait side by side as they would on a real API.
        try:
            result, delay = service.respond(request)
        except ConnectionDropped as dropped:
            await _drop_connection(receive, dropped)
            return
        if delay > 0:
            await asyncio.sleep(delay)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in result.headers.items()]
        headers.append((b"content-length", str(len(result.body)).encode()))
        await send({"type": "http.response.start", "status": result.status, "headers": headers})
        await send({"type": "http.response.body", "body": result.body})

    app = Starlette()
    app.router.default = handle
    app.state.service = service
    return app


async def _read_body(receive: Any) -> bytes:
    """The request body, but never more than one byte past the limit held in memory (the
    dispatcher answers 413 for anything longer)."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
            size += len(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)[: MAX_BODY_BYTES + 1]


async def _drop_connection(receive: Any, dropped: ConnectionDropped) -> None:
    """Close the socket without a response, as a failing gateway does (a RST if `reset`).

    ASGI has no message for that; under uvicorn, `receive` is bound to the request cycle that
    holds the transport. Anywhere else (httpx.ASGITransport) the exception goes to the caller.
    """
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise dropped
    if dropped.reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:  # linger 0: close() sends RST instead of FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    # Let connection_lost mark the cycle disconnected, so uvicorn neither logs "returned
    # without starting response" nor writes a 500 into the closed socket.
    for _ in range(10):
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0)
