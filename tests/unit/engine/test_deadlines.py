"""Each request keeps its own deadline when it shares in-flight work, and ``cache.maxEntries: 0`` means "no cache".

The engine cases run on the in-process fault registry (real HTTP, real signatures): a hung ``.sig`` manifest
makes the first request's short deadline pass while a later request, joining the same verification with a long
deadline, must still get its answer.
"""

from __future__ import annotations

import asyncio
import base64

import pytest
from fastapi.testclient import TestClient

from tests.support.faultregistry import Fault, FaultRegistry
from tools.reviews import review, shape, with_images
from verifier.attachments import sign_image
from verifier.cosign import (
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE,
    attachment_tag,
    build_signature_manifest,
    build_simple_signing_payload,
    generate_signing_key,
    public_key_pem,
)
from verifier.crypto import sign_bytes
from verifier.engine import Engine, Outcome
from verifier.engine._cache import SingleFlight
from verifier.errors import RegistryUnavailableError
from verifier.oci import OCI_MANIFEST, Descriptor, Digest, Reference
from verifier.policy import compile_documents
from verifier.registry import RegistryClient, remaining, request_deadline
from webhook.app import create_app
from webhook.settings import WebhookSettings

KEY = generate_signing_key()


async def test_a_later_caller_is_not_held_to_the_first_callers_deadline():
    flight: SingleFlight[str, float | None] = SingleFlight()
    seen: list[float | None] = []

    async def work() -> float | None:
        await asyncio.sleep(0.3)
        left = remaining()
        seen.append(left)
        if left is not None and left <= 0:
            raise RegistryUnavailableError("deadline passed inside the shared work")
        return left

    async def caller(deadline: float, delay: float) -> float | None:
        await asyncio.sleep(delay)
        with request_deadline(deadline):
            return await flight.do("k", work)

    first, later = await asyncio.gather(caller(0.1, 0.0), caller(5.0, 0.05), return_exceptions=True)
    assert isinstance(first, RegistryUnavailableError) and "request deadline reached while waiting" in str(first)
    assert isinstance(later, float) and later > 4.0, later
    assert len(seen) == 1, "one shared computation"


async def test_shared_work_without_a_deadline_stays_without_one():
    flight: SingleFlight[str, float | None] = SingleFlight()

    async def work() -> float | None:
        await asyncio.sleep(0.05)
        return remaining()

    async def with_deadline() -> float | None:
        with request_deadline(0.5):
            return await flight.do("k", work)

    assert await asyncio.gather(flight.do("k", work), with_deadline()) == [None, None]


def _policies(*settings: dict) -> object:
    docs = [
        {
            "apiVersion": "sealgate.dev/v1alpha1",
            "kind": "ImagePolicy",
            "metadata": {"name": "prod"},
            "spec": {
                "images": ["127.0.0.1:*/**"],
                "authorities": [{"name": "ci", "key": {"data": public_key_pem(KEY.public_key()).decode()}}],
            },
        },
        *({"apiVersion": "sealgate.dev/v1alpha1", "kind": "Settings", "spec": s} for s in settings),
    ]
    return compile_documents([("p.yaml", i + 1, d) for i, d in enumerate(docs)])


async def _signed(reg: FaultRegistry, tag: str) -> str:
    digest = reg.add_image("team/app", tag, layer=tag.encode())
    async with RegistryClient() as client:
        await sign_image(client, Reference.parse(f"{reg.host}/team/app:{tag}"), KEY)
    return f"{reg.host}/team/app@{digest}"


async def test_a_request_joining_a_slow_verification_gets_its_own_deadline():
    with FaultRegistry() as reg:
        image = await _signed(reg, "slow")
        reg.inject(Fault("hang", path=".sig", method="GET", seconds=0.8))
        async with RegistryClient() as client:
            engine = Engine(_policies(), client)

            async def decide(deadline: float, delay: float):
                await asyncio.sleep(delay)
                with request_deadline(deadline):
                    return await engine.decide(image)

            first, later = await asyncio.gather(decide(0.3, 0.0), decide(10.0, 0.1))
    assert first.code == "REGISTRY_UNAVAILABLE", first
    assert later.outcome is Outcome.ALLOW, later


async def test_max_entries_zero_keeps_nothing_and_still_decides():
    with FaultRegistry() as reg:
        image = await _signed(reg, "nocache")
        async with RegistryClient() as client:
            engine = Engine(_policies({"cache": {"maxEntries": 0}}), client)
            assert (await engine.decide(image)).outcome is Outcome.ALLOW
            assert (await engine.decide(image)).outcome is Outcome.ALLOW
    assert engine.stats.verifications == 2 and engine.stats.cache_hits == 0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_webhook_starts_with_max_entries_zero():
    with FaultRegistry() as reg:
        image = asyncio.run(_signed(reg, "webhook"))
        app = create_app(WebhookSettings(policy_paths=("unused",)), policies=_policies({"cache": {"maxEntries": 0}}))
        with TestClient(app) as http:
            assert http.get("/readyz").status_code == 200
            answer = http.post("/validate", json=review(with_images(shape("pod"), [image]))).json()["response"]
    assert answer["allowed"] is True, answer


# --- an image cannot buy time with attachments ----------------------------------------------------------------

BOGUS = 240  # 30 rounds of 8 fetches at 40 ms: longer than the 0.9 s the registry gets of a 1 s deadline
LATENCY = 0.04


def _sig_tag_with_bogus_layers(reg: FaultRegistry, repo: str, digest: str, good: bytes | None) -> None:
    """The image's ``.sig`` manifest: its good signature first (when given), then BOGUS distinct payloads
    signed by nobody, as anyone with push rights can append."""
    ref = Reference.parse(f"{reg.host}/{repo}@{digest}")
    layers = []
    payloads = [good] if good is not None else []
    payloads += [build_simple_signing_payload(ref.name, digest, {"n": str(i)}) for i in range(BOGUS)]
    for i, payload in enumerate(payloads):
        blob = reg.add_blob(repo, payload)
        signature = sign_bytes(KEY, payload) if (good is not None and i == 0) else b"\x30\x06\x02\x01\x01\x02\x01\x01"
        annotations = {SIGNATURE_ANNOTATION: base64.b64encode(signature).decode()}
        layers.append(Descriptor(SIMPLE_SIGNING_MEDIA_TYPE, Digest.parse(blob), len(payload), annotations))
    manifest, config = build_signature_manifest(layers)
    reg.add_blob(repo, config)
    reg.add_manifest(repo, manifest, OCI_MANIFEST, tag=attachment_tag(Digest.parse(digest)))


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed first, then the bogus layers"])
async def test_many_slow_attachments_end_in_a_verdict_not_an_outage_that_on_error_allow_admits(signed):
    with FaultRegistry() as reg:
        digest = reg.add_image("team/app", "v1")
        good = build_simple_signing_payload(f"{reg.host}/team/app", digest) if signed else None
        _sig_tag_with_bogus_layers(reg, "team/app", digest, good)
        reg.inject(Fault("hang", path="/blobs/", method="GET", times=-1, seconds=LATENCY))
        async with RegistryClient() as client:
            engine = Engine(_policies({"onError": "allow"}), client)
            decision = await engine.decide(f"{reg.host}/team/app@{digest}", deadline=1.0)
    if signed:
        assert decision.outcome is Outcome.ALLOW, decision.reason
    else:  # it was REGISTRY_UNAVAILABLE ("no answer within the request deadline"), which onError: allow admits
        assert decision.outcome is Outcome.DENY and decision.code == "LIMIT_EXCEEDED", decision
        assert "not fetched: the entries listed before it took half the time" in decision.reason
