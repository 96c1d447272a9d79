"""RegistryClient against the in-process fault registry: content checks, caps, auth, retries, redirects."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from email.utils import formatdate

import httpx
import pytest

from tests.support.faultregistry import OCI_INDEX, Fault, FaultRegistry, sha256
from verifier.errors import (
    BlobTooLargeError,
    DigestMismatchError,
    LimitExceededError,
    ManifestUnknownError,
    RegistryProtocolError,
    RegistryUnauthorizedError,
    RegistryUnavailableError,
)
from verifier.limits import Limits
from verifier.oci import DOCKER_MANIFEST, OCI_MANIFEST, Digest, Reference
from verifier.registry import Credentials, RegistryClient, RegistryConfig, StaticCredentials

FAST = Limits(backoff_base=0.001, connect_timeout=2.0, read_timeout=2.0)


def client(limits: Limits = FAST, creds: dict[str, Credentials] | None = None, **config: object) -> RegistryClient:
    """A client that never reads the real ~/.docker/config.json."""
    return RegistryClient(RegistryConfig(limits=limits, **config), credentials=StaticCredentials(creds or {}))  # type: ignore[arg-type]


def ref(reg: FaultRegistry, rest: str) -> Reference:
    return Reference.parse(f"{reg.host}/{rest}")


# --- manifests -------------------------------------------------------------------------------------------


async def test_get_manifest_by_tag_returns_checked_bytes(registry: FaultRegistry) -> None:
    digest = registry.add_image("team/app", "1.0")
    async with client() as c:
        manifest = await c.get_manifest(ref(registry, "team/app:1.0"))
        assert str(manifest.digest) == digest
        assert manifest.media_type == OCI_MANIFEST
        assert manifest.json()["schemaVersion"] == 2
        assert c.request_count == 1
    accept = registry.requests[0].headers["accept"]
    assert OCI_MANIFEST in accept and OCI_INDEX in accept and DOCKER_MANIFEST in accept


async def test_get_manifest_by_digest_verifies_the_body(registry: FaultRegistry) -> None:
    digest = registry.add_image("app")
    async with client() as c:
        manifest = await c.get_manifest(ref(registry, f"app@{digest}"))
    assert str(manifest.digest) == digest


async def test_manifest_404_is_manifest_unknown_naming_what_was_asked(registry: FaultRegistry) -> None:
    async with client() as c:
        with pytest.raises(ManifestUnknownError) as caught:
            await c.get_manifest(ref(registry, "team/app:nope"))
    assert str(caught.value) == (
        f"manifest {registry.host}/team/app:nope not found (HTTP 404, MANIFEST_UNKNOWN: manifest unknown: nope)"
    )


async def test_tag_manifest_must_agree_with_docker_content_digest(registry: FaultRegistry) -> None:
    registry.add_image("app", "1")
    registry.inject(Fault("bad_digest_header"))
    async with client() as c:
        with pytest.raises(DigestMismatchError, match=r"not the Docker-Content-Digest sha256:"):
            await c.get_manifest(ref(registry, "app:1"))


async def test_digest_manifest_with_other_content_is_a_mismatch(registry: FaultRegistry) -> None:
    real = registry.add_image("app")
    lie = "sha256:" + "0" * 64
    registry.manifests["app"][lie] = registry.manifests["app"][real]
    async with client() as c:
        with pytest.raises(DigestMismatchError) as caught:
            await c.get_manifest(ref(registry, f"app@{lie}"))
    assert f"expected {lie}, got {real}" in str(caught.value)
    assert str(caught.value).startswith(f"manifest {registry.host}/app@{lie}")


@pytest.mark.parametrize(
    ("raw", "content_type", "fragment"),
    [
        pytest.param(b"<html>hello</html>", OCI_MANIFEST, "not valid JSON", id="non-JSON manifest"),
        pytest.param(b"[1, 2]", OCI_MANIFEST, "not a JSON object", id="JSON array manifest"),
        pytest.param(
            b'{"schemaVersion":2}',
            "text/html",
            "unexpected Content-Type 'text/html'",
            id="wrong Content-Type",
        ),
        pytest.param(
            b'{"schemaVersion":2,"mediaType":"' + OCI_INDEX.encode() + b'"}',
            OCI_MANIFEST,
            "disagrees with the manifest's mediaType",
            id="Content-Type and mediaType disagree",
        ),
        pytest.param(b'{"schemaVersion":1}', OCI_MANIFEST, "schemaVersion is not 2", id="schema 1"),
    ],
)
async def test_malformed_manifests_are_protocol_errors(
    registry: FaultRegistry, raw: bytes, content_type: str, fragment: str
) -> None:
    registry.add_manifest("app", raw, content_type, "1")
    async with client() as c:
        with pytest.raises(RegistryProtocolError) as caught:
            await c.get_manifest(ref(registry, "app:1"))
    assert fragment in str(caught.value)


async def test_generic_content_type_falls_back_to_the_body_media_type(registry: FaultRegistry) -> None:
    registry.add_manifest("app", registry.image_manifest("app"), "application/json", "1")
    async with client() as c:
        assert (await c.get_manifest(ref(registry, "app:1"))).media_type == OCI_MANIFEST


async def test_get_manifest_honours_a_narrower_accept(registry: FaultRegistry) -> None:
    registry.add_image("app", "1")
    async with client() as c:
        with pytest.raises(RegistryProtocolError, match="unexpected Content-Type"):
            await c.get_manifest(ref(registry, "app:1"), accept=(OCI_INDEX,))
    assert registry.requests[0].headers["accept"] == OCI_INDEX


@pytest.mark.parametrize(
    ("fault", "fragment"),
    [
        pytest.param(None, "(Content-Length), above the 1024-byte limit", id="with Content-Length"),
        pytest.param(
            Fault("no_length"),
            "larger than the 1024-byte limit (stopped reading)",
            id="without Content-Length",
        ),
    ],
)
async def test_oversized_manifest_is_refused(registry: FaultRegistry, fault: Fault | None, fragment: str) -> None:
    big = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "annotations": {"x": "y" * 5000}}).encode()
    registry.add_manifest("app", big, OCI_MANIFEST, "big")
    if fault is not None:
        registry.inject(fault)
    async with client(Limits(max_manifest_bytes=1024, backoff_base=0.001)) as c:
        with pytest.raises(BlobTooLargeError) as caught:
            await c.get_manifest(ref(registry, "app:big"))
    assert fragment in str(caught.value)
    assert str(caught.value).startswith(f"manifest {registry.host}/app:big")


async def test_a_manifest_without_content_length_under_the_cap_is_fine(registry: FaultRegistry) -> None:
    digest = registry.add_image("app", "1")
    registry.inject(Fault("no_length"))
    async with client() as c:
        assert str((await c.get_manifest(ref(registry, "app:1"))).digest) == digest


async def test_resolve_uses_one_head_request(registry: FaultRegistry) -> None:
    digest = registry.add_image("app", "1")
    raw = registry.manifests["app"][digest][0]
    async with client() as c:
        desc = await c.resolve(ref(registry, "app:1"))
        assert c.request_count == 1
    assert (str(desc.digest), desc.media_type, desc.size) == (digest, OCI_MANIFEST, len(raw))
    assert [r.method for r in registry.requests] == ["HEAD"]
    assert desc.to_dict() == {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(raw)}


async def test_resolve_falls_back_to_get_without_docker_content_digest(registry: FaultRegistry) -> None:
    digest = registry.add_image("app", "1")
    registry.inject(Fault("no_digest_header", method="HEAD"))
    async with client() as c:
        desc = await c.resolve(ref(registry, "app:1"))
    assert str(desc.digest) == digest
    assert [r.method for r in registry.requests] == ["HEAD", "GET"]


async def test_resolve_of_a_missing_tag_is_manifest_unknown(registry: FaultRegistry) -> None:
    async with client() as c:
        with pytest.raises(ManifestUnknownError, match=f"manifest {registry.host}/app:gone not found"):
            await c.resolve(ref(registry, "app:gone"))


# --- retries ----------------------------------------------------------------------------------------------


async def test_503_twice_then_success_is_retried(registry: FaultRegistry) -> None:
    registry.add_image("app", "1")
    registry.inject(Fault("status", path="/manifests/", status=503, times=2))
    async with client() as c:
        await c.get_manifest(ref(registry, "app:1"))
        assert c.request_count == 3
    assert registry.count("GET", "/manifests/") == 3


async def test_persistent_500_fails_after_all_attempts(registry: FaultRegistry) -> None:
    registry.inject(Fault("status", path="/manifests/", status=500, times=-1))
    async with client() as c:
        with pytest.raises(RegistryUnavailableError) as caught:
            await c.get_manifest(ref(registry, "app:1"))
    assert str(caught.value).startswith(f"registry {registry.host} unavailable: HTTP 500 after 4 attempts")
    assert f"manifest {registry.host}/app:1" in str(caught.value)
    assert registry.count("GET") == 4


async def test_429_retry_after_seconds_is_honoured(registry: FaultRegistry) -> None:
    registry.add_image("app", "1")
    registry.inject(Fault("status", status=429, headers={"Retry-After": "1"}))
    async with client() as c:
        started = time.monotonic()
        await c.get_manifest(ref(registry, "app:1"))
        assert time.monotonic() - started >= 0.9
        assert c.request_count == 2


async def test_retry_after_as_an_http_date_is_honoured(registry: FaultRegistry) -> None:
    registry.add_image("app", "1")
    registry.inject(Fault("status", status=503, headers={"Retry-After": formatdate(time.time() - 5, usegmt=True)}))
    async with client() as c:
        await c.get_manifest(ref(registry, "app:1"))
        assert c.request_count == 2


async def test_retry_after_above_the_limit_fails_at_once(registry: FaultRegistry) -> None:
    registry.inject(Fault("status", status=429, headers={"Retry-After": "120"}, times=-1))
    async with client() as c:
        with pytest.raises(RegistryUnavailableError) as caught:
            await c.get_manifest(ref(registry, "app:1"))
        assert c.request_count == 1
    assert "HTTP 429 asks to retry after 120s, above the 10s limit" in str(caught.value)


async def test_non_idempotent_upload_start_is_not_retried(registry: FaultRegistry) -> None:
    registry.inject(Fault("status", method="POST", status=503, times=-1))
    async with client() as c:
        with pytest.raises(RegistryUnavailableError, match="HTTP 503 after 1 attempt "):
            await c.push_blob(ref(registry, "app"), b"data")
    assert registry.count("POST") == 1


async def test_hang_hits_the_read_timeout(registry: FaultRegistry) -> None:
    registry.add_image("app", "1")
    registry.inject(Fault("hang", seconds=5, times=-1))
    limits = Limits(read_timeout=0.2, retries=1, backoff_base=0.001)
    async with client(limits) as c:
        started = time.monotonic()
        with pytest.raises(RegistryUnavailableError) as caught:
            await c.get_manifest(ref(registry, "app:1"))
        assert time.monotonic() - started < 3
    assert str(caught.value).startswith(f"registry {registry.host} unavailable: read timeout after 2 attempts")
    assert registry.count("GET") == 2


async def test_connection_refused_is_retried_then_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with client(Limits(retries=2, backoff_base=0.001)) as c:
        with pytest.raises(RegistryUnavailableError) as caught:
            await c.get_manifest(Reference.parse(f"127.0.0.1:{port}/app:1"))
        assert c.request_count == 3
    assert f"registry 127.0.0.1:{port} unavailable: connection failed" in str(caught.value)
    assert "after 3 attempts" in str(caught.value)


# --- blobs ------------------------------------------------------------------------------------------------


async def test_get_blob_returns_verified_bytes(registry: FaultRegistry) -> None:
    digest = registry.add_blob("app", b"hello blob")
    async with client() as c:
        assert await c.get_blob(ref(registry, "app"), Digest.parse(digest)) == b"hello blob"


async def test_corrupted_blob_is_a_digest_mismatch_without_retry(registry: FaultRegistry) -> None:
    digest = registry.add_blob("app", b"hello blob")
    registry.inject(Fault("corrupt", times=-1))
    async with client() as c:
        with pytest.raises(DigestMismatchError) as caught:
            await c.get_blob(ref(registry, "app"), Digest.parse(digest))
        assert c.request_count == 1
    assert str(caught.value).startswith(f"blob {digest} in {registry.host}/app: digest mismatch: expected {digest}")


async def test_truncated_blob_is_retried(registry: FaultRegistry) -> None:
    digest = registry.add_blob("app", b"0123456789" * 100)
    registry.inject(Fault("truncate", times=1))
    async with client() as c:
        assert await c.get_blob(ref(registry, "app"), Digest.parse(digest)) == b"0123456789" * 100
        assert c.request_count == 2


async def test_always_truncated_blob_is_unavailable(registry: FaultRegistry) -> None:
    digest = registry.add_blob("app", b"0123456789" * 100)
    registry.inject(Fault("truncate", times=-1))
    async with client(Limits(retries=1, backoff_base=0.001)) as c:
        with pytest.raises(RegistryUnavailableError) as caught:
            await c.get_blob(ref(registry, "app"), Digest.parse(digest))
    assert "connection closed before the response was complete after 2 attempts" in str(caught.value)


async def test_truncated_blob_without_content_length_is_a_digest_mismatch(registry: FaultRegistry) -> None:
    digest = registry.add_blob("app", b"0123456789")
    registry.blobs["app"][digest] = b"01234"
    registry.inject(Fault("no_length"))
    async with client() as c:
        with pytest.raises(DigestMismatchError):
            await c.get_blob(ref(registry, "app"), Digest.parse(digest))


@pytest.mark.parametrize("no_length", [False, True], ids=["with Content-Length", "without Content-Length"])
async def test_blob_over_max_bytes_is_refused(registry: FaultRegistry, no_length: bool) -> None:
    digest = registry.add_blob("app", b"x" * 5000)
    if no_length:
        registry.inject(Fault("no_length"))
    async with client() as c:
        with pytest.raises(BlobTooLargeError, match="above the 100-byte limit|larger than the 100-byte limit"):
            await c.get_blob(ref(registry, "app"), Digest.parse(digest), max_bytes=100)


async def test_blob_redirect_chain_is_followed(registry: FaultRegistry) -> None:
    digest = registry.add_blob("app", b"stored elsewhere")
    registry.inject(Fault("redirect", hops=3))
    async with client() as c:
        assert await c.get_blob(ref(registry, "app"), Digest.parse(digest)) == b"stored elsewhere"
        assert c.request_count == 4


async def test_too_many_redirects_fail(registry: FaultRegistry) -> None:
    digest = registry.add_blob("app", b"stored elsewhere")
    registry.inject(Fault("redirect", hops=4))
    async with client() as c:
        with pytest.raises(LimitExceededError, match="more than 3 redirects"):
            await c.get_blob(ref(registry, "app"), Digest.parse(digest))
        assert c.request_count == 4


async def test_redirect_to_another_host_does_not_carry_credentials(registry: FaultRegistry) -> None:
    registry.require_basic("alice", "secret")
    digest = registry.add_blob("app", b"stored elsewhere")
    registry.inject(Fault("redirect", hops=1, value="other-host"))
    async with client(creds={registry.host: Credentials("alice", "secret")}) as c:
        assert await c.get_blob(ref(registry, "app"), Digest.parse(digest)) == b"stored elsewhere"
    storage = [r for r in registry.requests if r.path.startswith("/_redirect/")]
    assert len(storage) == 1
    assert storage[0].headers["host"].startswith("localhost:")
    assert "authorization" not in storage[0].headers


# --- auth -------------------------------------------------------------------------------------------------


async def test_basic_auth_retries_once_then_sends_credentials_up_front(registry: FaultRegistry) -> None:
    registry.require_basic("alice", "secret")
    registry.add_image("app", "1")
    async with client(creds={registry.host: Credentials("alice", "secret")}) as c:
        await c.get_manifest(ref(registry, "app:1"))
        assert c.request_count == 2
        await c.resolve(ref(registry, "app:1"))
        assert c.request_count == 3


async def test_basic_auth_without_credentials_says_none_were_found(registry: FaultRegistry) -> None:
    registry.require_basic("alice", "secret")
    async with client() as c:
        with pytest.raises(RegistryUnauthorizedError) as caught:
            await c.get_manifest(ref(registry, "app:1"))
        assert c.request_count == 1
    assert "requires basic authentication" in str(caught.value)
    assert f"no credentials were found for {registry.host}" in str(caught.value)
    assert caught.value.hint == f"log in with `docker login {registry.host}`"


async def test_wrong_basic_credentials_fail_after_one_retry(registry: FaultRegistry) -> None:
    registry.require_basic("alice", "secret")
    async with client(creds={registry.host: Credentials("alice", "wrong")}) as c:
        with pytest.raises(RegistryUnauthorizedError) as caught:
            await c.get_manifest(ref(registry, "app:1"))
        assert c.request_count == 2
    assert str(caught.value).startswith(f"registry {registry.host} refused manifest {registry.host}/app:1 (HTTP 401")
    assert "after authenticating" in str(caught.value) and "credentials were found" in str(caught.value)


async def test_bearer_token_is_fetched_once_and_cached(registry: FaultRegistry) -> None:
    registry.require_bearer()
    digest = registry.add_image("app", "1")
    async with client() as c:
        await c.get_manifest(ref(registry, "app:1"))
        await c.resolve(ref(registry, "app:1"))
        await c.get_blob(
            ref(registry, "app"),
            Digest.parse(json.loads(registry.manifests["app"][digest][0])["layers"][0]["digest"]),
        )
        assert c.request_count == 5  # 401, token, GET, HEAD, blob GET
    assert registry.count("GET", "/token") == 1
    token_query = [r.query for r in registry.requests if r.path == "/token"][0]
    assert "scope=repository%3Aapp%3Apull" in token_query and "service=fault-registry" in token_query


async def test_concurrent_requests_share_one_token_fetch(registry: FaultRegistry) -> None:
    registry.require_bearer()
    registry.add_image("app", "1")
    registry.add_image("other", "1")
    async with client() as c:
        await c.resolve(ref(registry, "app:1"))  # learns the challenge: 401, token, HEAD
        results = await asyncio.gather(*(c.get_manifest(ref(registry, "other:1")) for _ in range(5)))
        assert c.request_count == 3 + 1 + 5  # one token for the new scope, then five GETs, no 401
    assert len({m.digest for m in results}) == 1
    assert registry.count("GET", "/token") == 2


async def test_access_token_field_and_expiry(registry: FaultRegistry) -> None:
    registry.require_bearer()
    registry.token_field = "access_token"
    registry.token_expires = 1
    registry.add_image("app", "1")
    async with client() as c:
        await c.resolve(ref(registry, "app:1"))
        await c.resolve(ref(registry, "app:1"))
        assert registry.count("GET", "/token") == 1
        await asyncio.sleep(1.1)
        await c.resolve(ref(registry, "app:1"))
    assert registry.count("GET", "/token") == 2


async def test_push_asks_for_a_push_scope(registry: FaultRegistry) -> None:
    registry.require_bearer()
    async with client() as c:
        desc = await c.push_blob(ref(registry, "app"), b"new blob")
    assert str(desc.digest) == sha256(b"new blob")
    queries = [r.query for r in registry.requests if r.path == "/token"]
    assert queries == ["scope=repository%3Aapp%3Apull%2Cpush&service=fault-registry"]


async def test_token_endpoint_with_credentials(registry: FaultRegistry) -> None:
    registry.require_bearer("bob", "pw")
    registry.add_image("app", "1")
    async with client(creds={registry.host: Credentials("bob", "pw")}) as c:
        await c.resolve(ref(registry, "app:1"))
    token_request = [r for r in registry.requests if r.path == "/token"][0]
    assert token_request.headers["authorization"].startswith("Basic ")


async def test_token_endpoint_refusal_names_the_registry(registry: FaultRegistry) -> None:
    registry.require_bearer("bob", "pw")
    async with client() as c:
        with pytest.raises(RegistryUnauthorizedError) as caught:
            await c.resolve(ref(registry, "app:1"))
    message = str(caught.value)
    assert f"registry {registry.host} refused manifest {registry.host}/app:1 (HTTP 401 at token server" in message
    assert "no credentials were found" in message


async def test_identity_token_is_exchanged_with_a_post(registry: FaultRegistry) -> None:
    registry.require_bearer(refresh_token="refresh-123")
    registry.add_image("app", "1")
    async with client(creds={registry.host: Credentials(identity_token="refresh-123")}) as c:
        await c.resolve(ref(registry, "app:1"))
    assert registry.count("POST", "/token") == 1


async def test_401_without_challenge_is_unauthorized(registry: FaultRegistry) -> None:
    registry.inject(Fault("status", status=401))
    async with client() as c:
        with pytest.raises(RegistryUnauthorizedError, match="without a usable WWW-Authenticate challenge"):
            await c.resolve(ref(registry, "app:1"))


@pytest.mark.parametrize(
    ("status", "error", "fragment"),
    [
        pytest.param(
            403,
            RegistryUnauthorizedError,
            "(HTTP 403, INJECTED: injected HTTP 403); no credentials",
            id="403 is unauthorized",
        ),
        pytest.param(400, RegistryProtocolError, "unexpected HTTP 400", id="400 is a protocol error"),
    ],
)
async def test_other_statuses(registry: FaultRegistry, status: int, error: type[Exception], fragment: str) -> None:
    registry.inject(Fault("status", status=status))
    async with client() as c:
        with pytest.raises(error) as caught:
            await c.get_manifest(ref(registry, "app:1"))
    assert fragment in str(caught.value)


# --- pushes, tags, referrers ---------------------------------------------------------------------------


async def test_push_blob_uploads_once_and_skips_existing(registry: FaultRegistry) -> None:
    async with client() as c:
        first = await c.push_blob(ref(registry, "app"), b"payload", media_type="text/plain")
        assert [r.method for r in registry.requests] == ["HEAD", "POST", "PUT"]
        second = await c.push_blob(ref(registry, "app"), b"payload")
    assert first.media_type == "text/plain" and first.size == 7
    assert first.digest == second.digest
    assert [r.method for r in registry.requests] == ["HEAD", "POST", "PUT", "HEAD"]
    assert registry.blobs["app"][str(first.digest)] == b"payload"


async def test_upload_without_location_is_a_protocol_error(registry: FaultRegistry) -> None:
    registry.inject(Fault("no_location"))
    async with client() as c:
        with pytest.raises(RegistryProtocolError, match="without a Location header"):
            await c.push_blob(ref(registry, "app"), b"payload")


async def test_put_manifest_then_read_it_back(registry: FaultRegistry) -> None:
    raw = registry.image_manifest("app")
    async with client() as c:
        digest = await c.put_manifest(ref(registry, "app:v2"), raw, OCI_MANIFEST)
        fetched = await c.get_manifest(ref(registry, "app:v2"))
    assert digest == Digest.of(raw) == fetched.digest
    assert fetched.raw == raw


async def test_put_manifest_by_wrong_digest_is_refused_locally(registry: FaultRegistry) -> None:
    async with client() as c:
        with pytest.raises(DigestMismatchError):
            await c.put_manifest(ref(registry, f"app@{sha256(b'other')}"), b"{}", OCI_MANIFEST)
    assert registry.requests == []


async def test_referrers_index_and_unsupported_api(registry: FaultRegistry) -> None:
    subject = registry.add_image("app", "1")
    size = len(registry.manifests["app"][subject][0])
    child = registry.image_manifest(
        "app",
        b"sig",
        artifactType="application/vnd.dev.sigstore.bundle.v0.3+json",
        subject={"mediaType": OCI_MANIFEST, "digest": subject, "size": size},
    )
    child_digest = registry.add_manifest("app", child)
    async with client() as c:
        index = await c.get_referrers(ref(registry, "app"), Digest.parse(subject))
        assert index is not None
        assert [m["digest"] for m in index.json()["manifests"]] == [child_digest]
        filtered = await c.get_referrers(ref(registry, "app"), Digest.parse(subject), artifact_type="other/type")
        assert filtered is not None and filtered.json()["manifests"] == []
        registry.referrers_api = False
        assert await c.get_referrers(ref(registry, "app"), Digest.parse(subject)) is None


def _referrers_of(registry: FaultRegistry, subject: str, count: int) -> list[str]:
    size = len(registry.manifests["app"][subject][0])
    return [
        registry.add_manifest("app", registry.image_manifest(
            "app", f"sig-{n}".encode(), artifactType="application/vnd.dev.sigstore.bundle.v0.3+json",
            subject={"mediaType": OCI_MANIFEST, "digest": subject, "size": size},
        ))
        for n in range(count)
    ]  # fmt: skip


async def test_a_paged_referrers_answer_is_read_to_the_end(registry: FaultRegistry) -> None:
    """A registry may page the referrers index (Link rel=next): a signature on the last page counts as much as
    one on the first (reading one page would deny a signed image)."""
    subject = registry.add_image("app", "1")
    children = _referrers_of(registry, subject, 5)
    registry.referrers_page_size = 2
    async with client() as c:
        index = await c.get_referrers(ref(registry, "app"), Digest.parse(subject))
    assert index is not None and index.media_type == OCI_INDEX
    assert sorted(m["digest"] for m in index.json()["manifests"]) == sorted(children)
    assert registry.count("GET", "/referrers/") == 3


async def test_paged_referrers_are_bounded_by_max_referrers(registry: FaultRegistry) -> None:
    subject = registry.add_image("app", "1")
    _referrers_of(registry, subject, 5)
    registry.referrers_page_size = 2
    async with client(Limits(max_referrers=3)) as c:
        with pytest.raises(LimitExceededError, match="4 referrers, more than the limit max_referrers of 3"):
            await c.get_referrers(ref(registry, "app"), Digest.parse(subject))
    assert registry.count("GET", "/referrers/") == 2  # stopped at the page that broke the limit


@pytest.mark.parametrize(
    ("link", "message"),
    [('<http://127.0.0.2:1/v2/app/referrers/x?start=2>; rel="next"', "Link header points to another host"),
     ('<http://[::1/v2>; rel="next"', "invalid Link header")],
)  # fmt: skip
async def test_a_next_page_elsewhere_is_refused(link: str, message: str) -> None:
    """A Link to another host (or no URL at all) is a protocol error, never followed: an SSRF route otherwise."""
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"mediaType": OCI_MANIFEST,
             "digest": sha256(b"x"), "size": 1}]}  # fmt: skip

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=index, headers={"Content-Type": OCI_INDEX, "Link": link})

    transport = httpx.MockTransport(answer)
    async with RegistryClient(RegistryConfig(limits=FAST), credentials=StaticCredentials({}), transport=transport) as c:
        with pytest.raises(RegistryProtocolError, match=message):
            await c.get_referrers(Reference.parse("127.0.0.1:5000/app"), Digest.of(b"subject"))


# --- scheme policy (no network: MockTransport) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("insecure", "host", "scheme"),
    [
        pytest.param(frozenset(), "registry.example", "https", id="https by default"),
        pytest.param(frozenset({"registry.example"}), "registry.example", "http", id="insecure host uses http"),
        pytest.param(
            frozenset({"registry.example"}),
            "registry.example:5000",
            "http",
            id="insecure host matches with a port",
        ),
        pytest.param(frozenset(), "localhost:5000", "http", id="loopback uses http"),
    ],
)
async def test_scheme_policy(insecure: frozenset[str], host: str, scheme: str) -> None:
    seen: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(404)

    config = RegistryConfig(insecure=insecure, limits=FAST)
    async with RegistryClient(config, credentials=StaticCredentials({}), transport=httpx.MockTransport(answer)) as c:
        with pytest.raises(ManifestUnknownError):
            await c.get_manifest(Reference.parse(f"{host}/app:1"))
    assert [url.scheme for url in seen] == [scheme]
    assert seen[0].path == "/v2/app/manifests/1"


async def test_plain_http_redirect_from_a_tls_registry_is_refused() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"Location": "http://storage.example/blob"})

    async with RegistryClient(
        RegistryConfig(limits=FAST), credentials=StaticCredentials({}), transport=httpx.MockTransport(answer)
    ) as c:
        with pytest.raises(RegistryProtocolError, match="redirect URL 'http://storage.example/blob' that is not https"):
            await c.get_blob(Reference.parse("registry.example/app"), Digest.of(b"x"))


async def test_docker_hub_requests_go_to_registry_1() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(404)

    async with RegistryClient(
        RegistryConfig(limits=FAST), credentials=StaticCredentials({}), transport=httpx.MockTransport(answer)
    ) as c:
        with pytest.raises(ManifestUnknownError, match="manifest docker.io/library/nginx:1.27 not found"):
            await c.resolve(Reference.parse("nginx:1.27"))
    assert seen == ["https://registry-1.docker.io/v2/library/nginx/manifests/1.27"]
