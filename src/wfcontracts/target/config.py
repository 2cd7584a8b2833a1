"""Which server a run talks to, and with which credentials, from flags and environment.

One decision (``resolve_target``) so suites never branch on the target: no base URL means the
embedded mock; ``--base-url`` / ``CDF_URL`` / ``CDF_CLUSTER`` mean a live server; ``--replay``
means recorded cassettes. Secrets live in fields hidden from ``repr``.

A base URL may be pasted as the API root the docs print,
``https://<cluster>.cognitedata.com/api/v1/projects/<project>``: the project is taken from it
(and must agree with ``--project``), so both spellings resolve to the same target.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlsplit

from wfcontracts.errors import WfcontractsError

__all__ = [
    "DEFAULT_MOCK_PROJECT",
    "DEFAULT_MOCK_TOKEN",
    "MOCK_BASE_URL",
    "ClientCredentials",
    "TargetConfig",
    "TargetConfigError",
    "TargetDefaults",
    "TargetKind",
    "resolve_target",
]

TargetKind = Literal["mock", "live", "replay"]

DEFAULT_MOCK_PROJECT = "wfcontracts"
DEFAULT_MOCK_TOKEN = "wfcontracts-local-token"
#: Base URL of the in-process mock; no network is involved (the client gets an ASGI transport).
MOCK_BASE_URL = "http://wfcontracts.mock"

_CLUSTER_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_PROJECT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# The API root at the end of a base URL's path; anything before it (a proxy prefix) is kept.
_API_ROOT = re.compile(r"/api/v1/projects(?:/(?P<project>[^/]*))?$")
_API_HINT = "https://<cluster>.cognitedata.com, optionally followed by /api/v1/projects/<project>"


class TargetConfigError(WfcontractsError):
    """The flags and environment do not describe a usable target."""


@dataclass(frozen=True)
class ClientCredentials:
    """OAuth2 client-credentials settings; the secret is hidden from ``repr``."""

    client_id: str
    client_secret: str = field(repr=False)
    token_url: str
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetConfig:
    """A resolved target: kind, where it is, which project, and how to authenticate."""

    kind: TargetKind
    base_url: str | None
    project: str
    token: str | None = field(default=None, repr=False)
    client_credentials: ClientCredentials | None = None

    @property
    def api_root(self) -> str:
        """``{base_url}/api/v1/projects/{project}``, the prefix of every contract path."""
        return f"{self.base_url or MOCK_BASE_URL}/api/v1/projects/{self.project}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Secret values of this target, for :func:`wfcontracts.redact.mask_known`."""
        values = [self.token]
        if self.client_credentials is not None:
            values.append(self.client_credentials.client_secret)
        return tuple(value for value in values if value)


@dataclass(frozen=True)
class TargetDefaults:
    """The target a project's config file names: used only where neither a flag nor the
    environment says anything (flag > env > file). Never a credential: those stay in the env."""

    base_url: str | None = None
    project: str | None = None
    #: The file, for messages (e.g. ``wfcontracts.toml``).
    source: str = "the config file"

    @property
    def url_source(self) -> str:
        return f"base-url in {self.source}"


def resolve_target(
    *,
    base_url: str | None = None,
    project: str | None = None,
    token: str | None = None,
    replay: bool = False,
    env: Mapping[str, str] = os.environ,
    defaults: TargetDefaults | None = None,
) -> TargetConfig:
    """Resolve the target from flags (keyword arguments), ``env``, then the config file's
    ``defaults``; flags win, the file comes last.

    Like ``CDF_PROJECT``, the file's project names the project of a live or recorded target;
    the embedded mock takes its project from ``--project`` only.

    Raises :class:`TargetConfigError` (one line, no secret) for an invalid base URL or cluster,
    a live target without a project, or a live target without any credentials.
    """
    file = defaults or TargetDefaults()
    resolved = _resolve_base_url(base_url, env, file)
    if resolved is None:
        if replay:
            return _replay_target(None, project, token, env, file)
        return _mock_target(project, token)
    project = _reconcile_project(resolved, project, env, file)
    if replay:
        return _replay_target(resolved.url, project, token, env, file)
    return _live_target(resolved.url, project, token, env, file)


