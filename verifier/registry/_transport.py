"""One HTTP exchange with a registry: scheme policy, TLS, retries, size caps, the request deadline, a circuit
breaker and a concurrency cap per registry host, and the SSRF guard (authentication: ``_authenticator``).

Everything httpx raises is turned into a :mod:`verifier.errors` class here; nothing above this module
sees an httpx exception. Resilience (see :mod:`verifier.registry._breaker`):

- retries and ``Retry-After`` waits never run past the caller's :func:`request_deadline`; a wait that would is
  a ``RegistryUnavailableError`` at once, and a registry that does not answer by the deadline is too;
- after ``limits.breaker_failures`` consecutive failed requests to a host its breaker opens and requests fail
  fast (no network) for ``limits.breaker_cooldown`` seconds, then one probe decides;
- at most ``limits.max_requests_per_host`` requests are in flight to one host.

Redirects and token realms go only where :class:`~verifier.registry._ssrf.HostGuard` allows.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import ssl
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import certifi
import httpx

from verifier.errors import (
    BlobTooLargeError,
    ConfigError,
    LimitExceededError,
    RegistryProtocolError,
    RegistryUnauthorizedError,
    RegistryUnavailableError,
    SealgateError,
)

from ._auth import CredentialStore
from ._authenticator import Authenticator
from ._breaker import CircuitBreaker, LRUMap, Permit, following, remaining
from ._config import RegistryConfig
from ._exchange import Ask, Response, clean, netloc, registry_detail
from ._ssrf import HostGuard, Resolver

__all__ = ["RegistryTransport", "Sink", "parse_retry_after"]

#: where a streamed body goes, chunk by chunk
Sink = Callable[[bytes], Awaitable[None]]

_logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: bytes read from an error answer or a token answer
_SMALL_BODY = 64 * 1024


class _Transient(Exception):
    """A connection-level failure worth retrying on an idempotent request."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, httpx.ReadTimeout):
        return "read timeout"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection closed before the response was complete"
    if isinstance(exc, httpx.ConnectError):
        detail = clean(str(exc), 120)
        return f"connection failed ({detail})" if detail else "connection failed"
    return clean(f"{type(exc).__name__}: {exc}", 120)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta-seconds or HTTP date); ``None`` when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@functools.cache
def _default_tls_context() -> ssl.SSLContext:
    """The system-independent default (certifi roots), built once: loading it costs tens of milliseconds."""
    return ssl.create_default_context(cafile=certifi.where())


