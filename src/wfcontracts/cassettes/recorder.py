"""Recording and replaying suite exchanges as vcrpy cassettes (``cassettes/<suite>/<test>.yaml``).

- record modes ``none`` (replay only, the default and what CI runs), ``once``, ``new_episodes``
  and ``all``; secrets are scrubbed at write time by :func:`wfcontracts.cassettes.scrub.vcr_config`;
- requests match on method, API path (any base URL or project), query and the JSON body with
  secret keys (the nonce) removed; every recorded interaction plays once, in order, so polling
  replays exactly the polls that were recorded;
- each cassette carries ``wfcontracts: {contractSha256, recordedAt, baseUrl, project}``; a
  cassette recorded under another contract is stale and must be re-recorded;
- an unmatched request, an unused recorded interaction, a stale or corrupt cassette each fail
  with one line naming the file and how to re-record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import vcr
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.request import Request as VcrRequest
from vcr.serializers import compat

from wfcontracts.cassettes.reading import (
    META_KEY,
    RERECORD_HINT,
    CassetteError,
    CassetteMeta,
    CorruptCassetteError,
    find_cassettes,
    load_cassette,
)
from wfcontracts.cassettes.scrub import vcr_config
from wfcontracts.redact import is_secret_key
from wfcontracts.runtime import RunOptions, Runtime, build_runtime
from wfcontracts.target.client import build_client

__all__ = [
    "RECORD_MODES",
    "RERECORD_HINT",
    "CassetteError",
    "CassetteMeta",
    "CassetteMismatchError",
    "ContractPersister",
    "CorruptCassetteError",
    "OfflineNetworkError",
    "Recorder",
    "StaleCassetteError",
    "UnusedInteractionsError",
    "build_cassette_runtime",
    "cassette_name",
    "read_cassette",
]

RECORD_MODES = ("none", "once", "new_episodes", "all")
RECORDED_RUN_ID = "rec"
_API_PATH = re.compile(r"^.*?/api/v1/projects/[^/]+")


class StaleCassetteError(CassetteError):
    """A cassette recorded under another version of the contract."""


class CassetteMismatchError(CassetteError):
    """A request the cassette holds no (unplayed) answer for."""


class UnusedInteractionsError(CassetteError):
    """Recorded interactions the replay never asked for."""


class OfflineNetworkError(CassetteError):
    """A replay tried to reach the network."""


# --- the file format (parsed by wfcontracts.cassettes.reading) -----------------------------


def read_cassette(path: Path, serializer: Any = None) -> tuple[CassetteMeta, list[Any], list[Any]]:
    """Parse and validate a cassette for replay: (meta, vcr requests, vcr responses).

    Raises :class:`CorruptCassetteError` naming the file and what is wrong with it.
    """
    cassette = load_cassette(path, serializer.deserialize if serializer else None)
    if cassette.meta is None:
        # Replay checks the stamp for staleness; a cassette without one cannot be trusted.
        raise CorruptCassetteError(path, f"no `{META_KEY}.contractSha256` (not recorded by us)")
    requests, responses = [], []
    for interaction in cassette.interactions:
        try:
            requests.append(VcrRequest._from_dict(interaction.raw["request"]))
            responses.append(compat.convert_to_bytes(interaction.raw["response"]))
        except (TypeError, ValueError, AttributeError) as exc:
            where = f"interactions[{interaction.index}]"
            raise CorruptCassetteError(path, f"{where}: {type(exc).__name__}") from None
    return cassette.meta, requests, responses


class ContractPersister:
    """A vcrpy persister that stamps and validates the ``wfcontracts`` metadata key."""

    def __init__(self, meta: CassetteMeta, *, read_only: bool = False) -> None:
        self.meta = meta
        self.read_only = read_only
        self.loaded: dict[Path, CassetteMeta] = {}

    def load_cassette(self, cassette_path: str | Path, serializer: Any) -> tuple[Any, Any]:
        path = Path(cassette_path)
        if not path.is_file() or not path.read_bytes().strip():
            raise CassetteNotFoundError()
        meta, requests, responses = read_cassette(path, serializer)
        self.loaded[path] = meta
        return requests, responses

    def save_cassette(
        self, cassette_path: str | Path, cassette_dict: dict[str, Any], serializer: Any
    ) -> None:
        if self.read_only:
            return  # replaying: the recording is the user's, never rewritten
        interactions = [
            {
                "request": compat.convert_to_unicode(request._to_dict()),
                "response": compat.convert_to_unicode(response),
            }
            for request, response in zip(
                cassette_dict["requests"], cassette_dict["responses"], strict=True
            )
        ]
        stamped = replace(self.meta, recorded_at=datetime.now(UTC).isoformat(timespec="seconds"))
        data = {META_KEY: stamped.as_yaml(), "version": 1, "interactions": interactions}
        path = Path(cassette_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(serializer.serialize(data), encoding="utf-8")


# --- request matching ----------------------------------------------------------------------


def api_path(r1: Any, r2: Any) -> None:
    """Match the path under ``/api/v1/projects/<project>``: any base URL, any project."""
    first, second = _API_PATH.sub("", r1.path), _API_PATH.sub("", r2.path)
    if first != second:
        raise AssertionError(f"{first} != {second}")


def body_without_secrets(r1: Any, r2: Any) -> None:
    """Match JSON bodies with secret keys (``nonce`` …) removed; other bodies byte for byte."""
    first, second = _comparable_body(r1.body), _comparable_body(r2.body)
    if first != second:
        raise AssertionError(f"{_short(first)} != {_short(second)}")


def _comparable_body(body: Any) -> Any:
    raw = body.encode() if isinstance(body, str) else (body or b"")
    try:
        return _without_secrets(json.loads(raw)) if raw else None
    except ValueError:
        return raw


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if not is_secret_key(str(k))}
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


MATCH_ON = ("method", "api_path", "query", "body_without_secrets")


# --- transports ----------------------------------------------------------------------------


class _Offline(httpx.MockTransport):
    """The replay's transport: vcrpy answers from the cassette; reaching it is an error.

    A subclass of ``httpx.MockTransport`` on purpose: vcrpy hooks that class.
    """

    def __init__(self) -> None:
        super().__init__(self._refuse)

    @staticmethod
    def _refuse(request: httpx.Request) -> httpx.Response:
        raise OfflineNetworkError(
            f"replay is offline: {request.method} {request.url.path} has no recorded answer "
            f"(is the test using the `wfc_cassette` fixture?); {RERECORD_HINT}"
        )


class ExplainingTransport(httpx.BaseTransport):
    """Turns vcrpy's "cannot overwrite" into one line saying what to re-record."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self.inner.handle_request(request)
        except CannotOverwriteExistingCassetteException as exc:
            raise CassetteMismatchError(_mismatch(exc, request)) from None

    def close(self) -> None:
        self.inner.close()


