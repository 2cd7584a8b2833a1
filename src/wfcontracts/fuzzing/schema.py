"""Loading the contract for schemathesis, bound to a target: the embedded mock or a live URL.

The embedded mock is reached through a `requests` adapter that hands each request to the mock's
dispatcher in-process: no socket, no event loop, no ASGI test client per request — the cheapest
per-case path. Live targets get a plain `requests` session, a bounded request rate, and our auth
(a fixed token, or OAuth client credentials through a schemathesis auth provider).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
import schemathesis
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from wfcontracts.contract.loader import default_contract_path

if TYPE_CHECKING:
    from schemathesis import BaseSchema, Case

    from wfcontracts.runtime import Runtime
    from wfcontracts.target.auth import ClientCredentialsAuth
    from wfcontracts.target.client import TokenBucket

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
    phases: tuple[str, ...] = ("examples", "coverage", "fuzzing", "stateful")
    stateful_steps: int = 12
    #: Processes fuzzing side by side under one `time_budget_s` (xdist workers).
    parallel: int = 1


@dataclass
class FuzzTarget:
    """Where generated requests go: an API root URL, a session, and the auth headers to send."""

    api_root: str
    headers: dict[str, str] = field(default_factory=dict)
    app: Any = None
    credentials: ClientCredentialsAuth | None = None
    secrets: tuple[str, ...] = ()
    deadline: float | None = None
    session: requests.Session | None = None
    #: Sessions for requests sent outside `session` (schemathesis' probes); None: in-process.
    new_session: Callable[[], requests.Session] | None = None

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


class RateLimitedAdapter(HTTPAdapter):
    """Every request the fuzzer sends over HTTP first takes a token from the run's bucket: the
    same bucket as the suites' httpx client, so `--max-rps` bounds the whole run."""

    def __init__(self, bucket: TokenBucket, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        self.bucket.acquire()
        return super().send(request, *args, **kwargs)


def mock_target(app: Any, token: str, project: str) -> FuzzTarget:
    """A target answering in-process from `app` (the embedded mock's WSGI app)."""
    api_root = API_ROOT.format(base=MOCK_ORIGIN, project=project)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    secrets = (token,) if token else ()
    return FuzzTarget(api_root, headers, app=app, secrets=secrets)


def live_target(
    base_url: str,
    project: str,
    *,
    token: str | None = None,
    credentials: ClientCredentialsAuth | None = None,
    new_session: Callable[[], requests.Session] = requests.Session,
    secrets: tuple[str, ...] = (),
) -> FuzzTarget:
    """A target over HTTP: one kept-alive session from `new_session` (the run's rate limit,
    retries and ledger), and the same for the requests schemathesis' checks send themselves."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    api_root = API_ROOT.format(base=base_url.rstrip("/"), project=project)
    known = (*secrets, *([token] if token else []))
    return FuzzTarget(
        api_root,
        headers,
        credentials=credentials,
        secrets=known,
        session=new_session(),
        new_session=new_session,
    )


def target_for(runtime: Runtime, options: FuzzOptions) -> FuzzTarget:
    """The fuzz target of a run: its embedded mock, or its live URL with its auth and rate."""
    from wfcontracts.target.auth import ClientCredentialsAuth

    config = runtime.config
    if runtime.mock is not None:
        target = mock_target(runtime.wsgi_app(), config.token or "", config.project)
    else:
        if not config.base_url:
            raise ValueError("fuzzing needs the embedded mock or a live --base-url")
        credentials = None
        if not config.token and config.client_credentials is not None:
            credentials = ClientCredentialsAuth(config.client_credentials)
        target = live_target(
            config.base_url,
            config.project,
            token=config.token,
            credentials=credentials,
            new_session=lambda: run_session(runtime),
            secrets=runtime.secrets,
        )
    if options.time_budget_s:
        target.deadline = time.monotonic() + options.time_budget_s
    return target


def run_session(runtime: Runtime) -> requests.Session:
    """A `requests` session that behaves like the run's httpx client: the one rate limit, the
    same retry policy (counted together), and every answer told to the run's ledger so cleanup
    finds what the fuzzer created."""
    from wfcontracts.target.client import retry_policy, retry_stats
    from wfcontracts.target.retry import mount_retries

    session = requests.Session()
    if runtime.rate_limiter is not None:
        adapter = RateLimitedAdapter(runtime.rate_limiter)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    policy = retry_policy(runtime.client)
    if policy is not None:
        mount_retries(session, policy, retry_stats(runtime.client))
    ledger = runtime.ledger

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        ledger.record_exchange(
            str(request.method), str(request.url), response.status_code, response.content
        )

    session.hooks["response"].append(record)
    return session


class _SessionForProbes:
    """schemathesis' requests transport, except that requests sent without a session — the
    auth checks' probes strip it — get a fresh one of ours: rate-limited, retried, recorded."""

    def __init__(self, inner: Any, new_session: Callable[[], requests.Session]) -> None:
        self._inner = inner
        self._new_session = new_session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def send(self, case: Any, *, session: requests.Session | None = None, **kwargs: Any) -> Any:
        if session is not None:
            return self._inner.send(case, session=session, **kwargs)
        fresh = self._new_session()
        try:
            return self._inner.send(case, session=fresh, **kwargs)
        finally:
            fresh.close()


def _route_probes(schema: BaseSchema, new_session: Callable[[], requests.Session]) -> None:
    """Make `schema` send every request through sessions from `new_session`."""
    transport = _SessionForProbes(schema.transport, new_session)
    cls = type(schema)
    schema.__class__ = type(cls.__name__, (cls,), {"transport": property(lambda _: transport)})


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
    if target.new_session is not None:
        _route_probes(schema, target.new_session)
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
