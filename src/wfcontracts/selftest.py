"""The suite's mutation score: the default verify must pass on the clean mock and fail on every
named fault. A surviving fault is a hole in the suites, not something to exclude.

Each fault's verify stops at its first failing test (one kill is all the score needs; the table
records which check killed it and when), and faults run in parallel, one per core by default.
At `instant` pace verify runs against the embedded mock; at `fast` or `real` pace against a
mock served over loopback at that pace, so every fault must be caught by a pace-aware oracle at
its deadline. With a profile other than `strict` (`--profile`), verify always runs against a
mock of that profile served over loopback (at `instant` pace too), since verify's embedded target
is the strict mock.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from wfcontracts.errors import WfcontractsError
from wfcontracts.mock.faults import FAULTS, FaultSet
from wfcontracts.mock.profiles import get_profile
from wfcontracts.mock.server import serve_in_background
from wfcontracts.mock.service import MockService


@dataclass
class Outcome:
    fault: str | None
    exit_code: int
    failed_checks: list[str]
    first_failure_s: float | None
    wall_s: float
    error: str = ""

    @property
    def killed(self) -> bool:
        return self.exit_code == 1 and bool(self.failed_checks)


def verify_once(
    fault: str | None,
    max_examples: int,
    report_dir: Path,
    pace: str = "instant",
    profile: str = "strict",
) -> Outcome:
    """One verify, in a subprocess (clean state per run), stopping at the first failing test."""
    out = report_dir / (fault or "clean")
    command = [
        sys.executable, "-m", "wfcontracts.cli", "verify", "--quiet", "--seed", "1",
        "--max-examples", str(max_examples), "--report-dir", str(out),
    ]  # fmt: skip
    if fault:
        command.append("--exitfirst")  # the clean run must pass every test, so it runs all
    with _target(fault, pace, profile) as target_args:
        command += target_args
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    summary_path = out / "summary.json"
    if not summary_path.is_file():
        return Outcome(fault, result.returncode, [], None, wall, result.stderr.strip()[-300:])
    summary = json.loads(summary_path.read_text())
    failed = [c for c in summary.get("checks", []) if c.get("outcome") in ("failed", "error")]
    firsts = [c["atSeconds"] for c in failed if isinstance(c.get("atSeconds"), int | float)]
    return Outcome(
        fault,
        result.returncode,
        sorted({c["check"] for c in failed}),
        min(firsts) if firsts else None,
        wall,
    )


SERVED_TOKEN = "wfcontracts-selftest-token"
SERVED_READ_ONLY_TOKEN = "wfcontracts-selftest-read-only-token"


@contextmanager
def _target(fault: str | None, pace: str, profile: str = "strict") -> Iterator[list[str]]:
    """verify's target flags: the embedded mock (instant, strict), else a mock of `profile`
    served at `pace`."""
    if pace == "instant" and profile == "strict":
        yield ["--fault", fault] if fault else []
        return
    faults = [fault] if fault else []
    # A read-only token as well, as a live run would be given one: the write probe needs it.
    tokens = [SERVED_TOKEN, f"{SERVED_READ_ONLY_TOKEN}:read"]
    service = MockService(tokens=tokens, faults=faults, pace=pace, seed=1, profile=profile)
    with serve_in_background(service) as server:
        yield [
            "--base-url", server.base_url, "--project", "selftest", "--token", SERVED_TOKEN,
            "--read-only-token", SERVED_READ_ONLY_TOKEN,
        ]  # fmt: skip


def format_table(clean: Outcome, outcomes: list[Outcome]) -> str:
    width = max([len(o.fault or "") for o in outcomes] + [5])
    lines = [f"{'fault':<{width}}  {'killed':<6}  {'first failure':>13}  killed by"]
    for outcome in outcomes:
        first = f"{outcome.first_failure_s:.1f} s" if outcome.first_failure_s is not None else "-"
        checks = ", ".join(outcome.failed_checks) or (outcome.error or "(nothing failed)")
        killed = "yes" if outcome.killed else "NO"
        lines.append(f"{outcome.fault:<{width}}  {killed:<6}  {first:>13}  {checks}")
    killed_count = sum(o.killed for o in outcomes)
    clean_state = "passed" if clean.exit_code == 0 else f"FAILED (exit {clean.exit_code})"
    lines.append(f"clean mock: {clean_state} in {clean.wall_s:.1f} s")
    percent = 100 * killed_count / max(len(outcomes), 1)
    lines.append(f"mutation score: {killed_count}/{len(outcomes)} killed ({percent:.0f} %)")
    return "\n".join(lines)


def run_selftest(
    *,
    faults: Sequence[str] = (),
    max_examples: int = 10,
    jobs: int = 2,
    report_dir: Path,
    pace: str = "instant",
    profile: str = "strict",
) -> int:
    """Print the fault → killing checks table; exit 0 only when clean passes and all are killed."""
    names = list(faults) or sorted(FAULTS)
    FaultSet(names)  # unknown names → one-line error
    get_profile(profile)  # an unknown name → one-line error
    if jobs < 1:
        raise WfcontractsError("--jobs must be at least 1")
    report_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        clean_future = pool.submit(verify_once, None, max_examples, report_dir, pace, profile)
        futures = [
            pool.submit(verify_once, name, max_examples, report_dir, pace, profile)
            for name in names
        ]
        clean = clean_future.result()
        outcomes = [future.result() for future in futures]
    wall = time.perf_counter() - started
    print(format_table(clean, outcomes))
    print(
        f"selftest: {len(names)} faults at {pace} pace, {profile} profile, {jobs} in parallel, "
        f"{wall:.0f} s wall"
    )
    (report_dir / "selftest.json").write_text(
        json.dumps(
            {
                "pace": pace,
                "profile": profile,
                "clean": clean.__dict__,
                "faults": [o.__dict__ | {"killed": o.killed} for o in outcomes],
                "score": {"killed": sum(o.killed for o in outcomes), "total": len(outcomes)},
            },
            indent=2,
        )
    )
    return 0 if clean.exit_code == 0 and all(o.killed for o in outcomes) else 1
