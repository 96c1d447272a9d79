"""The engine applies the deadline and ``onError`` itself, so the webhook, the CLI and audit behave alike.

Unverifiable means sealgate could not find out (a registry unreachable, its breaker open, the deadline passed);
``onError: deny`` (the default) denies it, ``onError: allow`` admits it with a warning naming the image and why.
Deadlines run over the in-memory registry (slow on request); a registry that is down is a real loopback port
nothing listens on, read by the real client.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from tests.support.memregistry import MemRegistry
from verifier.cosign import generate_signing_key, public_key_pem
from verifier.engine import Engine, Outcome, decision_lines
from verifier.limits import Limits
from verifier.policy import compile_documents
from verifier.registry import RegistryClient, RegistryConfig

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
    assert decision.reason == "sealgate could not finish verification within its 0.2s deadline"


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
        f'spec.containers[0].image "{image}": sealgate could not finish verification within its 0.2s '
        "deadline (admitted: onError is allow)"
    ]


async def test_without_a_deadline_the_engine_waits():
    """The CLI and audit have no API-server deadline: none applies unless given."""
    reg = MemRegistry()
    image = reg.add_image("mem.test/team/app", "v1")
    await reg.sign(image, KEY)
    reg.delay = 0.1  # each of the reads is slow: more than the deadline below in all
    engine = Engine(_policies("mem.test/**"), reg)
    assert (await engine.decide(image)).outcome is Outcome.ALLOW
    hurried = await Engine(_policies("mem.test/**"), reg).decide(image, deadline=0.15)
    assert hurried.outcome is Outcome.DENY and hurried.code == "REGISTRY_UNAVAILABLE", hurried


@pytest.mark.parametrize("on_error", ["deny", "allow"])
async def test_a_registry_too_slow_for_the_deadline_follows_on_error(on_error):
    reg = MemRegistry()
    image = reg.add_image("mem.test/team/app", "v1")
    await reg.sign(image, KEY)
    reg.delay = 5
    engine = Engine(_policies("mem.test/**", on_error=on_error), reg)
    started = time.monotonic()
    [decision] = await engine.decide_many([image], deadline=0.3)
    assert time.monotonic() - started < 2
    # registry reads get 90 % of the deadline: the slow registry is named, the engine answers in time
    assert decision.code == "REGISTRY_UNAVAILABLE"
    expected = 'policy "prod": registry mem.test unavailable: no answer within the request deadline (get_manifest)'
    if on_error == "deny":
        assert (decision.outcome, decision.reason) == (Outcome.DENY, expected)
    else:
        assert (decision.outcome, decision.reason) == (Outcome.WARN, f"{expected} (admitted: onError is allow)")
    reg.delay = 0  # nothing was cached: the next admission verifies
    assert (await engine.decide(image, deadline=0.3)).outcome is Outcome.ALLOW


async def test_images_finished_in_time_keep_their_decisions():
    reg = MemRegistry()
    signed = reg.add_image("mem.test/team/app", "v1")
    await reg.sign(signed, KEY)
    key = {"data": public_key_pem(KEY.public_key()).decode()}
    # only the policy of the second registry needs (slow) namespace labels
    docs = [
        {
            "apiVersion": "sealgate.dev/v1alpha1",
            "kind": "ImagePolicy",
            "metadata": {"name": name},
            "spec": {"images": [images], "authorities": [{"name": "ci", "key": key}], **spec},
        }
        for name, images, spec in [
            ("fast", "mem.test/**", {}),
            ("slow", "slow.test/**", {"namespaces": {"matchLabels": {"env": "prod"}}}),
        ]
    ]
    policies = compile_documents([("p.yaml", i + 1, d) for i, d in enumerate(docs)])
    engine = Engine(policies, reg, namespace_labels=_slow_labels(5))
    slow = f"slow.test/team/app@{DIGEST}"
    decisions = await engine.decide_many([signed, slow], namespace="payments", deadline=0.5)
    assert [d.outcome for d in decisions] == [Outcome.ALLOW, Outcome.DENY]
    assert [d.code for d in decisions] == ["OK", "DEADLINE_EXCEEDED"]


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


async def test_a_verified_denial_is_not_admitted_by_on_error_allow():
    reg = MemRegistry()
    image = reg.add_image("mem.test/team/app", "unsigned")
    decision = await Engine(_policies("mem.test/**", on_error="allow"), reg).decide(image, deadline=5)
    assert decision.outcome is Outcome.DENY
    assert decision.code == "NO_SIGNATURES"
