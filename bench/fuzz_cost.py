"""Cost per generated test case: our fuzz suite vs a plain `st run` of the same contract.

Both run as subprocesses against the same `wfcontracts mock serve` on loopback (reset before
each run), with the same budget (`--max-examples`) and seed, in the same run; each is timed
wall-clock end to end (interpreter start, schema loading, seeding, generation, requests, checks)
and divided by the number of cases it reports generating. Target: ours / st ≤ 1.0.

Both children get a bytecode cache under bench/.cache (PYTHONPYCACHEPREFIX) and one untimed
warm-up run, as on a developer machine: without it, an environment with PYTHONDONTWRITEBYTECODE
makes pytest re-rewrite the asserts of every plugin module (schemathesis, hypothesis) on each
run — seconds that `st run` never pays and no cached checkout pays either.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from _common import CACHE, CONTRACT, ROOT, TOKEN, served_mock

MAX_EXAMPLES = 25
SEED = 1
PROJECT = "bench"
ST = Path(sys.executable).with_name("st")
ST_CASES = re.compile(r"(\d+) generated")
OUR_CASES = re.compile(r"wfcontracts fuzz: (\d+) cases")


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(CACHE / "pycache")
    return env


def timed(command: list[str], pattern: re.Pattern[str]) -> tuple[int, float]:
    """Run `command`; the case count it prints and its wall-clock seconds."""
    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=1800
    )
    elapsed = time.perf_counter() - started
    found = pattern.findall(result.stdout)
    if not found:
        tail = (result.stdout + result.stderr)[-800:]
        raise RuntimeError(f"no case count in the output of {command[0]}: {tail}")
    return int(found[-1]), elapsed


def st_command(api_root: str, max_examples: int, seed: int) -> list[str]:
    return [
        str(ST), "run", str(CONTRACT), "--url", api_root,
        "-H", f"Authorization: Bearer {TOKEN}",
        "--max-examples", str(max_examples), "--seed", str(seed), "--no-color",
    ]  # fmt: skip


def suite_command(base_url: str, max_examples: int, seed: int) -> list[str]:
    return [
        sys.executable, "-m", "pytest", str(ROOT / "suites" / "fuzz"), "-q",
        "-p", "no:cacheprovider", "--base-url", base_url, "--project", PROJECT,
        "--token", TOKEN, "--max-examples", str(max_examples), "--seed", str(seed),
    ]  # fmt: skip


def reset(base_url: str) -> None:
    """Empty the served mock, so each run starts from the same state."""
    headers = {"Authorization": f"Bearer {TOKEN}"}  # the control plane takes the mock's token
    httpx.post(f"{base_url}/_mock/reset", headers=headers, timeout=30).raise_for_status()


def _with_budget(command: list[str], max_examples: int) -> list[str]:
    at = command.index("--max-examples")
    return [*command[: at + 1], str(max_examples), *command[at + 2 :]]


def measure(max_examples: int = MAX_EXAMPLES, seed: int = SEED) -> dict[str, Any]:
    """Both runs against one served mock; cases, seconds, per-case cost and the ratio."""
    with served_mock() as api_root:
        base_url = api_root.split("/api/v1/", 1)[0]
        st = st_command(api_root, max_examples, seed)
        ours = suite_command(base_url, max_examples, seed)
        for command, pattern in ((st, ST_CASES), (ours, OUR_CASES)):  # warm-up, untimed
            timed(_with_budget(command, 1), pattern)
        reset(base_url)
        st_cases, st_seconds = timed(st, ST_CASES)
        reset(base_url)
        our_cases, our_seconds = timed(ours, OUR_CASES)
    per_case_ours = our_seconds / our_cases
    per_case_st = st_seconds / st_cases
    return {
        "max_examples": max_examples,
        "seed": seed,
        "suite_cases": our_cases,
        "suite_seconds": our_seconds,
        "suite_ms_per_case": per_case_ours * 1000,
        "st_cases": st_cases,
        "st_seconds": st_seconds,
        "st_ms_per_case": per_case_st * 1000,
        "ratio": per_case_ours / per_case_st,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=MAX_EXAMPLES)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    result = measure(args.max_examples, args.seed)
    print(f"budget: --max-examples {result['max_examples']} --seed {result['seed']}")
    for name, key in (("wfcontracts fuzz", "suite"), ("st run", "st")):
        print(
            f"{name:17} {result[f'{key}_cases']:6d} cases  {result[f'{key}_seconds']:7.2f} s"
            f"  {result[f'{key}_ms_per_case']:6.2f} ms/case"
        )
    print(f"ratio ours / st:  {result['ratio']:6.2f}  (target <= 1.0)")


if __name__ == "__main__":
    main()
