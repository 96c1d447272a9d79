"""No SSRF: registry answers (redirects, token realms) cannot send sealgate to loopback, link-local or private
addresses unless the registry itself is there, and images on registries no policy names are never contacted.

Traffic stays on loopback: ``registry.test`` and friends are routed to loopback ports by a test transport; the
network class the guard sees for them comes from a fake resolver. The address tables below are data for the
classifier, never targets.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from tests.fuzz._support import Routing, Trap, resolver
from tests.support.faultregistry import Fault, FaultRegistry
from verifier.cosign import generate_signing_key, public_key_pem
from verifier.engine import Engine, Outcome
from verifier.errors import RegistryProtocolError, RegistryUnauthorizedError
from verifier.limits import Limits
from verifier.oci import Digest, Reference
from verifier.policy import compile_documents
from verifier.registry import RegistryClient, RegistryConfig, StaticCredentials
from verifier.registry._ssrf import HostClass, HostGuard, address_class

ADDRESSES = {
    "127.0.0.1": HostClass.LOOPBACK,
    "127.8.9.10": HostClass.LOOPBACK,
    "::1": HostClass.LOOPBACK,
    "::ffff:127.0.0.1": HostClass.LOOPBACK,  # IPv4-mapped
    "64:ff9b::7f00:1": HostClass.LOOPBACK,  # NAT64 of 127.0.0.1
    "2002:7f00:1::": HostClass.LOOPBACK,  # 6to4 of 127.0.0.1
    "169.254.169.254": HostClass.LINK_LOCAL,  # cloud metadata
    "fe80::1": HostClass.LINK_LOCAL,
    "10.1.2.3": HostClass.PRIVATE,
    "172.16.0.1": HostClass.PRIVATE,
    "192.168.1.1": HostClass.PRIVATE,
    "100.100.100.200": HostClass.PRIVATE,  # CGNAT range (a metadata address on one cloud)
    "fd00:ec2::254": HostClass.PRIVATE,  # IPv6 metadata, unique-local
    "0.0.0.0": HostClass.SPECIAL,  # noqa: S104 - reaches loopback on Linux
    "::": HostClass.SPECIAL,
    "224.0.0.1": HostClass.SPECIAL,
    "255.255.255.255": HostClass.SPECIAL,
    "240.0.0.1": HostClass.SPECIAL,
    "93.184.216.34": HostClass.PUBLIC,
    "2606:4700::1111": HostClass.PUBLIC,
}


@pytest.mark.parametrize(("address", "expected"), list(ADDRESSES.items()), ids=list(ADDRESSES))
def test_address_classes(address: str, expected: HostClass) -> None:
    assert address_class(ipaddress.ip_address(address)) is expected


NAMES = {
    "pub.test": ["93.184.216.34"],
    "pub2.test": ["2606:4700::1111"],
    "priv.test": ["10.0.0.5"],
    "priv2.test": ["192.168.7.7"],
    "meta.test": ["169.254.169.254"],
    "sneaky.test": ["93.184.216.34", "127.0.0.1"],  # one public and one loopback answer
    "zero.test": ["0.0.0.0"],  # noqa: S104
}

# (registry host, target host, allowed?)
GUARD_CASES = {
    "a public registry may redirect to public blob storage": ("pub.test", "pub2.test:443", True),
    "a public registry may not redirect to loopback": ("pub.test", "127.0.0.1:8080", False),
    "a public registry may not redirect to localhost": ("pub.test", "localhost:8080", False),
    "a public registry may not redirect to a *.localhost name": ("pub.test", "x.localhost", False),
    "a public registry may not redirect to the metadata address": ("pub.test", "169.254.169.254", False),
    "a public registry may not redirect to a name resolving to metadata": ("pub.test", "meta.test", False),
    "a public registry may not redirect to a private network": ("pub.test", "10.9.9.9", False),
    "a name with any loopback answer counts as loopback": ("pub.test", "sneaky.test", False),
    "a public registry may not redirect to IPv4-mapped loopback": ("pub.test", "[::ffff:127.0.0.1]:80", False),
    "a public registry may not redirect to 0.0.0.0": ("pub.test", "zero.test", False),
    "a private registry may redirect within private networks": ("priv.test", "priv2.test", True),
    "a private registry may not redirect to loopback": ("priv.test", "127.0.0.1:9000", False),
    "a private registry may not redirect to link-local": ("priv.test", "169.254.169.254", False),
    "a loopback registry may use a loopback token server": ("127.0.0.1:5000", "localhost:5001", True),
    "a loopback registry may not send us to link-local": ("127.0.0.1:5000", "meta.test", False),
    "a loopback registry may not send us to 0.0.0.0": ("127.0.0.1:5000", "0.0.0.0:5000", False),
    "a registry may always point at itself": ("priv.test:5000", "priv.test:443", True),
}


@pytest.mark.parametrize(("registry", "target", "allowed"), list(GUARD_CASES.values()), ids=list(GUARD_CASES))
async def test_guard(registry: str, target: str, allowed: bool) -> None:
    guard = HostGuard(resolver(NAMES))
    if allowed:
        await guard.check(registry, target, what="blob x", purpose="redirect")
    else:
        with pytest.raises(RegistryProtocolError, match=r"SSRF guard") as caught:
            await guard.check(registry, target, what="blob x", purpose="redirect")
        assert "blob x: registry" in str(caught.value)


async def test_an_unresolvable_target_is_refused_not_followed() -> None:
    guard = HostGuard(resolver(NAMES))
    with pytest.raises(Exception, match="cannot resolve host"):
        await guard.check("pub.test", "nowhere.test", what="blob x", purpose="redirect")


# --- end to end, with a trap on loopback ------------------------------------------------------------------


@pytest.fixture
def trap() -> Iterator[Trap]:
    with Trap() as t:
        yield t


@pytest.fixture
def registry() -> Iterator[FaultRegistry]:
    with FaultRegistry() as reg:
        yield reg


def remote_client(registry: FaultRegistry, trap: Trap) -> RegistryClient:
    """A client that sees ``registry.test`` as a registry on a private network (routed to ``registry``)."""
    routes = {"registry.test": registry.port, "storage.test": registry.port, "evil.test": trap.port}
    names = {"registry.test": ["192.0.2.10"], "storage.test": ["192.0.2.20"], "evil.test": ["127.0.0.1"]}
    config = RegistryConfig(
        insecure=frozenset({"registry.test", "storage.test", "evil.test"}),
        limits=Limits(retries=0, backoff_base=0.001),
    )
    return RegistryClient(
        config, credentials=StaticCredentials({}), transport=Routing(routes), resolver=resolver(names)
    )


def _blob(registry: FaultRegistry) -> Digest:
    return Digest.parse(registry.add_blob("app", b"payload"))


REDIRECTS = {
    "to the loopback trap by address": "http://127.0.0.1:{trap}/x",
    "to the loopback trap as localhost": "http://localhost:{trap}/x",
    "to the loopback trap as IPv6 loopback": "http://[::1]:{trap}/x",
    "to the loopback trap as IPv4-mapped IPv6": "http://[::ffff:127.0.0.1]:{trap}/x",
    "to a name that resolves to loopback": "http://evil.test:{trap}/x",
    "relative-looking but absolute to 0.0.0.0": "http://0.0.0.0:{trap}/x",
}


@pytest.mark.parametrize("location", list(REDIRECTS.values()), ids=list(REDIRECTS))
async def test_blob_redirect_from_a_non_loopback_registry_to_loopback_is_refused(
    registry: FaultRegistry, trap: Trap, location: str
) -> None:
    digest = _blob(registry)
    registry.inject(Fault("status", path="/blobs/", status=307, headers={"Location": location.format(trap=trap.port)}))
    async with remote_client(registry, trap) as c:
        # refused by the SSRF guard, or earlier because plain http goes only to loopback and insecure hosts
        with pytest.raises(RegistryProtocolError, match="SSRF guard|not https"):
            await c.get_blob(Reference.parse("registry.test/app"), digest)
    assert trap.connections == 0


async def test_blob_redirect_to_storage_in_the_registrys_own_network_class_is_followed(
    registry: FaultRegistry, trap: Trap
) -> None:
    digest = _blob(registry)
    location = f"http://storage.test/v2/app/blobs/{digest}"
    registry.inject(Fault("status", path="/blobs/", status=307, headers={"Location": location}))
    async with remote_client(registry, trap) as c:
        assert await c.get_blob(Reference.parse("registry.test/app"), digest) == b"payload"
    assert registry.count("GET", "/blobs/") == 2


@pytest.mark.parametrize(
    "realm",
    ["http://127.0.0.1:{trap}/token", "http://localhost:{trap}/token", "http://evil.test:{trap}/token"],
    ids=["loopback address", "localhost", "a name resolving to loopback"],
)
async def test_token_realm_on_loopback_from_a_non_loopback_registry_is_refused(
    registry: FaultRegistry, trap: Trap, realm: str
) -> None:
    registry.add_image("app", "1")
    challenge = f'Bearer realm="{realm.format(trap=trap.port)}",service="x"'
    registry.inject(Fault("status", path="/manifests/", status=401, headers={"WWW-Authenticate": challenge}))
    async with remote_client(registry, trap) as c:
        with pytest.raises(RegistryProtocolError, match="token realm .*SSRF guard"):
            await c.get_manifest(Reference.parse("registry.test/app:1"))
    assert trap.connections == 0


async def test_a_loopback_registry_may_use_its_own_loopback_token_server(registry: FaultRegistry) -> None:
    registry.require_bearer()
    registry.add_image("app", "1")
    async with RegistryClient(credentials=StaticCredentials({})) as c:
        manifest = await c.get_manifest(Reference.parse(f"{registry.host}/app:1"))
    assert manifest.digest is not None
    assert registry.count("GET", "/token") == 1


async def test_redirect_limit_names_the_limit(registry: FaultRegistry) -> None:
    digest = _blob(registry)
    registry.inject(Fault("redirect", hops=2))
    limits = Limits(max_redirects=1)
    async with RegistryClient(RegistryConfig(limits=limits), credentials=StaticCredentials({})) as c:
        with pytest.raises(Exception, match="max_redirects"):
            await c.get_blob(Reference.parse(f"{registry.host}/app"), digest)


async def test_unauthorized_is_still_reported_when_the_realm_is_fine(registry: FaultRegistry) -> None:
    registry.require_bearer("u", "p")
    registry.add_image("app", "1")
    async with RegistryClient(credentials=StaticCredentials({})) as c:
        with pytest.raises(RegistryUnauthorizedError):
            await c.get_manifest(Reference.parse(f"{registry.host}/app:1"))


# --- the engine contacts only registries a policy names ---------------------------------------------------

KEY = generate_signing_key()


def _policies(registry: FaultRegistry):  # type: ignore[no-untyped-def]
    policy = {
        "apiVersion": "sealgate.dev/v1alpha1",
        "kind": "ImagePolicy",
        "metadata": {"name": "prod"},
        "spec": {
            "images": [f"{registry.host}/**"],
            "authorities": [{"name": "ci", "key": {"data": public_key_pem(KEY.public_key()).decode()}}],
        },
    }
    return compile_documents([("test.yaml", 1, policy)])


UNNAMED = {
    "the trap port by address": "127.0.0.1:{trap}/app:1",
    "the trap port as localhost": "localhost:{trap}/app:1",
    "the trap port by digest": "127.0.0.1:{trap}/app@sha256:" + "a" * 64,
    "the trap port in a deeper repository": "127.0.0.1:{trap}/a/b/c:latest",
    "the policy's registry host on the trap port": "127.0.0.1:{trap}/app:1",
}


@pytest.mark.parametrize("image", list(UNNAMED.values()), ids=list(UNNAMED))
async def test_images_on_registries_no_policy_names_are_denied_without_contact(
    registry: FaultRegistry, trap: Trap, image: str
) -> None:
    async with RegistryClient(credentials=StaticCredentials({})) as c:
        engine = Engine(_policies(registry), c)
        decision = await engine.decide(image.format(trap=trap.port), namespace="prod")
        assert decision.outcome is Outcome.DENY
        assert decision.code in ("NO_MATCH", "REGISTRY_NOT_ALLOWED", "REFERENCE_INVALID")
        assert c.request_count == 0
    assert trap.connections == 0
