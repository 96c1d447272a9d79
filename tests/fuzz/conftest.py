"""A webhook with one policy over an in-process loopback registry holding one signed and one unsigned image,
and a trap port no policy names; shared by the fuzz modules (module-scoped: built once per module)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.fuzz._support import Trap
from tests.support.faultregistry import FaultRegistry
from verifier.attachments import sign_image
from verifier.cosign import generate_signing_key, public_key_pem
from verifier.oci import Reference
from verifier.policy import compile_documents
from verifier.registry import RegistryClient, StaticCredentials
from webhook.app import create_app
from webhook.settings import WebhookSettings

KEY = generate_signing_key()

#: examples each fuzz test ran, by test name (printed at the end; the 10,000 total is asserted in test_count)
COUNTS: dict[str, int] = {}


@dataclass(frozen=True)
class Gate:
    client: TestClient
    registry: FaultRegistry
    trap: Trap
    #: images the policy admits (signed by the policy's key)
    good: frozenset[str]
    #: images on the policy's registry that must be denied (unsigned, unknown)
    bad: tuple[str, ...]
    #: images on the trap port: must be denied without any connection
    trapped: tuple[str, ...]
    #: the PEM public key the good images are signed with (the module's KEY: import the gate, not the key, since
    #: pytest and ``tests.fuzz.conftest`` are two imports of this file)
    public_pem: str


def policies(host: str):  # type: ignore[no-untyped-def]
    docs = [
        {
            "apiVersion": "sealgate.dev/v1alpha1",
            "kind": "ImagePolicy",
            "metadata": {"name": "prod"},
            "spec": {
                "images": [f"{host}/**"],
                "authorities": [{"name": "ci", "key": {"data": public_key_pem(KEY.public_key()).decode()}}],
            },
        },
        {"apiVersion": "sealgate.dev/v1alpha1", "kind": "Settings", "spec": {"deadlineSeconds": 2}},
    ]
    return compile_documents([("fuzz.yaml", i + 1, d) for i, d in enumerate(docs)])


async def _sign(registry: FaultRegistry, image: str) -> None:
    async with RegistryClient(credentials=StaticCredentials({})) as client:
        await sign_image(client, Reference.parse(image), KEY)


@pytest.fixture(scope="module")
def gate() -> Iterator[Gate]:
    with FaultRegistry() as registry, Trap() as trap:
        host = registry.host
        good_digest = registry.add_image("team/app", "v1", layer=b"good")
        bad_digest = registry.add_image("team/unsigned", "v1", layer=b"bad")
        asyncio.run(_sign(registry, f"{host}/team/app@{good_digest}"))
        good = frozenset({f"{host}/team/app@{good_digest}", f"{host}/team/app:v1"})
        bad = (
            f"{host}/team/unsigned@{bad_digest}",
            f"{host}/team/unsigned:v1",
            f"{host}/team/app@sha256:{'0' * 64}",
            f"{host}/team/other@{good_digest}",  # the good digest, but not signed in this repository
            f"{host}/team/app:missing",
            f"{host}/team/app@{bad_digest}",
        )
        trapped = (
            f"{trap.host}/team/app@{good_digest}",
            f"localhost:{trap.port}/team/app:v1",
            f"{trap.host}/x:latest",
        )
        settings = WebhookSettings(policy_paths=("unused",))
        with TestClient(create_app(settings, policies=policies(host))) as client:
            yield Gate(client, registry, trap, good, bad, trapped, public_key_pem(KEY.public_key()).decode())
        assert trap.connections == 0, "the webhook contacted a registry no policy names"
