"""Our checks inside schemathesis: every generated request is judged by the wfcontracts registry.

One schemathesis check, `wfcontracts`, adapts schemathesis' `Case`/`Response` to an
:class:`~wfcontracts.checks.Exchange` and runs :func:`~wfcontracts.checks.run_checks` with the
run's shared :class:`~wfcontracts.checks.CheckContext` — so checks registered later (the
lifecycle oracle) join automatically. Checks schemathesis already performs under its own name
are skipped here, so a defect is reported once.

Also here: `documented_limits`, the registry check that judges the single-constraint probes the
fuzz hook sends (every documented request limit, at and just past it), and
`read_only_writes_per_run`, the schemathesis check that retries one accepted write per operation
with the read-only token.

Provenance decides severity (contracts/README.md). A server accepting a request that breaks a
constraint the docs state fails; one breaking only inferred, SDK-side or toolkit-side constraints
gets an *advisory*: a `minor` failure, recorded on the run (:attr:`FuzzRun.advisories`) and
warned about (:class:`InferredConstraintAdvisory`), never raised into the test. Our registry's
`minor` failures are advisories the same way; schemathesis' own verdicts pass through
:func:`judge_by_provenance` (a `filter_failure` hook): an accepted "negative" request that the
documented view of the contract accepts becomes an advisory, and a response schema violation the
documented view does not share (a request-side rule the docs do not state, echoed back) is
dropped.
"""

from __future__ import annotations

import json
import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlsplit

import schemathesis
from requests.structures import CaseInsensitiveDict
from schemathesis.core.failures import AcceptedNegativeData, Failure, FailureGroup
from schemathesis.openapi.checks import JsonSchemaError
from schemathesis.specs.openapi._auth_retry import get_security_parameters, remove_auth, send_probe
from schemathesis.specs.openapi.checks import ignored_auth as builtin_ignored_auth

from wfcontracts.checks import REGISTRY, CheckContext, CheckFailure, Exchange, run_checks
from wfcontracts.checks.registry import check, get_check
from wfcontracts.contract.rules import compact_json_size, has_surrounding_whitespace
from wfcontracts.scenarios.boundaries import boundary_cases

if TYPE_CHECKING:
    from schemathesis import Case, HookContext, Response

    from wfcontracts.contract import Contract, Violation

#: Our checks that schemathesis performs itself (same rule, its own name): not run twice.
COVERED_BY_SCHEMATHESIS = frozenset(
    {
        "status_code_documented",  # status_code_conformance
        "response_schema_conformance",  # response_schema_conformance
        "content_type_conformance",  # content_type_conformance
        "request_id_header",  # response_headers_conformance
        "not_a_server_error",  # not_a_server_error
    }
)


class WfcontractsCheckFailed(Failure):
    """A wfcontracts check failed on a generated request (message as the check wrote it)."""

    code: ClassVar[str] = "ST901"
    kind_title: ClassVar[str] = "wfcontracts check failed"

    def __init__(self, failure: CheckFailure, operation: str) -> None:
        super().__init__(
            operation=operation, title=f"wfcontracts: {failure.check}", message=failure.message
        )
        self.failure = failure

    @property
    def _unique_key(self) -> str:
        return f"{self.failure.check}|{self.failure.seen}"


@dataclass
class FuzzRun:
    """The state one fuzz run shares between schemathesis' checks and ours."""

    context: CheckContext
    exchanges: list[Exchange] = field(default_factory=list)
    failures: list[CheckFailure] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Operations whose auth enforcement `ignored_auth_per_run` has confirmed in this run.
    auth_enforced: set[str] = field(default_factory=set)
    #: A token with read access only (None: the read-only probe is skipped).
    read_only_token: str | None = None
    #: Write operations `read_only_writes_per_run` has probed in this run.
    read_only_probed: set[str] = field(default_factory=set)
    #: What the target got wrong only by inferred constraints (minor: never fails the gate),
    #: one per distinct finding.
    advisories: list[CheckFailure] = field(default_factory=list)
    _advised: set[str] = field(default_factory=set)

    @property
    def contract(self) -> Contract:
        return self.context.contract

    def advise(self, failure: CheckFailure) -> None:
        """Record an advisory (the first of its kind is also warned about)."""
        key = f"{failure.check}|{failure.operation}|{failure.seen}"
        with self.lock:
            if key in self._advised:
                return
            self._advised.add(key)
            self.advisories.append(failure)
        warnings.warn(InferredConstraintAdvisory(failure.message), stacklevel=2)

    def names(self) -> list[str]:
        """Registry checks to run now (read each time: later registrations join)."""
        return sorted(name for name in REGISTRY if name not in COVERED_BY_SCHEMATHESIS)

    def record(self, exchange: Exchange, failures: list[CheckFailure]) -> None:
        with self.lock:
            self.exchanges.append(exchange)
            self.failures.extend(failures)


