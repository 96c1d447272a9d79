"""RegistryClient.stream_blob: chunks handed over as they arrive, the digest checked at the end, a size cap,
and no silent retry once bytes have been handed over."""

from __future__ import annotations

import pytest

from tests.support.faultregistry import Fault, FaultRegistry
from verifier.errors import BlobTooLargeError, DigestMismatchError, RegistryUnavailableError
from verifier.limits import Limits
from verifier.oci import Digest, Reference
from verifier.registry import RegistryClient, RegistryConfig


def _client(limits: Limits | None = None) -> RegistryClient:
    return RegistryClient(RegistryConfig(limits=limits or Limits(retries=2, backoff_base=0.001)))


async def _stream(registry: FaultRegistry, digest: str, **kwargs: object) -> tuple[bytes, int]:
    chunks: list[bytes] = []

    async def sink(chunk: bytes) -> None:
        chunks.append(chunk)

    async with _client() as client:
        size = await client.stream_blob(
            Reference.parse(f"{registry.host}/app"),
            Digest.parse(digest),
            sink,
            **kwargs,  # type: ignore[arg-type]
        )
    return b"".join(chunks), size


async def test_streamed_blob_arrives_whole_and_verified(registry: FaultRegistry) -> None:
    data = bytes(range(256)) * 4096
    digest = registry.add_blob("app", data)
    assert await _stream(registry, digest, max_bytes=len(data)) == (data, len(data))


async def test_corrupt_stream_is_a_digest_mismatch_at_the_end(registry: FaultRegistry) -> None:
    digest = registry.add_blob("app", b"x" * 10_000)
    registry.inject(Fault("corrupt", times=-1))
    with pytest.raises(DigestMismatchError, match="content hashes to sha256:"):
        await _stream(registry, digest, max_bytes=1_000_000)


@pytest.mark.parametrize("no_length", [False, True], ids=["with Content-Length", "without Content-Length"])
async def test_size_cap_per_call(registry: FaultRegistry, no_length: bool) -> None:
    digest = registry.add_blob("app", b"x" * 5000)
    if no_length:
        registry.inject(Fault("no_length"))
    with pytest.raises(BlobTooLargeError, match="100-byte limit.*max_image_bytes"):
        await _stream(registry, digest, max_bytes=100, limit_name="max_image_bytes")


async def test_truncated_stream_is_not_retried_once_bytes_were_handed_over(registry: FaultRegistry) -> None:
    digest = registry.add_blob("app", b"0123456789" * 10_000)
    registry.inject(Fault("truncate", times=-1))
    with pytest.raises((RegistryUnavailableError, DigestMismatchError)):
        await _stream(registry, digest, max_bytes=1_000_000)
    assert registry.count("GET", f"/v2/app/blobs/{digest}") == 1


async def test_streamed_blob_follows_redirects_to_storage(registry: FaultRegistry) -> None:
    data = b"stored elsewhere" * 1000
    digest = registry.add_blob("app", data)
    registry.inject(Fault("redirect", hops=2))
    assert await _stream(registry, digest, max_bytes=len(data)) == (data, len(data))
