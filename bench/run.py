"""All benchmarks, one command: `python bench/run.py`. Every ratio is measured against its
anchor in the same run, on the same machine; the table says which targets are met."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz_cost  # noqa: E402
import mock_throughput  # noqa: E402
import prism_vs_mock  # noqa: E402
import suite_times  # noqa: E402

RESULTS = Path(__file__).resolve().parent / ".cache" / "latest.json"


def machine() -> str:
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        pass
    return (
        f"{platform.machine()}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}"
    )


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def main() -> int:
    started = time.time()
    print(f"machine: {machine()}")
    figures: dict[str, Any] = {}
    figures["times"] = suite_times.measure()
    figures["throughput"] = mock_throughput.measure(repeats=200)
    figures["prism"] = prism_vs_mock.measure()
    figures["fuzz"] = fuzz_cost.measure()

    t, th, pr, fz = figures["times"], figures["throughput"], figures["prism"], figures["fuzz"]
    rows = [
        ("default verify on the embedded mock", f"{t['verify_s']:.1f} s", "< 60 s", t["verify_s"] < 60),
        ("default verify vs mock serve --pace real", f"{t['served_real_s']:.1f} s (exit {t['served_real_exit']}); fast: {t['served_fast_s']:.1f} s", "< 90 s", t["served_real_s"] < 90 and t["served_real_exit"] == 0),
        ("replay of all cassettes (wall, incl. start)", f"{t['replay_s']:.1f} s ({t['cassettes']} cassettes; run itself {t['replay_in_run_s']:.1f} s)", "< 5 s", t["replay_s"] < 5),
        ("verify --max-examples 200, --jobs 1 / --jobs 2 wall", f"{t['jobs']['ratio']:.2f}x ({t['jobs']['jobs1_s']:.0f} s vs {t['jobs']['jobs2_s']:.0f} s; exit {t['jobs']['jobs1_exit']}/{t['jobs']['jobs2_exit']})", "-", None),
        ("mock run+get pairs/s (1 client, loopback)", f"{th['pairs_per_s_1_client']:.0f}", "-", None),
        ("list page p50 ratio 100k / 1k", f"{th['list_ratio_first_page']:.2f} first, {th['list_ratio_cursor_page']:.2f} cursor", "<= 1.5", th["list_target_met"]),
        ("mock RSS at 100k executions", f"{th['rss_mb_large']:.0f} MB", "-", None),
        ("mock / Prism run+get pairs/s, 4 clients", _ratio(pr.get("ratio"), pr) + _pairs(pr, ""), ">= 2.5", None if pr.get("ratio") is None else pr["ratio"] >= 2.5),
        ("mock / Prism run+get pairs/s, 1 client", _ratio(pr.get("ratio_1_client"), pr) + _pairs(pr, "_1_client"), "-", None),
        ("fuzz cost per case / plain st run", _ratio(fz.get("ratio"), fz), "<= 1.0", None if fz.get("ratio") is None else fz["ratio"] <= 1.0),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure':<{width}}  {'value':<34} {'target':<8} verdict")
    for name, value, target, ok in rows:
        print(f"{name:<{width}}  {value:<34} {target:<8} {verdict(ok)}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    serialisable = {k: {kk: vv for kk, vv in v.items() if kk != "rows"} for k, v in figures.items()}
    RESULTS.write_text(
        json.dumps({"machine": machine(), "figures": serialisable}, indent=2, default=str)
    )
    print(f"\n({time.time() - started:.0f} s; raw figures in {RESULTS})")
    return 0


def _pairs(figures: dict[str, Any], suffix: str) -> str:
    prism = figures.get(f"prism_pairs_per_s{suffix}")
    return f" ({figures[f'mock_pairs_per_s{suffix}']:.0f} vs {prism:.0f}/s)" if prism else ""


def _ratio(value: float | None, figures: dict[str, Any]) -> str:
    return f"{value:.2f}" if value is not None else f"skipped: {figures.get('note', 'unavailable')}"


if __name__ == "__main__":
    raise SystemExit(main())