#: The schema attribute holding the run our checks judge with (schemathesis calls a check with
#: the case, whose operation knows its schema: one run per schema, no global state).
RUN_ATTRIBUTE = "wfcontracts_run"


def bind(schema: Any, context: CheckContext, read_only_token: str | None = None) -> FuzzRun:
    """Make `context` the one our schemathesis checks use on `schema`'s cases."""
    run = FuzzRun(context, read_only_token=read_only_token)
    setattr(schema, RUN_ATTRIBUTE, run)
    return run


def unbind(schema: Any) -> None:
    if hasattr(schema, RUN_ATTRIBUTE):
        delattr(schema, RUN_ATTRIBUTE)


def run_of(case: Case[Any]) -> FuzzRun | None:
    run = getattr(case.operation.schema, RUN_ATTRIBUTE, None)
    return run if isinstance(run, FuzzRun) else None


@schemathesis.check
def wfcontracts(ctx: schemathesis.CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Run the wfcontracts registry on this response; each failure keeps its message."""
    run = run_of(case)
    if run is None:
        return None
    exchange = exchange_from(run.contract, response)
    if exchange is None:
        return None
    found = run_checks(run.context, exchange, run.names())
    run.record(exchange, found)
    failures = [f for f in found if f.severity != "minor"]
    for advisory in (f for f in found if f.severity == "minor"):
        run.advise(advisory)
    if failures:
        label = case.operation.label
        raise FailureGroup([WfcontractsCheckFailed(f, label) for f in failures])
    return None


@schemathesis.check
def ignored_auth_per_run(
    ctx: schemathesis.CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """schemathesis' `ignored_auth`, confirming each operation's enforcement once per run.

    `st run` shares one set of confirmed operations across the run; `Case.validate_response`
    (pytest) passes none, so every accepted case would re-send itself twice without or with
    bad credentials. Same rule and failures, `st run`'s cost. (Config turns the plain one off.)
    """
    run = run_of(case)
    if run is not None and ctx.auth_enforced_operations is None:
        ctx.auth_enforced_operations = run.auth_enforced
    return builtin_ignored_auth(ctx, response, case)


class ReadOnlyTokenWrote(Failure):
    """A write accepted with our token was not refused with the read-only token."""

    code: ClassVar[str] = "ST902"
    kind_title: ClassVar[str] = "read-only token may write"

    def __init__(self, operation: str, status: int) -> None:
        super().__init__(
            operation=operation,
            title="wfcontracts: read_only_token",
            message=(
                f"{operation}: the same request with a read-only token (workflowOrchestrationAcl:"
                f"READ) got {status} — contract: 401 or 403 (the write needs WRITE)"
            ),
        )
        self.status = status

    @property
    def _unique_key(self) -> str:
        return f"read_only_token|{self.operation}|{self.status}"


@schemathesis.check
def read_only_writes_per_run(
    ctx: schemathesis.CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """Once per write operation per run: its first accepted case again with the read-only
    token must get 401 or 403 (skipped without a read-only token)."""
    run = run_of(case)
    if run is None or run.read_only_token is None or not 200 <= response.status_code < 300:
        return None
    operation_id = case.operation.definition.raw.get("operationId")
    # The contract's `x-acl` says which operations need WRITE (createSessions has no x-acl).
    if not str(case.operation.definition.raw.get("x-acl", "")).endswith(":WRITE"):
        return None
    with run.lock:
        if operation_id in run.read_only_probed:
            return None
        run.read_only_probed.add(operation_id)
    security = get_security_parameters(case.operation)
    probe = remove_auth(case, security)
    headers = CaseInsensitiveDict(probe.headers or {})
    headers["Authorization"] = f"Bearer {run.read_only_token}"
    probe.headers = headers
    answer = send_probe(ctx, case, probe)
    if answer.status_code not in (401, 403):
        raise ReadOnlyTokenWrote(f"{operation_id} ({case.operation.label})", answer.status_code)
    return None


def exchange_from(contract: Contract, response: Response) -> Exchange | None:
    """The request/response pair as our checks see it; None for paths outside the contract."""
    request = response.request
    method = str(request.method or "GET")
    url = str(request.url)
    relative = _relative_path(urlsplit(url).path)
    matched = contract.match(method, relative) if relative is not None else None
    if matched is None:
        return None
    body: Any = request.body or b""
    return Exchange(
        operation=matched[0],
        method=method.lower(),
        url=url,
        request_headers={k: str(v) for k, v in request.headers.items()},
        request_body=body.encode() if isinstance(body, str) else bytes(body),
        status=response.status_code,
        response_headers={k: ", ".join(v) for k, v in response.headers.items()},
        response_body=response.content or b"",
        elapsed_ms=response.elapsed * 1000,
    )


def _relative_path(path: str) -> str | None:
    """The path below `/api/v1/projects/{project}`, still URL-encoded."""
    parts = path.split("/", 5)
    if len(parts) < 6 or parts[1:4] != ["api", "v1", "projects"]:
        return None
    return "/" + parts[5]


# -- provenance of schemathesis' verdicts -----------------------------------------------------


class InferredConstraintAdvisory(UserWarning):
    """The target broke only constraints the docs do not state: an advisory (severity minor)."""


@schemathesis.hook("filter_failure")
def judge_by_provenance(
    ctx: HookContext, failure: Failure, case: Case[Any], response: Response
) -> bool:
    """Whether a schemathesis failure stands once the contract's provenance is considered.

    Global (schemathesis has no per-check hook), so it only judges cases of a schema we bound.
    """
    run = run_of(case)
    if run is None:
        return True
    if isinstance(failure, AcceptedNegativeData) and response.status_code < 500:
        return _negative_accepted(run, case, response)
    if isinstance(failure, JsonSchemaError) and "header" not in failure.title.lower():
        return _response_violates(run, response)
    return True


def _negative_accepted(run: FuzzRun, case: Case[Any], response: Response) -> bool:
    """A "negative" request was accepted: a failure only if the docs' rules reject it."""
    request = _request_of(run.contract, response)
    if request is None:
        return True  # not a JSON request we can re-judge: schemathesis' verdict stands
    operation_id, path_params, raw_query, body, has_body = request
    verdict, broken = breaks(run.contract, operation_id, path_params, raw_query, body, has_body)
    if verdict == "documented":
        return True
    # "inferred" is an advisory; "nothing": "negative" by schemathesis' reading of a pattern or
    # a serialisation, valid by the contract's (ECMA-262) — not a finding at all.
    if verdict == "inferred":
        run.advise(
            CheckFailure(
                check="negative_data_rejection",
                operation=f"{operation_id} ({case.operation.label})",
                seen=(
                    f"accepted with {response.status_code} a request breaking only constraints "
                    f"the docs do not state: {_constraint_names(broken)}"
                ),
                allowed="a 4xx by the contract's inferred rules (advisory: x-inferred)",
                severity="minor",
            )
        )
    return False


Breaks = Literal["documented", "inferred", "nothing"]


def breaks(
    contract: Contract,
    operation_id: str,
    path_params: dict[str, str],
    raw_query: str,
    body: Any,
    has_body: bool,
) -> tuple[Breaks, list[Violation]]:
    """Which rules a request breaks: some the docs state, only inferred ones, or none — and
    the violations behind the verdict."""
    stated = contract.documented.request_violations(
        operation_id, path_params, raw_query, body, has_body=has_body
    )
    if stated:
        return "documented", stated
    every = contract.request_violations(
        operation_id, path_params, raw_query, body, has_body=has_body
    )
    return ("inferred" if every else "nothing"), every


def _response_violates(run: FuzzRun, response: Response) -> bool:
    """A response broke its schema: a failure unless only rules the docs do not state did
    (mostly request-side ones, echoed back: the same finding was judged on the request)."""
    exchange = exchange_from(run.contract, response)
    if exchange is None or not exchange.response_is_json:
        return True
    return bool(
        run.contract.response_violations(
            exchange.operation.operation_id, exchange.status, exchange.response_json
        )
    )


def _request_of(
    contract: Contract, response: Response
) -> tuple[str, dict[str, str], str, Any, bool] | None:
    """Operation id, path values, raw query, parsed JSON body and whether there was one."""
    request = response.request
    split = urlsplit(str(request.url))
    relative = _relative_path(split.path)
    matched = contract.match(str(request.method or "GET"), relative) if relative else None
    if matched is None or len(parse_qsl(split.query)) != len(dict(parse_qsl(split.query))):
        return None  # outside the contract, or a repeated query parameter
    raw: Any = request.body or b""
    raw = raw.encode() if isinstance(raw, str) else bytes(raw)
    if not raw.strip():
        return matched[0].operation_id, matched[1], split.query, None, False
    content_type = str(CaseInsensitiveDict(request.headers).get("content-type") or "")
    media = content_type.split(";")[0].strip().lower()
    if media not in ("application/json", "") and not media.endswith("+json"):
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return matched[0].operation_id, matched[1], split.query, body, True


def _constraint_names(violations: list[Violation]) -> str:
    """`/items/*/maxConcurrentExecutions minimum, query parameter cursor minLength` (stable:
    one advisory per constraint, whatever value broke it)."""
    names = {f"{re.sub(r'/[0-9]+(?=/|$)', '/*', v.pointer)} {v.keyword}" for v in violations}
    return ", ".join(sorted(names))


# -- documented limits -----------------------------------------------------------------------

#: Where a request known valid apart from one value at its limit may still be refused: the
#: target's state (auth, unknown or finished resources) decides, not the limit.
STATE_REFUSALS = frozenset({401, 403, 404, 409})
VOUCHED = "documented_limits.vouched"
LIMITS = "documented_limits.limits"


@dataclass(frozen=True)
class Limit:
    """One request-body limit of the contract: where, which constraint, the bound, and whether
    the docs state it (else it is inferred: SDK-side, toolkit-side or ours)."""

    operation_id: str
    path: tuple[str | int, ...]
    constraint: str
    limit: int
    documented: bool = True

    @property
    def where(self) -> str:
        return "/".join(str(p) for p in self.path)

    def side(self, value: Any) -> str | None:
        """'past', 'at' or None (inside, or not a value this limit measures)."""
        measured = _measure(self.constraint, value)
        if measured is None:
            return None
        if self.constraint == "minimum":
            past = measured < self.limit
        else:
            past = measured > self.limit
        return "past" if past else "at" if measured == self.limit else None


def _measure(constraint: str, value: Any) -> int | None:
    """The quantity `constraint` bounds, measured on `value` (None: not applicable)."""
    if value is None:
        return None
    if constraint == "x-max-json-bytes":
        return compact_json_size(value)
    if isinstance(value, dict) and value:
        if constraint == "maxProperties":
            return len(value)
        if constraint == "propertyNames.maxLength":
            return max(len(str(key)) for key in value)
        strings = [len(v) for v in value.values() if isinstance(v, str)]
        if constraint == "additionalProperties.maxLength" and strings:
            return max(strings)
    if isinstance(value, str):
        if constraint == "maxLength":
            return len(value)
        if constraint == "no-surrounding-whitespace":
            # The contract's whitespace (ECMA-262 `\s`), not `str.strip`'s: U+001C..U+001F are
            # no whitespace to the pattern, so a server accepting them is right.
            return 1 if has_surrounding_whitespace(value) else None  # past a limit of 0 only
    if isinstance(value, int) and not isinstance(value, bool):
        if constraint in ("minimum", "maximum"):
            return value
    return None


def documented_limits_of(contract: Contract) -> dict[str, list[Limit]]:
    """Every request-body limit of the contract, by operation id (from the boundaries), each
    marked documented when the contract's documented view still carries it."""
    stated = {
        (case.operation_id, case.path, case.constraint, case.limit)
        for case in boundary_cases(contract.documented)
    }
    limits: dict[str, list[Limit]] = {}
    for case in boundary_cases(contract):
        key = (case.operation_id, case.path, case.constraint, case.limit)
        limit = Limit(*key, documented=key in stated)
        bucket = limits.setdefault(limit.operation_id, [])
        if limit not in bucket:
            bucket.append(limit)
    return limits


def _limits(ctx: CheckContext, operation_id: str) -> list[Limit]:
    with ctx.lock:
        by_operation = ctx.extras.get(LIMITS)
        if by_operation is None:
            by_operation = ctx.extras[LIMITS] = documented_limits_of(ctx.contract)
    return list(by_operation.get(operation_id, []))


@check(
    "documented_limits",
    severity="major",
    description=(
        "A request-body value past a limit the docs state (maxLength, maxProperties, key/value "
        "lengths, x-max-json-bytes, minimum/maximum) or missing a field they require is rejected "
        "with a 4xx; a value exactly at a limit is never refused as too large, and a request "
        "vouched valid otherwise is not refused for it."
    ),
)
def documented_limits(ctx: CheckContext, ex: Exchange) -> None:
    _judge_limits(ctx, ex, documented=True)


@check(
    "inferred_limits",
    severity="minor",
    description=(
        "The same judgement for limits and required fields the docs do not state (SDK-side, "
        "toolkit-side or inferred: `x-inferred` in the contract): an advisory, never failing "
        "the default gate."
    ),
)
def inferred_limits(ctx: CheckContext, ex: Exchange) -> None:
    _judge_limits(ctx, ex, documented=False)


def _judge_limits(ctx: CheckContext, ex: Exchange, *, documented: bool) -> None:
    body = ex.request_json
    if not isinstance(body, dict):
        return
    this = get_check("documented_limits" if documented else "inferred_limits")
    _judge_required(ctx, ex, body, documented=documented)
    vouched = _vouched(ctx, body)
    for limit in _limits(ctx, ex.operation.operation_id):
        if limit.documented != documented:
            continue
        for value in _values_at(body, limit.path):
            side = limit.side(value)
            seen = f"{limit.where} {_describe(limit, value)}"
            if side == "past" and ex.status < 300:
                allowed = f"a 4xx past {limit.constraint} {limit.limit}"
                raise this.fail(ex, f"{seen} accepted with {ex.status}", allowed)
            if side != "at":
                continue
            if ex.status == 413:
                allowed = f"accepted at {limit.constraint} {limit.limit}"
                raise this.fail(ex, f"{seen} refused as too large (413)", allowed)
            if vouched and 400 <= ex.status < 500 and ex.status not in STATE_REFUSALS:
                raise this.fail(
                    ex,
                    f"{seen} refused with {ex.status}: {ex.excerpt(120)!r}",
                    f"accepted at {limit.constraint} {limit.limit} (all else valid)",
                )


def _judge_required(
    ctx: CheckContext, ex: Exchange, body: dict[str, Any], *, documented: bool
) -> None:
    if ex.status >= 300:
        return
    stated = _missing_required(ctx.contract.documented, ex.operation.operation_id, body)
    if documented:
        missing = stated
    else:
        known = {(v.pointer, v.message) for v in stated}
        every = _missing_required(ctx.contract, ex.operation.operation_id, body)
        missing = [v for v in every if (v.pointer, v.message) not in known]
    if missing:
        first = missing[0]
        raise get_check("documented_limits" if documented else "inferred_limits").fail(
            ex,
            f"body at {first.pointer or '/'} lacking a required field accepted with {ex.status}",
            f"a 4xx ({first.message})",
        )


def _missing_required(contract: Contract, operation_id: str, body: Any) -> list[Violation]:
    schema = contract.operation(operation_id).request_schema
    if schema is None:
        return []
    return [v for v in contract.validate(schema, body) if v.keyword == "required"]


def _describe(limit: Limit, value: Any) -> str:
    measured = _measure(limit.constraint, value)
    return f"with {limit.constraint} measure {measured}"


def _values_at(node: Any, path: tuple[str | int, ...]) -> Iterator[Any]:
    """Every value at `path`; an integer step means each item of an array."""
    if not path:
        yield node
        return
    step, rest = path[0], path[1:]
    if isinstance(step, int):
        if isinstance(node, list):
            for item in node:
                yield from _values_at(item, rest)
    elif isinstance(node, dict) and step in node:
        yield from _values_at(node[step], rest)


def _fingerprint(body: Any) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _vouched(ctx: CheckContext, body: dict[str, Any]) -> bool:
    """Whether the fuzz hook vouched for every other part of this exact body."""
    with ctx.lock:
        return _fingerprint(body) in ctx.extras.get(VOUCHED, set())


def vouch_for_body(ctx: CheckContext, body: dict[str, Any]) -> None:
    """Mark `body` (unique: it carries a fresh nonce or a fresh execution's id) as valid apart
    from its one value at a limit; the check then demands it is not refused for that value."""
    with ctx.lock:
        ctx.extras.setdefault(VOUCHED, set()).add(_fingerprint(body))


def failures_of(run: FuzzRun) -> Iterator[CheckFailure]:
    with run.lock:
        yield from list(run.failures)