def _mismatch(exc: CannotOverwriteExistingCassetteException, request: httpx.Request) -> str:
    where = f"{request.method} {_API_PATH.sub('', request.url.path)}"
    cassette = getattr(exc.cassette, "path", "the cassette")
    if getattr(exc, "reason", None) == "already_played":
        what = f"{where} was asked more often than recorded (all its recorded answers are used)"
    else:
        what = f"no recorded interaction matches {where}"
    return f"{cassette}: {what}; the scenario or the target changed — {RERECORD_HINT}"


# --- one run's cassettes -------------------------------------------------------------------


class Recorder:
    """The cassettes of one run: a directory, a record mode and the contract they belong to."""

    def __init__(
        self,
        directory: Path,
        mode: str,
        meta: CassetteMeta,
        secrets: Iterable[str | None] = (),
    ) -> None:
        if mode not in RECORD_MODES:
            raise CassetteError(f"unknown record mode {mode!r}; use one of {RECORD_MODES}")
        self.directory = directory
        self.mode = mode
        self.persister = ContractPersister(meta, read_only=mode == "none")
        self.vcr = _build_vcr(mode, secrets, self.persister)

    def path(self, suite: str, name: str) -> Path:
        return self.directory / suite / f"{name}.yaml"

    @contextmanager
    def use(self, path: Path) -> Iterator[Any]:
        """Record into or replay from ``path`` while the block runs."""
        if self.mode == "none" and not path.is_file():
            raise CassetteMismatchError(f"no cassette {path}; {RERECORD_HINT}")
        with self.vcr.use_cassette(str(path), allow_playback_repeats=False) as cassette:
            self._check_fresh(path)
            yield cassette

    def _check_fresh(self, path: Path) -> None:
        loaded = self.persister.loaded.get(path)
        if self.mode == "all" or loaded is None:
            return
        if loaded.contract_sha256 != self.persister.meta.contract_sha256:
            raise StaleCassetteError(
                f"stale cassette {path}: recorded under contract sha256 "
                f"{loaded.contract_sha256[:12]}…, the contract is now "
                f"{self.persister.meta.contract_sha256[:12]}…; {RERECORD_HINT}"
            )

    def verify_all_played(self, cassette: Any) -> None:
        """In replay, every recorded interaction must have been asked for."""
        if self.mode != "none" or cassette.all_played:
            return
        unused = [r for i, r in enumerate(cassette.requests) if not cassette.play_counts[i]]
        first = f"{unused[0].method} {_API_PATH.sub('', unused[0].path)}" if unused else "?"
        raise UnusedInteractionsError(
            f"{cassette.path}: {len(unused)} recorded interaction(s) never used (first: {first});"
            f" the scenario changed — {RERECORD_HINT}"
        )


