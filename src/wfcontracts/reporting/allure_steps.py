"""Allure labels and one step per HTTP exchange (request and response attached, secrets
scrubbed). Without `--alluredir` allure-pytest is inactive and these calls do nothing."""

from __future__ import annotations

from collections.abc import Iterable

import allure

from wfcontracts.checks import CheckFailure
from wfcontracts.checks.exchange import Exchange
from wfcontracts.redact import mask_known, scrub_body, scrub_headers

ALLURE_SEVERITY = {
    "critical": allure.severity_level.CRITICAL,
    "major": allure.severity_level.NORMAL,
    "minor": allure.severity_level.MINOR,
}


def label_test(*, area: str, operation: str, story: str, severity: str) -> None:
    allure.dynamic.epic(area)
    allure.dynamic.feature(operation)
    allure.dynamic.story(story)
    allure.dynamic.severity(ALLURE_SEVERITY.get(severity, allure.severity_level.NORMAL))


def attach_exchange(
    exchange: Exchange, failures: list[CheckFailure], secrets: Iterable[str]
) -> None:
    secrets = tuple(secrets)
    verdict = "; ".join(f.check for f in failures) or "all checks passed"
    request = f"{exchange.method.upper()} {exchange.operation.path_template}"
    title = f"{request} → {exchange.status} ({verdict})"
    with allure.step(mask_known(title, secrets)):
        allure.attach(_request_text(exchange, secrets), "request", allure.attachment_type.TEXT)
        allure.attach(_response_text(exchange, secrets), "response", allure.attachment_type.TEXT)
        for failure in failures:
            allure.attach(
                mask_known(str(failure), secrets), failure.check, allure.attachment_type.TEXT
            )


def _request_text(exchange: Exchange, secrets: tuple[str, ...]) -> str:
    headers = scrub_headers(exchange.request_headers)
    body = scrub_body(exchange.request_body, exchange.request_headers.get("content-type"))
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    lines = [f"{exchange.method.upper()} {exchange.url}"] + [
        f"{k}: {v}" for k, v in headers.items()
    ]
    return mask_known("\n".join(lines) + "\n\n" + text[:20000], secrets)


def _response_text(exchange: Exchange, secrets: tuple[str, ...]) -> str:
    headers = scrub_headers(exchange.response_headers)
    body = scrub_body(exchange.response_body, exchange.header("content-type"))
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    lines = [f"HTTP {exchange.status}"] + [f"{k}: {v}" for k, v in headers.items()]
    return mask_known("\n".join(lines) + "\n\n" + text[:20000], secrets)
