"""A lean HTTP/1.1 load generator for the throughput benchmarks: N concurrent keep-alive
connections on one asyncio loop, each running `run` + `GET` of the execution it just ran.

Why not httpx in threads: on 2 cores the client shares the machine with the server, and a
client that spends ~0.3 ms of Python per request (and fights the GIL across threads) measures
itself as much as the server. Here each request costs the client a few µs — bytes prepared
once, responses parsed by httptools (uvicorn's C parser) — so both servers are measured with
the same, small share of the machine left to the client.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools


class _Response(asyncio.Protocol):
    """One keep-alive connection: send a request, await its whole response."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._body: list[bytes] = []
        self._done: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(ConnectionError(f"connection closed: {exc}"))

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._done is not None
        self._done.set_result((self._parser.get_status_code(), b"".join(self._body)))

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self._body = []
        self._done = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self._done


@dataclass(frozen=True)
class Target:
    """Where to send: host, port and the API root path (no trailing slash)."""

    host: str
    port: int
    root: str

    @classmethod
    def parse(cls, api_root: str) -> Target:
        url = urlsplit(api_root)
        return cls(url.hostname or "127.0.0.1", url.port or 80, url.path.rstrip("/"))


def _request(target: Target, method: str, path: str, token: str, body: object = None) -> bytes:
    payload = b"" if body is None else json.dumps(body).encode()
    head = (
        f"{method} {target.root}{path} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
    )
    if body is not None:
        head += "Content-Type: application/json\r\n"
    return head.encode() + b"\r\n" + payload


async def _pairs(
    target: Target, run_path: str, run_body: object, token: str, clients: int, pairs: int
) -> float:
    loop = asyncio.get_running_loop()
    run = _request(target, "POST", run_path, token, run_body)
    connections = []
    for _ in range(clients):
        _, protocol = await loop.create_connection(_Response, target.host, target.port)
        connections.append(protocol)

    async def client(connection: _Response) -> None:
        for _ in range(pairs):
            status, body = await connection.exchange(run)
            if status != 202:
                raise RuntimeError(f"run answered {status}: {body[:200]!r}")
            execution = json.loads(body)["id"]
            get = _request(target, "GET", f"/workflows/executions/{execution}", token)
            status, body = await connection.exchange(get)
            if status != 200:
                raise RuntimeError(f"retrieve answered {status}: {body[:200]!r}")

    started = time.perf_counter()
    try:
        await asyncio.gather(*(client(c) for c in connections))
    finally:
        for connection in connections:
            if connection.transport is not None:
                connection.transport.close()
    return clients * pairs / (time.perf_counter() - started)


def run_get_pairs_per_second(
    api_root: str, run_path: str, run_body: object, token: str, *, clients: int, pairs: int
) -> float:
    """`clients` keep-alive connections, each doing `pairs` run+GET pairs; pairs/s overall."""
    return asyncio.run(_pairs(Target.parse(api_root), run_path, run_body, token, clients, pairs))