@dataclass(frozen=True)
class _BaseUrl:
    url: str  # scheme://host[:port][/proxy prefix], without the API root
    source: str  # the flag or variable it came from, for messages
    project: str | None = None  # from an /api/v1/projects/<project> suffix


def _reconcile_project(
    base: _BaseUrl, project: str | None, env: Mapping[str, str], file: TargetDefaults
) -> str | None:
    """The project to use when the base URL names one: it must agree with --project.

    The URL's project stands at the level of its source: from --base-url it wins over
    CDF_PROJECT (flags win), from CDF_URL it must agree with CDF_PROJECT too, from the config
    file it yields to CDF_PROJECT and must agree with the file's own project.
    """
    if base.project is None:
        return project
    flag = project.strip() if project is not None and project.strip() else None
    if flag is not None and flag != base.project:
        raise TargetConfigError(
            f"{base.source} names project '{base.project}' but --project is '{flag}': "
            "drop one of them or make them agree"
        )
    env_project = _get(env, "CDF_PROJECT")
    if base.source == file.url_source and flag is None:
        if env_project is not None:  # the environment outranks the whole file
            return _validated_project(env_project, "CDF_PROJECT")
        file_project = (file.project or "").strip()
        if file_project and file_project != base.project:
            raise TargetConfigError(
                f"{base.source} names project '{base.project}' but project in {file.source} is "
                f"'{file_project}': drop one of them or make them agree"
            )
    if base.source == "CDF_URL" and flag is None and env_project not in (None, base.project):
        raise TargetConfigError(
            f"CDF_URL names project '{base.project}' but CDF_PROJECT is '{env_project}': "
            "unset one of them or make them agree"
        )
    return base.project


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _resolve_base_url(
    flag: str | None, env: Mapping[str, str], file: TargetDefaults
) -> _BaseUrl | None:
    if flag is not None and flag.strip():
        return _split_api_root(_validated_url(flag.strip(), "--base-url"), "--base-url")
    if (url := _get(env, "CDF_URL")) is not None:
        return _split_api_root(_validated_url(url, "CDF_URL"), "CDF_URL")
    if (cluster := _get(env, "CDF_CLUSTER")) is not None:
        if not _CLUSTER_PATTERN.match(cluster):
            raise TargetConfigError(
                f"CDF_CLUSTER {cluster!r} is not a cluster name (e.g. 'westeurope-1')"
            )
        return _BaseUrl(f"https://{cluster}.cognitedata.com", "CDF_CLUSTER")
    if file.base_url is not None and file.base_url.strip():
        source = file.url_source
        return _split_api_root(_validated_url(file.base_url.strip(), source), source)
    return None


