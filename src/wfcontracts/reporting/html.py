"""The release validation page: one self-contained, offline HTML file built from summary.json.

No script, no external asset of any kind: CSS and SVG are inline, so the file can be mailed,
archived as a CI artifact and opened years later without network. Every value from the summary
is HTML-escaped, and bearer tokens or secret-looking JSON values are masked once more (defence
in depth: the engine masks them already). The same input always gives the same bytes — nothing
here reads the clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from wfcontracts.contract import lifecycle
from wfcontracts.reporting.allure_env import mask_secrets, report_environment
from wfcontracts.reporting.gate import (
    GatePolicy,
    evaluate_gate,
    failing_checks,
    normalise_outcome,
    normalise_severity,
)

OUTCOMES: tuple[str, ...] = ("passed", "failed", "error", "skipped")
EXCERPT_LIMIT = 3000
TREND_RUNS = 12
_REASONS_SHOWN = 12

# The execution state machine, from the lifecycle model (written once, as data).
STATES: tuple[str, ...] = lifecycle.EXECUTION_STATES
LEGAL_TRANSITIONS: tuple[tuple[str | None, str, str], ...] = tuple(
    (t.source, t.operation, t.target) for t in lifecycle.LEGAL_TRANSITIONS
)
ILLEGAL_PROBES: tuple[tuple[str, str], ...] = tuple(
    (p.source, p.operation) for p in lifecycle.ILLEGAL_PROBES
)
_START_NAMES = frozenset({"", "START", "(START)", "NONE", "NULL"})


@dataclass(frozen=True)
class Check:
    """One entry of `summary["checks"]`, normalised so rendering never meets a missing key."""

    suite: str
    operation: str
    name: str
    outcome: str
    severity: str
    message: str
    nodeid: str
    duration: float | None
    reproduction: str | None
    request: str | None
    response: str | None
    #: A fuzz finding's seed, cassette and replay command (empty for other checks).
    fuzz: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Check:
        """Build from a summary entry; unknown outcomes count as ``error``."""
        return cls(
            suite=_text(entry.get("suite"), "unknown suite"),
            operation=_text(entry.get("operation"), "(no operation)"),
            name=_text(entry.get("check"), "unnamed check"),
            outcome=normalise_outcome(entry.get("outcome")),
            severity=normalise_severity(entry.get("severity")),
            message=_text(entry.get("message"), ""),
            nodeid=_text(entry.get("nodeid"), ""),
            duration=_number(entry.get("durationSeconds")),
            reproduction=_optional_text(entry.get("reproduction")),
            request=_optional_text(entry.get("request")),
            response=_optional_text(entry.get("response")),
            fuzz={
                str(k): str(v)
                for k, v in (entry.get("fuzz") or {}).items()
                if k in ("seed", "cassette", "replay")
            }
            if isinstance(entry.get("fuzz"), Mapping)
            else {},
        )

    @property
    def failing(self) -> bool:
        """Whether this check counts against the gate."""
        return self.outcome in ("failed", "error")


@dataclass(frozen=True)
class Coverage:
    """How often a transition (or illegal probe) was exercised, and how often it failed."""

    exercised: int = 0
    failed: int = 0

    @property
    def state(self) -> str:
        """``failed``, ``exercised`` or ``not-exercised`` — the colour class of its arrow."""
        if self.failed:
            return "failed"
        return "exercised" if self.exercised else "not-exercised"

    def plus(self, other: Coverage) -> Coverage:
        """Both counts added (the engine may report one transition in several entries)."""
        return Coverage(self.exercised + other.exercised, self.failed + other.failed)


def render_html(summary: Mapping[str, Any], history: list[dict[str, Any]] | None = None) -> str:
    """The whole report page for `summary`; a trend section when `history` is given."""
    checks = [Check.from_entry(entry) for entry in _entries(summary.get("checks"))]
    gate = _gate(summary)
    sections = [
        _verdict_section(summary, checks, gate),
        _environment_section(summary),
        _suites_section(summary, checks),
        _coverage_section(checks + _exchange_coverage(summary.get("coverage"))),
        _lifecycle_section(summary.get("transitions")),
        _failures_section(summary, _policy(gate)),
    ]
    if history is not None:
        sections.append(_trend_section(summary, history))
    verdict = "PASS" if gate["passed"] else "FAIL"
    project = _text(_mapping(summary.get("target")).get("project"), "")
    title = f"{verdict} · wfcontracts report" + (f" · {project}" if project else "")
    return _page(title, sections)


# --- verdict -------------------------------------------------------------------------------


def _gate(summary: Mapping[str, Any]) -> dict[str, Any]:
    gate = summary.get("gate")
    if isinstance(gate, Mapping) and isinstance(gate.get("passed"), bool):
        return dict(gate)
    # No gate recorded (an older or hand-made summary): judge with the default policy.
    return evaluate_gate(_entries(summary.get("checks")))


def _policy(gate: Mapping[str, Any]) -> GatePolicy:
    fail_on = gate.get("failOn")
    if not isinstance(fail_on, Mapping):
        return GatePolicy()
    return GatePolicy(frozenset(str(key) for key, value in fail_on.items() if value == "fail"))


def _totals(summary: Mapping[str, Any], checks: Sequence[Check]) -> dict[str, int]:
    recorded = _mapping(summary.get("totals"))
    counted = {
        "passed": _count(checks, "passed"),
        "failed": _count(checks, "failed"),
        "skipped": _count(checks, "skipped"),
        "errors": _count(checks, "error"),
    }
    return {key: _int(recorded.get(key), default) for key, default in counted.items()}


def _verdict_section(
    summary: Mapping[str, Any], checks: Sequence[Check], gate: Mapping[str, Any]
) -> str:
    passed = bool(gate["passed"])
    verdict = "pass" if passed else "fail"
    reasons = _strings(gate.get("reasons"))
    warnings = _strings(gate.get("warnings"))
    policy = _policy(gate)
    headline = "Ship: the gate passed" if passed else "Do not ship: the gate failed"
    totals = _totals(summary, checks)
    stats = "".join(
        f'<div class="stat stat-{key}"><span class="stat-value">{value}</span>'
        f'<span class="stat-label">{escape(key)}</span></div>'
        for key, value in totals.items()
    )
    duration = _duration(_number(summary.get("durationSeconds")))
    return (
        f'<section id="verdict" class="verdict verdict-{verdict}" data-verdict="{verdict}">'
        f'<div class="verdict-head"><span class="verdict-word">{verdict.upper()}</span>'
        f'<div><h1>{escape(headline)}</h1><p class="verdict-policy">Gate fails on '
        f"<strong>{escape(policy.describe())}</strong> failures; other severities warn. "
        f"Run took {escape(duration)}.</p></div></div>"
        f'<div class="stats">{stats}</div>'
        f"{_reason_list('Why the gate failed', 'reasons', reasons)}"
        f"{_reason_list('Warnings (do not fail the gate)', 'warnings', warnings)}"
        "</section>"
    )


def _reason_list(title: str, css: str, items: Sequence[str]) -> str:
    if not items:
        return ""
    shown = "".join(f"<li>{escape(mask_secrets(item))}</li>" for item in items[:_REASONS_SHOWN])
    more = len(items) - _REASONS_SHOWN
    if more > 0:
        shown += f'<li class="more">… and {more} more (see Failures below)</li>'
    return f'<div class="{css}"><h2>{escape(title)}</h2><ul>{shown}</ul></div>'


# --- environment ---------------------------------------------------------------------------


def _environment_section(summary: Mapping[str, Any]) -> str:
    pairs = dict(report_environment(summary))
    pairs["started"] = _text(summary.get("startedAt"), "unknown")
    pairs["seed"] = _text(summary.get("seed"), "random")
    pairs["suites"] = ", ".join(_strings(summary.get("suites"))) or "unknown"
    pairs.update(_resilience(summary))
    rows = "".join(
        f"<dt>{escape(key)}</dt><dd><code>{escape(mask_secrets(value))}</code></dd>"
        for key, value in pairs.items()
    )
    return (
        '<section id="environment"><h2>Target and environment</h2>'
        f'<dl class="environment">{rows}</dl></section>'
    )


def _resilience(summary: Mapping[str, Any]) -> dict[str, str]:
    """How flaky the target was (retries, writes whose answer was lost) and what cleanup
    left behind: a live run's reader must see both next to the verdict they qualify."""
    found: dict[str, str] = {}
    retries = _mapping(summary.get("retries"))
    if retries:
        total = _int(retries.get("totalRetries"), 0)
        reasons = ", ".join(
            f"{reason} ×{_int(count, 0)}"
            for reason, count in sorted(_mapping(retries.get("byReason")).items())
        )
        text = f"{total} resent" + (f" ({reasons})" if reasons else "")
        lost = _int(retries.get("unknownOutcomes"), 0)
        if lost:
            text += f"; {lost} write(s) with a lost answer, their tests inconclusive"
        found["retries"] = text
    cleanup = _mapping(summary.get("cleanup"))
    if cleanup:
        left = _strings(cleanup.get("left"))
        found["cleanup"] = (
            f"left on the target: {'; '.join(left)}" if left else "complete: nothing left"
        )
    return found