class RegistryTransport:
    """Sends requests for :class:`RegistryClient`; owns the httpx client, token cache and counters."""

    def __init__(
        self,
        config: RegistryConfig,
        credentials: CredentialStore,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        resolver: Resolver | None = None,
    ) -> None:
        self.config = config
        self.limits = config.limits
        self.request_count = 0
        limits = config.limits
        self.auth = Authenticator(self, credentials)
        self._breakers: LRUMap[str, CircuitBreaker] = LRUMap(limits.max_cached_hosts)
        self._slots: LRUMap[str, asyncio.Semaphore] = LRUMap(limits.max_cached_hosts)
        self.guard = HostGuard(resolver, max_entries=limits.max_cached_hosts)
        timeout = httpx.Timeout(
            connect=limits.connect_timeout,
            read=limits.read_timeout,
            write=limits.read_timeout,
            pool=limits.connect_timeout,
        )
        self._http = httpx.AsyncClient(
            transport=transport,
            verify=self._tls_context(config.ca_bundle),
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": config.user_agent},
        )

    @staticmethod
    def _tls_context(ca_bundle: str | None) -> ssl.SSLContext:
        if ca_bundle is None:
            return _default_tls_context()
        context = ssl.create_default_context(cafile=certifi.where())
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load CA bundle {ca_bundle}: {exc}") from None
        return context

    async def aclose(self) -> None:
        await self._http.aclose()

    def api_url(self, host: str, path: str) -> httpx.URL:
        return httpx.URL(f"{self.config.scheme_for(host)}://{host}{path}")

    def check_url(self, url: httpx.URL, ask: Ask, purpose: str) -> None:
        """Refuse non-HTTP(S) URLs and plain HTTP to hosts that must use TLS."""
        if url.scheme == "https" or (url.scheme == "http" and self.config.plain_http_allowed(netloc(url))):
            return
        raise RegistryProtocolError(
            f"{ask.what}: registry {ask.host} sent a {purpose} URL {clean(str(url), 120)!r} "
            "that is not https (plain http is only allowed for loopback and insecure hosts)"
        )

    async def check_target(self, url: httpx.URL, ask: Ask, purpose: str) -> None:
        """:meth:`check_url`, then the SSRF guard: may registry ``ask.host`` send us to ``url``'s host?"""
        self.check_url(url, ask, purpose)
        await self.guard.check(ask.host, netloc(url), what=ask.what, purpose=purpose)

    def breaker(self, host: str) -> CircuitBreaker:
        """The circuit breaker of one registry host (``host[:port]`` as in :attr:`Ask.host`)."""
        limits = self.limits
        return self._breakers.setdefault(
            host.lower(), lambda: CircuitBreaker(limits.breaker_failures, limits.breaker_cooldown)
        )

    async def unauthorized(
        self, ask: Ask, status: int, detail: str = "", *, after_auth: bool = False
    ) -> RegistryUnauthorizedError:
        return await self.auth.unauthorized(ask, status, detail, after_auth=after_auth)

    # --- the request loop ------------------------------------------------------------------------------

    async def request(
        self,
        ask: Ask,
        method: str,
        url: httpx.URL,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        idempotent: bool = True,
        max_bytes: int | None = None,
        limit_name: str = "max_bytes",
        follow_redirects: bool = False,
        authenticate: bool = True,
        sink: Sink | None = None,
    ) -> Response:
        """Send one logical request: auth on 401, retries on 429/5xx/connection errors, redirects, caps.

        Returns the final response whatever its status (except 401 after authenticating, and
        retryable statuses once retries are exhausted, which raise). Fails fast with
        ``RegistryUnavailableError`` while the host's breaker is open or once the deadline has passed.
        With a ``sink``, a 2xx body is handed to it chunk by chunk (within ``max_bytes``) instead of being
        kept; once a chunk has been handed over, a broken connection is no longer retried.
        """
        breaker = self.breaker(ask.host)
        permit = breaker.permit()
        if permit is None:
            raise RegistryUnavailableError(
                f"registry {ask.host} unavailable: circuit breaker open after {breaker.consecutive_failures} "
                f"consecutive failures, next try in {breaker.retry_in():.1f}s ({ask.what})"
            )
        try:
            response = await self._request(
                ask,
                method,
                url,
                breaker,
                permit,
                headers=headers,
                content=content,
                idempotent=idempotent,
                max_bytes=max_bytes,
                limit_name=limit_name,
                follow_redirects=follow_redirects,
                authenticate=authenticate,
                sink=sink,
            )
        except RegistryUnavailableError:
            breaker.failure(permit)
            raise
        except SealgateError:
            breaker.success(permit)  # the registry answered, if not to our liking
            raise
        except BaseException:
            breaker.release(permit)
            raise
        breaker.success(permit)
        return response

    async def _request(
        self,
        ask: Ask,
        method: str,
        url: httpx.URL,
        breaker: CircuitBreaker,
        permit: Permit,
        *,
        headers: dict[str, str] | None,
        content: bytes | None,
        idempotent: bool,
        max_bytes: int | None,
        limit_name: str,
        follow_redirects: bool,
        authenticate: bool,
        sink: Sink | None,
    ) -> Response:
        tries = 0
        redirects = 0
        auth_retried = False
        while True:
            send_headers = dict(headers or {})
            on_registry = authenticate and netloc(url) == ask.host.lower()
            if on_registry:
                authorization = await self.auth.authorization(ask)
                if authorization is not None:
                    send_headers["Authorization"] = authorization
            try:
                response = await self._send_bounded(
                    method, url, send_headers, content, ask, max_bytes, limit_name, sink
                )
            except _Transient as exc:
                tries += 1
                if idempotent and tries <= self.limits.retries:
                    await self._pause(ask, exc.reason, self._backoff(tries), breaker, permit)
                    continue
                raise RegistryUnavailableError(
                    f"registry {ask.host} unavailable: {exc.reason} after {tries} "
                    f"attempt{'s' if tries != 1 else ''} ({ask.what})"
                ) from None
            status = response.status
            if status == 401 and on_registry:
                await self.auth.on_unauthorized(ask, response, auth_retried)
                auth_retried = True
                continue
            if status in RETRY_STATUSES:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                if retry_after is not None and retry_after > self.limits.max_retry_after:
                    raise RegistryUnavailableError(
                        f"registry {ask.host} unavailable: HTTP {status} asks to retry after "
                        f"{retry_after:.0f}s, above the {self.limits.max_retry_after:g}s limit max_retry_after "
                        f"({ask.what})"
                    )
                tries += 1
                if idempotent and tries <= self.limits.retries:
                    delay = retry_after if retry_after is not None else self._backoff(tries)
                    await self._pause(ask, f"HTTP {status}", delay, breaker, permit)
                    continue
                raise RegistryUnavailableError(
                    f"registry {ask.host} unavailable: HTTP {status} after {tries} "
                    f"attempt{'s' if tries != 1 else ''} ({ask.what}{registry_detail(response.body)})"
                )
            if follow_redirects and status in REDIRECT_STATUSES:
                location = response.headers.get("location")
                if not location:
                    raise RegistryProtocolError(f"{ask.what}: HTTP {status} redirect without a Location")
                redirects += 1
                if redirects > self.limits.max_redirects:
                    raise LimitExceededError(
                        f"{ask.what}: more than {self.limits.max_redirects} redirects from registry {ask.host} "
                        "(limit max_redirects)"
                    )
                try:
                    url = url.join(location)
                except httpx.InvalidURL:
                    raise RegistryProtocolError(f"{ask.what}: invalid redirect Location header") from None
                await self.check_target(url, ask, "redirect")
                if status == 303:
                    method, content = "GET", None
                continue
            return response

    def _backoff(self, tries: int) -> float:
        return float(self.limits.backoff_base * (2 ** (tries - 1)))

    async def _pause(self, ask: Ask, reason: str, delay: float, breaker: CircuitBreaker, permit: Permit) -> None:
        """Wait before a retry, unless the wait would end past the deadline or the breaker opened meanwhile."""
        left = remaining()
        if left is not None and delay >= left:
            raise RegistryUnavailableError(
                f"registry {ask.host} unavailable: {reason}, and waiting {delay:.1f}s to retry would pass the "
                f"request deadline ({max(left, 0.0):.1f}s left; {ask.what})"
            )
        if not breaker.allows_retry(permit):
            raise RegistryUnavailableError(
                f"registry {ask.host} unavailable: {reason}, and its circuit breaker opened after "
                f"{breaker.consecutive_failures} consecutive failures ({ask.what})"
            )
        _logger.debug("retrying %s on %s after %s in %.3fs", ask.what, ask.host, reason, delay)
        await asyncio.sleep(delay)

    async def _send_bounded(
        self,
        method: str,
        url: httpx.URL,
        headers: dict[str, str],
        content: bytes | None,
        ask: Ask,
        max_bytes: int | None,
        limit_name: str,
        sink: Sink | None = None,
    ) -> Response:
        """:meth:`_send_once` inside the host's concurrency cap and the request deadline."""
        left = remaining()
        if left is not None and left <= 0:
            raise RegistryUnavailableError(f"registry {ask.host} unavailable: request deadline reached ({ask.what})")
        slot = self._slots.setdefault(ask.host, lambda: asyncio.Semaphore(self.limits.max_requests_per_host))
        try:
            async with asyncio.timeout(left) as timeout:
                with following(timeout):  # work shared by several requests runs to the latest of their deadlines
                    async with slot:
                        return await self._send_once(method, url, headers, content, ask, max_bytes, limit_name, sink)
        except TimeoutError:
            raise RegistryUnavailableError(
                f"registry {ask.host} unavailable: no answer within the request deadline ({ask.what})"
            ) from None

    async def _send_once(
        self,
        method: str,
        url: httpx.URL,
        headers: dict[str, str],
        content: bytes | None,
        ask: Ask,
        max_bytes: int | None,
        limit_name: str,
        sink: Sink | None = None,
    ) -> Response:
        self.request_count += 1
        _logger.debug("%s %s", method, url)
        try:
            request = self._http.build_request(method, url, headers=headers, content=content)
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _Transient(_describe(exc)) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise RegistryProtocolError(f"{ask.what}: cannot send request: {clean(str(exc))}") from None
        try:
            if method == "HEAD" or response.status_code in REDIRECT_STATUSES:
                body = b""
            elif response.status_code >= 300:
                body = await self._read(response, ask, _SMALL_BODY, truncate=True)
            elif sink is not None:
                body = await self._stream(response, ask, max_bytes, limit_name, sink)
            else:
                body = await self._read(response, ask, max_bytes, truncate=False, limit_name=limit_name)
        except httpx.TransportError as exc:
            raise _Transient(_describe(exc)) from None
        except httpx.HTTPError as exc:
            raise RegistryProtocolError(f"{ask.what}: unreadable response body: {clean(str(exc))}") from None
        finally:
            await response.aclose()
        return Response(response.status_code, response.headers, body, url)

    @staticmethod
    async def _stream(response: httpx.Response, ask: Ask, cap: int | None, limit_name: str, sink: Sink) -> bytes:
        """Hand a 2xx body to ``sink``; a connection broken after the first chunk is not retryable."""
        length = response.headers.get("content-length")
        if cap is not None and length is not None and length.isdigit() and int(length) > cap:
            raise BlobTooLargeError(
                f"{ask.what} is {int(length)} bytes (Content-Length), above the {cap}-byte limit {limit_name}"
            )
        seen = 0
        try:
            async for chunk in response.aiter_bytes():
                seen += len(chunk)
                if cap is not None and seen > cap:
                    raise BlobTooLargeError(
                        f"{ask.what} is larger than the {cap}-byte limit (stopped reading) set by {limit_name}"
                    )
                await sink(chunk)
        except httpx.TransportError as exc:
            if not seen:
                raise
            raise RegistryUnavailableError(
                f"registry {ask.host} unavailable: {_describe(exc)} after {seen} bytes ({ask.what})"
            ) from None
        return b""

    @staticmethod
    async def _read(
        response: httpx.Response, ask: Ask, cap: int | None, *, truncate: bool, limit_name: str = "max_bytes"
    ) -> bytes:
        length = response.headers.get("content-length")
        if cap is not None and not truncate and length is not None and length.isdigit() and int(length) > cap:
            raise BlobTooLargeError(
                f"{ask.what} is {int(length)} bytes (Content-Length), above the {cap}-byte limit {limit_name}"
            )
        buffer = bytearray()
        async for chunk in response.aiter_bytes():
            buffer += chunk
            if cap is not None and len(buffer) > cap:
                if truncate:
                    return bytes(buffer[:cap])
                raise BlobTooLargeError(
                    f"{ask.what} is larger than the {cap}-byte limit (stopped reading) set by {limit_name}"
                )
        return bytes(buffer)
