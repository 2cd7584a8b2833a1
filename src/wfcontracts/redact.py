"""Secret scrubbing: pure functions used wherever a request or response leaves memory.

Cassettes, reports, failure messages and curl reproductions all go through these functions, so a
token, client secret or session nonce never reaches a file or a log. Standard library only.
"""

from __future__ import annotations

import gzip
import json
import re
import shlex
import zlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "SECRET_KEYS",
    "curl_command",
    "decompress",
    "is_secret_key",
    "mask_known",
    "scrub_body",
    "scrub_header_value",
    "scrub_headers",
    "scrub_json",
    "scrub_url",
]

MASK = "***"

#: Names (header, query parameter, JSON key or form field) whose values are secret.
#: Matching is case-insensitive and ignores ``-`` and ``_``: ``clientSecret``, ``client_secret``
#: and ``Client-Secret`` are the same name.
SECRET_KEYS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "api_key",
        "apikey",
        "nonce",
        "client_secret",
        "clientsecret",
        "clientSecret",
        "client_assertion",
        "assertion",
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "password",
        "passwd",
        "secret",
        "private_key",
        "session_key",
        "x-cdp-token",
    }
)

# Authorization-like headers keep their scheme ("Bearer ***") so a reader still sees the shape.
_SCHEME_HEADERS = frozenset({"authorization", "proxyauthorization"})
_MIN_KNOWN_SECRET_LENGTH = 4
# curl computes these itself, and replaying an Accept-Encoding would print compressed bytes.
_CURL_SKIPPED_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "host"})


def _normalize(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


_NORMALIZED_SECRET_KEYS = frozenset(_normalize(key) for key in SECRET_KEYS)


def is_secret_key(name: str) -> bool:
    """True when ``name`` (header, query, JSON or form key) holds a secret value."""
    return _normalize(name) in _NORMALIZED_SECRET_KEYS


def scrub_header_value(name: str, value: str) -> str:
    """The value to keep for header ``name``: masked when secret, with any auth scheme kept."""
    if not is_secret_key(name):
        return value
    if _normalize(name) in _SCHEME_HEADERS:
        scheme, _, credentials = value.strip().partition(" ")
        if credentials:
            return f"{scheme} {MASK}"
    return MASK


def scrub_headers(headers: Mapping[str, str | list[str]]) -> dict[str, str | list[str]]:
    """A copy of ``headers`` with secret values masked; list values (vcrpy's form) stay lists."""
    scrubbed: dict[str, str | list[str]] = {}
    for name, value in headers.items():
        if isinstance(value, str):
            scrubbed[name] = scrub_header_value(name, value)
        else:
            scrubbed[name] = [scrub_header_value(name, item) for item in value]
    return scrubbed


def scrub_json(value: Any) -> Any:
    """A new JSON value with every secret key's value masked, at any depth."""
    if isinstance(value, Mapping):
        return {
            key: (MASK if _is_secret_entry(key, item) else scrub_json(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub_json(item) for item in value]
    return value


def _is_secret_entry(key: object, item: object) -> bool:
    # A null secret is no secret: keeping None preserves the document's shape.
    return isinstance(key, str) and is_secret_key(key) and item is not None


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_json_media_type(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def scrub_body(body: bytes | str, content_type: str | None) -> bytes | str:
    """``body`` with secrets masked, of the same type (bytes in, bytes out).

    JSON bodies are scrubbed recursively, form bodies field by field; anything else (or a body
    that does not parse) is returned unchanged. Without a content type, JSON is sniffed.
    """
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body  # binary (or still compressed): nothing we can parse
    else:
        text = body
    scrubbed = _scrub_text(text, _media_type(content_type))
    if scrubbed is None:
        return body
    return scrubbed.encode("utf-8") if isinstance(body, bytes) else scrubbed


def _scrub_text(text: str, media_type: str) -> str | None:
    if _is_json_media_type(media_type) or (not media_type and text.lstrip()[:1] in ("{", "[")):
        return _scrub_json_text(text)
    if media_type == "application/x-www-form-urlencoded":
        return _scrub_form(text)
    return None


def _scrub_json_text(text: str) -> str | None:
    try:
        document = json.loads(text)
    except ValueError:
        return _scrub_broken_json(text)
    scrubbed = scrub_json(document)
    if scrubbed == document:
        return text  # nothing secret: keep the original bytes exactly
    return json.dumps(scrubbed, ensure_ascii=False, separators=(",", ":"))


# A "key": "string value" pair, for JSON that does not parse (truncated, or fuzzed on purpose).
_JSON_STRING_MEMBER = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)"(?:[^"\\]|\\.)*"')


def _scrub_broken_json(text: str) -> str | None:
    def replace(match: re.Match[str]) -> str:
        if not is_secret_key(match.group(1)):
            return match.group(0)
        return f'"{match.group(1)}"{match.group(2)}"{MASK}"'

    scrubbed = _JSON_STRING_MEMBER.sub(replace, text)
    return scrubbed if scrubbed != text else None


def _scrub_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(key, MASK if is_secret_key(key) else value) for key, value in pairs]


