"""One request/response pair as the checks see it, independent of the HTTP client."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from wfcontracts.contract import Operation
from wfcontracts.redact import curl_command

_MISSING = object()
CURL_HEADERS = frozenset({"authorization", "content-type", "content-encoding", "cdf-version"})


@dataclass
class Exchange:
    operation: Operation
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes
    elapsed_ms: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return (
            f"{self.operation.operation_id} ({self.method.upper()} {self.operation.path_template})"
        )

    @cached_property
    def request_json(self) -> Any:
        return _parse(self.request_body)

    @cached_property
    def response_json(self) -> Any:
        """The parsed response body, or `_MISSING`-like None when it is not JSON."""
        return _parse(self.response_body)

    @property
    def response_is_json(self) -> bool:
        return _parse_or_missing(self.response_body) is not _MISSING

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.response_headers.items():
            if key.lower() == name:
                return value
        return None

    @cached_property
    def curl(self) -> str:
        """A reproduction with the headers that matter (secrets masked)."""
        headers = {k: v for k, v in self.request_headers.items() if k.lower() in CURL_HEADERS}
        return curl_command(self.method, self.url, headers, self.request_body)

    def excerpt(self, limit: int = 600) -> str:
        text = self.response_body.decode("utf-8", "replace")
        return text if len(text) <= limit else text[:limit] + "…"


def _parse(raw: bytes) -> Any:
    value = _parse_or_missing(raw)
    return None if value is _MISSING else value


def _parse_or_missing(raw: bytes) -> Any:
    if not raw:
        return _MISSING
    try:
        return json.loads(raw)
    except ValueError:
        return _MISSING
