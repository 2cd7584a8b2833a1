"""Mock throughput vs Prism serving the same contract, measured in the same run.

Both servers run side by side on loopback (`wfcontracts mock serve --pace instant`, one uvicorn
worker; Prism 5 from npm). Each round drives one server with the same load — `CLIENTS`
concurrent keep-alive connections, each doing `PAIRS` run + GET pairs of a workflow whose one
task is an async function, so every execution stays RUNNING and the store keeps growing — and
the rounds alternate between the servers so drift on a shared machine hits both alike. The
figure is the median of the rounds; the single-client figure is measured the same way.
Target: mock ≥ 2.5× Prism with 4 concurrent clients.
"""

from __future__ import annotations

import argparse
import statistics
from contextlib import ExitStack
from typing import Any

import httpx
from _common import CONTRACT, TOKEN, free_port, prism_binary, process, served_mock
from loadgen import run_get_pairs_per_second

CLIENTS = 4
PAIRS = 2000
ROUNDS = 3
WARMUP_PAIRS = 100
RUN_PATH = "/workflows/bench/versions/1/run"
RUN_BODY = {"authentication": {"nonce": "bench-nonce"}, "input": {"n": 1}}
VERSION = {"workflowExternalId": "bench", "version": "1", "workflowDefinition": {"tasks": [
    {"externalId": "wait", "type": "function",
     "parameters": {"function": {"externalId": "bench-fn"}, "isAsyncComplete": True}},
]}}  # fmt: skip


def _prepare(api_root: str) -> None:
    """Create the workflow version and warm the server up (JIT, caches, connections)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    created = httpx.post(
        f"{api_root}/workflows/versions", json={"items": [VERSION]}, headers=headers, timeout=30
    )
    created.raise_for_status()
    _pairs_per_second(api_root, CLIENTS, WARMUP_PAIRS)


def _pairs_per_second(api_root: str, clients: int, pairs: int) -> float:
    return run_get_pairs_per_second(
        api_root, RUN_PATH, RUN_BODY, TOKEN, clients=clients, pairs=pairs
    )


def _interleaved(roots: dict[str, str], clients: int, pairs: int, rounds: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in roots}
    for _ in range(rounds):
        for name, root in roots.items():
            samples[name].append(_pairs_per_second(root, clients, pairs))
    return {name: statistics.median(values) for name, values in samples.items()}


def measure(pairs: int = PAIRS, rounds: int = ROUNDS) -> dict[str, Any]:
    binary = prism_binary()
    with ExitStack() as servers:
        roots = {"mock": servers.enter_context(served_mock())}
        if binary is not None:
            port = free_port()
            command = [str(binary), "mock", str(CONTRACT), "-p", str(port), "--errors", "false"]
            servers.enter_context(process(command, f"http://127.0.0.1:{port}/workflows", 120))
            roots["prism"] = f"http://127.0.0.1:{port}"
        for root in roots.values():
            _prepare(root)
        concurrent = _interleaved(roots, CLIENTS, pairs, rounds)
        single = _interleaved(roots, 1, pairs, rounds)
    result: dict[str, Any] = {
        "clients": CLIENTS,
        "pairs_per_client": pairs,
        "rounds": rounds,
        "mock_pairs_per_s": concurrent["mock"],
        "mock_pairs_per_s_1_client": single["mock"],
    }
    if "prism" not in roots:
        return {
            **result,
            "prism_pairs_per_s": None,
            "ratio": None,
            "note": "Node/npm not available",
        }
    return {
        **result,
        "prism_pairs_per_s": concurrent["prism"],
        "prism_pairs_per_s_1_client": single["prism"],
        "ratio": concurrent["mock"] / concurrent["prism"],
        "ratio_1_client": single["mock"] / single["prism"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=PAIRS, help="run+GET pairs per client")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    result = measure(args.pairs, args.rounds)
    print(f"median of {args.rounds} interleaved rounds, {args.pairs} pairs per client")
    for label, suffix in ((f"{CLIENTS} clients", ""), ("1 client ", "_1_client")):
        mock, prism = result[f"mock_pairs_per_s{suffix}"], result.get(f"prism_pairs_per_s{suffix}")
        line = f"{label}: mock {mock:7.0f} pairs/s"
        if prism:
            line += f"  prism {prism:7.0f} pairs/s  ratio {result[f'ratio{suffix}']:.2f}"
        print(line)
    if result["ratio"] is None:
        print(f"prism: skipped ({result['note']})")
    else:
        print(f"target: mock/prism >= 2.5 with {CLIENTS} clients")


if __name__ == "__main__":
    main()
