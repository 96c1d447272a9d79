"""Hostile registry answers: whatever a registry sends, the engine decides (never an unhandled exception),
never allows (nothing it sends can carry a signature of the policy's key), and never follows it to loopback.
Poison candidates: random extra `.sig` layers and referrers beside a valid signature never cost the image its
admission and never become an internal error.

The registry is ``registry.test``, answered in memory by an ``httpx.MockTransport`` that replays answers
hypothesis draws (status, headers, body); no socket is opened. The SSRF guard sees ``registry.test`` as a
private-network host, so a redirect or token realm naming loopback must be refused (never requested).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz._support import examples, resolver
from tests.fuzz.conftest import COUNTS, KEY
from verifier.cosign import build_simple_signing_payload, public_key_pem, sign_bytes
from verifier.engine import Engine, Outcome
from verifier.limits import Limits
from verifier.policy import compile_documents
from verifier.registry import RegistryClient, RegistryConfig, StaticCredentials

ANSWERS = examples(2000)
POISONS = examples(500)
IMAGE_DIGEST = "sha256:" + hashlib.sha256(b"image").hexdigest()
LIMITS = Limits(
    retries=1,
    backoff_base=0.0,
    max_retry_after=0.0,
    max_manifest_bytes=64 * 1024,
    max_payload_bytes=16 * 1024,
    max_attestation_bytes=16 * 1024,
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


# --- poison candidates beside a valid signature ------------------------------------------------------------

SIMPLE = "application/vnd.dev.cosign.simplesigning.v1+json"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
DSSE = "application/vnd.dev.cosign.dsse.v1+json"
SIG_ANNOTATION = "dev.cosignproject.cosign/signature"
CANDIDATE_MEDIA = [SIMPLE, BUNDLE, DSSE, "application/vnd.in-toto+json", "application/octet-stream"]
HOSTILE_BLOBS = [
    b"[" * 6000 + b"]" * 6000,  # past the JSON parser's recursion limit, below max_payload_bytes
    b'{"a":' * 2500 + b"1" + b"}" * 2500,
    b'{"mediaType":' + b"9" * 5000 + b"}",
    b'{"mediaType":"\xff\xfe"}',
    b'{"critical":{"image":{"docker-manifest-digest":' + b"1" * 4400 + b"}}}",
]


@st.composite
def candidate_blob(draw: st.DrawFn) -> bytes:
    """Bytes an attacker stores as a signature payload or bundle: garbage, hostile JSON, or a near-bundle."""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.binary(max_size=256))
    if choice == 1:
        return draw(st.sampled_from(HOSTILE_BLOBS))
    if choice == 2:
        return json.dumps(draw(JSONISH)).encode()
    near: dict[str, Any] = {
        "mediaType": draw(st.sampled_from([BUNDLE, "application/vnd.dev.sigstore.bundle+json;version=0.1", 3])),
        "verificationMaterial": draw(
            st.sampled_from(
                [
                    {"publicKey": {"hint": "x"}},
                    {"certificate": {"rawBytes": "MIIB"}},
                    {"publicKey": {}, "tlogEntries": [{"logIndex": "1" * 30, "integratedTime": 10**30}]},
                    {"x509CertificateChain": {"certificates": [{"rawBytes": "!!"}]}},
                    [],
                ]
            )
        ),
    }
    content = draw(st.sampled_from(["dsseEnvelope", "messageSignature", "both"]))
    envelope = {"payloadType": "application/vnd.in-toto+json", "payload": draw(st.sampled_from(["e30=", "%%", 7]))}
    envelope["signatures"] = [{"sig": draw(st.sampled_from(["MEUCIQ==", "", "-_-_", None]))}]
    if content in ("dsseEnvelope", "both"):
        near["dsseEnvelope"] = envelope
    if content in ("messageSignature", "both"):
        near["messageSignature"] = {"signature": "MEUCIQ==", "messageDigest": {"algorithm": "SHA2_256", "digest": "AA"}}
    return json.dumps(near).encode()


CANDIDATE = st.fixed_dictionaries(
    {
        "media": st.sampled_from(CANDIDATE_MEDIA),
        "blob": candidate_blob(),
        "stored": st.sampled_from([True, True, True, False]),  # False: the blob is missing (404)
        "size": st.sampled_from(["exact", "exact", "smaller", "larger"]),
        "annotations": st.dictionaries(
            st.sampled_from(
                [
                    SIG_ANNOTATION,
                    "dev.sigstore.cosign/certificate",
                    "dev.sigstore.cosign/chain",
                    "dev.sigstore.cosign/bundle",
                    "dev.sigstore.bundle.predicateType",
                ]
            ),
            st.sampled_from(
                [
                    "",
                    "!!",
                    "MEUCIQ==",
                    "-----BEGIN CERTIFICATE-----\nMIIB\n",
                    "[" * 3000,
                    "https://sigstore.dev/cosign/sign/v1",
                ]
            ),
            max_size=3,
        ),
        "where": st.sampled_from(["sig", "referrer", "referrer"]),
        "referrer": st.sampled_from(["bundle", "bundle", "layers", "jsonish", "other subject"]),
    }
)


def _good_signature(image_digest: str) -> tuple[bytes, dict[str, Any]]:
    payload = build_simple_signing_payload("registry.test/app", image_digest)
    signature = base64.b64encode(sign_bytes(KEY, payload)).decode()
    return payload, dict(_descriptor(SIMPLE, payload), annotations={SIG_ANNOTATION: signature})


class _Store:
    """An in-memory registry for one image: its `.sig` manifest, referrers (API or fallback tag) and blobs."""

    def __init__(self, referrers_api: bool) -> None:
        self.manifests: dict[str, tuple[str, bytes]] = {}
        self.blobs: dict[str, bytes] = {}
        self.referrers_api = referrers_api
        self.index: list[dict[str, Any]] = []

    def blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        return digest

    def manifest(
        self, doc: Any, media: str = "application/vnd.oci.image.manifest.v1+json", tag: str | None = None
    ) -> dict[str, Any]:
        raw = json.dumps(doc).encode()
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        self.manifests[digest] = (media, raw)
        if tag is not None:
            self.manifests[tag] = (media, raw)
        return {"mediaType": media, "digest": digest, "size": len(raw)}

    def respond(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path in ("/v2/", "/v2"):
            return httpx.Response(200)
        kind, _, name = path.removeprefix("/v2/app/").partition("/")
        if kind == "manifests" and name in self.manifests:
            media, raw = self.manifests[name]
            digest = "sha256:" + hashlib.sha256(raw).hexdigest()
            return httpx.Response(200, headers={"Content-Type": media, "Docker-Content-Digest": digest}, content=raw)
        if kind == "blobs" and name in self.blobs:
            return httpx.Response(200, content=self.blobs[name])
        if kind == "referrers" and self.referrers_api:
            index = {"schemaVersion": 2, "mediaType": MEDIA[1], "manifests": self.index}
            return httpx.Response(200, headers={"Content-Type": MEDIA[1]}, content=json.dumps(index).encode())
        return httpx.Response(404, json={"errors": [{"code": "NOT_FOUND"}]})


def _place(store: _Store, candidate: dict[str, Any], sig_layers: list[dict[str, Any]]) -> None:
    blob: bytes = candidate["blob"]
    digest = store.blob(blob) if candidate["stored"] else "sha256:" + hashlib.sha256(blob).hexdigest()
    size = {"exact": len(blob), "smaller": max(0, len(blob) - 1), "larger": len(blob) + 7}[candidate["size"]]
    layer = {"mediaType": candidate["media"], "digest": digest, "size": size, "annotations": candidate["annotations"]}
    if candidate["where"] == "sig":
        sig_layers.append(layer)
        return
    subject = {"mediaType": MEDIA[0], "digest": IMAGE_DIGEST, "size": 5}
    if candidate["referrer"] == "other subject":
        subject = dict(subject, digest="sha256:" + "1" * 64)
    doc: Any = {
        "schemaVersion": 2,
        "mediaType": MEDIA[0],
        "artifactType": BUNDLE if candidate["referrer"] == "bundle" else candidate["media"],
        "config": _descriptor("application/vnd.oci.empty.v1+json", b"{}"),
        "layers": [dict(layer, mediaType=BUNDLE) if candidate["referrer"] == "bundle" else layer],
        "subject": subject,
        "annotations": {k: v for k, v in candidate["annotations"].items() if k.startswith("dev.sigstore.bundle")},
    }
    if candidate["referrer"] == "layers":
        doc["layers"] = [layer, layer]
    if candidate["referrer"] == "jsonish":
        doc = {"schemaVersion": 2, "mediaType": MEDIA[0], "layers": candidate["annotations"], "subject": subject}
    store.index.append(store.manifest(doc))


def test_poison_candidates_beside_a_valid_signature_never_cost_the_admission() -> None:
    count = 0
    loop = asyncio.new_event_loop()
    payload, good = _good_signature(IMAGE_DIGEST)

    @settings(deadline=None, database=None, suppress_health_check=list(HealthCheck), max_examples=POISONS)
    @given(st.lists(CANDIDATE, min_size=1, max_size=6), st.integers(0, 6), st.booleans(), st.booleans())
    def prop(candidates: list[dict[str, Any]], position: int, referrers_api: bool, good_in_referrer: bool) -> None:
        nonlocal count
        count += 1
        store = _Store(referrers_api)
        store.blob(payload)
        sig_layers: list[dict[str, Any]] = []
        for candidate in candidates:
            _place(store, candidate, sig_layers)
        config = _descriptor("application/vnd.oci.image.config.v1+json", b"{}")
        store.blob(b"{}")
        if good_in_referrer:  # cosign --registry-referrers-mode=oci-1-1: the `.sig`-style manifest as a referrer
            doc = {"schemaVersion": 2, "mediaType": MEDIA[0], "config": config, "layers": [good]}
            doc["subject"] = {"mediaType": MEDIA[0], "digest": IMAGE_DIGEST, "size": 5}
            store.index.insert(min(position, len(store.index)), store.manifest(doc))
        else:
            sig_layers.insert(min(position, len(sig_layers)), good)
        tag = IMAGE_DIGEST.replace(":", "-")
        store.manifest(
            {"schemaVersion": 2, "mediaType": MEDIA[0], "config": config, "layers": sig_layers}, tag=f"{tag}.sig"
        )
        if not referrers_api:
            store.manifest({"schemaVersion": 2, "mediaType": MEDIA[1], "manifests": store.index}, MEDIA[1], tag=tag)

        async def decide() -> Any:
            config = RegistryConfig(insecure=frozenset({"registry.test"}), limits=LIMITS)
            async with RegistryClient(
                config,
                credentials=StaticCredentials({}),
                transport=httpx.MockTransport(store.respond),
                resolver=resolver({"registry.test": ["192.0.2.10"]}),
            ) as client:
                return await Engine(POLICIES, client).decide(f"registry.test/app@{IMAGE_DIGEST}")

        decision = loop.run_until_complete(decide())
        assert decision.outcome is Outcome.ALLOW, (decision.code, decision.reason)

    try:
        prop()
    finally:
        loop.close()
    COUNTS["poison candidates"] = count
    assert count >= POISONS
