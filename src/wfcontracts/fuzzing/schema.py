"""Loading the contract for schemathesis, bound to a target: the embedded mock or a live URL.

The embedded mock is reached through a `requests` adapter that hands each request to the mock's
dispatcher in-process: no socket, no event loop, no ASGI test client per request — the cheapest
per-case path. Live targets get a plain `requests` session, a bounded request rate, and our auth
(a fixed token, or OAuth client credentials through a schemathesis auth provider).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
import schemathesis
from requests.structures import CaseInsensitiveDict

from wfcontracts.contract.loader import default_contract_path
from wfcontracts.mock.http import MockRequest

if TYPE_CHECKING:
    from schemathesis import BaseSchema, Case

    from wfcontracts.mock.service import MockService
    from wfcontracts.runtime import Runtime
    from wfcontracts.target.auth import ClientCredentialsAuth

API_ROOT = "{base}/api/v1/projects/{project}"
MOCK_ORIGIN = "http://wfcontracts.mock"
#: Statuses a well-formed request may legitimately get where the docs are silent (see `_checks`).
POSITIVE_EXPECTED = ["2xx", "400", "401", "403", "404", "409", "422"]
#: Stands for the target's bearer token at generation; every request carries the real one.
AUTH_PLACEHOLDER = "Bearer wfcontracts-fuzz"
NEGATIVE_EXPECTED = ["400", "401", "403", "404", "409", "413", "422"]


@dataclass(frozen=True)
class FuzzOptions:
    """The budget of one fuzz run; `seed` makes generation deterministic (derandomized)."""

    max_examples: int = 25
    seed: int | None = None
    time_budget_s: float | None = None
    max_rps: float | None = None
    phases: tuple[str, ...] = ("examples", "coverage", "fuzzing", "stateful")
    stateful_steps: int = 12


@dataclass
class FuzzTarget:
    """Where generated requests go: an API root URL, a session, and the auth headers to send."""

    api_root: str
    headers: dict[str, str] = field(default_factory=dict)
    app: MockApp | None = None
    credentials: ClientCredentialsAuth | None = None
    max_rps: float | None = None
    secrets: tuple[str, ...] = ()
    deadline: float | None = None
    session: requests.Session | None = None

    @property
    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def call_kwargs(self) -> dict[str, Any]:
        """What every request (and every check's probe) is sent with: our auth, and over HTTP
        one kept-alive session (schemathesis opens a connection per call without one)."""
        kwargs: dict[str, Any] = {"headers": self.headers}
        if self.app is None:
            if self.session is None:
                self.session = requests.Session()
            kwargs["session"] = self.session
        return kwargs

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None


class MockApp:
    """A WSGI app answering from a mock in-process (sync: no event loop, no socket).

    schemathesis sends every request of a schema with an `app` — its checks' probes included —
    through it. `service` may be bound after the schema is loaded (at pytest collection).
    """

    def __init__(self, service: MockService | None = None) -> None:
        self.service = service

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if self.service is None:
            raise RuntimeError("no mock bound to the fuzz schema yet")
        raw_uri = environ.get("RAW_URI") or environ.get("PATH_INFO", "/")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        answer = self.service.handle(
            MockRequest(
                method=environ["REQUEST_METHOD"],
                raw_path=raw_uri.partition("?")[0],
                query=environ.get("QUERY_STRING", ""),
                headers=headers,
                body=environ["wsgi.input"].read(length) if length else b"",
            )
        )
        reason = HTTPStatus(answer.status).phrase if answer.status in _KNOWN else ""
        start_response(f"{answer.status} {reason}", list(answer.headers.items()))
        return [answer.body]


_KNOWN = {status.value for status in HTTPStatus}


def mock_target(
    service: MockService | None, token: str, project: str = "wfcontracts"
) -> FuzzTarget:
    """A target answering in-process from `service` (the embedded mock)."""
    api_root = API_ROOT.format(base=MOCK_ORIGIN, project=project)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return FuzzTarget(api_root, headers, app=MockApp(service), secrets=(token,) if token else ())


def live_target(
    base_url: str,
    project: str,
    *,
    token: str | None = None,
    credentials: ClientCredentialsAuth | None = None,
    max_rps: float | None = None,
    secrets: tuple[str, ...] = (),
) -> FuzzTarget:
    """A target over HTTP; `max_rps` bounds the request rate."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    api_root = API_ROOT.format(base=base_url.rstrip("/"), project=project)
    known = (*secrets, *([token] if token else []))
    return FuzzTarget(api_root, headers, credentials=credentials, secrets=known, max_rps=max_rps)


def target_for(runtime: Runtime, options: FuzzOptions) -> FuzzTarget:
    """The fuzz target of a verify run: its embedded mock, or its live URL with its auth."""
    from wfcontracts.target.auth import ClientCredentialsAuth

    config = runtime.config
    project = config.project or "wfcontracts"
    if runtime.mock is not None:
        target = mock_target(runtime.mock, config.token or "", project)
    else:
        if not config.base_url:
            raise ValueError("fuzzing needs the embedded mock or a live --base-url")
        credentials = None
        if not config.token and config.client_credentials is not None:
            credentials = ClientCredentialsAuth(config.client_credentials)
        target = live_target(
            config.base_url,
            project,
            token=config.token,
            credentials=credentials,
            max_rps=options.max_rps or runtime.options.max_requests_per_second,
            secrets=runtime.secrets,
        )
    if options.time_budget_s:
        target.deadline = time.monotonic() + options.time_budget_s
    return target


def schema_config(target: FuzzTarget, options: FuzzOptions) -> dict[str, Any]:
    """The schemathesis configuration (as in `schemathesis.toml`) for a fuzz run."""
    generation: dict[str, Any] = {"max-examples": options.max_examples, "mode": "all"}
    config: dict[str, Any] = {
        "base-url": target.api_root,
        # Auth is ours, as `st run -H` makes it: an explicit header is never negated (a case
        # "without Authorization" would go out with ours and be judged as accepted bad data).
        # The real value is only known once the target is attached; each call sends it.
        "headers": {"Authorization": AUTH_PLACEHOLDER},
        "generation": generation,
        "phases": {name: {"enabled": name in options.phases} for name in _PHASES},
        "checks": _checks(),
    }
    config["phases"]["stateful"]["max-steps"] = options.stateful_steps
    if target.max_rps:
        config["rate-limit"] = f"{max(1, int(target.max_rps))}/s"
    if options.seed is not None:
        config["seed"] = options.seed
        generation["deterministic"] = True
    return config


_PHASES = ("examples", "coverage", "fuzzing", "stateful")


def _checks() -> dict[str, Any]:
    """Built-in checks, all on; expected statuses widened only where the docs are silent.

    Positive data may still meet state the generator cannot see: an unknown (but well-formed)
    execution id or workflow version answers 400 or 404 (the docs do not say which), an illegal
    cancel/retry answers some 4xx (409 per the mock, undocumented), and the API caps sizes JSON
    Schema cannot express. Negative data may be rejected with any documented 4xx, 413 included.
    """
    return {
        # Responses to methods the contract does not declare (TRACE, PATCH …) are outside the
        # documented API: whether CDF answers 404 or 405, with or without `Allow`, is not ours
        # to demand. Kept off so the suite cannot fail a correct server on HTTP trivia.
        "unsupported_method": {"enabled": False},
        "allow_header_conformance": {"enabled": False},
        # Replaced by `ignored_auth_per_run` (same check, probes once per operation per run).
        "ignored_auth": {"enabled": False},
        "positive_data_acceptance": {"expected-statuses": POSITIVE_EXPECTED},
        "negative_data_rejection": {"expected-statuses": NEGATIVE_EXPECTED},
    }


def load_schema(
    target: FuzzTarget, options: FuzzOptions, contract_path: Path | None = None
) -> BaseSchema:
    """The contract as a schemathesis schema aimed at `target`."""
    config = schemathesis.Config.from_dict(schema_config(target, options))
    schema = schemathesis.openapi.from_path(
        str(contract_path or default_contract_path()), config=config
    )
    if target.app is not None:
        schema.app = target.app
    if target.credentials is not None:
        register_client_credentials(schema, target.credentials)
    return schema


def register_client_credentials(schema: BaseSchema, credentials: ClientCredentialsAuth) -> None:
    """OAuth client credentials as a schemathesis auth provider (token cached by our auth)."""

    class ClientCredentialsProvider:
        def get(self, case: Case[Any], context: Any) -> str:
            return credentials.access_token()

        def set(self, case: Case[Any], data: str, context: Any) -> None:
            headers = dict(case.headers or {})
            headers["Authorization"] = f"Bearer {data}"
            case.headers = CaseInsensitiveDict(headers)

    # Our auth caches and refreshes the token itself; schemathesis re-asks on every case.
    schema.auth(refresh_interval=None)(ClientCredentialsProvider)
