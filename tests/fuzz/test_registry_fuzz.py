"""Hostile registry answers: whatever a registry sends, the engine decides (never an unhandled exception),
never allows (nothing it sends can carry a signature of the policy's key), and never follows it to loopback.

The registry is ``registry.test``, answered in memory by an ``httpx.MockTransport`` that replays answers
hypothesis draws (status, headers, body); no socket is opened. The SSRF guard sees ``registry.test`` as a
private-network host, so a redirect or token realm naming loopback must be refused (never requested).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz._support import examples, resolver
from tests.fuzz.conftest import COUNTS, KEY
from verifier.cosign import public_key_pem
from verifier.engine import Engine, Outcome
from verifier.limits import Limits
from verifier.oci import RegistryClient, RegistryConfig, StaticCredentials
from verifier.policy import compile_documents

ANSWERS = examples(2500)
IMAGE_DIGEST = "sha256:" + hashlib.sha256(b"image").hexdigest()
LIMITS = Limits(
    retries=1,
    backoff_base=0.0,
    max_retry_after=0.0,
    max_manifest_bytes=64 * 1024,
    max_payload_bytes=16 * 1024,
    breaker_failures=10**6,
    connect_timeout=1.0,
    read_timeout=1.0,
)
POLICIES = compile_documents(
    [
        (
            "fuzz.yaml",
            1,
            {
                "apiVersion": "sealgate.dev/v1alpha1",
                "kind": "ImagePolicy",
                "metadata": {"name": "prod"},
                "spec": {
                    "images": ["registry.test/**"],
                    "authorities": [{"name": "ci", "key": {"data": public_key_pem(KEY.public_key()).decode()}}],
                },
            },
        )
    ]
)

MEDIA = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/json",
    "text/html",
    "",
]
LOCATIONS = [
    "http://127.0.0.1:1/x",
    "http://localhost/x",
    "http://[::1]/x",
    "http://0.0.0.0/x",  # noqa: S104
    "//localhost/x",
    "/v2/app/blobs/sha256:" + "0" * 64,
    "ftp://registry.test/x",
    "http://registry.test/v2/app/manifests/x",
    "",
]
REALMS = ['Bearer realm="http://127.0.0.1:1/token"', 'Bearer realm="http://registry.test/token"', "Basic", "Bearer"]


def _descriptor(media: str, body: bytes) -> dict[str, Any]:
    return {"mediaType": media, "digest": "sha256:" + hashlib.sha256(body).hexdigest(), "size": len(body)}


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def body(draw: st.DrawFn) -> bytes:
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return draw(st.binary(max_size=64))
    if choice == 1:
        return json.dumps(draw(JSONISH)).encode()
    layer = draw(st.binary(max_size=32))
    manifest: dict[str, Any] = {
        "schemaVersion": draw(st.sampled_from([2, 2, 1, "2"])),
        "mediaType": draw(st.sampled_from(MEDIA)),
        "config": _descriptor("application/vnd.oci.image.config.v1+json", b"{}"),
        "layers": [
            dict(
                _descriptor(draw(st.sampled_from(["application/vnd.dev.cosign.simplesigning.v1+json", *MEDIA])), layer),
                annotations={"dev.cosignproject.cosign/signature": draw(st.sampled_from(["", "MEUCIQ==", "!!"]))},
            )
        ]
        * draw(st.integers(0, 3)),
    }
    if choice == 3:
        manifest["manifests"] = [_descriptor(draw(st.sampled_from(MEDIA)), layer)] * draw(st.integers(0, 3))
    if choice == 4:
        manifest["subject"] = {"mediaType": MEDIA[0], "digest": IMAGE_DIGEST, "size": 5}
    if choice == 5:
        return layer
    return json.dumps(manifest).encode()


ANSWER = st.fixed_dictionaries(
    {
        "status": st.sampled_from([200, 200, 200, 201, 206, 301, 302, 307, 401, 403, 404, 429, 500, 503]),
        "type": st.sampled_from(MEDIA),
        "digest": st.sampled_from([None, "match", IMAGE_DIGEST, "sha256:zz", "md5:00"]),
        "location": st.sampled_from(LOCATIONS),
        "retry_after": st.sampled_from([None, "0", "1", "-1", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT"]),
        "auth": st.sampled_from(REALMS),
        "length": st.sampled_from([None, "0", "999999999", "-1", "abc"]),
        "body": body(),
    }
)


def _respond(answer: dict[str, Any]) -> httpx.Response:
    raw: bytes = answer["body"]
    headers = {"Content-Type": answer["type"]}
    if answer["digest"] == "match":
        headers["Docker-Content-Digest"] = "sha256:" + hashlib.sha256(raw).hexdigest()
    elif answer["digest"] is not None:
        headers["Docker-Content-Digest"] = answer["digest"]
    if answer["status"] in (301, 302, 307):
        headers["Location"] = answer["location"]
    if answer["retry_after"] is not None:
        headers["Retry-After"] = answer["retry_after"]
    if answer["status"] == 401:
        headers["WWW-Authenticate"] = answer["auth"]
    return httpx.Response(answer["status"], headers=headers, content=raw)


def test_hostile_registry_answers_never_crash_never_allow_never_reach_loopback() -> None:
    count = 0
    loop = asyncio.new_event_loop()

    @settings(deadline=None, database=None, suppress_health_check=list(HealthCheck), max_examples=ANSWERS)
    @given(st.lists(ANSWER, min_size=1, max_size=8), st.sampled_from(["app:1", f"app@{IMAGE_DIGEST}"]))
    def prop(answers: list[dict[str, Any]], image: str) -> None:
        nonlocal count
        count += 1
        hosts: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            hosts.append(request.url.host)
            return _respond(answers[(len(hosts) - 1) % len(answers)])

        async def decide() -> Outcome:
            config = RegistryConfig(insecure=frozenset({"registry.test"}), limits=LIMITS)
            async with RegistryClient(
                config,
                credentials=StaticCredentials({}),
                transport=httpx.MockTransport(handler),
                resolver=resolver({"registry.test": ["192.0.2.10"]}),
            ) as client:
                decision = await Engine(POLICIES, client).decide(f"registry.test/{image}")
            return decision.outcome

        outcome = loop.run_until_complete(decide())
        assert outcome is Outcome.DENY
        assert set(hosts) <= {"registry.test"}, f"followed a registry answer to {set(hosts)}"

    try:
        prop()
    finally:
        loop.close()
    COUNTS["registry answers"] = count
    assert count >= ANSWERS
