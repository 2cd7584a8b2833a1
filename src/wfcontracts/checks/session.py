"""Calling contract operations by id over any httpx client, with every check on every response."""

from __future__ import annotations

import json as jsonlib
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

import httpx

from wfcontracts.checks.exchange import Exchange
from wfcontracts.checks.failures import CheckFailure
from wfcontracts.checks.registry import CheckContext, run_checks

Observer = Callable[[Exchange, list[CheckFailure]], None]
_UNSET: Any = object()
USE_CLIENT_AUTH: Any = httpx.USE_CLIENT_DEFAULT


class CheckedSession:
    """Sends requests for contract operations and judges each response with the checks.

    Suites never ask which target they run on: the client's transport decides (embedded mock,
    live URL or cassette replay). Observers see every exchange with its failures (reports,
    transition coverage); the first failure is raised after all observers ran.
    """

    def __init__(
        self,
        client: httpx.Client,
        context: CheckContext,
        *,
        checks: Iterable[str] | None = None,
        observers: list[Observer] | None = None,
    ) -> None:
        self.client = client
        self.context = context
        self.checks = list(checks) if checks is not None else None
        self.observers: list[Observer] = list(observers or [])

    @property
    def contract(self) -> Any:
        return self.context.contract

    def call(
        self,
        operation_id: str,
        *,
        path: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
        json: Any = _UNSET,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = USE_CLIENT_AUTH,
        checks: Iterable[str] | None = None,
    ) -> Exchange:
        """Call one operation; raise :class:`CheckFailure` if any check fails."""
        operation = self.context.contract.operation(operation_id)
        url = _expand(operation.path_template, path or {})
        body = content
        request_headers = dict(headers or {})
        if json is not _UNSET:
            body = jsonlib.dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
            request_headers.setdefault("content-type", "application/json")
        request = self.client.build_request(
            operation.method.upper(), url, params=query, content=body, headers=request_headers
        )
        started = time.perf_counter()
        response = self.client.send(request, auth=auth)
        exchange = Exchange(
            operation=operation,
            method=operation.method,
            url=str(request.url),
            request_headers=dict(request.headers),
            request_body=body or b"",
            status=response.status_code,
            response_headers=dict(response.headers),
            response_body=response.content,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )
        names = list(checks) if checks is not None else self.checks
        failures = run_checks(self.context, exchange, names)
        for observer in self.observers:
            observer(exchange, failures)
        if failures:
            raise failures[0]
        return exchange


def _expand(template: str, params: dict[str, str]) -> str:
    url = template
    for name, value in params.items():
        url = url.replace("{" + name + "}", quote(str(value), safe=""))
    return url.lstrip("/")
