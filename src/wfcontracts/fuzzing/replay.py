"""Re-sending a saved fuzz finding (`wfcontracts verify --replay-failure CASSETTE`).

Every request of the cassette a fuzz failure saved goes again to the run's target — the
embedded mock (with the same `--fault`s) or a live URL with this run's credentials — and every
answer is judged by every registered check, as in the run that found it. Ids the target made in
the original run may not exist on a fresh target; the sequence is re-sent as recorded.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from wfcontracts.cassettes.reading import load_cassette
from wfcontracts.checks import CheckFailure, Exchange, run_checks
from wfcontracts.errors import WfcontractsError

if TYPE_CHECKING:
    from wfcontracts.runtime import Runtime

API_PREFIX = "/api/v1/projects/"


@dataclass
class Resent:
    exchange: Exchange
    failures: list[CheckFailure]


def resend(runtime: Runtime, path: Path) -> list[Resent]:
    """Send the cassette's requests to the runtime's target in order; judge every answer."""
    cassette = load_cassette(path)
    results: list[Resent] = []
    for interaction in cassette.interactions:
        request = interaction.raw.get("request") or {}
        relative = _below_project(str(request.get("uri", "")))
        matched = runtime.contract.match(interaction.method, relative.partition("?")[0])
        if matched is None:
            where = f"{interaction.method} {relative}"
            raise WfcontractsError(f"{path}: {where} is not an operation of the contract")
        body = request.get("body")
        content = body.encode() if isinstance(body, str) else (body or b"")
        headers = {"content-type": "application/json"} if content else {}
        sent = runtime.client.build_request(
            interaction.method.upper(), relative.lstrip("/"), content=content, headers=headers
        )
        started = time.perf_counter()
        response = runtime.client.send(sent)
        elapsed_ms = (time.perf_counter() - started) * 1000
        exchange = Exchange(
            operation=matched[0],
            method=interaction.method.lower(),
            url=str(sent.url),
            request_headers=dict(sent.headers),
            request_body=content,
            status=response.status_code,
            response_headers=dict(response.headers),
            response_body=response.content,
            elapsed_ms=elapsed_ms,
        )
        failures = run_checks(runtime.context, exchange)
        failures += _accepted_invalid(runtime, exchange, matched[1], relative, content)
        results.append(Resent(exchange, failures))
    return results


def _accepted_invalid(
    runtime: Runtime, exchange: Exchange, path_params: dict[str, str], relative: str, body: bytes
) -> list[CheckFailure]:
    """schemathesis' `negative_data_rejection`, for the replay: a request breaking a
    documented rule (the contract's documented view) must not be accepted."""
    if not 200 <= exchange.status < 300:
        return []
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = body.decode("utf-8", "replace")
    documented = runtime.contract.documented
    violations = documented.request_violations(
        exchange.operation.operation_id,
        {k: unquote(v) for k, v in path_params.items()},
        relative.partition("?")[2],
        parsed,
        has_body=bool(body),
    )
    if not violations:
        return []
    return [
        CheckFailure(
            check="negative_data_rejection",
            operation=exchange.label,
            seen=f"accepted with {exchange.status}: {violations[0]}",
            allowed="a 4xx for a request breaking a documented rule",
            severity="major",
        )
    ]


def _below_project(uri: str) -> str:
    """`/workflows/…?query` of a recorded URI, whatever target and project it was sent to."""
    parts = urlsplit(uri)
    path = parts.path
    if API_PREFIX not in path:
        return path + (f"?{parts.query}" if parts.query else "")
    after = path.split(API_PREFIX, 1)[1]
    below = "/" + after.partition("/")[2]
    return below + (f"?{parts.query}" if parts.query else "")
