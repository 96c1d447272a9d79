"""The .sig manifest: byte-identical to what cosign writes, and strict when reading what others wrote."""

from __future__ import annotations

import json

import pytest

from verifier.cosign import (
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE,
    attachment_tag,
    build_signature_config,
    build_signature_manifest,
    parse_signature_manifest,
)
from verifier.errors import LimitExceededError, RegistryProtocolError, SignatureInvalidError
from verifier.oci import OCI_MANIFEST, Descriptor, Digest, Manifest


def _manifest(raw: bytes) -> Manifest:
    return Manifest(raw=raw, media_type=OCI_MANIFEST, digest=Digest.of(raw))


def test_tobby_sig_manifest_is_rebuilt_byte_for_byte(vectors):
    raw = (vectors / "tobby-fetch-cosign-oci" / "signature-manifest.json").read_bytes().strip()
    layers = parse_signature_manifest(_manifest(raw), max_layers=10)
    rebuilt, config = build_signature_manifest([layer.descriptor for layer in layers])
    assert rebuilt == raw
    assert len(config) == 233
    assert str(Digest.of(config)) == "sha256:2122b6ad0794d3fdae43a4b477cf1d95d4a38d3c5f10631e199676039b876e37"


def test_config_has_one_history_entry_per_layer():
    digests = [Digest.of(b"a"), Digest.of(b"b")]
    config = json.loads(build_signature_config(digests))
    assert config["history"] == [{"created": "0001-01-01T00:00:00Z"}] * 2
    assert config["rootfs"]["diff_ids"] == [str(d) for d in digests]


def test_attachment_tag_uses_algorithm_dash_hex():
    digest = Digest.of(b"x")
    assert attachment_tag(digest) == f"sha256-{digest.hex}.sig"
    assert attachment_tag(digest, "att") == f"sha256-{digest.hex}.att"


def _layer_json(**overrides):
    layer = {
        "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
        "size": 3,
        "digest": str(Digest.of(b"abc")),
        "annotations": {SIGNATURE_ANNOTATION: "MEUCIQ=="},
    }
    layer.update(overrides)
    return layer


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        pytest.param("nope", "no layers list", id="layers is not a list"),
        pytest.param(["x"], "not a JSON object", id="layer is a string"),
        pytest.param([_layer_json(digest="md5:abc")], "layer 0", id="layer digest of an unknown algorithm"),
        pytest.param([_layer_json(size=-1)], "no valid size", id="negative size"),
        pytest.param([_layer_json(size="3")], "no valid size", id="size as a string"),
        pytest.param([_layer_json(annotations={"a": 1})], "not strings", id="non-string annotation"),
        pytest.param([{"size": 3}], "lacks mediaType", id="descriptor without media type"),
    ],
)
def test_malformed_signature_manifests_are_protocol_errors(layers, message):
    raw = json.dumps({"schemaVersion": 2, "layers": layers}).encode()
    with pytest.raises(RegistryProtocolError, match=message):
        parse_signature_manifest(_manifest(raw), max_layers=10)


def test_too_many_layers_hit_the_limit():
    raw = json.dumps({"schemaVersion": 2, "layers": [_layer_json()] * 3}).encode()
    with pytest.raises(LimitExceededError, match="3 layers, more than the limit of 2"):
        parse_signature_manifest(_manifest(raw), max_layers=2)


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        pytest.param({}, "has no dev.cosignproject.cosign/signature", id="missing signature annotation"),
        pytest.param({SIGNATURE_ANNOTATION: "not base64!"}, "not valid base64", id="garbage in the annotation"),
        pytest.param({SIGNATURE_ANNOTATION: ""}, "empty", id="empty signature"),
    ],
)
def test_bad_signature_annotations_are_reported(annotations, message):
    raw = json.dumps({"schemaVersion": 2, "layers": [_layer_json(annotations=annotations)]}).encode()
    (layer,) = parse_signature_manifest(_manifest(raw), max_layers=10)
    with pytest.raises(SignatureInvalidError, match=message):
        layer.signature()


def test_descriptor_round_trip_keeps_annotations():
    desc = Descriptor(media_type=SIMPLE_SIGNING_MEDIA_TYPE, digest=Digest.of(b"p"), size=1, annotations={"k": "v"})
    manifest, _ = build_signature_manifest([desc])
    (layer,) = parse_signature_manifest(_manifest(manifest), max_layers=1)
    assert layer.descriptor == desc
