"""Serving the mock over HTTP: `wfcontracts mock serve`, and a background server for tests."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from wfcontracts.errors import WfcontractsError
from wfcontracts.mock.app import create_app
from wfcontracts.mock.service import MockService


class ServeError(WfcontractsError):
    """The mock could not be served (port in use, bad host)."""


def serve(service: MockService, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve in the foreground until Ctrl-C; a bad or busy port raises :class:`ServeError`."""
    check_port(host, port)
    config = uvicorn.Config(
        create_app(service), host=host, port=port, log_level="warning", access_log=False
    )
    uvicorn.Server(config).run()


@dataclass
class BackgroundServer:
    """A mock served on a loopback port in a daemon thread; stop() shuts it down."""

    service: MockService
    host: str
    port: int
    _server: uvicorn.Server
    _thread: threading.Thread

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def serve_in_background(
    service: MockService, host: str = "127.0.0.1", port: int = 0
) -> BackgroundServer:
    """Start serving on an ephemeral port (port=0) and return once it accepts connections."""
    port = port or _free_port(host)
    config = uvicorn.Config(
        create_app(service),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"wfcontracts-mock-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ServeError(f"the mock did not start on {host}:{port}")
        time.sleep(0.01)
    return BackgroundServer(service, host, port, server, thread)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_port(host: str, port: int) -> None:
    """Raise :class:`ServeError` (one line) unless `port` is valid and free on `host`."""
    if not 1 <= port <= 65535:
        raise ServeError(f"cannot serve on port {port}: a port is a number from 1 to 65535")
    _check_port_free(host, port)


def _check_port_free(host: str, port: int) -> None:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except (OSError, UnicodeError) as exc:
        raise ServeError(f"cannot serve on {host}:{port}: {_reason(exc)}") from None
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # uvicorn binds with SO_REUSEADDR: a port in TIME_WAIT is free for it, so for us too.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except (OSError, OverflowError) as exc:
            raise ServeError(f"cannot serve on {host}:{port}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return " ".join(text.split()) or type(exc).__name__