class _Scrubber:
    """The scrub hooks of :func:`vcr_config`, also masking bearer tokens seen on the way.

    A token obtained by client credentials is not known up front; once a request carried it,
    it is masked wherever it appears (bodies echoing it included).
    """

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self.known = {value for value in secrets if value}
        self.hooks = vcr_config(self.known)

    def request(self, request: Any) -> Any:
        # Token requests to an identity provider are not part of the API; never record them.
        if "/api/v1/projects/" not in request.path:
            return None
        self._learn(request.headers.get("authorization") or request.headers.get("Authorization"))
        return self.hooks["before_record_request"](request)

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        scrubbed: dict[str, Any] = self.hooks["before_record_response"](response)
        return scrubbed

    def _learn(self, header: str | None) -> None:
        token = (header or "").partition(" ")[2].strip()
        if token and token != "***" and token not in self.known:
            self.known.add(token)
            self.hooks = vcr_config(self.known)


def _build_vcr(mode: str, secrets: Iterable[str | None], persister: ContractPersister) -> Any:
    scrubber = _Scrubber(secrets)
    config = dict(scrubber.hooks)
    # The request hook scrubs headers itself; vcrpy's header filter would run first and hide
    # the bearer token the scrubber must learn.
    config.pop("filter_headers")
    config["before_record_request"] = scrubber.request
    config["before_record_response"] = scrubber.response
    # Dropping unused interactions rewrites the file: right when re-recording, destructive in
    # a replay (a failing replay would overwrite the recording with what it played).
    recording = mode != "none"
    recorder = vcr.VCR(
        record_mode=mode, match_on=MATCH_ON, drop_unused_requests=recording, **config
    )
    recorder.register_matcher("api_path", api_path)
    recorder.register_matcher("body_without_secrets", body_without_secrets)
    recorder.register_persister(persister)
    return recorder


def cassette_name(test_name: str) -> str:
    """A file name for a test (parametrized ids kept, unsafe characters replaced)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name).strip("-") or "cassette"


def recorded_target(directory: Path) -> CassetteMeta | None:
    """The base URL and project of some cassette under ``directory`` (what replay mimics)."""
    for path in find_cassettes(directory):
        try:
            return read_cassette(path)[0]
        except CassetteError:
            continue
    return None


# --- runtimes for recording and replay -----------------------------------------------------


def build_cassette_runtime(options: RunOptions, directory: Path) -> tuple[Runtime, Recorder]:
    """The runtime and recorder of a run that records (``--record-mode``) or replays.

    Both use the run id ``rec`` so names are the same when recording and replaying. A replay
    client's transport refuses the network: every answer comes from a cassette.
    """
    if options.replay:
        runtime = _replay_runtime(options, directory)
        mode = "none"
    else:
        runtime = _recording_runtime(options)
        mode = options.record_mode
    meta = CassetteMeta(
        contract_sha256=runtime.contract.sha256,
        base_url=runtime.config.base_url,
        project=runtime.config.project,
    )
    return runtime, Recorder(directory, mode, meta, runtime.secrets)


def _replay_runtime(options: RunOptions, directory: Path) -> Runtime:
    recorded = recorded_target(directory)
    base_url = options.base_url or (recorded.base_url if recorded else None)
    project = options.project or (recorded.project if recorded else None)
    chosen = replace(options, replay=True, run_id=RECORDED_RUN_ID, base_url=base_url)
    runtime = build_runtime(replace(chosen, project=project), check_target=False)
    runtime.client.close()
    runtime.client = build_client(runtime.config, transport=ExplainingTransport(_Offline()))
    return runtime


def _recording_runtime(options: RunOptions) -> Runtime:
    runtime = build_runtime(replace(options, run_id=RECORDED_RUN_ID))
    inner: httpx.BaseTransport
    if runtime.mock is not None:
        # vcrpy hooks httpx's own transports; route the embedded mock through one of them.
        inner = httpx.MockTransport(runtime.mock.transport().handle_request)
    else:
        inner = httpx.HTTPTransport()
    runtime.client.close()
    runtime.client = build_client(
        runtime.config,
        transport=ExplainingTransport(inner),
        max_requests_per_second=options.max_requests_per_second,
    )
    return runtime


def suite_of(test_path: Path, root: Path) -> str:
    """``suites/<suite>/…`` (``_suites/`` in an installed wheel) → ``<suite>``; any other test →
    its folder's name."""
    try:
        parts = test_path.relative_to(root).parts
    except ValueError:
        parts = test_path.parts
    if len(parts) > 2 and parts[0] in ("suites", "_suites"):
        return parts[1]
    return test_path.parent.name or "default"
