"""Mock throughput and list scaling over loopback: `python bench/mock_throughput.py`.

Each measurement serves the mock from its own subprocess (one uvicorn worker, real clock),
pre-filled in-process with N executions before it starts listening, and drives it from this
process over 127.0.0.1 (httpx for list pages, the lean `loadgen` client for throughput). Prints
one table:

* run+retrieve pairs/s (one keep-alive client, and four concurrent ones);
* list-page latency (limit 100; the first page and a cursor page) at 1 000 and 100 000 stored
  executions, the 100k/1k ratio (target <= 1.5) and the backend-only time for the same pages;
* RSS of the server process at 100 000 executions.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from loadgen import run_get_pairs_per_second

TOKEN = "bench-token"
PROJECT = "bench"
API = f"/api/v1/projects/{PROJECT}"
AUTH = {"authorization": f"Bearer {TOKEN}"}
RUN_BODY = {"authentication": {"nonce": "bench"}, "input": {"n": 1}, "metadata": {"k": "v"}}
TARGET_RATIO = 1.5

# The served process: fill the backend directly (fast, no HTTP), time a few backend-only list
# pages, then serve with uvicorn. Runs under `python -c` because the mock has no __main__.
SERVER_CODE = r"""
import sys, time, uvicorn
from wfcontracts.mock.app import create_app
from wfcontracts.mock.service import MockService

port, prefill, token, project = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
service = MockService(tokens=[token], task_latency_ms=0)
backend = service.backend
function = {"function": {"externalId": "fn"}}
for name, is_async in (("sync-wf", False), ("async-wf", True)):
    task = {"externalId": "t", "type": "function",
            "parameters": {**function, "isAsyncComplete": is_async}}
    backend.upsert_version(project, {"workflowExternalId": name, "version": "1",
                                     "workflowDefinition": {"tasks": [task]}})
body = {"authentication": {"nonce": "n"}, "input": {"n": 1}, "metadata": {"k": "v"}}
for index in range(prefill):
    backend.run_execution(project, "sync-wf" if index % 2 else "async-wf", "1", body)
backend.advance()

def backend_ms(request):
    start = time.perf_counter()
    for _ in range(200):
        backend.list_executions(project, request)
    return (time.perf_counter() - start) / 200 * 1000

first = backend.list_executions(project, {"limit": 100})
print("BACKEND", backend_ms({"limit": 100}),
      backend_ms({"limit": 100, "cursor": first["nextCursor"]}) if "nextCursor" in first else 0.0,
      flush=True)
uvicorn.run(create_app(service), host="127.0.0.1", port=port, log_level="warning",
            access_log=False, workers=1)
"""


@dataclass
class Served:
    """A mock server subprocess: its base URL, pid and the backend-only list timings."""

    base_url: str
    pid: int
    backend_first_ms: float
    backend_cursor_ms: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(prefill: int) -> Iterator[Served]:
    """Start a pre-filled mock in a subprocess; stop it (by its pid) on exit."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER_CODE, str(port), str(prefill), TOKEN, PROJECT],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if not line or line[0] != "BACKEND":
            raise SystemExit(f"the mock server did not start (exit code {process.poll()})")
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_up(base_url, process)
        yield Served(base_url, process.pid, float(line[1]), float(line[2]))
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_up(base_url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the mock server exited during start-up")
        try:
            httpx.get(f"{base_url}/_mock/clock", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit("the mock server did not answer within 60 s")


def rss_mb(pid: int) -> float:
    """Resident set size of `pid` in MB (Linux /proc)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_retrieve_pairs(base_url: str, clients: int, pairs: int) -> float:
    """run + GET of the run's execution by `clients` keep-alive connections, `pairs` each."""
    return run_get_pairs_per_second(
        f"{base_url}{API}", "/workflows/sync-wf/versions/1/run", RUN_BODY, TOKEN,
        clients=clients, pairs=pairs,
    )  # fmt: skip


def _page_call(http: httpx.Client, body: dict[str, Any]) -> Callable[[], Any]:
    def call() -> Any:
        response = http.post(f"{API}/workflows/executions/list", json=body)
        response.raise_for_status()
        return response.json()

    return call


def interleaved_latencies(
    calls: dict[str, Callable[[], Any]], repeats: int
) -> dict[str, tuple[float, float]]:
    """p50/p95 ms of each call; samples alternate between the calls so that drift on a busy
    machine (CPU frequency, the other process) hits every figure alike."""
    for call in calls.values():
        for _ in range(10):
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - start) * 1000)
    result = {}
    for name, values in samples.items():
        values.sort()
        result[name] = (statistics.median(values), values[int(len(values) * 0.95) - 1])
    return result


