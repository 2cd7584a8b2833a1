"""Checks on any response: status, schema, content type, envelope, request id, server errors."""

from __future__ import annotations

from wfcontracts.checks.exchange import Exchange
from wfcontracts.checks.registry import CheckContext, check, get_check

JSON_TYPES = ("application/json",)


@check(
    "status_code_documented",
    severity="major",
    description="The response status is one the contract documents for the operation.",
)
def status_code_documented(ctx: CheckContext, ex: Exchange) -> None:
    if ex.operation.response_for(ex.status) is None:
        raise get_check("status_code_documented").fail(
            ex, f"status {ex.status}", f"documented {', '.join(ex.operation.documented_statuses)}"
        )


@check(
    "response_schema_conformance",
    severity="critical",
    description="The response body matches the contract schema for its status.",
)
def response_schema_conformance(ctx: CheckContext, ex: Exchange) -> None:
    schema = ex.operation.response_schema(ex.status)
    if schema is None:
        return
    this = get_check("response_schema_conformance")
    if not ex.response_is_json:
        raise this.fail(ex, f"a non-JSON body ({ex.excerpt(80)!r})", "a JSON body")
    # Judged by what the docs state: a request-side rule they do not, echoed back, is no defect.
    violations = ctx.contract.response_violations(
        ex.operation.operation_id, ex.status, ex.response_json
    )
    if violations:
        seen = "; ".join(str(v) for v in violations[:3])
        more = f" (+{len(violations) - 3} more)" if len(violations) > 3 else ""
        target = schema.get("$ref", "").rsplit("/", 1)[-1] or f"the {ex.status} schema"
        raise this.fail(ex, f"body violates the schema: {seen}{more}", f"{target}")


@check(
    "content_type_conformance",
    severity="major",
    description="Responses with a documented body are served as application/json.",
)
def content_type_conformance(ctx: CheckContext, ex: Exchange) -> None:
    response = ex.operation.response_for(ex.status) or {}
    if not response.get("content") or not ex.response_body:
        return
    content_type = (ex.header("content-type") or "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES:
        raise get_check("content_type_conformance").fail(
            ex, f"content-type {content_type or '(none)'!r}", "application/json"
        )


@check(
    "error_envelope",
    severity="major",
    description='Every 4xx/5xx carries the CDF envelope {"error": {"code": <status>, "message"}}.',
)
def error_envelope(ctx: CheckContext, ex: Exchange) -> None:
    if ex.status < 400:
        return
    this = get_check("error_envelope")
    allowed = f'{{"error": {{"code": {ex.status}, "message": <string>}}}}'
    body = ex.response_json
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        raise this.fail(ex, f"status {ex.status} with body {ex.excerpt(120)!r}", allowed)
    code, message = error.get("code"), error.get("message")
    if not isinstance(message, str) or isinstance(code, bool) or not isinstance(code, int):
        raise this.fail(ex, f"error object {ex.excerpt(120)!r}", allowed)
    if code != ex.status:
        raise this.fail(ex, f"error.code {code} on an HTTP {ex.status} response", allowed)


@check(
    "request_id_header",
    severity="minor",
    description="Responses carry the headers the contract requires (x-request-id on errors).",
)
def request_id_header(ctx: CheckContext, ex: Exchange) -> None:
    for name in ex.operation.required_headers(ex.status):
        if not ex.header(name):
            raise get_check("request_id_header").fail(
                ex, f"no {name} header on a {ex.status} response", f"{name} required"
            )


@check(
    "not_a_server_error",
    severity="critical",
    description="The target never answers with a 5xx to a request the harness sends.",
)
def not_a_server_error(ctx: CheckContext, ex: Exchange) -> None:
    if ex.status >= 500:
        raise get_check("not_a_server_error").fail(
            ex, f"status {ex.status}: {ex.excerpt(160)!r}", "a 2xx or a 4xx with the envelope"
        )
