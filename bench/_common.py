"""Shared benchmark plumbing: start servers as subprocesses on loopback, wait, stop."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "contracts" / "cdf-workflows.openapi.yaml"
CACHE = ROOT / "bench" / ".cache"
TOKEN = "wfcontracts-bench-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def process(
    command: Sequence[str], ready_url: str, timeout: float = 60.0
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server until the block ends; wait until `ready_url` answers anything."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(ready_url, timeout=1.0)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {' '.join(command)}") from None
                time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def served_mock(*extra: str) -> Iterator[str]:
    """`wfcontracts mock serve` in a subprocess (1 uvicorn worker); yields the API root URL.

    At the instant pace unless `extra` says otherwise: throughput and per-case cost are the
    server's own, not the 60–120 ms response latency `real` pace adds to every answer."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "wfcontracts.cli",
        "mock",
        "serve",
        "--port",
        str(port),
        "--token",
        TOKEN,
        "--pace",
        "instant",
        *extra,
    ]
    with process(command, f"http://127.0.0.1:{port}/_mock/clock"):
        yield f"http://127.0.0.1:{port}/api/v1/projects/bench"


def prism_binary() -> Path | None:
    """Prism from the npm registry, installed once under bench/.cache (None without Node)."""
    binary = CACHE / "prism" / "node_modules" / ".bin" / "prism"
    if binary.exists():
        return binary
    if shutil.which("npm") is None:
        return None
    (CACHE / "prism").mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["npm", "install", "--silent", "--prefix", str(CACHE / "prism"), "@stoplight/prism-cli@5"],
        capture_output=True, timeout=600,
    )  # fmt: skip
    return binary if result.returncode == 0 and binary.exists() else None
