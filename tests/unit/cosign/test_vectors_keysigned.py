"""Every key-signed real-world vector verifies, or fails for the reason vectors/README.md §6a/6b/6d gives.

Pure: no registry. Each case goes through the same steps sealgate's verifier takes for a ``.sig`` layer: the
layer must be a simple-signing payload, its signature must verify over the raw payload bytes with one of the
trusted keys, the payload must parse, and its digest must equal the sha256 of the signed manifest.
Keyless and Rekor-only checks (certificates, SETs) are out of scope here; ``dir-img-cosign-key-rekor-valid``
is included for its key signature alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.sigstore_json import SIGNATURE_ANNOTATION, read_sigstore_json
from verifier.cosign._payload import SimpleSigningPayload
from verifier.crypto import load_public_key, verify_bytes

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
CI = Path("containers-image") / "fixtures"
TOBBY = Path("tobby-fetch-cosign-oci")
RS = Path("sigstore-rs") / "cosign-key-signed"


@dataclass(frozen=True)
class Layer:
    mime_type: str
    payload: bytes
    signature: bytes


def outcome(layer: Layer, keys: list[bytes], manifest: bytes | None) -> str:
    """``pass`` or the first reason verification fails, in the verifier's order."""
    if layer.mime_type != SIMPLE_SIGNING:
        return "not a signature"
    if not any(verify_bytes(load_public_key(pem), layer.signature, layer.payload) for pem in keys):
        return "signature invalid"
    claims = SimpleSigningPayload.parse(layer.payload)
    if manifest is None:
        return "manifest missing"
    if claims.digest != "sha256:" + hashlib.sha256(manifest).hexdigest():
        return "digest mismatch"
    return "pass"


def _ci_layer(vectors: Path, name: str) -> Layer:
    sig = read_sigstore_json(vectors / CI / name)
    return Layer(sig.mime_type, sig.payload, sig.signature)


def _ci_manifest(vectors: Path, directory: str) -> bytes | None:
    path = vectors / CI / directory / "manifest.json"
    return path.read_bytes() if path.exists() else None


def _keys(vectors: Path, *names: str) -> list[bytes]:
    return [(vectors / name).read_bytes() for name in names]


COSIGN_PUB = str(CI / "cosign.pub")
COSIGN2_PUB = str(CI / "cosign2.pub")

# (signature file, manifest dir, trusted keys, expected) -- README §6a
CONTAINERS_IMAGE = [
    pytest.param("dir-img-cosign-valid/signature-1", "dir-img-cosign-valid", [COSIGN_PUB], "pass", id="valid"),
    pytest.param(
        "dir-img-cosign-valid/signature-1",
        "dir-img-cosign-valid",
        [COSIGN_PUB, COSIGN2_PUB],
        "pass",
        id="valid with two trusted keys",
    ),
    pytest.param(
        "dir-img-cosign-valid/signature-1",
        "dir-img-cosign-valid",
        [COSIGN2_PUB],
        "signature invalid",
        id="valid signature but only the other key trusted",
    ),
    pytest.param(
        "dir-img-cosign-valid-with-tag/signature-1",
        "dir-img-cosign-valid-with-tag",
        [COSIGN_PUB],
        "pass",
        id="written by containers-image with a tag",
    ),
    pytest.param(
        "dir-img-cosign-valid-2/signature-1",
        "dir-img-cosign-valid-2",
        [COSIGN_PUB],
        "pass",
        id="first of two",
    ),
    pytest.param(
        "dir-img-cosign-valid-2/signature-2",
        "dir-img-cosign-valid-2",
        [COSIGN_PUB],
        "pass",
        id="second of two",
    ),
    pytest.param(
        "dir-img-cosign-mixed/signature-1",
        "dir-img-cosign-mixed",
        [COSIGN_PUB],
        "signature invalid",
        id="mixed, the one by an unknown key",
    ),
    pytest.param(
        "dir-img-cosign-mixed/signature-2",
        "dir-img-cosign-mixed",
        [COSIGN_PUB],
        "pass",
        id="mixed, the valid one",
    ),
    pytest.param(
        "unknown-cosign-key.signature",
        "dir-img-cosign-valid",
        [COSIGN_PUB, COSIGN2_PUB],
        "signature invalid",
        id="valid signature by an unknown key",
    ),
    pytest.param(
        "dir-img-cosign-modified-manifest/signature-1",
        "dir-img-cosign-modified-manifest",
        [COSIGN_PUB],
        "digest mismatch",
        id="modified manifest",
    ),
    pytest.param(
        "dir-img-cosign-manifest-digest-error/signature-1",
        "dir-img-cosign-manifest-digest-error",
        [COSIGN_PUB],
        "digest mismatch",
        id="schema1 manifest whose digest is not the signed one",
    ),
    pytest.param(
        "dir-img-cosign-no-manifest/signature-1",
        "dir-img-cosign-no-manifest",
        [COSIGN_PUB],
        "manifest missing",
        id="no manifest",
    ),
    pytest.param(
        "dir-img-cosign-other-attachment/signature-1",
        "dir-img-cosign-other-attachment",
        [COSIGN_PUB],
        "not a signature",
        id="a text attachment is not a signature",
    ),
    pytest.param(
        "dir-img-cosign-key-rekor-valid/signature-1",
        "dir-img-cosign-key-rekor-valid",
        [COSIGN2_PUB],
        "pass",
        id="key and rekor, key signature with cosign2",
    ),
    pytest.param(
        "dir-img-cosign-key-rekor-valid/signature-1",
        "dir-img-cosign-key-rekor-valid",
        [COSIGN_PUB],
        "signature invalid",
        id="key and rekor, only cosign trusted",
    ),
]


