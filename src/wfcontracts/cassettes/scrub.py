"""vcrpy hooks that scrub secrets from every interaction before it is written to a cassette.

Built on :mod:`wfcontracts.redact`; use ``vcr.VCR(**vcr_config())`` (or return ``vcr_config()``
from a ``vcr_config`` fixture). ``vcr_config(secrets=[token, client_secret])`` additionally
masks those literal values wherever they appear, e.g. a token echoed under an innocent key.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from wfcontracts.cassettes.reading import first_header
from wfcontracts.redact import (
    MASK,
    SECRET_KEYS,
    decompress,
    mask_known,
    scrub_body,
    scrub_header_value,
    scrub_headers,
    scrub_url,
)

__all__ = ["before_record_request", "before_record_response", "vcr_config"]

_COMPRESSED_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate"})

RequestHook = Callable[[Any], Any]
ResponseHook = Callable[[dict[str, Any]], dict[str, Any]]


def before_record_request(request: Any) -> Any:
    """Scrub a ``vcr.request.Request`` in place (vcrpy hands the hook a copy) and return it."""
    return _scrub_request(request, ())


def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
    """A scrubbed copy of a vcrpy response dict: headers, and the body (gzip bodies decoded)."""
    return _scrub_response(response, ())


def _scrub_request(request: Any, secrets: tuple[str, ...]) -> Any:
    body, headers, _ = _decoded(_request_body(request), dict(request.headers))
    if body:
        body, headers = _masked(body, headers, secrets)
    request.headers = _mask_headers(scrub_headers(headers), secrets)
    request.body = body
    request.uri = mask_known(scrub_url(request.uri), secrets)
    return request


def _scrub_response(response: dict[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    response = copy.deepcopy(response)
    headers: dict[str, Any] = dict(response.get("headers") or {})
    body_holder = response.get("body") or {}
    body, headers, decoded = _decoded(body_holder.get("string"), headers)
    if decoded:
        # The body is stored decoded, so a replayed Content-Length must count the decoded bytes.
        headers = _with_length(headers, body)
    if body:
        body, headers = _masked(body, headers, secrets)
        body_holder["string"] = body
        response["body"] = body_holder
    response["headers"] = _mask_headers(scrub_headers(headers), secrets)
    return response


def _request_body(request: Any) -> bytes | str | None:
    # vcrpy >= 9 exposes body_bytes for file/iterator bodies; older ones only body.
    body = getattr(request, "body_bytes", request.body)
    return body if isinstance(body, bytes | str) else None


def _decoded(body: Any, headers: dict[str, Any]) -> tuple[Any, dict[str, Any], bool]:
    """(body, headers, decoded): a gzip/deflate body decoded, as scrubbing needs its text."""
    encoding = (first_header(headers, "content-encoding") or "").strip().lower()
    if isinstance(body, bytes) and encoding in _COMPRESSED_ENCODINGS:
        plain = decompress(body, encoding)
        if plain is not None:
            return plain, _without(headers, "content-encoding"), True
    return body, headers, False


def _masked(
    body: bytes | str, headers: dict[str, Any], secrets: tuple[str, ...]
) -> tuple[bytes | str, dict[str, Any]]:
    """The body with secrets masked; a Content-Length the headers carry stays true."""
    body = _mask_bytes(scrub_body(body, first_header(headers, "content-type")), secrets)
    if first_header(headers, "content-length"):
        headers = _with_length(headers, body)
    return body, headers


def _without(headers: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in headers.items() if key.lower() != name}


def _with_length(headers: dict[str, Any], body: bytes | str) -> dict[str, Any]:
    """Headers with Content-Length matching ``body`` (same key spelling, same value shape)."""
    size = str(len(body.encode("utf-8") if isinstance(body, str) else body))
    updated = dict(headers)
    key = next((k for k in headers if k.lower() == "content-length"), "content-length")
    updated[key] = [size] if isinstance(headers.get(key, [size]), list) else size
    return updated


def _mask_bytes(body: bytes | str, secrets: tuple[str, ...]) -> bytes | str:
    if not secrets:
        return body
    if isinstance(body, str):
        return mask_known(body, secrets)
    try:
        return mask_known(body.decode("utf-8"), secrets).encode("utf-8")
    except UnicodeDecodeError:
        return body


def _mask_headers(headers: dict[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    if not secrets:
        return headers
    return {
        name: (
            mask_known(value, secrets)
            if isinstance(value, str)
            else [mask_known(item, secrets) for item in value]
        )
        for name, value in headers.items()
    }


def _replace_header(key: str, value: str, request: Any) -> str:
    """vcrpy ``filter_headers`` callback: keeps the "Bearer ***" shape instead of dropping it."""
    return scrub_header_value(key, value)


def _secret_name_variants() -> list[str]:
    # vcrpy's query and form filters match names exactly, so list the usual spellings.
    names = set(SECRET_KEYS)
    names |= {name.replace("-", "_") for name in SECRET_KEYS}
    return sorted(names)


def vcr_config(secrets: Iterable[str | None] = ()) -> dict[str, Any]:
    """Keyword arguments for ``vcr.VCR(**vcr_config())`` that keep secrets out of cassettes.

    ``secrets`` are literal values (the token, the client secret) masked anywhere they appear.
    """
    known = tuple(value for value in secrets if value)
    names = _secret_name_variants()
    return {
        "filter_headers": [(name, _replace_header) for name in sorted(SECRET_KEYS)],
        "filter_query_parameters": [(name, MASK) for name in names],
        # Empty on purpose: vcrpy's body filter json-decodes every application/json body first
        # and crashes on gzip-encoded (the Cognite SDK's default) or malformed (fuzzing) ones.
        # before_record_request scrubs JSON and form bodies, compressed or not, instead.
        "filter_post_data_parameters": (),
        "before_record_request": _bind_request_hook(known),
        "before_record_response": _bind_response_hook(known),
        "decode_compressed_response": True,
    }


def _bind_request_hook(secrets: tuple[str, ...]) -> RequestHook:
    if not secrets:
        return before_record_request
    return lambda request: _scrub_request(request, secrets)


def _bind_response_hook(secrets: tuple[str, ...]) -> ResponseHook:
    if not secrets:
        return before_record_response
    return lambda response: _scrub_response(response, secrets)