# --- suite × outcome -----------------------------------------------------------------------


def _suites_section(summary: Mapping[str, Any], checks: Sequence[Check]) -> str:
    suites = _ordered_suites(summary, checks)
    body = "".join(_suite_row(suite, [c for c in checks if c.suite == suite]) for suite in suites)
    head = "".join(f'<th class="num">{escape(o)}</th>' for o in OUTCOMES)
    return (
        '<section id="suites"><h2>Suites</h2><div class="scroll">'
        '<table id="suite-table" class="grid">'
        f'<thead><tr><th>Suite</th>{head}<th class="num">total</th>'
        '<th class="num">pass rate</th></tr></thead>'
        f"<tbody>{body}</tbody><tfoot>{_suite_row('all suites', checks)}</tfoot>"
        "</table></div></section>"
    )


def _ordered_suites(summary: Mapping[str, Any], checks: Sequence[Check]) -> list[str]:
    declared = _strings(summary.get("suites"))
    seen = sorted({check.suite for check in checks} - set(declared))
    return list(dict.fromkeys([*declared, *seen]))


def _suite_row(suite: str, checks: Sequence[Check]) -> str:
    counts = {outcome: _count(checks, outcome) for outcome in OUTCOMES}
    cells = "".join(
        f'<td class="num{" has-" + o if counts[o] else ""}">{counts[o]}</td>' for o in OUTCOMES
    )
    rate = _pass_rate(counts["passed"], counts["failed"], counts["error"])
    return (
        f'<tr data-suite="{escape(suite)}"><th scope="row">{escape(suite)}</th>{cells}'
        f'<td class="num">{len(checks)}</td><td class="num">{escape(_percent(rate))}</td></tr>'
    )