@pytest.mark.parametrize(("signature", "directory", "keys", "expected"), CONTAINERS_IMAGE)
def test_containers_image_fixture(vectors, signature, directory, keys, expected):
    layer = _ci_layer(vectors, signature)
    assert outcome(layer, _keys(vectors, *keys), _ci_manifest(vectors, directory)) == expected


def test_containers_image_signature_replaced_by_text_fails(vectors):
    layer = _ci_layer(vectors, "dir-img-cosign-valid/signature-1")
    forged = Layer(layer.mime_type, layer.payload, base64.b64decode(base64.b64encode(b"invalid signature")))
    manifest = _ci_manifest(vectors, "dir-img-cosign-valid")
    assert outcome(forged, _keys(vectors, COSIGN_PUB), manifest) == "signature invalid"


def test_containers_image_every_fixture_names_its_payload_mime_type(vectors):
    sig = read_sigstore_json(vectors / CI / "dir-img-cosign-valid" / "signature-1")
    assert set(sig.annotations) == {SIGNATURE_ANNOTATION}
    assert sig.mime_type == SIMPLE_SIGNING


# --- tobby-fetch: cosign v3.0.4 classic .sig (README §6d) -----------------------------------------------

TOBBY_SUBJECT = "sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268"


def _tobby_layer(vectors: Path) -> Layer:
    manifest = json.loads((vectors / TOBBY / "signature-manifest.json").read_bytes())
    (descriptor,) = manifest["layers"]
    payload = (vectors / TOBBY / "simplesigning-payload.json").read_bytes()
    assert descriptor["digest"] == "sha256:" + hashlib.sha256(payload).hexdigest()
    assert descriptor["size"] == len(payload)
    signature = base64.b64decode(descriptor["annotations"][SIGNATURE_ANNOTATION], validate=True)
    return Layer(descriptor["mediaType"], payload, signature)


def _tobby_outcome(layer: Layer, keys: list[bytes]) -> str:
    if layer.mime_type != SIMPLE_SIGNING:
        return "not a signature"
    if not any(verify_bytes(load_public_key(pem), layer.signature, layer.payload) for pem in keys):
        return "signature invalid"
    return "pass" if SimpleSigningPayload.parse(layer.payload).digest == TOBBY_SUBJECT else "digest mismatch"


def test_tobby_classic_signature_verifies_with_its_key(vectors):
    assert _tobby_outcome(_tobby_layer(vectors), _keys(vectors, str(TOBBY / "cosign.pub"))) == "pass"


@pytest.mark.parametrize("other", [COSIGN_PUB, COSIGN2_PUB, str(RS / "cosign.pub"), str(RS / "wrong-key.pub")])
def test_tobby_classic_signature_fails_with_any_other_key(vectors, other):
    assert _tobby_outcome(_tobby_layer(vectors), _keys(vectors, other)) == "signature invalid"


@pytest.mark.parametrize("where", ["signature", "payload"])
def test_tobby_classic_signature_fails_with_a_flipped_byte(vectors, where):
    layer = _tobby_layer(vectors)
    if where == "signature":
        flipped = bytearray(layer.signature)
        flipped[10] ^= 0x01
        layer = Layer(layer.mime_type, layer.payload, bytes(flipped))
    else:
        layer = Layer(layer.mime_type, layer.payload.replace(b"fixture", b"fixturf"), layer.signature)
    assert _tobby_outcome(layer, _keys(vectors, str(TOBBY / "cosign.pub"))) == "signature invalid"


def test_tobby_payload_names_the_captured_subject(vectors):
    layer = _tobby_layer(vectors)
    claims = SimpleSigningPayload.parse(layer.payload)
    assert claims.digest == TOBBY_SUBJECT
    assert claims.docker_reference == "localhost:15381/tobby/fixture"


# --- sigstore-rs key-signed layer (README §6b) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param("cosign.pub", True, id="cosign.pub verifies"),
        pytest.param("wrong-key.pub", False, id="wrong-key.pub fails"),
    ],
)
def test_sigstore_rs_key_signed_layer(vectors, key, expected):
    payload = (vectors / RS / "payload.json").read_bytes()
    signature = base64.b64decode((vectors / RS / "signature.b64").read_bytes().strip(), validate=True)
    assert verify_bytes(load_public_key((vectors / RS / key).read_bytes()), signature, payload) is expected
    claims = SimpleSigningPayload.parse(payload)
    assert claims.digest == "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b"
    assert claims.docker_reference == "registry-testing.svc.lan/busybox"