def list_latencies(small: Served, large: Served, repeats: int) -> dict[str, tuple[float, float]]:
    """First page and cursor page (limit 100, no filter) on both servers, interleaved."""
    calls: dict[str, Callable[[], Any]] = {}
    clients = []
    for size, server in (("small", small), ("large", large)):
        http = httpx.Client(base_url=server.base_url, headers=AUTH, timeout=30)
        clients.append(http)
        cursor = _page_call(http, {"limit": 100})()["nextCursor"]
        calls[f"{size} first page"] = _page_call(http, {"limit": 100})
        calls[f"{size} cursor page"] = _page_call(http, {"limit": 100, "cursor": cursor})
    try:
        return interleaved_latencies(calls, repeats)
    finally:
        for http in clients:
            http.close()


def measure(
    pairs: int = 2000, repeats: int = 300, small_n: int = 1_000, large_n: int = 100_000
) -> dict[str, Any]:
    """Every figure of this benchmark; `rows` is the printable table."""
    rows: list[tuple[str, str]] = []
    with served(small_n) as small:
        one = run_retrieve_pairs(small.base_url, 1, pairs)
        four = run_retrieve_pairs(small.base_url, 4, pairs)
    rows += [
        ("run+retrieve pairs/s, 1 client", f"{one:,.0f} ({2 * one:,.0f} req/s)"),
        ("run+retrieve pairs/s, 4 clients", f"{four:,.0f} ({2 * four:,.0f} req/s)"),
    ]
    # Fresh servers so the throughput run's executions do not change the sizes measured.
    with served(small_n) as small, served(large_n) as large:
        latencies = list_latencies(small, large, repeats)
        large_rss = rss_mb(large.pid)
        backend = {"small": small, "large": large}

    ratios: dict[str, float] = {}
    for name in ("first page", "cursor page"):
        (small_p50, _), (large_p50, _) = latencies[f"small {name}"], latencies[f"large {name}"]
        ratios[name] = large_p50 / small_p50
        for size, count in (("small", small_n), ("large", large_n)):
            p50, p95 = latencies[f"{size} {name}"]
            server = backend[size]
            inner = server.backend_first_ms if name == "first page" else server.backend_cursor_ms
            rows.append(
                (
                    f"list {name} p50/p95 ms @ {count:,}",
                    f"{p50:.2f} / {p95:.2f} (backend alone {inner:.3f})",
                )
            )
        rows.append((f"list {name} ratio {large_n:,}/{small_n:,} (p50)", f"{ratios[name]:.2f}"))
    rows.append((f"server RSS MB @ {large_n:,} executions", f"{large_rss:,.0f}"))
    met = all(r <= TARGET_RATIO for r in ratios.values())
    rows.append(("list ratio target <= 1.5", "met" if met else "NOT met"))
    return {
        "pairs_per_s_1_client": one,
        "pairs_per_s_4_clients": four,
        "list_ratio_first_page": ratios["first page"],
        "list_ratio_cursor_page": ratios["cursor page"],
        "rss_mb_large": large_rss,
        "list_target_met": met,
        "rows": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000, help="run+GET pairs per client")
    parser.add_argument("--repeats", type=int, default=300, help="list calls per latency figure")
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    result = measure(args.pairs, args.repeats, args.small, args.large)
    _print_table(result["rows"])
    return 0 if result["list_target_met"] else 1


def _print_table(rows: list[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows)
    print(f"mock throughput (python {sys.version.split()[0]}, {os.cpu_count()} cpus, 1 worker)")
    print("-" * (width + 40))
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    sys.exit(main())
