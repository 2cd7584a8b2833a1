from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from wfcontracts.reporting.gate import evaluate_gate, parse_fail_on
from wfcontracts.reporting.html import render_html

_URL_ATTRIBUTES = {"src", "href", "xlink:href", "action", "data", "poster", "srcset", "formaction"}


class _Elements(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {key: value or "" for key, value in attrs}))

    def with_id(self, element_id: str) -> tuple[str, dict[str, str]]:
        matches = [e for e in self.elements if e[1].get("id") == element_id]
        assert len(matches) == 1, f"expected one element with id={element_id}"
        return matches[0]

    def with_class(self, css: str) -> list[dict[str, str]]:
        return [attrs for _, attrs in self.elements if css in attrs.get("class", "").split()]


def _parse(page: str) -> _Elements:
    parser = _Elements()
    parser.feed(page)
    return parser


def _with_gate(summary: dict[str, Any]) -> dict[str, Any]:
    summary["gate"] = evaluate_gate(summary["checks"])
    return summary


def test_page_has_every_section_in_order(summary: dict[str, Any]) -> None:
    page = _parse(render_html(_with_gate(summary), history=[]))
    sections = [attrs["id"] for tag, attrs in page.elements if tag == "section"]
    assert sections == [
        "verdict",
        "environment",
        "suites",
        "coverage",
        "lifecycle",
        "failures",
        "trend",
    ]
    for element_id in ("suite-table", "coverage-matrix", "transition-diagram", "illegal-probes"):
        page.with_id(element_id)
    assert page.with_id("transition-diagram")[0] == "svg"


def test_trend_section_only_with_history(summary: dict[str, Any]) -> None:
    assert 'id="trend"' not in render_html(summary)
    assert 'id="trend"' in render_html(summary, history=[])


def test_verdict_reflects_the_recorded_gate(summary: dict[str, Any]) -> None:
    failing = _parse(render_html(_with_gate(summary)))
    assert failing.with_id("verdict")[1]["data-verdict"] == "fail"
    summary["gate"] = evaluate_gate(summary["checks"], parse_fail_on("none"))
    passing_page = render_html(summary)
    assert _parse(passing_page).with_id("verdict")[1]["data-verdict"] == "pass"
    assert "Warnings (do not fail the gate)" in passing_page


def test_missing_gate_is_judged_with_the_default_policy(summary: dict[str, Any]) -> None:
    summary.pop("gate", None)
    page = _parse(render_html(summary))
    assert page.with_id("verdict")[1]["data-verdict"] == "fail"


def test_one_failure_card_per_failed_check(summary: dict[str, Any]) -> None:
    summary["checks"].append(
        {"suite": "fuzz", "operation": "runWorkflow", "check": "crash", "outcome": "error"}
    )
    cards = _parse(render_html(_with_gate(summary))).with_class("failure-card")
    failing = [c for c in summary["checks"] if c["outcome"] in ("failed", "error")]
    assert len(cards) == len(failing) == 3
    # critical first; the error without a severity counts as major; minor last
    assert [card["data-check"] for card in cards] == [
        "cancel_reason_max_length",
        "crash",
        "x_request_id_present",
    ]
    assert [card["data-gate"] for card in cards] == ["fail", "fail", "warn"]


def test_failure_card_shows_message_exchange_and_reproduction(summary: dict[str, Any]) -> None:
    page = render_html(_with_gate(summary))
    card = page.split('data-check="cancel_reason_max_length"', 1)[1].split("</article>", 1)[0]
    assert "Received: 200 / Documented: 400" in card
    assert "<h4>Request</h4>" in card and "<h4>Response</h4>" in card
    assert '<pre class="repro">curl -X POST' in card
    assert "&lt;b&gt;x&lt;/b&gt;" in card  # request body escaped inside <pre>


def test_script_in_messages_is_escaped(summary: dict[str, Any]) -> None:
    summary["checks"][0]["check"] = 'evil"><script>alert(2)</script>'
    summary["checks"][0]["outcome"] = "failed"
    page = render_html(_with_gate(summary))
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'data-check="evil&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"' in page


def test_no_external_resource_is_referenced(summary: dict[str, Any]) -> None:
    page = render_html(_with_gate(summary), history=[summary])
    for tag, attrs in _parse(page).elements:
        assert tag not in {"script", "iframe", "img", "object", "embed", "base"}, tag
        for key, value in attrs.items():
            if key in _URL_ATTRIBUTES:
                assert value.startswith(("#", "data:")), f"<{tag} {key}={value!r}>"
            if key == "style":
                assert "url(" not in value
        assert not (tag == "link" and attrs.get("rel") == "stylesheet")
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    assert "@import" not in style and "url(" not in style and "@font-face" not in style
    # SVG markers are referenced in-document only
    assert set(re.findall(r"url\(([^)]*)\)", page)) <= {
        "#head-exercised",
        "#head-failed",
        "#head-not-exercised",
    }


