"""The engine applies the deadline and ``onError`` itself, so the webhook, the CLI and audit behave alike.

Unverifiable means sealgate could not find out (a registry unreachable, its breaker open, the deadline passed);
``onError: deny`` (the default) denies it, ``onError: allow`` admits it with a warning naming the image and why.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from tests.support.faultregistry import FaultRegistry
from verifier.cosign import generate_signing_key, public_key_pem, sign_image
from verifier.engine import Engine, Outcome, decision_lines
from verifier.limits import Limits
from verifier.oci import Reference, RegistryClient, RegistryConfig
from verifier.policy import compile_documents

KEY = generate_signing_key()
DIGEST = "sha256:" + "ab" * 32


def _policies(images: str, *, on_error: str | None = None, **spec):
    docs = [
        {
            "apiVersion": "sealgate.dev/v1alpha1",
            "kind": "ImagePolicy",
            "metadata": {"name": "prod"},
            "spec": {
                "images": [images],
                "authorities": [{"name": "ci", "key": {"data": public_key_pem(KEY.public_key()).decode()}}],
                **spec,
            },
        }
    ]
    if on_error is not None:
        docs.append({"apiVersion": "sealgate.dev/v1alpha1", "kind": "Settings", "spec": {"onError": on_error}})
    return compile_documents([("p.yaml", i + 1, d) for i, d in enumerate(docs)])


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _slow_labels(seconds: float):
    async def labels(namespace: str) -> dict[str, str]:
        await asyncio.sleep(seconds)
        return {"env": "prod"}

    return labels


@pytest.fixture
async def client():
    async with RegistryClient(RegistryConfig(limits=Limits(retries=0))) as c:
        yield c


@pytest.mark.parametrize("on_error", [None, "deny"])
async def test_past_the_deadline_the_image_is_denied_with_the_reason(client, on_error):
    image = f"127.0.0.1:{_closed_port()}/team/app@{DIGEST}"
    policies = _policies("127.0.0.1:*/**", on_error=on_error, namespaces={"matchLabels": {"env": "prod"}})
    engine = Engine(policies, client, namespace_labels=_slow_labels(5))
    started = time.monotonic()
    decision = await engine.decide(image, namespace="payments", deadline=0.2)
    assert time.monotonic() - started < 2
    assert decision.outcome is Outcome.DENY
    assert decision.code == "DEADLINE_EXCEEDED"
    assert decision.reason == f"sealgate could not finish verifying {image} within its 0.2s deadline"


async def test_past_the_deadline_on_error_allow_admits_with_a_warning_naming_image_and_reason(client):
    image = f"127.0.0.1:{_closed_port()}/team/app@{DIGEST}"
    policies = _policies("127.0.0.1:*/**", on_error="allow", namespaces={"matchLabels": {"env": "prod"}})
    engine = Engine(policies, client, namespace_labels=_slow_labels(5))
    [decision] = await engine.decide_many([image], namespace="payments", deadline=0.2)
    assert decision.outcome is Outcome.WARN
    assert decision.code == "DEADLINE_EXCEEDED"
    denials, warnings = decision_lines("spec.containers[0].image", image, decision)
    assert denials == []
    assert warnings == [
        f'spec.containers[0].image "{image}": sealgate could not finish verifying {image} within its 0.2s '
        "deadline (admitted: onError is allow)"
    ]


async def test_without_a_deadline_the_engine_waits(client):
    """The CLI and audit have no API-server deadline: none applies unless given."""
    with FaultRegistry() as reg:
        digest = reg.add_image("team/app", "v1")
        await sign_image(client, Reference.parse(f"{reg.host}/team/app:v1"), KEY)
        policies = _policies(f"{reg.host}/**", namespaces={"matchLabels": {"env": "prod"}})
        engine = Engine(policies, client, namespace_labels=_slow_labels(0.4))
        decision = await engine.decide(f"{reg.host}/team/app@{digest}", namespace="payments")
    assert decision.outcome is Outcome.ALLOW, decision


async def test_images_finished_in_time_keep_their_decisions(client):
    with FaultRegistry() as reg:
        digest = reg.add_image("team/app", "v1")
        await sign_image(client, Reference.parse(f"{reg.host}/team/app:v1"), KEY)
        signed = f"{reg.host}/team/app@{digest}"
        # only the policy of the second registry needs (slow) namespace labels
        key = {"data": public_key_pem(KEY.public_key()).decode()}
        docs = [
            {
                "apiVersion": "sealgate.dev/v1alpha1",
                "kind": "ImagePolicy",
                "metadata": {"name": name},
                "spec": {"images": [images], "authorities": [{"name": "ci", "key": key}], **spec},
            }
            for name, images, spec in [
                ("fast", f"{reg.host}/**", {}),
                ("slow", "127.0.0.1:1/**", {"namespaces": {"matchLabels": {"env": "prod"}}}),
            ]
        ]
        engine = Engine(
            compile_documents([("p.yaml", i + 1, d) for i, d in enumerate(docs)]),
            client,
            namespace_labels=_slow_labels(5),
        )
        slow = f"127.0.0.1:1/team/app@{DIGEST}"
        decisions = await engine.decide_many([signed, slow], namespace="payments", deadline=1.5)
    assert [d.outcome for d in decisions] == [Outcome.ALLOW, Outcome.DENY]
    assert decisions[1].code == "DEADLINE_EXCEEDED"


@pytest.mark.parametrize("on_error", ["deny", "allow"])
async def test_a_registry_that_is_down_follows_on_error(client, on_error):
    host = f"127.0.0.1:{_closed_port()}"
    image = f"{host}/team/app:v1"
    engine = Engine(_policies(f"{host}/**", on_error=on_error), client)
    decision = await engine.decide(image, deadline=5)
    assert decision.code == "REGISTRY_UNAVAILABLE"
    assert f"registry {host} unavailable" in decision.reason
    denials, warnings = decision_lines("spec.containers[0].image", image, decision)
    if on_error == "deny":
        assert decision.outcome is Outcome.DENY
        assert len(denials) == 1 and f'"{image}": policy "prod": registry {host} unavailable' in denials[0]
        assert warnings == []
    else:
        assert decision.outcome is Outcome.WARN
        assert denials == []
        assert len(warnings) == 1
        assert warnings[0].startswith(f'spec.containers[0].image "{image}": policy "prod": registry {host} unavailable')
        assert warnings[0].endswith("(admitted: onError is allow)")


async def test_a_verified_denial_is_not_admitted_by_on_error_allow(client):
    with FaultRegistry() as reg:
        digest = reg.add_image("team/app", "unsigned")
        engine = Engine(_policies(f"{reg.host}/**", on_error="allow"), client)
        decision = await engine.decide(f"{reg.host}/team/app@{digest}", deadline=5)
    assert decision.outcome is Outcome.DENY
    assert decision.code == "NO_SIGNATURES"
