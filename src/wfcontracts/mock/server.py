"""Serving the mock over HTTP: `wfcontracts mock serve`, and a background server for tests."""

from __future__ import annotations

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
    """Serve in the foreground until Ctrl-C."""
    _check_port_free(host, port)
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


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ServeError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