def _scrub_form(text: str) -> str:
    pairs = parse_qsl(text, keep_blank_values=True)
    if not any(is_secret_key(key) for key, _ in pairs):
        return text
    # quote_via/safe keep the mask readable ("***", not "%2A%2A%2A").
    return urlencode(_scrub_pairs(pairs), quote_via=quote, safe="*")


def scrub_url(url: str) -> str:
    """``url`` with secret query parameters and any userinfo password masked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:{MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_key(key) for key, _ in pairs):
            query = urlencode(_scrub_pairs(pairs), quote_via=quote, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_known(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every literal occurrence of a known secret value replaced by the mask.

    Longest values first, so a secret that contains another is masked whole. Values shorter than
    four characters are ignored: masking them would shred ordinary text.
    """
    values = sorted(
        {value for value in secrets if value and len(value) >= _MIN_KNOWN_SECRET_LENGTH},
        key=len,
        reverse=True,
    )
    if not values:
        return text
    pattern = re.compile("|".join(re.escape(value) for value in values))
    return pattern.sub(MASK, text)


def decompress(body: bytes, content_encoding: str | None) -> bytes | None:
    """``body`` decoded from gzip/deflate, or None for an unknown encoding or corrupt data."""
    encoding = (content_encoding or "").strip().lower()
    try:
        if encoding in ("gzip", "x-gzip"):
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, EOFError, zlib.error):
        return None
    return body if not encoding or encoding == "identity" else None


def _header(headers: Mapping[str, str | list[str]], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value if isinstance(value, str) else (value[0] if value else None)
    return None


def curl_command(
    method: str,
    url: str,
    headers: Mapping[str, str | list[str]] | None = None,
    body: bytes | str | None = None,
    *,
    secrets: Iterable[str | None] = (),
    token_variable: str | None = None,
) -> str:
    """A shell-quoted curl line reproducing the request, with every secret masked.

    ``Authorization: Bearer <token>`` becomes ``-H 'Authorization: Bearer ***'`` — or, with
    ``token_variable`` (e.g. ``CDF_TOKEN``), ``-H "Authorization: Bearer $CDF_TOKEN"``, so the
    line runs as it is once the variable is set. A gzip request body is shown decompressed (and
    its Content-Encoding dropped) so the line stays readable. ``secrets`` are known values
    (e.g. ``TargetConfig.secrets``) masked wherever they appear.
    """
    headers = dict(headers or {})
    body, headers = _readable_body(body, headers)
    words = ["curl", "-X", method.upper(), shlex.quote(scrub_url(url))]
    for name, value in scrub_headers(headers).items():
        if name.lower() in _CURL_SKIPPED_HEADERS:
            continue
        if token_variable and name.lower() == "authorization":
            words += ["-H", f'"Authorization: Bearer ${token_variable}"']
            continue
        for item in [value] if isinstance(value, str) else value:
            words += ["-H", shlex.quote(f"{name}: {item}")]
    if body:
        scrubbed = scrub_body(body, _header(headers, "content-type"))
        text = scrubbed.decode("utf-8", "replace") if isinstance(scrubbed, bytes) else scrubbed
        words += ["--data-raw", shlex.quote(text)]
    return mask_known(" ".join(words), secrets)


def _readable_body(
    body: bytes | str | None, headers: dict[str, str | list[str]]
) -> tuple[bytes | str | None, dict[str, str | list[str]]]:
    encoding = _header(headers, "content-encoding")
    if not isinstance(body, bytes) or not encoding:
        return body, headers
    plain = decompress(body, encoding)
    if plain is None:
        return body, headers
    kept = {name: value for name, value in headers.items() if name.lower() != "content-encoding"}
    return plain, kept
