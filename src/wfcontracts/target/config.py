"""Which server a run talks to, and with which credentials, from flags and environment.

One decision (``resolve_target``) so suites never branch on the target: no base URL means the
embedded mock; ``--base-url`` / ``CDF_URL`` / ``CDF_CLUSTER`` mean a live server; ``--replay``
means recorded cassettes. Secrets live in fields hidden from ``repr``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from wfcontracts.errors import WfcontractsError

__all__ = [
    "DEFAULT_MOCK_PROJECT",
    "DEFAULT_MOCK_TOKEN",
    "MOCK_BASE_URL",
    "ClientCredentials",
    "TargetConfig",
    "TargetConfigError",
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


def resolve_target(
    *,
    base_url: str | None = None,
    project: str | None = None,
    token: str | None = None,
    replay: bool = False,
    env: Mapping[str, str] = os.environ,
) -> TargetConfig:
    """Resolve the target from flags (keyword arguments) and ``env``; flags win.

    Raises :class:`TargetConfigError` (one line, no secret) for an invalid base URL or cluster,
    a live target without a project, or a live target without any credentials.
    """
    url = _resolve_base_url(base_url, env)
    if replay:
        return _replay_target(url, project, token, env)
    if url is None:
        return _mock_target(project, token)
    return _live_target(url, project, token, env)


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _resolve_base_url(flag: str | None, env: Mapping[str, str]) -> str | None:
    if flag is not None and flag.strip():
        return _validated_url(flag.strip(), "--base-url")
    if (url := _get(env, "CDF_URL")) is not None:
        return _validated_url(url, "CDF_URL")
    if (cluster := _get(env, "CDF_CLUSTER")) is not None:
        if not _CLUSTER_PATTERN.match(cluster):
            raise TargetConfigError(
                f"CDF_CLUSTER {cluster!r} is not a cluster name (e.g. 'westeurope-1')"
            )
        return f"https://{cluster}.cognitedata.com"
    return None


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
    url: str | None, project: str | None, token: str | None, env: Mapping[str, str]
) -> TargetConfig:
    # Replay needs no network and no credentials; it still names the server it was recorded on.
    name = _project_from(project, env) or DEFAULT_MOCK_PROJECT
    return TargetConfig(
        kind="replay", base_url=url, project=name, token=token or DEFAULT_MOCK_TOKEN
    )


def _project_from(project: str | None, env: Mapping[str, str]) -> str | None:
    if project is not None and project.strip():
        return _validated_project(project.strip(), "--project")
    if (name := _get(env, "CDF_PROJECT")) is not None:
        return _validated_project(name, "CDF_PROJECT")
    return None


def _live_target(
    url: str, project: str | None, token: str | None, env: Mapping[str, str]
) -> TargetConfig:
    name = _project_from(project, env)
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