# --- operation × check coverage --------------------------------------------------------------


_CELL_SYMBOL = {"passed": "✓", "failed": "✗", "skipped": "–", "not-run": "·"}


def _exchange_coverage(coverage: object) -> list[Check]:
    """Cells from the per-exchange check results (`summary["coverage"]`: op → check → counts):
    every response is judged by every registered check, not only the test's own."""
    cells: list[Check] = []
    for operation, by_check in _mapping(coverage).items():
        for name, counts in _mapping(by_check).items():
            counts = _mapping(counts)
            failed = bool(_number(counts.get("failed")))
            cells.append(
                Check(
                    suite="exchanges", operation=str(operation), name=str(name),
                    outcome="failed" if failed else "passed", severity="minor", message="",
                    nodeid="", duration=None, reproduction=None, request=None, response=None,
                )
            )  # fmt: skip
    return cells


def _coverage_section(checks: Sequence[Check]) -> str:
    operations = sorted({check.operation for check in checks})
    names = sorted({check.name for check in checks})
    head = "".join(f'<th class="check-name"><span>{escape(name)}</span></th>' for name in names)
    rows = "".join(_matrix_row(operation, names, checks) for operation in operations)
    empty = "" if operations else '<p class="note">No check ran, so nothing is covered.</p>'
    legend = "".join(
        f'<span class="legend-item"><span class="cell cell-{state}">{_CELL_SYMBOL[state]}</span>'
        f"{escape(state)}</span>"
        for state in _CELL_SYMBOL
    )
    return (
        '<section id="coverage"><h2>Coverage: operation × check</h2>'
        '<div class="scroll"><table id="coverage-matrix" class="matrix">'
        f"<thead><tr><th>Operation</th>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
        f'{empty}<p class="legend">{legend}</p></section>'
    )


def _matrix_row(operation: str, names: Sequence[str], checks: Sequence[Check]) -> str:
    of_operation = [check for check in checks if check.operation == operation]
    cells = "".join(_matrix_cell([c for c in of_operation if c.name == n]) for n in names)
    return f'<tr><th scope="row"><code>{escape(operation)}</code></th>{cells}</tr>'


def _matrix_cell(checks: Sequence[Check]) -> str:
    counts = {outcome: _count(checks, outcome) for outcome in OUTCOMES}
    state = _cell_state(counts)
    detail = ", ".join(f"{n} {o}" for o, n in counts.items() if n) or "not run"
    return (
        f'<td class="cell cell-{state}" data-outcome="{state}" title="{escape(detail)}">'
        f"{_CELL_SYMBOL[state]}</td>"
    )


def _cell_state(counts: Mapping[str, int]) -> str:
    if counts["failed"] or counts["error"]:
        return "failed"
    if counts["passed"]:
        return "passed"
    return "skipped" if counts["skipped"] else "not-run"


# --- lifecycle transition diagram ------------------------------------------------------------


_VIEW_WIDTH, _VIEW_HEIGHT = 720, 330
_RUNNING_BOX = (60, 88, 600, 44)  # x, y, width, height
_TERMINAL_Y, _BOX_W, _BOX_H = 256, 136, 44
_TERMINAL_X = {"COMPLETED": 100, "FAILED": 270, "TIMED_OUT": 440, "TERMINATED": 610}
_START = (360, 28)
_ARROW_GAP = 16  # the forward and the retry arrow of one state run side by side


def _lifecycle_section(transitions: object) -> str:
    legal, illegal, other = _transition_coverage(_mapping(transitions))
    exercised = sum(1 for c in legal.values() if c.exercised)
    probed = sum(1 for c in illegal.values() if c.exercised)
    note = (
        f"{exercised} of {len(LEGAL_TRANSITIONS)} legal transitions exercised, "
        f"{probed} of {len(ILLEGAL_PROBES)} illegal transitions probed."
    )
    if not _mapping(transitions):
        note = "No lifecycle coverage was recorded in this run. " + note
    return (
        '<section id="lifecycle"><h2>Lifecycle transitions</h2>'
        f'<p class="note">{escape(note)}</p><div class="lifecycle">'
        f'<figure class="diagram">{_diagram(legal)}{_diagram_legend()}</figure>'
        f"<aside>{_illegal_list(illegal)}{_other_list(other)}</aside></div></section>"
    )