def _split_api_root(url: str, source: str) -> _BaseUrl:
    """Strip a trailing ``/api/v1/projects/<project>`` and take the project from it."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    match = _API_ROOT.search(path)
    if match is None:
        if "/api/v1" in path:
            raise TargetConfigError(
                f"{source} must be {_API_HINT} (got a URL with the path {_describe_url(path)})"
            )
        return _BaseUrl(url, source)
    if parts.query or parts.fragment:
        raise TargetConfigError(f"{source} must be {_API_HINT}, without a query or fragment")
    name = unquote(match.group("project") or "")
    if not name:
        raise TargetConfigError(
            f"{source} ends in /api/v1/projects without a project: add it, or pass --project"
        )
    _validated_project(name, f"the project in {source}")
    # No query or fragment, trailing slashes already stripped: the path ends the string.
    trimmed = url.rstrip("/")
    return _BaseUrl(trimmed[: len(trimmed) - len(match.group(0))], source, name)


def _validated_url(url: str, source: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetConfigError(
            f"{source} must be an http(s) URL with a host, e.g. https://westeurope-1.cognitedata.com"
            f" (got {_describe_url(url)})"
        )
    if parts.username or parts.password:
        raise TargetConfigError(f"{source} must not contain credentials; use --token or CDF_TOKEN")
    return url.rstrip("/")


def _describe_url(url: str) -> str:
    # A long value is more likely a pasted token than a mistyped URL: do not echo it.
    return repr(url) if len(url) <= 40 else f"a {len(url)}-character value"


def _validated_project(project: str, source: str) -> str:
    if not _PROJECT_PATTERN.match(project):
        raise TargetConfigError(f"{source} {project!r} is not a valid CDF project name")
    return project


def _mock_target(project: str | None, token: str | None) -> TargetConfig:
    name = _validated_project(project, "--project") if project else DEFAULT_MOCK_PROJECT
    return TargetConfig(kind="mock", base_url=None, project=name, token=token or DEFAULT_MOCK_TOKEN)


def _replay_target(
    url: str | None,
    project: str | None,
    token: str | None,
    env: Mapping[str, str],
    file: TargetDefaults,
) -> TargetConfig:
    # Replay needs no network and no credentials; it still names the server it was recorded on.
    name = _project_from(project, env, file) or DEFAULT_MOCK_PROJECT
    return TargetConfig(
        kind="replay", base_url=url, project=name, token=token or DEFAULT_MOCK_TOKEN
    )


def _project_from(project: str | None, env: Mapping[str, str], file: TargetDefaults) -> str | None:
    if project is not None and project.strip():
        return _validated_project(project.strip(), "--project")
    if (name := _get(env, "CDF_PROJECT")) is not None:
        return _validated_project(name, "CDF_PROJECT")
    if file.project is not None and file.project.strip():
        return _validated_project(file.project.strip(), f"project in {file.source}")
    return None


def _live_target(
    url: str, project: str | None, token: str | None, env: Mapping[str, str], file: TargetDefaults
) -> TargetConfig:
    name = _project_from(project, env, file)
    if name is None:
        raise TargetConfigError(
            f"no project for the live target {url}: pass --project or set CDF_PROJECT"
        )
    bearer = (token.strip() if token else None) or _get(env, "CDF_TOKEN")
    if bearer is not None:
        return TargetConfig(kind="live", base_url=url, project=name, token=bearer)
    credentials = _client_credentials(url, env)
    if credentials is None:
        raise TargetConfigError(
            f"no credentials for the live target {url}: pass --token, set CDF_TOKEN, or set "
            "IDP_CLIENT_ID, IDP_CLIENT_SECRET and IDP_TOKEN_URL"
        )
    return TargetConfig(kind="live", base_url=url, project=name, client_credentials=credentials)


_IDP_NAMES = ("IDP_CLIENT_ID", "IDP_CLIENT_SECRET", "IDP_TOKEN_URL")


def _client_credentials(url: str, env: Mapping[str, str]) -> ClientCredentials | None:
    client_id, client_secret = _get(env, "IDP_CLIENT_ID"), _get(env, "IDP_CLIENT_SECRET")
    token_url = _get(env, "IDP_TOKEN_URL") or _tenant_token_url(env)
    found = {"IDP_CLIENT_ID": client_id, "IDP_CLIENT_SECRET": client_secret}
    found["IDP_TOKEN_URL"] = token_url
    if not any(found.values()):
        return None
    if not (client_id and client_secret and token_url):
        missing = ", ".join(name for name in _IDP_NAMES if not found[name])
        raise TargetConfigError(
            f"incomplete client credentials: {missing} not set "
            "(client credentials need IDP_CLIENT_ID, IDP_CLIENT_SECRET and IDP_TOKEN_URL)"
        )
    _validated_url(token_url, "IDP_TOKEN_URL")
    return ClientCredentials(
        client_id=client_id,
        client_secret=client_secret,
        token_url=token_url,
        scopes=_scopes(env, url),
    )


def _tenant_token_url(env: Mapping[str, str]) -> str | None:
    # The Cognite Toolkit accepts an Entra ID tenant instead of a token URL; so do we.
    tenant = _get(env, "IDP_TENANT_ID")
    return f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token" if tenant else None


def _scopes(env: Mapping[str, str], base_url: str) -> tuple[str, ...]:
    raw = _get(env, "IDP_SCOPES")
    if raw is None:
        # CDF's conventional scope (what the SDK and Toolkit default to).
        return (f"{base_url}/.default",)
    return tuple(scope for scope in re.split(r"[\s,]+", raw) if scope)
