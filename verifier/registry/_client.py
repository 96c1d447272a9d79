"""The async registry client: manifests, blobs, tags, referrers and pushes over the distribution API.

Every manifest and blob is checked against its digest and a size cap before it is returned. Errors are
:mod:`verifier.errors` classes naming the registry, repository and what was asked.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType

import httpx
import orjson

from verifier.errors import (
    BlobTooLargeError,
    DigestMismatchError,
    InvalidDigestError,
    LimitExceededError,
    ManifestUnknownError,
    RegistryProtocolError,
)
from verifier.oci import MANIFEST_ACCEPT, OCI_INDEX, OCI_MANIFEST, OCTET_STREAM, Descriptor, Digest, Manifest, Reference

from ._auth import CredentialStore, DockerConfigCredentials
from ._breaker import CircuitBreaker, remaining
from ._config import RegistryConfig
from ._exchange import Ask, Response, registry_detail
from ._ssrf import Resolver
from ._transport import RegistryTransport

__all__ = ["RegistryClient"]

_logger = logging.getLogger(__name__)

#: the next page of a paged answer (``Link: <url>; rel="next"``)
_NEXT_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?', re.IGNORECASE)
#: Content-Types some registries send for manifests; the body's ``mediaType`` then decides
_GENERIC_TYPES = frozenset({"", "application/json", "text/plain", "application/octet-stream"})


def _content_type(response: Response) -> str:
    value: str = response.headers.get("content-type", "")
    return value.split(";", 1)[0].strip().lower()


def _header_digest(response: Response, ask: Ask) -> Digest | None:
    value = response.headers.get("docker-content-digest")
    if value is None:
        return None
    try:
        return Digest.parse(value.strip())
    except InvalidDigestError:
        raise RegistryProtocolError(f"{ask.what}: invalid Docker-Content-Digest header") from None


def _json_object(body: bytes, ask: Ask) -> dict[str, object]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RegistryProtocolError(f"{ask.what}: answer is not valid JSON") from None
    if not isinstance(data, dict):
        raise RegistryProtocolError(f"{ask.what}: answer is not a JSON object")
    return data


class RegistryClient:
    """Talks to OCI distribution registries (Docker Hub, GHCR, distribution, Harbor, ...).

    >>> async with RegistryClient() as client:                      # doctest: +SKIP
    ...     ref = Reference.parse("ghcr.io/org/app:1.0")
    ...     desc = await client.resolve(ref)
    ...     manifest = await client.get_manifest(ref.with_digest(desc.digest))

    Only ``registry``/``repository`` (and the tag or digest where a call needs one) of a ``ref`` are used.
    Auth is anonymous, basic or bearer (tokens cached per host and scope); credentials come from
    ``credentials`` or, by default, docker's ``config.json``.

    Resilience and limits (all in ``config.limits``): retries never run past the caller's
    :func:`~verifier.registry.request_deadline`; each registry host has a circuit breaker and a concurrency cap;
    redirects and token realms may not lead to loopback, link-local or private addresses unless the registry
    itself is in that class (``resolver`` replaces the system resolver for that check, for tests).
    """

    def __init__(
        self,
        config: RegistryConfig | None = None,
        *,
        credentials: CredentialStore | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.config = config or RegistryConfig()
        self.limits = self.config.limits
        store = credentials if credentials is not None else DockerConfigCredentials(self.config.docker_config)
        self._t = RegistryTransport(self.config, store, transport, resolver=resolver)

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._t.aclose()

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, counting retries, redirects and token requests."""
        return self._t.request_count

    def breaker(self, host: str) -> CircuitBreaker:
        """The circuit breaker of a registry host (``Reference.api_host``), e.g. for metrics."""
        return self._t.breaker(host)

    # --- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _ask(ref: Reference, what: str, *, push: bool = False) -> Ask:
        return Ask(ref.registry, ref.api_host.lower(), ref.repository, what, push)

    def _url(self, ref: Reference, tail: str) -> httpx.URL:
        return self._t.api_url(ref.api_host.lower(), f"/v2/{ref.repository}/{tail}")

    @staticmethod
    def _manifest_what(ref: Reference) -> str:
        separator = "@" if ref.digest is not None else ":"
        return f"manifest {ref.name}{separator}{ref.identifier}"

    async def _expect(self, response: Response, ask: Ask, *ok: int) -> None:
        """Raise the error class matching ``response`` unless its status is one of ``ok``."""
        status = response.status
        if status in ok:
            return
        detail = registry_detail(response.body)
        if status == 404:
            raise ManifestUnknownError(f"{ask.what} not found (HTTP 404{detail})")
        if status in (401, 403):
            raise await self._t.unauthorized(ask, status, detail)
        raise RegistryProtocolError(f"{ask.what}: unexpected HTTP {status} from registry {ask.host}{detail}")

    @staticmethod
    def _manifest_type(response: Response, ask: Ask, data: dict[str, object], accept: Sequence[str]) -> str:
        content_type = _content_type(response)
        body_type = data.get("mediaType")
        if body_type is not None and not isinstance(body_type, str):
            raise RegistryProtocolError(f"{ask.what}: mediaType is not a string")
        if content_type in _GENERIC_TYPES:
            if body_type is not None:
                content_type = body_type
            elif "manifests" in data:
                content_type = OCI_INDEX
            else:
                content_type = OCI_MANIFEST
        if content_type not in accept:
            raise RegistryProtocolError(
                f"{ask.what}: unexpected Content-Type {content_type[:100]!r} (accepted: {', '.join(accept)})"
            )
        if body_type is not None and body_type != content_type:
            raise RegistryProtocolError(
                f"{ask.what}: Content-Type {content_type} disagrees with the manifest's mediaType {body_type[:100]}"
            )
        if data.get("schemaVersion") != 2:
            raise RegistryProtocolError(f"{ask.what}: schemaVersion is not 2")
        return content_type

    def time_left(self) -> float | None:
        """Seconds before the current request deadline (:func:`request_deadline`), None without one."""
        return remaining()

    # --- manifests ----------------------------------------------------------------------------------

    async def resolve(self, ref: Reference) -> Descriptor:
        """Descriptor (digest, media type, size) of the manifest ``ref`` names, by ``HEAD``.

        Falls back to ``GET`` (and hashing the body) when the registry sends no usable
        ``Docker-Content-Digest``/``Content-Type``/``Content-Length``.
        """
        ask = self._ask(ref, self._manifest_what(ref))
        url = self._url(ref, f"manifests/{ref.identifier}")
        response = await self._t.request(ask, "HEAD", url, headers={"Accept": ", ".join(MANIFEST_ACCEPT)})
        await self._expect(response, ask, 200)
        digest = _header_digest(response, ask)
        media_type = _content_type(response)
        length = response.headers.get("content-length", "")
        usable = media_type in MANIFEST_ACCEPT and length.isascii() and length.isdigit()
        if ref.digest is not None and digest is not None and digest.algorithm != ref.digest.algorithm:
            usable = False
        if digest is None or not usable:
            _logger.debug("HEAD %s gave no usable digest; falling back to GET", ask.what)
            return (await self.get_manifest(ref)).descriptor
        if ref.digest is not None and digest != ref.digest:
            raise DigestMismatchError(f"{ask.what}: registry reports digest {digest}, not the requested {ref.digest}")
        return Descriptor(media_type, digest, int(length))

    async def get_manifest(self, ref: Reference, *, accept: Sequence[str] = MANIFEST_ACCEPT) -> Manifest:
        """Fetch the manifest ``ref`` names, checked against its digest and ``limits.max_manifest_bytes``.

        By digest the body must hash to it; by tag the digest is the body's sha256, and a
        ``Docker-Content-Digest`` header, when present, must agree. ``ManifestUnknownError`` on 404.
        """
        ask = self._ask(ref, self._manifest_what(ref))
        response = await self._t.request(
            ask,
            "GET",
            self._url(ref, f"manifests/{ref.identifier}"),
            headers={"Accept": ", ".join(accept)},
            max_bytes=self.limits.max_manifest_bytes,
            limit_name="max_manifest_bytes",
        )
        await self._expect(response, ask, 200)
        raw = response.body
        if ref.digest is not None:
            ref.digest.verify(raw, ask.what)
            digest = ref.digest
        else:
            header = _header_digest(response, ask)
            if header is not None and not header.matches(raw):
                raise DigestMismatchError(
                    f"{ask.what}: body hashes to {Digest.of(raw, header.algorithm)}, "
                    f"not the Docker-Content-Digest {header}"
                )
            digest = Digest.of(raw)
        data = _json_object(raw, ask)
        media_type = self._manifest_type(response, ask, data, accept)
        self._check_entries(data, ask)
        return Manifest(raw, media_type, digest)

    def _check_entries(self, data: dict[str, object], ask: Ask) -> None:
        """``limits.max_layers`` on an image manifest's layers and an index's manifests."""
        cap = self.limits.max_layers
        for key in ("layers", "manifests"):
            entries = data.get(key)
            if isinstance(entries, list) and len(entries) > cap:
                raise LimitExceededError(
                    f"{ask.what} lists {len(entries)} {key}, more than the limit max_layers of {cap}"
                )

    async def put_manifest(self, ref: Reference, data: bytes, media_type: str) -> Digest:
        """Push a manifest to ``ref``'s tag (or digest); returns its digest (sha256 unless ``ref`` says)."""
        ask = self._ask(ref, f"push of {self._manifest_what(ref)}", push=True)
        cap = self.limits.max_manifest_bytes
        if len(data) > cap:
            raise BlobTooLargeError(
                f"{ask.what}: manifest is {len(data)} bytes, above the {cap}-byte limit max_manifest_bytes"
            )
        digest = ref.digest if ref.digest is not None else Digest.of(data)
        digest.verify(data, ask.what)
        response = await self._t.request(
            ask,
            "PUT",
            self._url(ref, f"manifests/{ref.identifier}"),
            headers={"Content-Type": media_type},
            content=data,
        )
        await self._expect(response, ask, 200, 201, 202, 204)
        stored = _header_digest(response, ask)
        if stored is not None and stored.algorithm == digest.algorithm and stored != digest:
            raise RegistryProtocolError(f"{ask.what}: registry stored it as {stored}, expected {digest}")
        return digest

    async def get_referrers(
        self, ref: Reference, digest: Digest, *, artifact_type: str | None = None
    ) -> Manifest | None:
        """The OCI 1.1 referrers index for ``digest``, or ``None`` when the API answers 404.

        A registry may page the answer (``Link: <...>; rel="next"``, on the same host): every page is read and
        their entries returned as one index. More than ``limits.max_referrers`` entries in all is a
        :class:`LimitExceededError` (the pages are bounded by it too: a page adds at least one entry or ends).
        """
        ask = self._ask(ref, f"referrers of {ref.name}@{digest}")
        start = self._url(ref, f"referrers/{digest}")
        if artifact_type is not None:
            start = start.copy_merge_params({"artifactType": artifact_type})
        url: httpx.URL | None = start
        first: Manifest | None = None
        entries: list[object] = []
        pages = 0
        cap = self.limits.max_referrers
        while url is not None:
            response = await self._t.request(
                ask,
                "GET",
                url,
                headers={"Accept": OCI_INDEX},
                max_bytes=self.limits.max_manifest_bytes,
                limit_name="max_manifest_bytes",
            )
            if response.status == 404 and not pages:
                return None
            await self._expect(response, ask, 200)
            data = _json_object(response.body, ask)
            media_type = self._manifest_type(response, ask, data, (OCI_INDEX,))
            pages += 1
            if first is None:
                first = Manifest(response.body, media_type, Digest.of(response.body))
            page = data.get("manifests")
            if not isinstance(page, list):
                if pages > 1:  # no half-read listing
                    raise RegistryProtocolError(f"{ask.what}: a page of the referrers index has no manifests list")
                break  # the first page: discovery reports the malformed index
            entries += page
            if len(entries) > cap:
                raise LimitExceededError(
                    f"{ask.what}: {len(entries)} referrers, more than the limit max_referrers of {cap}"
                )
            url = self._next_page(response, ask) if page else None
        if pages == 1:
            return first  # one page: the registry's own bytes
        merged = orjson.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        return Manifest(merged, OCI_INDEX, Digest.of(merged))

    def _next_page(self, response: Response, ask: Ask) -> httpx.URL | None:
        """The ``rel="next"`` page of a paged answer: on the same host and port, through the SSRF guard."""
        for value in response.headers.get_list("link"):
            found = _NEXT_LINK.search(value)
            if found is None:
                continue
            try:
                url = response.url.join(found.group(1))
            except httpx.InvalidURL:
                raise RegistryProtocolError(f"{ask.what}: invalid Link header") from None
            if url.host != response.url.host or url.port != response.url.port:
                raise RegistryProtocolError(f"{ask.what}: Link header points to another host")
            self._t.check_url(url, ask, "next page")
            return url
        return None

    # --- blobs ---------------------------------------------------------------------------------------

    async def get_blob(
        self, ref: Reference, digest: Digest, *, max_bytes: int | None = None, limit_name: str | None = None
    ) -> bytes:
        """Fetch a blob (following redirects to blob storage), verified against ``digest``.

        ``max_bytes`` defaults to ``limits.max_blob_bytes``; larger blobs raise ``BlobTooLargeError``, whose
        message names ``limit_name`` (say ``"max_bundle_bytes"``) as the limit hit.
        """
        ask = self._ask(ref, f"blob {digest} in {ref.name}")
        cap = self.limits.max_blob_bytes if max_bytes is None else max_bytes
        if limit_name is None:
            limit_name = "max_blob_bytes" if max_bytes is None else "max_bytes"
        response = await self._t.request(
            ask,
            "GET",
            self._url(ref, f"blobs/{digest}"),
            max_bytes=cap,
            limit_name=limit_name,
            follow_redirects=True,
        )
        await self._expect(response, ask, 200)
        digest.verify(response.body, ask.what)
        return response.body

    async def stream_blob(
        self,
        ref: Reference,
        digest: Digest,
        sink: Callable[[bytes], Awaitable[None]],
        *,
        max_bytes: int,
        limit_name: str = "max_bytes",
    ) -> int:
        """Hand a blob to ``sink`` in chunks as it downloads (redirects followed); returns its size.

        At most ``max_bytes`` are read (``BlobTooLargeError`` naming ``limit_name`` past that). The digest is
        checked once the last chunk is in: on a mismatch ``sink`` has seen bytes that must be thrown away, so
        the caller treats what it built from them as void (``DigestMismatchError``).
        """
        ask = self._ask(ref, f"blob {digest} in {ref.name}")
        hasher = hashlib.new(digest.algorithm)
        size = 0

        async def hashing(chunk: bytes) -> None:
            nonlocal size
            hasher.update(chunk)
            size += len(chunk)
            await sink(chunk)

        response = await self._t.request(
            ask,
            "GET",
            self._url(ref, f"blobs/{digest}"),
            max_bytes=max_bytes,
            limit_name=limit_name,
            follow_redirects=True,
            sink=hashing,
        )
        await self._expect(response, ask, 200)
        if hasher.hexdigest() != digest.hex:
            raise DigestMismatchError(f"{ask.what}: content hashes to {digest.algorithm}:{hasher.hexdigest()}")
        return size

    async def _blob_exists(self, ask: Ask, ref: Reference, digest: Digest) -> bool:
        url = self._url(ref, f"blobs/{digest}")
        response = await self._t.request(ask, "HEAD", url, follow_redirects=True)
        if response.status == 404:
            return False
        await self._expect(response, ask, 200)
        return True

    async def push_blob(self, ref: Reference, data: bytes, *, media_type: str = OCTET_STREAM) -> Descriptor:
        """Upload ``data`` (skipped when the blob exists): ``POST`` an upload, then one monolithic ``PUT``.

        Returns a descriptor with ``media_type`` for use in a manifest.
        """
        digest = Digest.of(data)
        ask = self._ask(ref, f"upload of blob {digest} to {ref.name}", push=True)
        descriptor = Descriptor(media_type, digest, len(data))
        if await self._blob_exists(ask, ref, digest):
            _logger.debug("blob %s already in %s", digest, ref.name)
            return descriptor
        start = self._url(ref, "blobs/uploads/")
        response = await self._t.request(ask, "POST", start, content=b"", idempotent=False)
        await self._expect(response, ask, 202)
        location = response.headers.get("location")
        if not location:
            raise RegistryProtocolError(f"{ask.what}: upload start answered without a Location header")
        try:
            upload = start.join(location).copy_merge_params({"digest": str(digest)})
        except httpx.InvalidURL:
            raise RegistryProtocolError(f"{ask.what}: invalid upload Location header") from None
        await self._t.check_target(upload, ask, "upload")
        response = await self._t.request(
            ask, "PUT", upload, headers={"Content-Type": OCTET_STREAM}, content=data, idempotent=False
        )
        await self._expect(response, ask, 201, 204)
        stored = _header_digest(response, ask)
        if stored is not None and stored.algorithm == digest.algorithm and stored != digest:
            raise RegistryProtocolError(f"{ask.what}: registry stored it as {stored}")
        return descriptor
