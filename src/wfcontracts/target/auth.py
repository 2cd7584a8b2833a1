"""httpx authentication for live targets: a fixed bearer token, or OAuth2 client credentials.

``ClientCredentialsAuth`` caches its access token until shortly before it expires, fetches a new
one when the API answers 401 (resending that request once, then returning whatever the API
answers: a second 401 with a fresh token is the API's verdict, not a stale cache), and is safe
to share between threads and between sync and async clients. A fixed token cannot be renewed:
``BearerAuth`` raises ``TokenRevokedError`` on a 401 once the preflight passed. Errors never
carry the client secret or a token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import httpx

from wfcontracts.errors import WfcontractsError
from wfcontracts.redact import mask_known
from wfcontracts.target import TokenRevokedError
from wfcontracts.target.config import ClientCredentials, TargetConfig

__all__ = ["AuthError", "BearerAuth", "ClientCredentialsAuth", "build_auth"]

#: When the token endpoint does not say how long a token lives (``expires_in`` is optional).
DEFAULT_EXPIRES_IN = 3600.0
_MAX_DESCRIPTION = 120


class AuthError(WfcontractsError):
    """The token endpoint refused or failed to issue an access token."""


class BearerAuth(httpx.Auth):
    """Sends a fixed ``Authorization: Bearer <token>`` header.

    ``preflight_passed`` is set by :func:`wfcontracts.target.client.preflight`. From then on a
    401 to a request carrying this token can only mean it expired or was revoked: there is no
    way to renew a fixed token, and every later answer would be a 401 judged as a contract
    finding, so :class:`TokenRevokedError` ends the run as an environment problem instead.
    Requests sent with their own auth (``auth=None`` and an explicit header, as the bad-token
    checks do) never pass through here.
    """

    def __init__(self, token: str) -> None:
        self._token = token
        self.preflight_passed = False

    def __repr__(self) -> str:
        return "BearerAuth(token=***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED and self.preflight_passed:
            raise TokenRevokedError()


@dataclass(frozen=True)
class _Token:
    value: str
    refresh_at: float  # clock time after which the token is no longer used


class ClientCredentialsAuth(httpx.Auth):
    """OAuth2 client-credentials flow with a cached token, refreshed on expiry and on 401.

    ``clock`` (monotonic seconds) is injectable so tests can move time. A token is refreshed
    ``refresh_margin`` seconds before ``expires_in`` runs out (at most half its lifetime early).
    """

    requires_request_body = True  # the request is re-sent after a 401

    def __init__(
        self,
        credentials: ClientCredentials,
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh_margin: float = 30.0,
        timeout: float = 10.0,
    ) -> None:
        self._credentials = credentials
        self._clock = clock
        self._refresh_margin = refresh_margin
        self._timeout = timeout
        self._lock = threading.Lock()
        self._token: _Token | None = None
        self._host = urlsplit(credentials.token_url).hostname or credentials.token_url

    def __repr__(self) -> str:
        return (
            f"ClientCredentialsAuth(client_id={self._credentials.client_id!r}, "
            f"token_url={self._credentials.token_url!r})"
        )

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()
        token = self.access_token()
        response = yield _authorized(request, token)
        if response.status_code == httpx.codes.UNAUTHORIZED:
            self._discard(token)
            yield _authorized(request, self.access_token())

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        token = await self._async_access_token()
        response = yield _authorized(request, token)
        if response.status_code == httpx.codes.UNAUTHORIZED:
            self._discard(token)
            yield _authorized(request, await self._async_access_token())

    def access_token(self) -> str:
        """A valid access token, from the cache or freshly fetched (one fetch at a time)."""
        cached = self._cached()
        if cached is not None:
            return cached
        with self._lock:
            # Another thread may have refreshed while this one waited for the lock.
            cached = self._cached()
            if cached is None:
                self._token = self._fetch()
                cached = self._token.value
            return cached

    async def _async_access_token(self) -> str:
        cached = self._cached()
        if cached is not None:
            return cached
        # One code path for both flows: the blocking fetch runs in a worker thread.
        return await anyio.to_thread.run_sync(self.access_token)

    def _cached(self) -> str | None:
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token.value
        return None

    def _discard(self, rejected: str) -> None:
        with self._lock:
            # Only drop the token the API rejected, not one a concurrent request already renewed.
            if self._token is not None and self._token.value == rejected:
                self._token = None

    def _fetch(self) -> _Token:
        requested_at = self._clock()
        try:
            response = httpx.post(
                self._credentials.token_url,
                data=self._form(),
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
        except httpx.TimeoutException:
            raise AuthError(
                f"token endpoint {self._host} did not answer within {self._timeout:g} s"
            ) from None
        except httpx.TransportError as exc:
            reason = self._safe(str(exc) or type(exc).__name__)
            raise AuthError(f"cannot reach token endpoint {self._host}: {reason}") from None
        return self._parse(response, requested_at)

    def _form(self) -> dict[str, str]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._credentials.client_id,
            "client_secret": self._credentials.client_secret,
        }
        if self._credentials.scopes:
            form["scope"] = " ".join(self._credentials.scopes)
        return form

    def _parse(self, response: httpx.Response, requested_at: float) -> _Token:
        payload = _json_object(response)
        if not response.is_success:
            raise AuthError(self._failure_message(response.status_code, payload))
        access_token = payload.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise AuthError(
                f"token endpoint {self._host} answered {response.status_code} "
                "without an access_token"
            )
        lifetime = _expires_in(payload.get("expires_in"))
        margin = min(self._refresh_margin, lifetime / 2)
        return _Token(value=access_token, refresh_at=requested_at + lifetime - margin)

    def _failure_message(self, status: int, payload: dict[str, Any]) -> str:
        message = f"token request to {self._host} failed: HTTP {status}"
        error = payload.get("error")
        if isinstance(error, str) and error:
            message += f" ({self._safe(error)})"
        description = payload.get("error_description")
        if isinstance(description, str) and description.strip():
            message += f": {self._safe(description)}"
        return message

    def _safe(self, text: str) -> str:
        """One short line of server text with our secret masked, should the server echo it."""
        line = " ".join(text.split())
        if len(line) > _MAX_DESCRIPTION:
            line = line[: _MAX_DESCRIPTION - 3] + "..."
        return mask_known(line, [self._credentials.client_secret])


def _authorized(request: httpx.Request, token: str) -> httpx.Request:
    request.headers["Authorization"] = f"Bearer {token}"
    return request


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _expires_in(value: object) -> float:
    # Some identity providers send expires_in as a string ("3599").
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_EXPIRES_IN
    return seconds if seconds > 0 else DEFAULT_EXPIRES_IN


def build_auth(config: TargetConfig) -> httpx.Auth | None:
    """The auth for a target: bearer token, client credentials, or None when it has neither."""
    if config.token:
        return BearerAuth(config.token)
    if config.client_credentials is not None:
        return ClientCredentialsAuth(config.client_credentials)
    return None
