"""The report page in a real headless Chromium: renders offline, cleanly, with the right structure.

Structure, not pixels, is compared with `snapshots/html_structure.json`; regenerate it after an
intended change with ``WFCONTRACTS_UPDATE_SNAPSHOTS=1``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wfcontracts.reporting.gate import evaluate_gate
from wfcontracts.reporting.writer import write_report

CHROMIUM = Path("/usr/bin/chromium")
SNAPSHOT = Path(__file__).parent / "snapshots" / "html_structure.json"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)

# Runs in the page: what a reader can see, reduced to counts and ids.
_STRUCTURE_JS = """
() => {
  const visible = (el) => {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return box.width > 0 && box.height > 0 && style.visibility !== 'hidden'
      && style.display !== 'none';
  };
  const count = (selector) => [...document.querySelectorAll(selector)].filter(visible).length;
  const arrows = {};
  for (const state of ['exercised', 'failed', 'not-exercised']) {
    arrows['arrow-' + state] = count('#transition-diagram g.arrow-' + state);
  }
  return {
    sections: [...document.querySelectorAll('main > section')].filter(visible).map((s) => s.id),
    verdict: document.getElementById('verdict').dataset.verdict,
    failureCards: count('.failure-card'),
    failureChecks: [...document.querySelectorAll('.failure-card')].map((c) => c.dataset.check),
    arrows,
    states: count('#transition-diagram g.state'),
    illegalProbes: count('#illegal-probes li'),
    matrix: {
      rows: count('#coverage-matrix tbody tr'),
      columns: count('#coverage-matrix thead th.check-name'),
    },
    suiteRows: count('#suite-table tbody tr'),
    horizontalOverflow: document.documentElement.scrollWidth > window.innerWidth,
  };
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def report_page(tmp_path: Path, summary: dict[str, Any]) -> Path:
    summary["gate"] = evaluate_gate(summary["checks"])
    history_dir = tmp_path / "history"
    previous = json.loads(json.dumps(summary))
    previous.update(startedAt="2026-11-22T12:00:00+00:00", durationSeconds=39.5)
    write_report(tmp_path / "previous", previous, history_dir)
    return write_report(tmp_path / "reports", summary, history_dir)


def test_report_renders_offline_with_the_expected_structure(
    browser: Any, report_page: Path, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    console_errors: list[str] = []
    failed_requests: list[str] = []
    requested: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    page.on("requestfailed", lambda request: failed_requests.append(request.url))
    page.on("request", lambda request: requested.append(request.url))

    page.goto(report_page.as_uri(), wait_until="load")

    for selector in ("#verdict", "#coverage-matrix", "#transition-diagram", ".failure-card"):
        assert page.locator(selector).first.is_visible(), selector
    structure = page.evaluate(_STRUCTURE_JS)
    screenshot = page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.close()

    assert console_errors == []
    assert failed_requests == []
    assert requested == [report_page.as_uri()]  # nothing but the file itself
    assert screenshot[:8] == b"\x89PNG\r\n\x1a\n"
    _compare_with_snapshot(structure)


def _compare_with_snapshot(structure: dict[str, Any]) -> None:
    if os.environ.get("WFCONTRACTS_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(json.dumps(structure, indent=2) + "\n", encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert structure == expected
