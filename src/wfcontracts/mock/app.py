"""The mock as a plain ASGI app adapting to the framework-free dispatcher.

No web framework: the dispatcher routes by the contract itself and answers every error with
the CDF envelope, so a framework's routing, middleware and Request/Response objects would only
add per-request cost (profiled: Starlette's middleware stack alone was ~5 % of a run + GET) to
a mock that must be fast enough to be the default target (bench: ≥ 2.5× Prism).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from wfcontracts.mock.http import MAX_BODY_BYTES, ConnectionDropped, MockRequest

if TYPE_CHECKING:
    from wfcontracts.mock.service import MockService

# The ASGI interface's types (the spec's, spelled out: no framework to import them from).
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class MockApp:
    """An ASGI app serving `/api/v1/projects/{project}/…` and `/_mock/*` for `service`."""

    def __init__(self, service: MockService) -> None:
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":  # nothing to start or stop: acknowledge both
            while True:
                message = await receive()
                kind = message["type"].rpartition(".")[2]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
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
            result, delay = self.service.respond(request)
        except ConnectionDropped as dropped:
            await _drop_connection(receive, dropped)
            return
        if delay > 0:
            await asyncio.sleep(delay)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in result.headers.items()]
        headers.append((b"content-length", str(len(result.body)).encode()))
        await send({"type": "http.response.start", "status": result.status, "headers": headers})
        await send({"type": "http.response.body", "body": result.body})


def create_app(service: MockService) -> MockApp:
    """The ASGI app of `service` (for uvicorn, or `httpx.ASGITransport` in-process)."""
    return MockApp(service)


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