def test_target_url_is_shown_without_credentials_or_query(
    summary: dict[str, Any], secret_token: str
) -> None:
    page = render_html(_with_gate(summary))
    assert "https://api.example.test:8443/base" in page
    assert secret_token not in page
    assert "alice" not in page


def test_bearer_tokens_and_secret_values_are_masked(
    summary: dict[str, Any], secret_token: str
) -> None:
    failing = summary["checks"][-3]  # the minor failure
    failing["reproduction"] = f"curl -H 'Authorization: Bearer {secret_token}' http://x/"
    failing["request"] = f'{{"authentication": {{"nonce": "{secret_token}"}}}}'
    failing["response"] = f"token: access_token={secret_token}&x=1"
    page = render_html(_with_gate(summary))
    assert secret_token not in page
    assert "Bearer ***" in page and "&quot;nonce&quot;: &quot;***&quot;" in page


def test_rendering_is_deterministic(summary: dict[str, Any]) -> None:
    history = [dict(summary, startedAt="2026-11-22T12:00:00+00:00")]
    first = render_html(_with_gate(summary), history)
    assert render_html(summary, history) == first


def test_coverage_matrix_cells(summary: dict[str, Any]) -> None:
    page = render_html(_with_gate(summary))
    matrix = page.split('id="coverage-matrix"', 1)[1].split("</table>", 1)[0]
    row = matrix.split("<code>cancelExecution</code>", 1)[1].split("</tr>", 1)[0]
    outcomes = re.findall(r'data-outcome="([a-z-]+)"', row)
    # columns are sorted check names: cancel_reason_max_length first, x_request_id_present last
    assert outcomes[0] == "failed" and outcomes[-1] == "not-run"
    assert set(re.findall(r'data-outcome="([a-z-]+)"', matrix)) == {
        "passed",
        "failed",
        "skipped",
        "not-run",
    }


def test_transition_arrows_are_coloured_by_coverage(summary: dict[str, Any]) -> None:
    arrows = _parse(render_html(_with_gate(summary))).with_class("arrow")
    by_edge = {(a["data-from"], a["data-operation"], a["data-to"]): a["class"] for a in arrows}
    assert len(by_edge) == 8
    assert by_edge[("start", "run", "RUNNING")] == "arrow arrow-exercised"
    assert by_edge[("RUNNING", "cancel", "TERMINATED")] == "arrow arrow-failed"
    assert by_edge[("RUNNING", "time_out", "TIMED_OUT")] == "arrow arrow-not-exercised"
    assert by_edge[("TIMED_OUT", "retry", "RUNNING")] == "arrow arrow-not-exercised"


def test_illegal_probes_are_listed(summary: dict[str, Any]) -> None:
    probes = _parse(render_html(_with_gate(summary))).with_class("probe")
    states = {(p["data-operation"], p["data-from"]): p["class"].split()[1] for p in probes}
    assert states == {
        ("cancel", "COMPLETED"): "probe-exercised",
        ("cancel", "FAILED"): "probe-not-exercised",
        ("cancel", "TIMED_OUT"): "probe-not-exercised",
        ("cancel", "TERMINATED"): "probe-failed",
        ("retry", "RUNNING"): "probe-exercised",
        ("retry", "COMPLETED"): "probe-not-exercised",
    }


def test_unknown_transitions_are_listed_not_drawn(summary: dict[str, Any]) -> None:
    summary["transitions"]["legal"].append(
        {"from": "RUNNING", "operation": "pause", "to": "PAUSED", "exercised": 1, "failed": 0}
    )
    page = render_html(_with_gate(summary))
    assert "Other recorded transitions" in page and "RUNNING —pause→ PAUSED" in page
    assert len(_parse(page).with_class("arrow")) == 8


def test_minimal_and_malformed_summary_still_renders() -> None:
    page = render_html({"checks": [None, "x", {"outcome": "weird"}], "transitions": "nope"})
    parsed = _parse(page)
    assert parsed.with_id("verdict")[1]["data-verdict"] == "fail"  # unknown outcome → error
    assert "No lifecycle coverage was recorded" in page
    assert len(parsed.with_class("failure-card")) == 1


def test_suite_table_counts(summary: dict[str, Any]) -> None:
    page = render_html(_with_gate(summary))
    table = page.split('id="suite-table"', 1)[1].split("</table>", 1)[0]
    contract = table.split('data-suite="contract"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r">(\d+)</td>", contract) == ["12", "2", "0", "0", "14"]
    assert "85.7%" in contract


def test_trend_compares_with_the_previous_run(summary: dict[str, Any]) -> None:
    previous = {
        "startedAt": "2026-11-22T12:00:00+00:00",
        "totals": {"passed": 20, "failed": 0, "skipped": 0, "errors": 0},
        "durationSeconds": 40.0,
        "gate": {"passed": True},
    }
    page = render_html(_with_gate(summary), history=[previous])
    trend = page.split('id="trend"', 1)[1]
    assert "(-11.8 pp vs previous run)" in trend
    assert "(+2 vs previous run)" in trend
    assert "(+1.2 s vs previous run)" in trend
    assert trend.count("<tr") == 3  # header, previous run, this run
