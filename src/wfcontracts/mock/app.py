"""The mock as a Starlette ASGI app adapting to the framework-free dispatcher.

Every request reaches one raw ASGI handler (the router's default): no per-request route
matching, Request or Response objects — the dispatcher routes by the contract itself, and the
mock must be fast enough to be the default target (bench: ≥ 2.5× Prism).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette

from wfcontracts.mock.http import MAX_BODY_BYTES, MockRequest

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
        # latency with one worker.
        result = service.handle(request)
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
