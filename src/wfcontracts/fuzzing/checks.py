"""Our checks inside schemathesis: every generated request is judged by the wfcontracts registry.

One schemathesis check, `wfcontracts`, adapts schemathesis' `Case`/`Response` to an
:class:`~wfcontracts.checks.Exchange` and runs :func:`~wfcontracts.checks.run_checks` with the
run's shared :class:`~wfcontracts.checks.CheckContext` — so checks registered later (the
lifecycle oracle) join automatically. Checks schemathesis already performs under its own name
are skipped here, so a defect is reported once.

Also here: `max_json_bytes`, the registry check behind the `x-max-json-bytes` vendor keyword.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import schemathesis
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import ignored_auth as builtin_ignored_auth

from wfcontracts.checks import REGISTRY, CheckContext, CheckFailure, Exchange, run_checks
from wfcontracts.checks.registry import check, get_check

if TYPE_CHECKING:
    from schemathesis import Case, Response

    from wfcontracts.contract import Contract

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
ACCEPT_NONCES = "max_json_bytes.accept_nonces"


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

    @property
    def contract(self) -> Contract:
        return self.context.contract

    def names(self) -> list[str]:
        """Registry checks to run now (read each time: later registrations join)."""
        return sorted(name for name in REGISTRY if name not in COVERED_BY_SCHEMATHESIS)

    def record(self, exchange: Exchange, failures: list[CheckFailure]) -> None:
        with self.lock:
            self.exchanges.append(exchange)
            self.failures.extend(failures)


_ACTIVE: list[FuzzRun] = []


def bind(context: CheckContext) -> FuzzRun:
    """Make `context` the one our schemathesis check uses until :func:`unbind`."""
    run = FuzzRun(context)
    _ACTIVE[:] = [run]
    return run


def unbind() -> None:
    _ACTIVE.clear()


def active_run() -> FuzzRun | None:
    return _ACTIVE[0] if _ACTIVE else None


@schemathesis.check
def wfcontracts(ctx: schemathesis.CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Run the wfcontracts registry on this response; each failure keeps its message."""
    run = active_run()
    if run is None:
        return None
    exchange = exchange_from(run.contract, response)
    if exchange is None:
        return None
    failures = run_checks(run.context, exchange, run.names())
    run.record(exchange, failures)
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
    run = active_run()
    if run is not None and ctx.auth_enforced_operations is None:
        ctx.auth_enforced_operations = run.auth_enforced
    return builtin_ignored_auth(ctx, response, case)


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


# -- x-max-json-bytes ------------------------------------------------------------------------


@check(
    "max_json_bytes",
    severity="major",
    description=(
        "A field with x-max-json-bytes: over the limit is rejected with a 4xx; at the limit it "
        "is never refused as too large (and a probe known valid otherwise is accepted)."
    ),
)
def max_json_bytes(ctx: CheckContext, ex: Exchange) -> None:
    body = ex.request_json
    if not isinstance(body, dict):
        return
    for limit in ex.operation.byte_limits:
        value = _at(body, limit.path)
        if value is None:
            continue
        size = compact_size(value)
        _judge(ctx, ex, limit.pointer, limit.limit, size)


def _judge(ctx: CheckContext, ex: Exchange, pointer: str, limit: int, size: int) -> None:
    this = get_check("max_json_bytes")
    where = f"{pointer.lstrip('/')} of {size} compact-JSON bytes"
    if size > limit and ex.status < 300:
        raise this.fail(ex, f"{where} accepted with {ex.status}", f"a 4xx above {limit} bytes")
    if size == limit and ex.status == 413:
        raise this.fail(ex, f"{where} refused as too large (413)", f"accepted up to {limit} bytes")
    if size == limit and ex.status >= 300 and _known_valid(ctx, ex):
        raise this.fail(
            ex, f"{where} refused with {ex.status}: {ex.excerpt(120)!r}", f"accepted up to {limit}"
        )


def _known_valid(ctx: CheckContext, ex: Exchange) -> bool:
    """Whether the fuzz hook vouched for every other part of this request (a fresh nonce)."""
    nonce = ((ex.request_json or {}).get("authentication") or {}).get("nonce")
    with ctx.lock:
        return isinstance(nonce, str) and nonce in ctx.extras.get(ACCEPT_NONCES, set())


def vouch_for_nonce(ctx: CheckContext, nonce: str) -> None:
    """Mark a request carrying `nonce` as valid apart from its byte-limited field."""
    with ctx.lock:
        ctx.extras.setdefault(ACCEPT_NONCES, set()).add(nonce)


def compact_size(value: Any) -> int:
    """Bytes of `value` as compact JSON in UTF-8 (how contracts/README.md counts)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _at(body: dict[str, Any], path: Iterable[str]) -> Any:
    node: Any = body
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def failures_of(run: FuzzRun) -> Iterator[CheckFailure]:
    with run.lock:
        yield from list(run.failures)
