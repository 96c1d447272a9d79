"""Registry authentication: credentials per registry, the challenge each host answered with, and bearer tokens
(fetched from the realm the challenge names - through the SSRF guard - cached per host and scope, bounded).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx
import orjson

from verifier.errors import RegistryProtocolError, RegistryUnauthorizedError

from ._auth import Challenge, Credentials, CredentialStore, parse_challenges
from ._breaker import LRUMap
from ._exchange import Ask, Response, clean, netloc, registry_detail

if TYPE_CHECKING:
    from ._transport import RegistryTransport

__all__ = ["Authenticator"]

_logger = logging.getLogger(__name__)

#: tokens without ``expires_in`` live this long (distribution token spec)
_DEFAULT_TOKEN_SECONDS = 60.0
#: bytes read from a token answer
_TOKEN_BODY = 64 * 1024


def _usable_token(token: str) -> bool:
    return bool(token) and token.isascii() and token.isprintable() and " " not in token


def _basic(creds: Credentials) -> str:
    raw = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class Authenticator:
    """What to send as ``Authorization`` to a registry host, and what to do with its 401 answers."""

    def __init__(self, transport: RegistryTransport, credentials: CredentialStore) -> None:
        self._transport = transport
        self._credentials = credentials
        limits = transport.limits
        self._creds: dict[str, Credentials | None] = {}
        self._challenges: dict[str, Challenge] = {}
        # keyed by repository scope, which image references choose: bounded
        self.tokens: LRUMap[tuple[str, str], tuple[str, float]] = LRUMap(limits.max_cached_tokens)
        self._token_locks: LRUMap[tuple[str, str], asyncio.Lock] = LRUMap(limits.max_cached_tokens)

    async def credentials(self, registry: str) -> Credentials | None:
        if registry not in self._creds:
            self._creds[registry] = await asyncio.to_thread(self._credentials.get, registry)
        return self._creds[registry]

    async def unauthorized(
        self, ask: Ask, status: int, detail: str = "", *, after_auth: bool = False
    ) -> RegistryUnauthorizedError:
        """The ``RegistryUnauthorizedError`` for a refused request, saying whether credentials were found."""
        creds = await self.credentials(ask.registry)
        found = "credentials were found" if creds is not None else "no credentials were found"
        how = " after authenticating" if after_auth else ""
        return RegistryUnauthorizedError(
            f"registry {ask.registry} refused {ask.what} (HTTP {status}{how}{detail}); {found} for {ask.registry}",
            hint=None if creds is not None else f"log in with `docker login {ask.registry}`",
        )

    async def on_unauthorized(self, ask: Ask, response: Response, auth_retried: bool) -> None:
        detail = registry_detail(response.body)
        if auth_retried:
            raise await self.unauthorized(ask, 401, detail, after_auth=True)
        challenge = parse_challenges(response.headers.get_list("www-authenticate"))
        if challenge is None:
            raise RegistryUnauthorizedError(
                f"registry {ask.host} refused {ask.what} (HTTP 401) without a usable WWW-Authenticate challenge"
            )
        self._challenges[ask.host] = challenge
        self.tokens.pop((ask.host, ask.scope))
        if challenge.scheme == "basic":
            creds = await self.credentials(ask.registry)
            if creds is None or not creds.has_basic:
                raise RegistryUnauthorizedError(
                    f"registry {ask.registry} requires basic authentication for {ask.what} and no "
                    f"credentials were found for {ask.registry}",
                    hint=f"log in with `docker login {ask.registry}`",
                )

    async def authorization(self, ask: Ask) -> str | None:
        challenge = self._challenges.get(ask.host)
        if challenge is None:
            return None
        creds = await self.credentials(ask.registry)
        if challenge.scheme == "basic":
            return _basic(creds) if creds is not None and creds.has_basic else None
        if creds is not None and creds.registry_token:
            return f"Bearer {creds.registry_token}"
        key = (ask.host, ask.scope)
        cached = self.tokens.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        lock = self._token_locks.setdefault(key, asyncio.Lock)
        async with lock:
            cached = self.tokens.get(key)
            if cached is not None and cached[1] > time.monotonic():
                return cached[0]
            token, lifetime = await self._fetch_token(ask, challenge, creds)
            value = f"Bearer {token}"
            # renew a little early so a token does not expire between cache check and use
            self.tokens[key] = (value, time.monotonic() + max(1.0, lifetime * 0.9))
            return value

    async def _fetch_token(self, ask: Ask, challenge: Challenge, creds: Credentials | None) -> tuple[str, float]:
        realm = challenge.realm or ""
        try:
            url = httpx.URL(realm)
        except httpx.InvalidURL:
            raise RegistryProtocolError(f"registry {ask.host} sent an invalid token realm {clean(realm)!r}") from None
        await self._transport.check_target(url, ask, "token realm")
        params = {"scope": ask.scope}
        if challenge.service:
            params["service"] = challenge.service
        token_ask = Ask(ask.registry, netloc(url), ask.repository, f"token for {ask.what}", ask.push)
        headers: dict[str, str] = {}
        content: bytes | None = None
        method = "GET"
        if creds is not None and creds.identity_token:
            method = "POST"
            form = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "client_id": "sealgate",
            }
            content = urlencode({**form, **params}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            url = url.copy_merge_params(params)
            if creds is not None and creds.has_basic:
                headers["Authorization"] = _basic(creds)
        response = await self._transport.request(
            token_ask,
            method,
            url,
            headers=headers,
            content=content,
            max_bytes=_TOKEN_BODY,
            authenticate=False,
        )
        if response.status in (401, 403):
            raise await self.unauthorized(ask, response.status, f" at token server {token_ask.host}")
        if response.status != 200:
            raise RegistryProtocolError(
                f"token server {token_ask.host} answered HTTP {response.status} for {ask.what}"
                f"{registry_detail(response.body)}"
            )
        try:
            data = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise RegistryProtocolError(f"token server {token_ask.host} answered non-JSON for {ask.what}")
        token = data.get("token") or data.get("access_token")
        if not isinstance(token, str) or not _usable_token(token):
            raise RegistryProtocolError(f"token server {token_ask.host} answered without a usable token for {ask.what}")
        expires = data.get("expires_in")
        lifetime = _DEFAULT_TOKEN_SECONDS
        if isinstance(expires, int | float) and not isinstance(expires, bool) and expires > 0:
            lifetime = float(expires)
        _logger.debug("got token for %s scope %s valid %.0fs", ask.host, ask.scope, lifetime)
        return token, lifetime