def _transition_coverage(
    transitions: Mapping[str, Any],
) -> tuple[dict[tuple[str | None, str, str], Coverage], dict[tuple[str, str], Coverage], list[str]]:
    legal = {key: Coverage() for key in LEGAL_TRANSITIONS}
    illegal = {key: Coverage() for key in ILLEGAL_PROBES}
    other: list[str] = []
    for entry in _entries(transitions.get("legal")):
        key = (_state(entry.get("from")), _operation(entry.get("operation")), _target(entry))
        if key in legal:
            legal[key] = legal[key].plus(_coverage(entry))
        else:
            other.append(f"{key[0] or 'start'} —{key[1]}→ {key[2]}")
    for entry in _entries(transitions.get("illegal")):
        probe = (_state(entry.get("from")) or "START", _operation(entry.get("operation")))
        if probe in illegal:
            illegal[probe] = illegal[probe].plus(_coverage(entry))
        else:
            other.append(f"{probe[1]} from {probe[0]} (probe)")
    return legal, illegal, sorted(set(other))


def _diagram(legal: Mapping[tuple[str | None, str, str], Coverage]) -> str:
    arrows = "".join(_arrow(key, coverage) for key, coverage in legal.items())
    return (
        f'<svg id="transition-diagram" viewBox="0 0 {_VIEW_WIDTH} {_VIEW_HEIGHT}" role="img" '
        'aria-labelledby="diagram-title"><title id="diagram-title">Execution state machine: '
        "legal transitions coloured by coverage</title>"
        f"{_markers()}{_state_boxes()}{arrows}</svg>"
    )


def _markers() -> str:
    markers = "".join(
        f'<marker id="head-{state}" class="head-{state}" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z"/></marker>'
        for state in ("exercised", "failed", "not-exercised")
    )
    return f"<defs>{markers}</defs>"


