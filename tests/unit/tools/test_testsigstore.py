"""The test Sigstore emits real artifacts: sigstore-python accepts its bundles offline against its trusted root, and
its legacy cosign layers check out piece by piece with plain ``cryptography`` (no sealgate verifier involved).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store
from cryptography.x509.verification import VerificationError as X509VerificationError
from hypothesis import given
from hypothesis import strategies as st
from rfc3161_client import VerificationError as TimestampVerificationError
from rfc3161_client import VerifierBuilder, decode_timestamp_response
from sigstore.errors import VerificationError
from sigstore.models import Bundle, InvalidBundle, TrustedRoot
from sigstore.verify import Verifier, policy

from tools import _merkle
from tools.localregistry import ToolError
from tools.testsigstore import COSIGN_SIGN_PREDICATE, TAMPERS, TestSigstore, pae, simple_signing_payload

EMAIL = "dev@example.com"
WORKFLOW = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
ISSUER = "https://token.actions.githubusercontent.com"
IMAGE_DIGEST = "sha256:" + "ab" * 32
ARTIFACT = b"hello, sealgate\n"
SCT_OID = "1.3.6.1.4.1.11129.2.4.2"


@pytest.fixture(scope="module")
def sigstore(tmp_path_factory: pytest.TempPathFactory) -> TestSigstore:
    return TestSigstore(tmp_path_factory.mktemp("testsigstore"))


@pytest.fixture(scope="module")
def verifier(sigstore: TestSigstore) -> Verifier:
    return Verifier(trusted_root=TrustedRoot.from_file(str(sigstore.trusted_root_path)))


def _load(bundle: dict[str, Any]) -> Bundle:
    return Bundle.from_json(json.dumps(bundle))


def _tlog_key(sigstore: TestSigstore, section: str) -> tuple[ec.EllipticCurvePublicKey, bytes]:
    """The (key, keyId) of the first ``tlogs``/``ctlogs`` instance, read back from trusted_root.json."""
    root = json.loads(sigstore.trusted_root_path.read_text())
    instance = root[section][0]
    key = serialization.load_der_public_key(base64.b64decode(instance["publicKey"]["rawBytes"]))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key, base64.b64decode(instance["logId"]["keyId"])


def _fulcio_certs(sigstore: TestSigstore) -> list[x509.Certificate]:
    root = json.loads(sigstore.trusted_root_path.read_text())
    chain = root["certificateAuthorities"][0]["certChain"]["certificates"]
    return [x509.load_der_x509_certificate(base64.b64decode(c["rawBytes"])) for c in chain]


# --- sigstore-python accepts the bundles ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "identity", "tsa"),
    [
        pytest.param("0.3", EMAIL, False, id="v0.3 bundle, email identity, SET as signed time"),
        pytest.param("0.3", WORKFLOW, True, id="v0.3 bundle, workflow URI identity, SET and TSA time"),
        pytest.param("0.2", EMAIL, False, id="v0.2 bundle with a leaf-and-intermediate chain"),
        pytest.param("0.1", EMAIL, False, id="v0.1 bundle with an inclusion promise"),
    ],
)
def test_sigstore_python_verifies_message_signature_bundles(
    sigstore: TestSigstore, verifier: Verifier, version: str, identity: str, tsa: bool
) -> None:
    bundle = sigstore.sign_bundle(
        artifact_digest=hashlib.sha256(ARTIFACT).digest(), identity=identity, issuer=ISSUER, version=version, tsa=tsa
    )
    verifier.verify_artifact(ARTIFACT, _load(bundle), policy.Identity(identity=identity, issuer=ISSUER))
    with pytest.raises(VerificationError):
        verifier.verify_artifact(ARTIFACT + b"x", _load(bundle), policy.Identity(identity=identity, issuer=ISSUER))


@pytest.mark.parametrize(
    ("version", "predicate_type", "tsa"),
    [
        pytest.param("0.3", COSIGN_SIGN_PREDICATE, False, id="v0.3 cosign sign statement"),
        pytest.param("0.3", "https://cyclonedx.org/bom", True, id="v0.3 CycloneDX attestation with a TSA timestamp"),
        pytest.param("0.2", "https://slsa.dev/provenance/v1", False, id="v0.2 SLSA provenance attestation"),
        pytest.param("0.1", COSIGN_SIGN_PREDICATE, False, id="v0.1 cosign sign statement"),
    ],
)
def test_sigstore_python_verifies_dsse_bundles(
    sigstore: TestSigstore, verifier: Verifier, version: str, predicate_type: str, tsa: bool
) -> None:
    predicate: dict[str, Any] | None = None if predicate_type == COSIGN_SIGN_PREDICATE else {"components": []}
    statement = sigstore.statement_for_image(IMAGE_DIGEST, predicate_type, predicate)
    bundle = sigstore.sign_bundle(statement=statement, identity=EMAIL, issuer=ISSUER, version=version, tsa=tsa)

    payload_type, payload = verifier.verify_dsse(_load(bundle), policy.Identity(identity=EMAIL, issuer=ISSUER))

    assert payload_type == "application/vnd.in-toto+json"
    assert json.loads(payload) == statement


def test_sigstore_python_accepts_a_tsa_timestamp_as_the_only_signed_time(
    sigstore: TestSigstore, verifier: Verifier
) -> None:
    bundle = sigstore.sign_bundle(
        artifact_digest=hashlib.sha256(ARTIFACT).digest(), identity=EMAIL, issuer=ISSUER, tsa=True, tamper="no-promise"
    )
    assert "inclusionPromise" not in bundle["verificationMaterial"]["tlogEntries"][0]
    verifier.verify_artifact(ARTIFACT, _load(bundle), policy.Identity(identity=EMAIL, issuer=ISSUER))


@pytest.mark.parametrize(
    ("policy_identity", "policy_issuer"),
    [
        pytest.param("someone@example.com", ISSUER, id="another identity is refused"),
        pytest.param(EMAIL, "https://accounts.google.com", id="another issuer is refused"),
    ],
)
def test_sigstore_python_refuses_a_bundle_for_another_identity(
    sigstore: TestSigstore, verifier: Verifier, policy_identity: str, policy_issuer: str
) -> None:
    bundle = sigstore.sign_bundle(artifact_digest=hashlib.sha256(ARTIFACT).digest(), identity=EMAIL, issuer=ISSUER)
    with pytest.raises(VerificationError):
        verifier.verify_artifact(
            ARTIFACT, _load(bundle), policy.Identity(identity=policy_identity, issuer=policy_issuer)
        )


_BUNDLE_TAMPERS = {
    "bad-set": "SET",
    "bad-proof": "inclusion proof",
    "bad-checkpoint": "checkpoint",
    "bad-signature": "invalid",
    "body-mismatch": "log entry",
    "expired-cert": "not valid at validation time",
    "untrusted-ca": "certificate chain",
    "no-sct": "SCT",
    "no-promise": "inclusion promise or signed timestamp",
}


def test_every_tamper_is_covered_by_a_failing_case() -> None:
    assert set(_BUNDLE_TAMPERS) | {"bad-tsa"} == set(TAMPERS)


@pytest.mark.parametrize("content", ["message signature", "dsse"])
@pytest.mark.parametrize(("tamper", "reason"), list(_BUNDLE_TAMPERS.items()), ids=list(_BUNDLE_TAMPERS))
def test_sigstore_python_rejects_each_tampered_bundle_for_the_named_reason(
    sigstore: TestSigstore, verifier: Verifier, tamper: str, reason: str, content: str
) -> None:
    identity = policy.Identity(identity=EMAIL, issuer=ISSUER)
    with pytest.raises((VerificationError, InvalidBundle), match=re.escape(reason)):
        if content == "dsse":
            statement = sigstore.statement_for_image(IMAGE_DIGEST, COSIGN_SIGN_PREDICATE)
            bundle = sigstore.sign_bundle(statement=statement, identity=EMAIL, issuer=ISSUER, tamper=tamper)
            verifier.verify_dsse(_load(bundle), identity)
        else:
            digest = hashlib.sha256(ARTIFACT).digest()
            bundle = sigstore.sign_bundle(artifact_digest=digest, identity=EMAIL, issuer=ISSUER, tamper=tamper)
            verifier.verify_artifact(ARTIFACT, _load(bundle), identity)


def test_a_corrupted_tsa_timestamp_is_no_signed_time(sigstore: TestSigstore, verifier: Verifier) -> None:
    bundle = sigstore.sign_bundle(
        artifact_digest=hashlib.sha256(ARTIFACT).digest(), identity=EMAIL, issuer=ISSUER, tsa=True, tamper="bad-tsa"
    )
    del bundle["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]
    with pytest.raises(VerificationError, match="not enough sources of verified time"):
        verifier.verify_artifact(ARTIFACT, _load(bundle), policy.Identity(identity=EMAIL, issuer=ISSUER))


@pytest.mark.parametrize("corrupt", [False, True], ids=["a good timestamp verifies", "a corrupted one does not"])
def test_rfc3161_timestamp_chains_to_the_trusted_tsa_and_covers_the_signature(
    sigstore: TestSigstore, corrupt: bool
) -> None:
    bundle = sigstore.sign_bundle(
        artifact_digest=hashlib.sha256(ARTIFACT).digest(),
        identity=EMAIL,
        issuer=ISSUER,
        tsa=True,
        tamper="bad-tsa" if corrupt else None,
    )
    material = bundle["verificationMaterial"]
    response_der = base64.b64decode(material["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"])
    assert response_der[:2] == b"\x30\x82" and b"\x30\x03\x02\x01\x00" in response_der[:10]
    response = decode_timestamp_response(response_der)
    signature = base64.b64decode(bundle["messageSignature"]["signature"])
    assert response.tst_info.message_imprint.message == hashlib.sha256(signature).digest()
    assert response.tst_info.gen_time == sigstore.now
    tsa_chain = json.loads(sigstore.trusted_root_path.read_text())["timestampAuthorities"][0]["certChain"]
    signer, root = (x509.load_der_x509_certificate(base64.b64decode(c["rawBytes"])) for c in tsa_chain["certificates"])
    tsa_verifier = VerifierBuilder().tsa_certificate(signer).add_root_certificate(root).build()
    if corrupt:
        with pytest.raises(TimestampVerificationError):
            tsa_verifier.verify_message(response, signature)
    else:
        assert tsa_verifier.verify_message(response, signature)


def test_v03_bundles_carry_a_single_certificate_and_older_ones_a_chain_without_root(sigstore: TestSigstore) -> None:
    digest = hashlib.sha256(ARTIFACT).digest()
    v3 = sigstore.sign_bundle(artifact_digest=digest, identity=EMAIL, issuer=ISSUER, version="0.3")
    v2 = sigstore.sign_bundle(artifact_digest=digest, identity=EMAIL, issuer=ISSUER, version="0.2")

    assert v3["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert set(v3["verificationMaterial"]) == {"certificate", "tlogEntries"}
    assert v2["mediaType"] == "application/vnd.dev.sigstore.bundle+json;version=0.2"
    chain = v2["verificationMaterial"]["x509CertificateChain"]["certificates"]
    issuers = [x509.load_der_x509_certificate(base64.b64decode(c["rawBytes"])) for c in chain]
    assert [c.subject for c in issuers[1:]] == [sigstore.fulcio.intermediate.subject]


# --- key-signed bundles (sigstore-python has no key support: checked with cryptography) -------------------------


def test_key_signed_dsse_bundle_matches_cosign_v3_layout_and_verifies(sigstore: TestSigstore, vectors: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    statement = sigstore.statement_for_image(IMAGE_DIGEST, COSIGN_SIGN_PREDICATE)
    bundle = sigstore.sign_bundle(statement=statement, key=key)
    real = json.loads((vectors / "tobby-fetch-cosign-oci/v3-bundle-referrers/bundle-sigstore.json").read_text())

    assert list(bundle) == list(real)
    assert (
        bundle["verificationMaterial"]["publicKey"]["hint"]
        == base64.b64encode(
            hashlib.sha256(
                key.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            ).digest()
        ).decode()
    )
    envelope = bundle["dsseEnvelope"]
    assert list(envelope) == list(real["dsseEnvelope"]) and list(envelope["signatures"][0]) == ["sig"]
    payload = base64.b64decode(envelope["payload"])
    key.public_key().verify(
        base64.b64decode(envelope["signatures"][0]["sig"]),
        pae(envelope["payloadType"], payload),
        ec.ECDSA(hashes.SHA256()),
    )

    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    real_entry = real["verificationMaterial"]["tlogEntries"][0]
    assert list(entry) == list(real_entry)
    body = json.loads(base64.b64decode(entry["canonicalizedBody"]))
    real_body = json.loads(base64.b64decode(real_entry["canonicalizedBody"]))
    assert _shape(body) == _shape(real_body)
    compact = json.dumps(envelope, separators=(",", ":")).encode()
    assert body["spec"]["envelopeHash"]["value"] == hashlib.sha256(compact).hexdigest()
    assert body["spec"]["payloadHash"]["value"] == hashlib.sha256(payload).hexdigest()
    assert base64.b64decode(body["spec"]["signatures"][0]["verifier"]) == key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _verify_set(sigstore, entry)
    assert int(entry["logIndex"]) != int(entry["inclusionProof"]["logIndex"])  # global vs shard index, as in Rekor


def test_statement_for_image_is_byte_identical_to_cosign_v3_sign(sigstore: TestSigstore, vectors: Path) -> None:
    real = json.loads((vectors / "tobby-fetch-cosign-oci/v3-bundle-referrers/bundle-sigstore.json").read_text())
    real_payload = base64.b64decode(real["dsseEnvelope"]["payload"])
    digest = "sha256:" + json.loads(real_payload)["subject"][0]["digest"]["sha256"]

    ours = json.dumps(sigstore.statement_for_image(digest, COSIGN_SIGN_PREDICATE), separators=(",", ":")).encode()

    assert ours == real_payload


def _shape(value: Any) -> Any:
    """Keys (in order) and value types of a JSON document, without the values."""
    if isinstance(value, dict):
        return [(k, _shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


def _verify_set(sigstore: TestSigstore, entry: dict[str, Any]) -> None:
    log_key, log_id = _tlog_key(sigstore, "tlogs")
    assert base64.b64decode(entry["logId"]["keyId"]) == log_id
    signed = rfc8785.dumps(
        {
            "body": entry["canonicalizedBody"],
            "integratedTime": int(entry["integratedTime"]),
            "logID": log_id.hex(),
            "logIndex": int(entry["logIndex"]),
        }
    )
    log_key.verify(
        base64.b64decode(entry["inclusionPromise"]["signedEntryTimestamp"]), signed, ec.ECDSA(hashes.SHA256())
    )


# --- legacy cosign .sig layers, piece by piece ------------------------------------------------------------------


@pytest.fixture(scope="module")
def legacy_layer(sigstore: TestSigstore) -> dict[str, Any]:
    return sigstore.sign_image_legacy(
        digest=IMAGE_DIGEST, docker_reference="127.0.0.1:5000/team/app", identity=EMAIL, issuer=ISSUER
    )


def _layer_parts(layer: dict[str, Any]) -> tuple[x509.Certificate, list[x509.Certificate], dict[str, Any], bytes]:
    annotations = layer["annotations"]
    cert = x509.load_pem_x509_certificate(annotations["dev.sigstore.cosign/certificate"].encode())
    chain = x509.load_pem_x509_certificates(annotations["dev.sigstore.cosign/chain"].encode())
    set_bundle = json.loads(annotations["dev.sigstore.cosign/bundle"])
    signature = base64.b64decode(annotations["dev.cosignproject.cosign/signature"])
    return cert, chain, set_bundle, signature


def test_legacy_layer_has_cosigns_annotation_and_bundle_layout(legacy_layer: dict[str, Any], vectors: Path) -> None:
    raw = (vectors / "containers-image/fixtures/dir-img-cosign-fulcio-rekor-valid/signature-1").read_bytes()
    real = json.loads(raw[raw.index(b"{") :])["annotations"]
    ours = legacy_layer["annotations"]

    assert sorted(ours) == sorted(real)
    assert _shape(json.loads(ours["dev.sigstore.cosign/bundle"])) == _shape(
        json.loads(real["dev.sigstore.cosign/bundle"])
    )
    body = json.loads(base64.b64decode(json.loads(ours["dev.sigstore.cosign/bundle"])["Payload"]["body"]))
    real_body = json.loads(base64.b64decode(json.loads(real["dev.sigstore.cosign/bundle"])["Payload"]["body"]))
    assert _shape(body) == _shape(real_body)


def test_legacy_payload_is_byte_identical_to_cosigns(vectors: Path) -> None:
    real = (vectors / "tobby-fetch-cosign-oci/simplesigning-payload.json").read_bytes().rstrip(b"\n")
    critical = json.loads(real)["critical"]

    ours = simple_signing_payload(critical["image"]["docker-manifest-digest"], critical["identity"]["docker-reference"])

    assert ours == real


def test_legacy_payload_escapes_html_and_sorts_annotations_like_go() -> None:
    payload = simple_signing_payload(IMAGE_DIGEST, "r/app", {"z": "1", "a": "<b>&"})
    assert payload.endswith(b'"optional":{"a":"\\u003cb\\u003e\\u0026","z":"1"}}')


def test_legacy_signature_verifies_over_the_payload_with_the_leaf_key(legacy_layer: dict[str, Any]) -> None:
    cert, _, _, signature = _layer_parts(legacy_layer)
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(signature, legacy_layer["payload"], ec.ECDSA(hashes.SHA256()))
    assert json.loads(legacy_layer["payload"])["critical"]["image"]["docker-manifest-digest"] == IMAGE_DIGEST


def test_legacy_set_verifies_with_the_log_key_over_the_jcs_payload(
    sigstore: TestSigstore, legacy_layer: dict[str, Any]
) -> None:
    _, _, set_bundle, signature = _layer_parts(legacy_layer)
    log_key, log_id = _tlog_key(sigstore, "tlogs")
    payload = set_bundle["Payload"]

    assert payload["logID"] == log_id.hex()
    log_key.verify(
        base64.b64decode(set_bundle["SignedEntryTimestamp"]), rfc8785.dumps(payload), ec.ECDSA(hashes.SHA256())
    )
    body = json.loads(base64.b64decode(payload["body"]))
    assert body["spec"]["data"]["hash"] == {
        "algorithm": "sha256",
        "value": hashlib.sha256(legacy_layer["payload"]).hexdigest(),
    }
    assert base64.b64decode(body["spec"]["signature"]["content"]) == signature
    cert_pem = legacy_layer["annotations"]["dev.sigstore.cosign/certificate"].encode()
    assert base64.b64decode(body["spec"]["signature"]["publicKey"]["content"]) == cert_pem


def test_legacy_entry_inclusion_proof_recomputes_the_signed_checkpoint_root(
    sigstore: TestSigstore, legacy_layer: dict[str, Any]
) -> None:
    _, _, set_bundle, _ = _layer_parts(legacy_layer)
    body = base64.b64decode(set_bundle["Payload"]["body"])
    entry = next(e for e in sigstore.log.entries if e.body == body)
    proof = entry.bundle_entry()["inclusionProof"]

    root = _merkle.root_from_inclusion_proof(
        _merkle.leaf_hash(body),
        int(proof["logIndex"]),
        int(proof["treeSize"]),
        [base64.b64decode(h) for h in proof["hashes"]],
    )

    assert root == base64.b64decode(proof["rootHash"])
    text, _, signatures = proof["checkpoint"]["envelope"].partition("\n\n")
    origin, size, b64_root = text.split("\n")
    assert re.fullmatch(r"rekor\.sealgate\.test - \d+", origin)
    assert (int(size), base64.b64decode(b64_root)) == (int(proof["treeSize"]), root)
    name, b64_signature = re.fullmatch(r"\u2014 (\S+) (\S+)\n", signatures).groups()  # type: ignore[union-attr]
    log_key, log_id = _tlog_key(sigstore, "tlogs")
    raw = base64.b64decode(b64_signature)
    assert (name, raw[:4]) == ("rekor.sealgate.test", log_id[:4])
    log_key.verify(raw[4:], (text + "\n").encode(), ec.ECDSA(hashes.SHA256()))


def test_legacy_certificate_chains_to_the_trusted_root_at_integrated_time(
    sigstore: TestSigstore, legacy_layer: dict[str, Any]
) -> None:
    cert, chain, set_bundle, _ = _layer_parts(legacy_layer)
    trusted = _fulcio_certs(sigstore)
    assert [c.fingerprint(hashes.SHA256()) for c in chain] == [c.fingerprint(hashes.SHA256()) for c in trusted]
    when = datetime.fromtimestamp(set_bundle["Payload"]["integratedTime"], UTC)
    assert cert.not_valid_before_utc <= when <= cert.not_valid_after_utc

    verified = _client_verifier(trusted[-1:], when).verify(cert, chain[:-1])

    assert verified.chain[-1] == trusted[-1]


def _client_verifier(anchors: list[x509.Certificate], when: datetime) -> Any:
    may_have_eku = {
        "ca_policy": ExtensionPolicy.webpki_defaults_ca(),
        "ee_policy": ExtensionPolicy.webpki_defaults_ee(),
    }
    policies = {
        k: v.may_be_present(x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None) for k, v in may_have_eku.items()
    }
    return PolicyBuilder().store(Store(anchors)).time(when).extension_policies(**policies).build_client_verifier()


def test_legacy_certificate_sct_verifies_with_the_ct_log_key(
    sigstore: TestSigstore, legacy_layer: dict[str, Any]
) -> None:
    cert, chain, _, _ = _layer_parts(legacy_layer)
    ct_key, ct_log_id = _tlog_key(sigstore, "ctlogs")
    scts = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value
    assert len(scts) == 1
    sct = scts[0]
    assert sct.log_id == ct_log_id
    issuer_key_hash = hashlib.sha256(
        chain[0].public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).digest()
    tbs = cert.tbs_precertificate_bytes
    signed = (
        struct.pack("!BBQH", 0, 0, int(sct.timestamp.replace(tzinfo=UTC).timestamp() * 1000), 1)
        + issuer_key_hash
        + len(tbs).to_bytes(3, "big")
        + tbs
        + struct.pack("!H", len(sct.extension_bytes))
        + sct.extension_bytes
    )

    ct_key.verify(sct.signature, signed, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        ct_key.verify(sct.signature, signed + b"\x00", ec.ECDSA(hashes.SHA256()))


# --- the Fulcio leaf profile --------------------------------------------------------------------------------------


def test_leaf_extension_layout_matches_a_production_fulcio_leaf(sigstore: TestSigstore, vectors: Path) -> None:
    raw = (vectors / "containers-image/fixtures/dir-img-cosign-fulcio-rekor-valid/signature-1").read_bytes()
    real_pem = json.loads(raw[raw.index(b"{") :])["annotations"]["dev.sigstore.cosign/certificate"]
    real = x509.load_pem_x509_certificate(real_pem.encode())  # a 2023 leaf: issuer v1 only

    _, ours, _ = sigstore.issue_certificate(identity=EMAIL, issuer=ISSUER, extensions="v1")

    layout = [(e.oid.dotted_string, e.critical) for e in ours.extensions]
    assert layout == [(e.oid.dotted_string, e.critical) for e in real.extensions]
    assert ours.subject == x509.Name([]) and ours.signature_hash_algorithm is not None
    assert ours.signature_hash_algorithm.name == real.signature_hash_algorithm.name  # type: ignore[union-attr]
    assert ours.not_valid_after_utc - ours.not_valid_before_utc == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("extensions", "v1", "v2"),
    [
        pytest.param("both", True, True, id="both issuer extensions, as production leaves carry"),
        pytest.param("v1", True, False, id="only the raw-bytes issuer (.1.1)"),
        pytest.param("v2", False, True, id="only the DER UTF8String issuer (.1.8)"),
        pytest.param("none", False, False, id="no issuer extension, like 2021 leaves"),
    ],
)
def test_issuer_extensions_are_encoded_as_fulcio_does(
    sigstore: TestSigstore, extensions: Any, v1: bool, v2: bool
) -> None:
    long_issuer = "https://issuer.example/" + "x" * 150  # forces a long-form DER length on .1.8
    _, cert, _ = sigstore.issue_certificate(identity=WORKFLOW, issuer=long_issuer, extensions=extensions)
    values = {e.oid.dotted_string: e.value for e in cert.extensions}

    assert ("1.3.6.1.4.1.57264.1.1" in values) is v1
    assert ("1.3.6.1.4.1.57264.1.8" in values) is v2
    if v1:
        assert values["1.3.6.1.4.1.57264.1.1"].value == long_issuer.encode()
        policy.OIDCIssuer(long_issuer).verify(cert)
    if v2:
        assert values["1.3.6.1.4.1.57264.1.8"].value[:3] == bytes([0x0C, 0x81, len(long_issuer)])
        policy.OIDCIssuerV2(long_issuer).verify(cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical and san.value.get_values_for_type(x509.UniformResourceIdentifier) == [WORKFLOW]


# --- legacy tampering: each case breaks exactly the named piece ----------------------------------------------------


def test_legacy_bad_set_fails_only_the_set_check(sigstore: TestSigstore) -> None:
    layer = sigstore.sign_image_legacy(
        digest=IMAGE_DIGEST, docker_reference="r/app", identity=EMAIL, issuer=ISSUER, tamper="bad-set"
    )
    cert, _, set_bundle, signature = _layer_parts(layer)
    log_key, _ = _tlog_key(sigstore, "tlogs")
    with pytest.raises(InvalidSignature):
        log_key.verify(
            base64.b64decode(set_bundle["SignedEntryTimestamp"]),
            rfc8785.dumps(set_bundle["Payload"]),
            ec.ECDSA(hashes.SHA256()),
        )
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(signature, layer["payload"], ec.ECDSA(hashes.SHA256()))


def test_legacy_expired_cert_has_a_valid_set_after_the_certificate_expired(sigstore: TestSigstore) -> None:
    layer = sigstore.sign_image_legacy(
        digest=IMAGE_DIGEST, docker_reference="r/app", identity=EMAIL, issuer=ISSUER, tamper="expired-cert"
    )
    cert, _, set_bundle, _ = _layer_parts(layer)
    log_key, _ = _tlog_key(sigstore, "tlogs")
    log_key.verify(
        base64.b64decode(set_bundle["SignedEntryTimestamp"]),
        rfc8785.dumps(set_bundle["Payload"]),
        ec.ECDSA(hashes.SHA256()),
    )
    assert datetime.fromtimestamp(set_bundle["Payload"]["integratedTime"], UTC) > cert.not_valid_after_utc


@pytest.mark.parametrize(
    ("tamper", "broken"),
    [
        pytest.param("bad-signature", "signature", id="bad signature: the payload signature does not verify"),
        pytest.param("body-mismatch", "body", id="body mismatch: the entry's digest is not the payload's"),
        pytest.param("untrusted-ca", "chain", id="untrusted CA: the chain does not reach the trusted root"),
        pytest.param("no-sct", "sct", id="no SCT: the leaf carries no embedded SCT"),
    ],
)
def test_legacy_tamper_breaks_the_named_piece(sigstore: TestSigstore, tamper: str, broken: str) -> None:
    layer = sigstore.sign_image_legacy(
        digest=IMAGE_DIGEST, docker_reference="r/app", identity=EMAIL, issuer=ISSUER, tamper=tamper
    )
    cert, chain, set_bundle, signature = _layer_parts(layer)
    body = json.loads(base64.b64decode(set_bundle["Payload"]["body"]))
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    checks: dict[str, Callable[[], object]] = {
        "signature": lambda: public_key.verify(signature, layer["payload"], ec.ECDSA(hashes.SHA256())),
        "body": lambda: _require(body["spec"]["data"]["hash"]["value"] == hashlib.sha256(layer["payload"]).hexdigest()),
        "chain": lambda: _client_verifier(_fulcio_certs(sigstore)[-1:], sigstore.now).verify(cert, chain[:-1]),
        "sct": lambda: cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps),
    }
    with pytest.raises((InvalidSignature, AssertionError, X509VerificationError, x509.ExtensionNotFound)):
        checks[broken]()
    for name, check in checks.items():
        if name != broken:
            check()


def _require(condition: bool) -> None:
    if not condition:
        raise AssertionError("condition does not hold")


# --- Merkle tree, trusted root and argument errors -----------------------------------------------------------------


@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_inclusion_proof_recomputes_the_tree_root(size: int, data: st.DataObject) -> None:
    leaves = [_merkle.leaf_hash(str(i).encode()) for i in range(size)]
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = _merkle.inclusion_proof(leaves, index)

    assert _merkle.root_from_inclusion_proof(leaves[index], index, size, proof) == _merkle.tree_root(leaves)
    if proof:
        assert _merkle.root_from_inclusion_proof(leaves[index], index, size, proof[:-1] + [b"\0" * 32]) != (
            _merkle.tree_root(leaves)
        )


def test_merkle_verifier_recomputes_a_real_rekor_proof(vectors: Path) -> None:
    real = json.loads((vectors / "sigstore-python/assets/bundle_v3.txt.sigstore").read_text())
    entry = real["verificationMaterial"]["tlogEntries"][0]
    proof = entry["inclusionProof"]

    root = _merkle.root_from_inclusion_proof(
        _merkle.leaf_hash(base64.b64decode(entry["canonicalizedBody"])),
        int(proof["logIndex"]),
        int(proof["treeSize"]),
        [base64.b64decode(h) for h in proof["hashes"]],
    )

    assert root == base64.b64decode(proof["rootHash"])


def test_trusted_root_lists_every_service_with_keyids_of_their_spki(sigstore: TestSigstore) -> None:
    root = json.loads(sigstore.trusted_root_path.read_text())
    assert root["mediaType"] == "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
    for section in ("tlogs", "ctlogs"):
        (instance,) = root[section]
        spki = base64.b64decode(instance["publicKey"]["rawBytes"])
        assert base64.b64decode(instance["logId"]["keyId"]) == hashlib.sha256(spki).digest()
        assert instance["publicKey"]["keyDetails"] == "PKIX_ECDSA_P256_SHA_256"
        assert instance["publicKey"]["validFor"]["start"].endswith("Z")
    ((ca,), (tsa,)) = root["certificateAuthorities"], root["timestampAuthorities"]
    assert len(ca["certChain"]["certificates"]) == 2 and len(tsa["certChain"]["certificates"]) == 2
    trusted = TrustedRoot.from_file(str(sigstore.trusted_root_path))
    assert len(trusted.get_fulcio_certs()) == 2 and len(trusted.get_timestamp_authorities()) == 1


def test_a_test_sigstore_without_tsa_has_no_timestamp_authorities(tmp_path: Path) -> None:
    sigstore = TestSigstore(tmp_path, with_tsa=False, now=datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    root = json.loads(sigstore.trusted_root_path.read_text())
    assert root["timestampAuthorities"] == []
    assert root["tlogs"][0]["publicKey"]["validFor"]["start"] == "2024-04-30T12:00:00Z"
    with pytest.raises(ToolError, match="no timestamp authority"):
        sigstore.sign_bundle(artifact_digest=b"\0" * 32, identity=EMAIL, issuer=ISSUER, tsa=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({}, "exactly one of", id="neither a digest nor a statement"),
        pytest.param(
            {"artifact_digest": b"\0" * 32, "statement": {}}, "exactly one of", id="both a digest and a statement"
        ),
        pytest.param({"artifact_digest": b"\0" * 31}, "32-byte", id="a digest of the wrong length"),
        pytest.param(
            {"artifact_digest": b"\0" * 32, "version": "0.4"}, "bundle version", id="an unknown bundle version"
        ),
        pytest.param({"artifact_digest": b"\0" * 32, "tamper": "bad-tsa"}, "tsa=True", id="bad-tsa without a TSA"),
        pytest.param({"artifact_digest": b"\0" * 32, "tamper": "typo"}, "unsupported tamper", id="an unknown tamper"),
        pytest.param({"artifact_digest": b"\0" * 32, "identity": None}, "needs key", id="no identity and no key"),
        pytest.param({"artifact_digest": b"\0" * 32, "issuer": None}, "OIDC issuer", id="an identity without issuer"),
    ],
)
def test_sign_bundle_rejects_bad_arguments(sigstore: TestSigstore, kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"identity": EMAIL, "issuer": ISSUER, **kwargs}
    with pytest.raises(ToolError, match=message):
        sigstore.sign_bundle(**arguments)


def test_identity_must_be_an_email_or_a_uri(sigstore: TestSigstore) -> None:
    with pytest.raises(ToolError, match="neither an email nor a URI"):
        sigstore.issue_certificate(identity="just-a-name", issuer=ISSUER)
