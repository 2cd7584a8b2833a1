"""Mock throughput vs Prism serving the same contract: run+retrieve pairs per second over
loopback, same client, same requests, measured in the same run. Target: mock ≥ 2.5× Prism."""

from __future__ import annotations

import time
from typing import Any

import httpx
from _common import CONTRACT, TOKEN, free_port, prism_binary, process, served_mock

PAIRS = 600
WARMUP = 50
HEADERS = {"Authorization": f"Bearer {TOKEN}", "content-type": "application/json"}


def pairs_per_second(api_root: str, pairs: int = PAIRS) -> float:
    run_body = {"authentication": {"nonce": "bench-nonce"}, "input": {"n": 1}}
    with httpx.Client(base_url=api_root, headers=HEADERS, timeout=30) as client:
        version = {"workflowExternalId": "bench", "version": "1", "workflowDefinition": {"tasks": [
            {"externalId": "ok", "type": "cdf",
             "parameters": {"cdfRequest": {"resourcePath": "/workflows", "method": "GET"}}}
        ]}}  # fmt: skip
        client.post("/workflows/versions", json={"items": [version]})

        def pair() -> None:
            created = client.post("/workflows/bench/versions/1/run", json=run_body)
            assert created.status_code == 202, created.text[:200]
            fetched = client.get(f"/workflows/executions/{created.json()['id']}")
            assert fetched.status_code == 200, fetched.text[:200]

        for _ in range(WARMUP):
            pair()
        started = time.perf_counter()
        for _ in range(pairs):
            pair()
        return pairs / (time.perf_counter() - started)


def measure() -> dict[str, Any]:
    with served_mock() as root:
        mock = pairs_per_second(root)
    binary = prism_binary()
    if binary is None:
        return {
            "mock_pairs_per_s": mock,
            "prism_pairs_per_s": None,
            "ratio": None,
            "note": "Node/npm not available",
        }
    port = free_port()
    command = [str(binary), "mock", str(CONTRACT), "-p", str(port), "--errors", "false"]
    with process(command, f"http://127.0.0.1:{port}/workflows", timeout=120):
        prism = pairs_per_second(f"http://127.0.0.1:{port}")
    return {"mock_pairs_per_s": mock, "prism_pairs_per_s": prism, "ratio": mock / prism}


def main() -> None:
    result = measure()
    prism = result["prism_pairs_per_s"]
    print(f"mock  run+get pairs/s: {result['mock_pairs_per_s']:8.1f}")
    print(
        f"prism run+get pairs/s: {prism:8.1f}"
        if prism
        else f"prism: skipped ({result.get('note')})"
    )
    if result["ratio"]:
        print(f"ratio mock/prism:      {result['ratio']:8.2f}  (target >= 2.5)")


if __name__ == "__main__":
    main()