def _state_boxes() -> str:
    x, y, width, height = _RUNNING_BOX
    boxes = [_box("RUNNING", x, y, width, height)]
    for state, centre in _TERMINAL_X.items():
        boxes.append(_box(state, centre - _BOX_W // 2, _TERMINAL_Y, _BOX_W, _BOX_H))
    start_x, start_y = _START
    start = (
        f'<g class="state state-start"><circle cx="{start_x}" cy="{start_y}" r="9"/>'
        f'<text x="{start_x + 16}" y="{start_y + 4}" class="state-note">start</text></g>'
    )
    return start + "".join(boxes)


def _box(state: str, x: int, y: int, width: int, height: int) -> str:
    return (
        f'<g class="state" data-state="{state}"><rect x="{x}" y="{y}" width="{width}" '
        f'height="{height}" rx="8"/><text x="{x + width // 2}" y="{y + height // 2 + 5}" '
        f'text-anchor="middle">{state}</text></g>'
    )


def _arrow(key: tuple[str | None, str, str], coverage: Coverage) -> str:
    source, operation, target = key
    x1, y1, x2, y2, label_x, label_y, anchor = _arrow_geometry(source, target)
    state = coverage.state
    label = operation + (f" ×{coverage.exercised}" if coverage.exercised else "")
    label += f" ({coverage.failed} ✗)" if coverage.failed else ""
    tooltip = (
        f"{source or 'start'} —{operation}→ {target}: exercised {coverage.exercised}×, "
        f"failed {coverage.failed}×"
    )
    return (
        f'<g class="arrow arrow-{state}" data-from="{source or "start"}" '
        f'data-operation="{operation}" data-to="{target}"><title>{escape(tooltip)}</title>'
        f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" marker-end="url(#head-{state})"/>'
        f'<text x="{label_x}" y="{label_y}" text-anchor="{anchor}">{escape(label)}</text></g>'
    )


def _arrow_geometry(source: str | None, target: str) -> tuple[int, int, int, int, int, int, str]:
    """Line ends and label anchor: x1, y1, x2, y2, label x, label y, text-anchor."""
    running_top = _RUNNING_BOX[1]
    running_bottom = running_top + _RUNNING_BOX[3]
    start_x, start_y = _START
    if source is None:
        return start_x, start_y + 10, start_x, running_top, start_x + 8, start_y + 36, "start"
    if source == "RUNNING":
        shift = 0 if target == "COMPLETED" else -_ARROW_GAP  # COMPLETED has no retry arrow
        x = _TERMINAL_X[target] + shift
        return x, running_bottom, x, _TERMINAL_Y, x - 6, running_bottom + 50, "end"
    x = _TERMINAL_X[source] + _ARROW_GAP
    return x, _TERMINAL_Y, x, running_bottom, x + 6, running_bottom + 90, "start"


def _diagram_legend() -> str:
    items = (
        ("exercised", "exercised"),
        ("failed", "failed at least once"),
        ("not-exercised", "not exercised"),
    )
    spans = "".join(
        f'<span class="legend-item"><span class="swatch swatch-{state}"></span>'
        f"{escape(text)}</span>"
        for state, text in items
    )
    return f'<figcaption class="legend">{spans}</figcaption>'


def _illegal_list(illegal: Mapping[tuple[str, str], Coverage]) -> str:
    items = "".join(
        _probe_item(state, operation, cov) for (state, operation), cov in illegal.items()
    )
    return (
        '<h3>Illegal transitions probed</h3><p class="note">Each must be answered by a 4xx with '
        f'the error envelope, state unchanged.</p><ul id="illegal-probes" class="probes">{items}'
        "</ul>"
    )


def _probe_item(state: str, operation: str, coverage: Coverage) -> str:
    if coverage.failed:
        verdict = f"failed {coverage.failed} of {coverage.exercised}"
    elif coverage.exercised:
        verdict = f"rejected ×{coverage.exercised}"
    else:
        verdict = "not probed"
    return (
        f'<li class="probe probe-{coverage.state}" data-from="{escape(state)}" '
        f'data-operation="{escape(operation)}"><span class="swatch swatch-{coverage.state}"></span>'
        f"<code>{escape(operation)}</code> from <code>{escape(state)}</code>"
        f'<span class="probe-verdict">{escape(verdict)}</span></li>'
    )


def _other_list(other: Sequence[str]) -> str:
    if not other:
        return ""
    items = "".join(f"<li><code>{escape(line)}</code></li>" for line in other)
    return (
        '<h3>Other recorded transitions</h3><p class="note">Not in the documented state machine.'
        f'</p><ul class="probes">{items}</ul>'
    )


def _state(value: object) -> str | None:
    text = _text(value, "").strip().upper()
    return None if text in _START_NAMES else text


def _operation(value: object) -> str:
    return _text(value, "?").strip().lower()


def _target(entry: Mapping[str, Any]) -> str:
    return _state(entry.get("to")) or "?"


def _coverage(entry: Mapping[str, Any]) -> Coverage:
    return Coverage(_int(entry.get("exercised"), 0), _int(entry.get("failed"), 0))


# --- failures ------------------------------------------------------------------------------


def _failures_section(summary: Mapping[str, Any], policy: GatePolicy) -> str:
    entries = failing_checks(_entries(summary.get("checks")))
    cards = "".join(_failure_card(Check.from_entry(entry), policy) for entry in entries)
    body = cards or '<p class="note all-clear">No failures.</p>'
    return f'<section id="failures"><h2>Failures ({len(entries)})</h2>{body}</section>'


def _failure_card(check: Check, policy: GatePolicy) -> str:
    gate = "fail" if policy.fails(check.severity) else "warn"
    gate_text = "fails the gate" if gate == "fail" else "warning only"
    where = " · ".join(
        escape(part) for part in (check.suite, check.nodeid, _duration(check.duration)) if part
    )
    return (
        f'<article class="failure-card severity-{check.severity}" '
        f'data-check="{escape(check.name)}" data-severity="{check.severity}" data-gate="{gate}">'
        f'<header><span class="badge sev-{check.severity}">{check.severity}</span>'
        f'<h3>{escape(check.name)}</h3><code class="operation">{escape(check.operation)}</code>'
        f'<span class="gate-tag gate-{gate}">{gate_text}</span>'
        f"{_ERROR_BADGE if check.outcome == 'error' else ''}</header>"
        f'<p class="message">{escape(mask_secrets(check.message)) or "(no message)"}</p>'
        f"{_exchange(check)}{_reproduction(check.reproduction)}{_fuzz_replay(check.fuzz)}"
        f'<p class="where">{where}</p></article>'
    )


_ERROR_BADGE = '<span class="badge-error">error</span>'


def _exchange(check: Check) -> str:
    panes = [
        f'<div class="pane"><h4>{title}</h4><pre>{escape(_excerpt(mask_secrets(text)))}</pre></div>'
        for title, text in (("Request", check.request), ("Response", check.response))
        if text
    ]
    return f'<div class="exchange">{"".join(panes)}</div>' if panes else ""


def _reproduction(command: str | None) -> str:
    if not command:
        return ""
    return f'<h4>Reproduce</h4><pre class="repro">{escape(_excerpt(mask_secrets(command)))}</pre>'


def _fuzz_replay(fuzz: Mapping[str, str]) -> str:
    """Seed, cassette and the command that re-sends a fuzz finding."""
    if not fuzz:
        return ""
    rows = "".join(
        f"<dt>{label}</dt><dd><code>{escape(mask_secrets(fuzz[key]))}</code></dd>"
        for key, label in (("seed", "seed"), ("cassette", "cassette"), ("replay", "replay"))
        if fuzz.get(key)
    )
    return f'<dl class="fuzz-repro">{rows}</dl>'


def _excerpt(text: str) -> str:
    if len(text) <= EXCERPT_LIMIT:
        return text
    rest = len(text) - EXCERPT_LIMIT
    return f"{text[:EXCERPT_LIMIT]}\n… ({rest} more characters in summary.json)"


# --- trend ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RunPoint:
    started: str
    kind: str
    passed: bool | None
    pass_rate: float | None
    failures: int
    duration: float | None

    @classmethod
    def of(cls, summary: Mapping[str, Any]) -> _RunPoint:
        totals = _mapping(summary.get("totals"))
        passed, failed, errors = (_int(totals.get(k), 0) for k in ("passed", "failed", "errors"))
        gate = _mapping(summary.get("gate")).get("passed")
        return cls(
            started=_text(summary.get("startedAt"), "unknown"),
            kind=_text(_mapping(summary.get("target")).get("kind"), "?"),
            passed=gate if isinstance(gate, bool) else None,
            pass_rate=_pass_rate(passed, failed, errors),
            failures=failed + errors,
            duration=_number(summary.get("durationSeconds")),
        )


def _trend_section(summary: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> str:
    previous = [_RunPoint.of(run) for run in history if isinstance(run, Mapping)][-TREND_RUNS:]
    current = _RunPoint.of(summary)
    if not previous:
        body = '<p class="note">No previous run in the history yet; this run starts it.</p>'
    else:
        body = _trend_deltas(previous[-1], current) + _sparklines([*previous, current])
    table = _trend_table(previous, current)
    return f'<section id="trend"><h2>Trend</h2>{body}{table}</section>'


def _trend_deltas(before: _RunPoint, now: _RunPoint) -> str:
    rate = _delta(now.pass_rate, before.pass_rate, scale=100, unit=" pp")
    failures = _delta(float(now.failures), float(before.failures), scale=1, unit="", digits=0)
    duration = _delta(now.duration, before.duration, scale=1, unit=" s")
    return (
        '<ul class="deltas">'
        f"<li>Pass rate <strong>{escape(_percent(now.pass_rate))}</strong> {rate}</li>"
        f"<li>Failures <strong>{now.failures}</strong> {failures}</li>"
        f"<li>Duration <strong>{escape(_duration(now.duration))}</strong> {duration}</li></ul>"
    )


def _delta(
    now: float | None, before: float | None, scale: float, unit: str, digits: int = 1
) -> str:
    if now is None or before is None:
        return '<span class="delta">(no comparison)</span>'
    change = (now - before) * scale
    return f'<span class="delta">({change:+.{digits}f}{unit} vs previous run)</span>'


def _sparklines(points: Sequence[_RunPoint]) -> str:
    rates = [p.pass_rate * 100 if p.pass_rate is not None else None for p in points]
    failures = [float(p.failures) for p in points]
    return (
        '<div class="sparklines">'
        f"{_sparkline('pass rate %', rates, 'spark-rate', _floor(rates), 100.0)}"
        f"{_sparkline('failures', failures, 'spark-failures', 0.0, max([1.0, *failures]))}</div>"
    )


def _floor(values: Sequence[float | None]) -> float:
    # Pass rates live near 100 %; a 0–100 axis would flatten every real change.
    known = [value for value in values if value is not None]
    return max(0.0, min([*known, 100.0]) // 10 * 10 - 10)


def _sparkline(
    title: str, values: Sequence[float | None], css: str, low: float, high: float
) -> str:
    width, height, pad = 240, 48, 5
    step = (width - 2 * pad) / max(1, len(values) - 1)
    points = [
        (pad + i * step, height - pad - (v - low) / (high - low) * (height - 2 * pad))
        for i, v in enumerate(values)
        if v is not None
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5"/>' for x, y in points[-1:])
    return (
        f'<figure class="spark {css}"><svg viewBox="0 0 {width} {height}" role="img">'
        f'<title>{escape(title)}</title><polyline points="{line}"/>{dots}</svg>'
        f"<figcaption>{escape(title)}</figcaption></figure>"
    )


def _trend_table(previous: Sequence[_RunPoint], current: _RunPoint) -> str:
    rows = "".join(_trend_row(point, "") for point in previous)
    rows += _trend_row(current, "this run")
    return (
        '<div class="scroll"><table class="grid trend-table"><thead><tr><th>Started</th>'
        '<th>Target</th><th>Gate</th><th class="num">Pass rate</th><th class="num">Failures</th>'
        f'<th class="num">Duration</th></tr></thead><tbody>{rows}</tbody></table></div>'
    )


def _trend_row(point: _RunPoint, marker: str) -> str:
    gate = {True: "pass", False: "fail", None: "—"}[point.passed]
    css = ' class="current"' if marker else ""
    started = escape(point.started) + (
        f' <span class="tag">{escape(marker)}</span>' if marker else ""
    )
    return (
        f"<tr{css}><td>{started}</td><td>{escape(point.kind)}</td>"
        f'<td class="gate-{gate}">{gate}</td>'
        f'<td class="num">{escape(_percent(point.pass_rate))}</td>'
        f'<td class="num">{point.failures}</td>'
        f'<td class="num">{escape(_duration(point.duration))}</td></tr>'
    )


# --- page ----------------------------------------------------------------------------------


_NAV = (
    ("verdict", "Verdict"),
    ("environment", "Environment"),
    ("suites", "Suites"),
    ("coverage", "Coverage"),
    ("lifecycle", "Lifecycle"),
    ("failures", "Failures"),
    ("trend", "Trend"),
)


_SECTION_ID = re.compile(r'<section id="([^"]+)"')


def _page(title: str, sections: Sequence[str]) -> str:
    present = {match.group(1) for match in map(_SECTION_ID.match, sections) if match}
    nav = "".join(f'<a href="#{key}">{label}</a>' for key, label in _NAV if key in present)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # An empty icon keeps the browser from asking for /favicon.ico.
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        '<header class="top"><span class="brand">wfcontracts</span>'
        f'<span class="subtitle">release validation report</span><nav>{nav}</nav></header>'
        f"<main>{''.join(sections)}</main></body></html>\n"
    )


# --- small helpers -------------------------------------------------------------------------


def _entries(value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [dict(item) for item in value if isinstance(item, Mapping)]


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(item) for item in value]


def _text(value: object, default: str) -> str:
    return default if value is None else str(value)


def _optional_text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _count(checks: Iterable[Check], outcome: str) -> int:
    return sum(1 for check in checks if check.outcome == outcome)


def _pass_rate(passed: int, failed: int, errors: int) -> float | None:
    """Passed over judged checks; skipped checks are not judged, so they do not count."""
    judged = passed + failed + errors
    return passed / judged if judged else None


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds >= 0.1 else f"{seconds * 1000:.0f} ms"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


_CSS = """
:root{--ok:#1a7f37;--ok-bg:#e8f5ec;--bad:#cf222e;--bad-bg:#fdecec;--warn:#9a6700;
--warn-bg:#fff8c5;--mute:#8c959f;--mute-bg:#f1f3f5;--ink:#1f2328;--soft:#59636e;
--line:#d8dee4;--card:#fff;--page:#f6f8fa;color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:var(--page);color:var(--ink);font:15px/1.5 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;
font-size:13px}
header.top{display:flex;flex-wrap:wrap;align-items:baseline;gap:12px;padding:12px 32px;
background:#24292f;color:#fff}
.brand{font-weight:700;font-size:17px;letter-spacing:.2px}.subtitle{color:#c9d1d9}
header.top nav{margin-left:auto;display:flex;gap:14px}
header.top nav a{color:#c9d1d9;text-decoration:none;font-size:14px}
header.top nav a:hover{color:#fff;text-decoration:underline}
main{max-width:1180px;margin:0 auto;padding:24px 32px 48px}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:20px 24px;margin:0 0 20px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:0 0 12px}
h3{font-size:15px;margin:0}h4{font-size:13px;margin:12px 0 4px;color:var(--soft);
text-transform:uppercase;letter-spacing:.4px}
.note{color:var(--soft);margin:4px 0 12px}
.verdict{border-width:2px}.verdict-pass{border-color:var(--ok);background:var(--ok-bg)}
.verdict-fail{border-color:var(--bad);background:var(--bad-bg)}
.verdict-head{display:flex;align-items:center;gap:20px}
.verdict-word{font-size:34px;font-weight:800;letter-spacing:1px;color:#fff;border-radius:8px;
padding:6px 18px}
.verdict-pass .verdict-word{background:var(--ok)}.verdict-fail .verdict-word{background:var(--bad)}
.verdict-policy{margin:0;color:var(--soft)}
.stats{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0 4px}
.stat{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 16px;
min-width:110px;display:flex;flex-direction:column}
.stat-value{font-size:22px;font-weight:700}.stat-label{color:var(--soft);font-size:13px}
.stat-passed .stat-value{color:var(--ok)}.stat-failed .stat-value,
.stat-errors .stat-value{color:var(--bad)}.stat-skipped .stat-value{color:var(--mute)}
.reasons,.warnings{margin-top:14px}.reasons h2,.warnings h2{font-size:15px;margin:0 0 4px}
.reasons ul,.warnings ul{margin:0;padding-left:20px}.reasons li{color:var(--bad)}
.warnings li{color:var(--warn)}.more{color:var(--soft)!important}
dl.environment{display:grid;grid-template-columns:max-content 1fr;gap:6px 20px;margin:0}
dl.environment dt{color:var(--soft)}dl.environment dd{margin:0;word-break:break-all}
.scroll{overflow-x:auto}
table{border-collapse:collapse}
table.grid{width:100%}
table.grid th,table.grid td{padding:7px 12px;border-bottom:1px solid var(--line);text-align:left}
table.grid thead th{font-size:13px;color:var(--soft);font-weight:600;background:var(--page)}
table.grid tfoot th,table.grid tfoot td{font-weight:700;border-top:2px solid var(--line)}
.num{text-align:right!important;font-variant-numeric:tabular-nums}
td.has-failed,td.has-error{color:var(--bad);font-weight:700}td.has-passed{color:var(--ok)}
table.matrix th,table.matrix td{border:1px solid #fff;padding:0}
table.matrix thead th:first-child{vertical-align:bottom;text-align:left;padding:0 12px 6px 0}
table.matrix tbody th{text-align:left;padding:4px 12px 4px 0;font-weight:500;white-space:nowrap;
background:#fff}
th.check-name{vertical-align:bottom;height:170px;padding:0 0 6px;font-weight:500;font-size:12px;
color:var(--soft)}
th.check-name span{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}
.cell{width:30px;min-width:30px;height:28px;text-align:center;font-weight:700;border-radius:3px}
span.cell{display:inline-block;line-height:22px;height:22px;width:22px;min-width:22px;
margin-right:4px}
.cell-passed{background:#d2f0da;color:var(--ok)}.cell-failed{background:#ffc9c9;color:var(--bad)}
.cell-skipped{background:#fff1b8;color:var(--warn)}.cell-not-run{background:var(--mute-bg);
color:var(--mute)}
.legend{display:flex;flex-wrap:wrap;gap:16px;color:var(--soft);font-size:13px;margin:10px 0 0}
.legend-item{display:inline-flex;align-items:center;gap:4px}
.lifecycle{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
figure{margin:0}.diagram{flex:1 1 560px;min-width:0}
#transition-diagram{width:100%;max-width:720px;height:auto;display:block}
#transition-diagram .state rect{fill:#eef1f4;stroke:#6e7781;stroke-width:1.5}
#transition-diagram .state text{font:600 14px system-ui,sans-serif;fill:var(--ink)}
#transition-diagram .state-start circle{fill:var(--ink)}
#transition-diagram .state .state-note{font:12px system-ui,sans-serif;fill:var(--soft)}
#transition-diagram .arrow line{stroke-width:2.5}
#transition-diagram .arrow text{font:12px system-ui,sans-serif;paint-order:stroke;stroke:#fff;
stroke-width:4px;stroke-linejoin:round}
.arrow-exercised line{stroke:var(--ok)}.arrow-exercised text,.head-exercised{fill:var(--ok)}
.arrow-failed line{stroke:var(--bad)}.arrow-failed text,.head-failed{fill:var(--bad)}
.arrow-not-exercised line{stroke:var(--mute);stroke-dasharray:6 4}
.arrow-not-exercised text,.head-not-exercised{fill:var(--mute)}
.swatch{display:inline-block;width:18px;height:4px;border-radius:2px;vertical-align:middle}
.swatch-exercised{background:var(--ok)}.swatch-failed{background:var(--bad)}
.swatch-not-exercised{background:repeating-linear-gradient(90deg,var(--mute) 0 6px,
transparent 6px 9px)}
aside{flex:0 1 320px}aside h3{margin-bottom:2px}
ul.probes{list-style:none;padding:0;margin:0 0 16px}
ul.probes li{display:flex;align-items:center;gap:8px;padding:6px 0;
border-bottom:1px solid var(--line);flex-wrap:wrap}
.probe-verdict{margin-left:auto;font-size:13px}
.probe-exercised .probe-verdict{color:var(--ok)}.probe-failed .probe-verdict{color:var(--bad);
font-weight:700}.probe-not-exercised .probe-verdict{color:var(--mute)}
.failure-card{border:1px solid var(--line);border-left:5px solid var(--bad);border-radius:8px;
padding:14px 18px;margin:0 0 14px;background:#fff}
.failure-card.severity-minor{border-left-color:var(--warn)}
.failure-card header{display:flex;flex-wrap:wrap;align-items:center;gap:10px}
.failure-card .operation{color:var(--soft)}
.badge,.badge-error{font-size:12px;font-weight:700;text-transform:uppercase;border-radius:10px;
padding:1px 9px;color:#fff}
.sev-critical{background:#a40e26}.sev-major{background:var(--bad)}.sev-minor{background:var(--warn)}
.badge-error{background:#57606a}
.gate-tag{margin-left:auto;font-size:12px;font-weight:600}
.gate-fail{color:var(--bad)}.gate-warn{color:var(--warn)}.gate-pass{color:var(--ok)}
.message{white-space:pre-wrap;margin:10px 0 0}
.exchange{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px}
pre{background:#f6f8fa;border:1px solid var(--line);border-radius:6px;padding:10px 12px;
margin:0;white-space:pre-wrap;word-break:break-word;max-height:320px;overflow:auto}
pre.repro{background:#24292f;color:#e6edf3;border-color:#24292f}
.where{color:var(--soft);font-size:13px;margin:10px 0 0;word-break:break-all}
.all-clear{color:var(--ok);font-weight:600}
.deltas{display:flex;flex-wrap:wrap;gap:8px 28px;list-style:none;padding:0;margin:0 0 12px}
.delta{color:var(--soft);font-size:13px}
.sparklines{display:flex;flex-wrap:wrap;gap:24px;margin:0 0 12px}
.spark svg{width:240px;height:48px;background:var(--page);border-radius:6px}
.spark polyline{fill:none;stroke-width:2}.spark-rate polyline{stroke:var(--ok)}
.spark-rate circle{fill:var(--ok)}.spark-failures polyline{stroke:var(--bad)}
.spark-failures circle{fill:var(--bad)}
.spark figcaption{font-size:12px;color:var(--soft)}
tr.current td{font-weight:600;background:#f6f8fa}
.tag{font-size:11px;background:#24292f;color:#fff;border-radius:8px;padding:1px 7px;
margin-left:6px}
@media print{header.top nav{display:none}section{break-inside:avoid}}
"""
