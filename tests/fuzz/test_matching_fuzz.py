"""Policy matching and counting under fuzz, over the real app or engine and the fuzz gate's loopback registry.

- the tag written beside a digest never changes a decision: tag globs and exemptions by tag never match
  ``repo:tag@digest`` (the runtime pulls the digest);
- ``threshold`` counts distinct signing keys, whatever duplicates the authorities hold and however often one key
  signed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz._support import examples
from tests.fuzz.conftest import COUNTS, Gate
from tools.reviews import review, shape, with_images
from verifier.attachments import sign_image
from verifier.cosign import generate_signing_key, public_key_pem
from verifier.engine import Engine, Outcome
from verifier.oci import Reference
from verifier.policy import compile_documents
from verifier.registry import RegistryClient
from webhook.app import create_app
from webhook.settings import WebhookSettings

FUZZ = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck), print_blob=True)


# --- repo:tag@digest: the tag is cosmetic --------------------------------------------------------------------

TAG_DIGEST = examples(400)
THRESHOLDS = examples(200)


@dataclass(frozen=True)
class TagGate:
    """The gate's registry under policies that name tags: an enforce policy for ``team/app`` (no tag), a
    warn-mode policy for ``team/unsigned:dev-*``, and exemptions for ``team/app:1.2`` and ``team/unsigned:1.2``."""

    client: TestClient
    host: str
    signed: str
    unsigned: str


@pytest.fixture(scope="module")
def tag_gate(gate: Gate) -> Iterator[TagGate]:
    host = gate.registry.host
    signed = next(i for i in gate.good if "@" in i).split("@")[1]
    unsigned = next(i for i in gate.bad if "/team/unsigned@" in i).split("@")[1]
    key = {"name": "ci", "key": {"data": gate.public_pem}}

    def policy(name: str, images: list[str], **spec: Any) -> dict[str, Any]:
        body = {"images": images, "authorities": [key], **spec}
        return {"apiVersion": "sealgate.dev/v1alpha1", "kind": "ImagePolicy", "metadata": {"name": name}, "spec": body}

    docs = [
        policy("app", [f"{host}/team/app"]),
        policy("dev", [f"{host}/team/unsigned:dev-*"], mode="warn"),
        {
            "apiVersion": "sealgate.dev/v1alpha1",
            "kind": "Settings",
            "spec": {
                "deadlineSeconds": 2,
                "exemptions": {"images": [f"{host}/team/app:1.2", f"{host}/team/unsigned:1.2"]},
            },
        },
    ]
    policies = compile_documents([("tags.yaml", i + 1, d) for i, d in enumerate(docs)])
    with TestClient(create_app(WebhookSettings(policy_paths=("unused",)), policies=policies)) as client:
        yield TagGate(client, host, signed, unsigned)


def _admit_one(client: TestClient, image: str) -> dict[str, Any]:
    obj = with_images(shape("pod"), [image])  # one container, no init containers
    obj["spec"].pop("ephemeralContainers", None)
    response = client.post("/validate", json=review(obj))
    assert response.status_code == 200, response.text
    return response.json()["response"]  # type: ignore[no-any-return]


TAGS = st.one_of(
    st.sampled_from(["1.2", "dev-x", "dev-1", "v1", "latest"]),
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True),
)


def test_the_tag_beside_a_digest_never_changes_the_decision(tag_gate: TagGate) -> None:
    """Oracle: a reference with a digest is matched as if it had no tag, so ``team/app:T@D`` is admitted exactly
    when D is the signed digest, ``team/unsigned:T@D`` never (no tag-less policy names it: noMatch denies),
    whatever T (an exempt tag, a warn-mode tag, anything); and both answer like ``repo@D``."""
    count = 0
    digests = [tag_gate.signed, tag_gate.unsigned, "sha256:" + "0" * 64]

    @settings(FUZZ, max_examples=TAG_DIGEST)
    @given(st.sampled_from(["team/app", "team/unsigned"]), TAGS, st.sampled_from(digests))
    def prop(repo: str, tag: str, digest: str) -> None:
        nonlocal count
        count += 1
        with_tag = _admit_one(tag_gate.client, f"{tag_gate.host}/{repo}:{tag}@{digest}")
        without = _admit_one(tag_gate.client, f"{tag_gate.host}/{repo}@{digest}")
        expected = repo == "team/app" and digest == tag_gate.signed
        assert with_tag["allowed"] is expected, (repo, tag, digest, with_tag)
        assert without["allowed"] is expected
        assert not with_tag.get("warnings"), "a warn-mode tag policy selected a digest reference"

    prop()
    for repo in ("team/app", "team/unsigned"):  # the legitimate case beside it: the exempt tag alone is exempt
        assert _admit_one(tag_gate.client, f"{tag_gate.host}/{repo}:1.2")["allowed"] is True
    COUNTS["tag@digest references"] = count
    assert count >= TAG_DIGEST


# --- threshold: distinct signers, whatever the authorities repeat --------------------------------------------

THRESHOLD_KEYS = [generate_signing_key() for _ in range(3)]


@pytest.fixture(scope="module")
def signed_by(gate: Gate) -> dict[int, str]:
    """``mask`` -> an image signed by the keys whose bits are set (key 0 signs twice where it signs)."""

    async def push() -> dict[int, str]:
        out: dict[int, str] = {}
        async with RegistryClient() as client:
            for mask in range(8):
                digest = gate.registry.add_image("team/threshold", f"m{mask}", layer=f"threshold {mask}".encode())
                image = f"{gate.registry.host}/team/threshold@{digest}"
                for i, key in enumerate(THRESHOLD_KEYS):
                    for _ in range(2 if i == 0 else 1):
                        if mask & (1 << i):
                            await sign_image(client, Reference.parse(image), key)
                out[mask] = image
        return out

    return asyncio.run(push())


def test_threshold_counts_distinct_keys_whatever_the_authorities_repeat(gate: Gate, signed_by: dict[int, str]) -> None:
    """Oracle: with one key per authority, the most authorities distinct signers can satisfy is the number of
    keys that both signed and appear among the authorities."""
    count = 0
    pems = [public_key_pem(k.public_key()).decode() for k in THRESHOLD_KEYS]

    @settings(FUZZ, max_examples=THRESHOLDS)
    @given(st.lists(st.integers(0, 2), min_size=1, max_size=4), st.integers(0, 7), st.data())
    def prop(keys: list[int], mask: int, data: st.DataObject) -> None:
        nonlocal count
        count += 1
        threshold = data.draw(st.integers(1, len(keys)))
        authorities = [{"name": f"a{i}", "key": {"data": pems[k]}} for i, k in enumerate(keys)]
        doc = {
            "apiVersion": "sealgate.dev/v1alpha1",
            "kind": "ImagePolicy",
            "metadata": {"name": "n-of-m"},
            "spec": {"images": [f"{gate.registry.host}/**"], "authorities": authorities, "threshold": threshold},
        }
        policies = compile_documents([("t.yaml", 1, doc)])

        async def decide() -> Outcome:
            async with RegistryClient() as client:
                return (await Engine(policies, client).decide(signed_by[mask])).outcome

        distinct = len({k for k in keys if mask & (1 << k)})
        expected = Outcome.ALLOW if distinct >= threshold else Outcome.DENY
        assert asyncio.run(decide()) is expected, (keys, mask, threshold)

    prop()
    COUNTS["thresholds"] = count
    assert count >= THRESHOLDS
