"""Attestation bytes as cosign writes them, and check_attestation() on real and hand-made envelopes and bundles."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from verifier.cosign import NamedKey, generate_signing_key, load_public_key, sign_bytes
from verifier.cosign._attachment import BUNDLE_V03_MEDIA_TYPE, Attachment
from verifier.cosign._attest import (
    CUSTOM_PREDICATE_TYPE,
    build_attestation_statement,
    build_bundle_referrer,
    build_key_bundle,
    build_predicate,
    predicate_type_for,
)
from verifier.cosign._attest_check import check_attestation
from verifier.cosign._dsse_layer import go_json, pae, parse_envelope, sign_envelope
from verifier.cosign._layout import DSSE_MEDIA_TYPE
from verifier.errors import DigestMismatchError, SealgateError, UsageError
from verifier.oci import OCI_INDEX, Descriptor, Digest

BLOB_DIGEST = Digest.parse("sha256:658781cd4ed9bca60dacd09f7bb914bb51502e8b5d619f57f39a1d652596cc24")
SLSA02 = "https://slsa.dev/provenance/v0.2"
NOW = datetime(2025, 2, 28, 19, 18, 11, tzinfo=UTC)
IMAGE = Digest.of(b"image manifest")


def _att(payload: bytes | SealgateError, media_type: str = DSSE_MEDIA_TYPE, layout: str = "legacy-att") -> Attachment:
    digest = Digest.of(payload) if isinstance(payload, bytes) else Digest.of(b"?")
    bundle = (
        payload if media_type.startswith("application/vnd.dev.sigstore.bundle") and isinstance(payload, bytes) else None
    )
    return Attachment(layout, media_type, digest, payload, {}, bundle)


@pytest.fixture(scope="module")
def signer():
    return generate_signing_key()


@pytest.fixture(scope="module")
def keys(signer):
    return [NamedKey("signer", signer.public_key())]


# --- real vectors: cosign/verify-blob-attestation (README §7b) -------------------------------------------


@pytest.mark.parametrize(
    ("envelope", "predicate_type", "digest", "code"),
    [
        pytest.param("blobSLSAProvenanceSignature", SLSA02, BLOB_DIGEST, "OK", id="slsa provenance for blob passes"),
        pytest.param(
            "blobSLSAProvenanceSignature",
            CUSTOM_PREDICATE_TYPE,
            BLOB_DIGEST,
            "PREDICATE_TYPE_MISMATCH",
            id="slsa provenance required as custom fails",
        ),
        pytest.param(
            "blobSLSAProvenanceSignature",
            SLSA02,
            Digest.of(b"another-blob"),
            "SUBJECT_MISMATCH",
            id="slsa provenance for other-blob fails",
        ),
        pytest.param("dssePredicateEmptySubject", SLSA02, BLOB_DIGEST, "PAYLOAD_INVALID", id="empty subject fails"),
        pytest.param(
            "dssePredicateMissingSha256", SLSA02, BLOB_DIGEST, "SUBJECT_MISMATCH", id="subject without sha256 fails"
        ),
        pytest.param("dssePredicateMultipleSubjects", SLSA02, BLOB_DIGEST, "OK", id="one of two subjects matches"),
        pytest.param(
            "dssePredicateMultipleSubjects",
            "notreallyslsaprovenance:x",
            BLOB_DIGEST,
            "PREDICATE_TYPE_MISMATCH",
            id="two subjects but wrong predicate type fails",
        ),
        pytest.param(
            "dssePredicateMultipleSubjectsInvalid", SLSA02, BLOB_DIGEST, "SUBJECT_MISMATCH", id="no subject matches"
        ),
    ],
)
def test_cosign_blob_attestation_vectors(vectors: Path, envelope, predicate_type, digest, code):
    base = vectors / "cosign" / "verify-blob-attestation"
    key = NamedKey("cosign.pub", load_public_key((base / "cosign.pub").read_bytes()))
    check = check_attestation(_att((base / f"{envelope}.dsse.json").read_bytes()), [key], digest, predicate_type)
    assert check.code == code, check.reason
    assert check.verified == (code == "OK")
    if code != "PAYLOAD_INVALID":
        assert check.key == "cosign.pub"


def test_cosign_blob_attestation_vector_fails_with_another_key(vectors: Path, keys):
    base = vectors / "cosign" / "verify-blob-attestation"
    check = check_attestation(
        _att((base / "blobSLSAProvenanceSignature.dsse.json").read_bytes()), keys, BLOB_DIGEST, SLSA02
    )
    assert check.code == "SIGNATURE_INVALID"
    assert "'signer'" in check.reason


# --- what we write -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "uri"),
    [
        ("custom", "https://cosign.sigstore.dev/attestation/v1"),
        ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
        ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
        ("spdxjson", "https://spdx.dev/Document"),
        ("cyclonedx", "https://cyclonedx.org/bom"),
        ("openvex", "https://openvex.dev/ns"),
        ("https://example.com/my-predicate/v1", "https://example.com/my-predicate/v1"),
    ],
)
def test_type_names_map_to_cosign_predicate_types(name, uri):
    assert predicate_type_for(name) == uri


@pytest.mark.parametrize("bad", ["cyclone dx", "notatype", ""])
def test_type_that_is_neither_known_nor_a_uri_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="neither a known type"):
        predicate_type_for(bad)


def test_custom_predicate_wraps_the_file_text_with_a_timestamp():
    assert build_predicate("custom", b'{"foo": "bar"}\n', now=NOW) == {
        "Data": '{"foo": "bar"}\n',
        "Timestamp": "2025-02-28T19:18:11Z",
    }


def test_json_types_need_json_and_spdx_takes_text():
    assert build_predicate("cyclonedx", b'{"bomFormat":"CycloneDX"}', now=NOW) == {"bomFormat": "CycloneDX"}
    assert build_predicate("spdx", b"SPDXVersion: SPDX-2.3\n", now=NOW) == "SPDXVersion: SPDX-2.3\n"
    with pytest.raises(UsageError, match="not valid JSON"):
        build_predicate("cyclonedx", b"<bom/>", now=NOW)


def test_statement_is_cosign_v01_with_name_and_sha256_subject_in_go_field_order():
    statement = build_attestation_statement(
        "https://cyclonedx.org/bom", {"b": 1, "a": "<&>"}, "registry.example/app", IMAGE
    )
    assert statement == (
        b'{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://cyclonedx.org/bom",'
        b'"subject":[{"name":"registry.example/app","digest":{"sha256":"' + IMAGE.hex.encode() + b'"}}],'
        b'"predicate":{"a":"\\u003c\\u0026\\u003e","b":1}}'
    )


def test_legacy_envelope_has_empty_keyid_and_verifies(signer, keys):
    statement = build_attestation_statement("https://cyclonedx.org/bom", {}, "r/app", IMAGE)
    envelope = sign_envelope(signer, statement)
    doc = json.loads(envelope)
    assert list(doc) == ["payloadType", "payload", "signatures"]
    assert doc["signatures"][0]["keyid"] == ""
    assert parse_envelope(envelope).payload == statement
    check = check_attestation(_att(envelope), keys, IMAGE, "https://cyclonedx.org/bom")
    assert check.verified, check.reason
    assert check.statement is not None and check.statement["subject"][0]["name"] == "r/app"


def test_bundle_referrer_manifest_matches_the_cosign_3_vector_shape(vectors: Path, signer):
    real = json.loads(
        (vectors / "tobby-fetch-cosign-oci" / "v3-bundle-referrers" / "bundle-referring-manifest.json").read_bytes()
    )
    bundle = build_key_bundle(signer, b"{}")
    subject = Descriptor(OCI_INDEX, Digest.parse(real["subject"]["digest"]), real["subject"]["size"])
    created = datetime(2026, 8, 12, 20, 53, 28, tzinfo=UTC)
    ours = json.loads(build_bundle_referrer(bundle, "https://sigstore.dev/cosign/sign/v1", subject, created=created))
    real_layer, our_layer = real["layers"][0], ours["layers"][0]
    assert our_layer == {"mediaType": BUNDLE_V03_MEDIA_TYPE, "size": len(bundle), "digest": str(Digest.of(bundle))}
    real["layers"][0], ours["layers"][0] = None, None
    assert ours == real  # everything else identical, key order included
    assert list(ours) == list(real)
    assert real_layer["mediaType"] == our_layer["mediaType"]


def test_key_bundle_has_public_key_hint_and_verifies(signer, keys):
    statement = build_attestation_statement(SLSA02, {}, "r/app", IMAGE)
    bundle = build_key_bundle(signer, statement)
    doc = json.loads(bundle)
    assert doc["mediaType"] == BUNDLE_V03_MEDIA_TYPE
    assert set(doc["verificationMaterial"]) == {"publicKey"}
    assert "keyid" not in doc["dsseEnvelope"]["signatures"][0]
    check = check_attestation(
        _att(bundle, BUNDLE_V03_MEDIA_TYPE, "fallback-tag"), keys, IMAGE, SLSA02, bundle_verifier=lambda b, k, d: None
    )
    assert check.verified, check.reason


# --- bad input: clear reasons, never an allow -------------------------------------------------------------------


def _envelope(signer, statement: object, payload_type: str = "application/vnd.in-toto+json") -> bytes:
    body = statement if isinstance(statement, bytes) else go_json(statement)
    sig = sign_bytes(signer, pae(payload_type, body))
    return go_json(
        {
            "payloadType": payload_type,
            "payload": base64.urlsafe_b64encode(body).decode().rstrip("="),
            "signatures": [{"sig": base64.urlsafe_b64encode(sig).decode()}],
        }
    )


def _statement(**override: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {"sha256": IMAGE.hex}}],
        "predicateType": SLSA02,
        "predicate": {},
    }
    doc.update(override)
    return doc


@pytest.mark.parametrize(
    ("make", "code", "reason"),
    [
        pytest.param(lambda s: _envelope(s, _statement()), "OK", "verified", id="v1 statement, url-safe base64 passes"),
        pytest.param(lambda s: b"{not json", "DSSE_INVALID", "not valid JSON", id="envelope that is not JSON"),
        pytest.param(lambda s: b"[]", "DSSE_INVALID", "not a JSON object", id="envelope that is a list"),
        pytest.param(
            lambda s: b'{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}',
            "DSSE_INVALID",
            "no signatures",
            id="envelope without signatures",
        ),
        pytest.param(
            lambda s: b'{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"!!"}]}',
            "DSSE_INVALID",
            "not valid base64",
            id="signature that is not base64",
        ),
        pytest.param(
            lambda s: _envelope(s, _statement(), "text/plain"),
            "UNSUPPORTED_ATTACHMENT",
            "not in-toto",
            id="payload type that is not in-toto",
        ),
        pytest.param(
            lambda s: _envelope(s, _statement(_type="https://example.com/Statement")),
            "PAYLOAD_INVALID",
            "unknown _type",
            id="statement with unknown _type",
        ),
        pytest.param(
            lambda s: _envelope(s, _statement(subject=[None])),
            "PAYLOAD_INVALID",
            "subject 0 is not a JSON object",
            id="null subject entry",
        ),
        pytest.param(
            lambda s: _envelope(s, b"not a statement"), "PAYLOAD_INVALID", "not valid JSON", id="payload not JSON"
        ),
        pytest.param(
            lambda s: _envelope(s, _statement(subject=[{"digest": {"sha512": "ab"}}])),
            "SUBJECT_MISMATCH",
            "does not name",
            id="subject with only sha512",
        ),
    ],
)
def test_malformed_envelopes_have_clear_reasons(signer, keys, make, code, reason):
    check = check_attestation(_att(make(signer)), keys, IMAGE, SLSA02)
    assert (check.code, check.verified) == (code, code == "OK")
    assert reason in check.reason


@pytest.mark.parametrize(
    ("bundle", "code", "reason"),
    [
        pytest.param(
            b'{"mediaType":"application/vnd.dev.sigstore.bundle.v9+json"}',
            "UNSUPPORTED_ATTACHMENT",
            "unknown media type",
            id="unknown bundle version",
        ),
        pytest.param(
            b'{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}',
            "PAYLOAD_INVALID",
            "no verificationMaterial",
            id="bundle without verification material",
        ),
        pytest.param(
            b'{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.2","verificationMaterial":{},'
            b'"messageSignature":{}}',
            "UNSUPPORTED_ATTACHMENT",
            "message signature",
            id="v0.2 message signature bundle is not an attestation",
        ),
        pytest.param(b"\xff\xfe", "PAYLOAD_INVALID", "not valid JSON", id="bundle that is not text"),
    ],
)
def test_malformed_bundles_have_clear_reasons(keys, bundle, code, reason):
    check = check_attestation(_att(bundle, BUNDLE_V03_MEDIA_TYPE, "referrers"), keys, IMAGE, None)
    assert (check.code, check.verified) == (code, False)
    assert reason in check.reason


def test_bundle_rejected_by_the_bundle_verifier_is_not_verified(signer, keys):
    bundle = build_key_bundle(signer, go_json(_statement()))

    def reject(data: bytes, key: NamedKey, digest: Digest) -> None:
        raise DigestMismatchError("tlog entry does not match")

    check = check_attestation(
        _att(bundle, BUNDLE_V03_MEDIA_TYPE, "referrers"), keys, IMAGE, SLSA02, bundle_verifier=reject
    )
    assert check.code == "DIGEST_MISMATCH"
    assert "bundle rejected: tlog entry does not match" in check.reason


def test_fetch_error_is_reported_as_it_is():
    check = check_attestation(_att(DigestMismatchError("blob x: digest mismatch")), [], IMAGE, None)
    assert (check.code, check.reason) == ("DIGEST_MISMATCH", "blob x: digest mismatch")
