"""Legacy cosign keyless signatures (``.sig`` layers with cert, chain and Rekor SET annotations) and the
SET itself: containers/image fixtures and sigstore-rs's 2021 signature (vectors/README.md §6a, §6b)."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from tests.support.sigstore_json import parse_sigstore_json
from verifier.errors import (
    BundleInvalidError,
    CertificateInvalidError,
    IdentityMismatchError,
    SealgateError,
    SignatureInvalidError,
    TransparencyLogError,
)
from verifier.sigstore import (
    Identity,
    LogKey,
    TimeRange,
    TrustedRoot,
    check_rekor_entry_matches,
    verify_legacy_keyless,
    verify_rekor_set,
)

CERT = "dev.sigstore.cosign/certificate"
CHAIN = "dev.sigstore.cosign/chain"
BUNDLE = "dev.sigstore.cosign/bundle"
MITR = Identity(subject="mitr@redhat.com", issuer="https://github.com/login/oauth")


@pytest.fixture(scope="module")
def prod(vectors: Path) -> TrustedRoot:
    return TrustedRoot.from_file(vectors / "sigstore-python/trust-roots/production/trusted_root.json")


def _layer(vectors: Path) -> dict[str, Any]:
    sig = parse_sigstore_json(
        (vectors / "containers-image/fixtures/dir-img-cosign-fulcio-rekor-valid/signature-1").read_bytes()
    )
    a = sig.annotations
    return {
        "signature": sig.signature,
        "payload": sig.payload,
        "certificate_pem": a[CERT],
        "chain_pem": a.get(CHAIN),
        "rekor_bundle": a[BUNDLE],
    }


def test_containers_image_keyless_signature_verifies_at_the_integrated_time(vectors: Path, prod: TrustedRoot) -> None:
    result = verify_legacy_keyless(**_layer(vectors), trusted_root=prod, identity=MITR)
    assert result.certificate is not None
    assert result.signed_at == datetime.fromtimestamp(result.log_entries[0].integrated_time, UTC)
    assert result.log_entries[0].set_verified


def _bad_set(layer: dict[str, Any]) -> str:
    doc = json.loads(layer["rekor_bundle"])
    doc["Payload"]["integratedTime"] += 1
    return json.dumps(doc)


MUTATIONS: dict[str, tuple[Any, type[SealgateError]]] = {
    "another email does not match": (
        lambda layer: {"identity": Identity(subject="this-does-not-match@example.com")},
        IdentityMismatchError,
    ),
    "another issuer does not match": (
        lambda layer: {"identity": Identity(subject="mitr@redhat.com", issuer="https://accounts.google.com")},
        IdentityMismatchError,
    ),
    "a subject regexp is a full match, not a search": (
        lambda layer: {"identity": Identity(subject_regexp="redhat", issuer="https://github.com/login/oauth")},
        IdentityMismatchError,
    ),
    "a removed certificate fails": (lambda layer: {"certificate_pem": ""}, CertificateInvalidError),
    "a removed SET fails": (lambda layer: {"rekor_bundle": None}, TransparencyLogError),
    "an altered SET fails": (lambda layer: {"rekor_bundle": _bad_set(layer)}, TransparencyLogError),
    "a SET that is not JSON fails": (lambda layer: {"rekor_bundle": "{not json"}, BundleInvalidError),
    "another payload fails the signature": (lambda layer: {"payload": layer["payload"] + b" "}, SignatureInvalidError),
    "another signature fails": (
        lambda layer: {"signature": base64.b64decode(base64.b64encode(b"invalid signature"))},
        SignatureInvalidError,
    ),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_containers_image_keyless_mutation_fails(name: str, vectors: Path, prod: TrustedRoot) -> None:
    layer = _layer(vectors)
    change, error = MUTATIONS[name]
    args = {**layer, "trusted_root": prod, "identity": MITR, **change(layer)}
    with pytest.raises(error):
        verify_legacy_keyless(**args)


def test_removing_the_chain_annotation_still_verifies_with_the_trusted_root_chain(
    vectors: Path, prod: TrustedRoot
) -> None:
    result = verify_legacy_keyless(**{**_layer(vectors), "chain_pem": None}, trusted_root=prod, identity=MITR)
    assert result.certificate is not None


def test_internal_testdata_rekor_set_gives_its_integrated_time(vectors: Path, prod: TrustedRoot) -> None:
    entry = verify_rekor_set((vectors / "containers-image/internal-testdata/rekor-set").read_bytes(), prod)
    assert entry.integrated_time == 1670870899
    assert entry.set_verified
    cert_pem = (vectors / "containers-image/internal-testdata/rekor-cert").read_bytes()
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_pem)
    check_rekor_entry_matches(
        entry,
        signature=base64.b64decode((vectors / "containers-image/internal-testdata/rekor-sig").read_bytes()),
        payload=(vectors / "containers-image/internal-testdata/rekor-payload").read_bytes(),
        public_key_or_cert=cert,
    )
    with pytest.raises(TransparencyLogError, match="different artifact digest"):
        check_rekor_entry_matches(entry, signature=None, payload=b"other", public_key_or_cert=cert)


def test_a_set_with_an_rsa_rekor_key_fails(vectors: Path) -> None:
    rsa_key = serialization.load_pem_public_key((vectors / "containers-image/fixtures/some-rsa-key.pub").read_bytes())
    spki = rsa_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    raw = json.loads((vectors / "containers-image/internal-testdata/rekor-set").read_bytes())
    log_id = bytes.fromhex(raw["Payload"]["logID"])
    root = TrustedRoot(
        tlogs=[
            LogKey(
                "https://rekor.example",
                log_id,
                rsa_key,
                spki,  # type: ignore[arg-type]
                TimeRange(datetime(2020, 1, 1, tzinfo=UTC)),
            )
        ]
    )
    with pytest.raises(TransparencyLogError, match="not ECDSA"):
        verify_rekor_set(json.dumps(raw), root)


def test_a_set_outside_the_log_key_validity_fails(vectors: Path, prod: TrustedRoot) -> None:
    log = replace(prod.tlogs[0], valid_for=TimeRange(datetime(2023, 1, 1, tzinfo=UTC)))
    root = TrustedRoot(tlogs=[log])
    with pytest.raises(TransparencyLogError, match="outside the log key"):
        verify_rekor_set((vectors / "containers-image/internal-testdata/rekor-set").read_bytes(), root)


def _rs2021(vectors: Path) -> dict[str, Any]:
    d = vectors / "sigstore-rs/cosign-keyless-2021"
    return {
        "signature": base64.b64decode((d / "signature.b64").read_text().strip()),
        "payload": (d / "payload.json").read_bytes(),
        "certificate_pem": (d / "cert.pem").read_text(),
        "chain_pem": None,
        "rekor_bundle": (d / "rekor-bundle.json").read_text(),
    }


def test_2021_keyless_signature_verifies_when_sct_is_not_required(vectors: Path, prod: TrustedRoot) -> None:
    result = verify_legacy_keyless(
        **_rs2021(vectors), trusted_root=prod, identity=Identity(subject="flavio@castelli.me"), require_sct=False
    )
    assert result.signed_at == datetime.fromtimestamp(1634714717, UTC)
    assert result.log_entries[0].kind == "rekord"
    assert hashlib.sha256(result.payload or b"").hexdigest()


def test_2021_keyless_signature_has_no_sct_so_fails_by_default(vectors: Path, prod: TrustedRoot) -> None:
    with pytest.raises(CertificateInvalidError, match="no embedded SCT"):
        verify_legacy_keyless(**_rs2021(vectors), trusted_root=prod, identity=Identity(subject="flavio@castelli.me"))


def test_2021_certificate_cannot_match_an_issuer_pinning_identity(vectors: Path, prod: TrustedRoot) -> None:
    identity = Identity(subject="flavio@castelli.me", issuer="https://github.com/login/oauth")
    with pytest.raises(IdentityMismatchError, match="no issuer extension"):
        verify_legacy_keyless(**_rs2021(vectors), trusted_root=prod, identity=identity, require_sct=False)
