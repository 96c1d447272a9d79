"""Registry sources on an in-process fault-injecting registry: good layers stream, bad ones fail with one
error and the download thread ends (nothing left running, nothing written)."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator

import pytest

from tests.support.faultregistry import Fault, FaultRegistry
from tests.unit.sbom.images import layer_tar
from verifier.errors import DigestMismatchError, ImageInvalidError, ManifestUnknownError
from verifier.limits import Limits
from verifier.registry import RegistryClient, RegistryConfig
from verifier.sbom import generate
from verifier.sbom._registry import THREAD_NAME

LAYER = gzip.compress(
    layer_tar({"usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA": b"Name: six\nVersion: 1.16.0\n"})
)


@pytest.fixture
def registry() -> Iterator[FaultRegistry]:
    with FaultRegistry() as reg:
        yield reg


def client() -> RegistryClient:
    return RegistryClient(RegistryConfig(limits=Limits(retries=1, backoff_base=0.001)))


def _downloads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def test_layers_stream_from_the_registry(registry):
    digest = registry.add_image("app", "v1", layer=LAYER)
    notes: list[str] = []
    sbom = generate(f"{registry.host}/app:v1", registry_client=client, notes=notes)
    assert [p.purl for p in sbom.packages] == ["pkg:pypi/six@1.16.0"]
    assert sbom.image.digest == digest and sbom.image.platform == "linux/amd64"
    assert notes == [f"tag 'v1' of {registry.host}/app resolved to {digest}"]


@pytest.mark.parametrize(
    ("layer", "fault", "error", "message"),
    [
        (b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"junk" * 100, None, ImageInvalidError, "corrupt gzip stream"),
        (LAYER, Fault("corrupt", times=-1), DigestMismatchError, "digest mismatch|content hashes to"),
    ],
    ids=["corrupt gzip layer", "layer corrupted in transit"],
)
def test_bad_layers_fail_once_and_the_download_thread_ends(registry, layer, fault, error, message):
    registry.add_image("app", "v1", layer=layer)
    if fault is not None:
        registry.inject(fault)
    with pytest.raises(error, match=message):
        generate(f"{registry.host}/app:v1", registry_client=client)
    assert _downloads() == []


def test_missing_image_is_not_found(registry):
    with pytest.raises(ManifestUnknownError):
        generate(f"docker://{registry.host}/app:nope", registry_client=client)
