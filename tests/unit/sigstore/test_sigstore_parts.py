"""DSSE/in-toto, checkpoints, trusted roots, identities and malformed bundles: each part on its own."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from verifier.cosign import load_public_key
from verifier.errors import (
    BundleInvalidError,
    ConfigError,
    EnvelopeInvalidError,
    SealgateError,
    SignatureInvalidError,
    TransparencyLogError,
    TrustRootError,
    UsageError,
)
from verifier.oci import Digest
from verifier.sigstore import (
    Identity,
    TrustedRoot,
    pae,
    parse_checkpoint,
    parse_envelope,
    parse_statement,
    statement_subject_matches,
    verify_bundle,
    verify_envelope,
)

HAPPY = "conformance/bundle-verify/happy-path-v0.3-new-mediaType/bundle.sigstore.json"
BEACON = Identity(
    subject="https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
    issuer="https://token.actions.githubusercontent.com",
)


def test_pae_matches_the_dsse_spec_example() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("t\u00e9", b"\xff") == b"DSSEv1 3 t\xc3\xa9 1 \xff"


# --- cosign verify-blob-attestation envelopes (vectors/README.md §7b) --------------------------------------

BLOB_CASES = {
    "slsa provenance matches the blob": ("blobSLSAProvenanceSignature.dsse.json", "blob", True),
    "slsa provenance does not match another blob": ("blobSLSAProvenanceSignature.dsse.json", "other-blob", False),
    "an empty subject list matches nothing": ("dssePredicateEmptySubject.dsse.json", "blob", False),
    "a subject without sha256 matches nothing": ("dssePredicateMissingSha256.dsse.json", "blob", False),
    "one of two subjects matching is enough": ("dssePredicateMultipleSubjects.dsse.json", "blob", True),
    "two subjects neither matching fails": ("dssePredicateMultipleSubjectsInvalid.dsse.json", "blob", False),
}


@pytest.mark.parametrize("name", sorted(BLOB_CASES))
def test_cosign_blob_attestation_subject(name: str, vectors: Path) -> None:
    envelope_file, blob, expected = BLOB_CASES[name]
    d = vectors / "cosign/verify-blob-attestation"
    env = parse_envelope((d / envelope_file).read_bytes())
    payload = verify_envelope(env, [load_public_key((d / "cosign.pub").read_bytes())])
    try:
        statement = parse_statement(payload)
    except EnvelopeInvalidError:
        assert not expected
        return
    assert statement_subject_matches(statement, Digest.of((d / blob).read_bytes())) is expected


def test_an_envelope_does_not_verify_with_another_key(vectors: Path) -> None:
    d = vectors / "cosign/verify-blob-attestation"
    env = parse_envelope((d / "blobSLSAProvenanceSignature.dsse.json").read_bytes())
    other = load_public_key((vectors / "containers-image/fixtures/cosign.pub").read_bytes())
    with pytest.raises(SignatureInvalidError):
        verify_envelope(env, [other])


def test_subject_annotations_must_all_be_present() -> None:
    statement = {"subject": [{"digest": {"sha256": "ab" * 32}, "annotations": {"env": "prod"}}]}
    digest = Digest("sha256", "ab" * 32)
    assert statement_subject_matches(statement, digest, {"env": "prod"})
    assert not statement_subject_matches(statement, digest, {"env": "dev"})
    assert not statement_subject_matches({"subject": [None]}, digest)


MALFORMED_ENVELOPES: dict[str, Any] = {
    "not JSON": b"{",
    "a JSON array": b"[]",
    "no payloadType": {"payload": "e30=", "signatures": [{"sig": "AA=="}]},
    "payload not base64": {"payloadType": "t", "payload": "!!", "signatures": [{"sig": "AA=="}]},
    "no signatures": {"payloadType": "t", "payload": "e30=", "signatures": []},
    "an empty signature": {"payloadType": "t", "payload": "e30=", "signatures": [{"sig": ""}]},
    "a keyid that is not a string": {
        "payloadType": "t",
        "payload": "e30=",
        "signatures": [{"sig": "AA==", "keyid": 1}],
    },
}


@pytest.mark.parametrize("name", sorted(MALFORMED_ENVELOPES))
def test_malformed_envelope_is_rejected(name: str) -> None:
    with pytest.raises(EnvelopeInvalidError):
        parse_envelope(MALFORMED_ENVELOPES[name])


def test_url_safe_base64_is_accepted_in_envelopes() -> None:
    env = parse_envelope({"payloadType": "t", "payload": "-_8", "signatures": [{"sig": "AA"}]})
    assert env.payload == b"\xfb\xff"


@pytest.mark.parametrize("statement", [b"{}", b'{"_type":"x","subject":[],"predicateType":"p"}', b"[1]"])
def test_malformed_statement_is_rejected(statement: bytes) -> None:
    with pytest.raises(EnvelopeInvalidError):
        parse_statement(statement)


# --- checkpoints (sigstore-java samples) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "error_header_body_separator.txt",
        "error_header_count.txt",
        "error_no_newline_after_signature.txt",
        "error_no_signatures.txt",
        "error_not_a_number.txt",
        "error_signature_format_invalid.txt",
        "error_signature_length_insufficient.txt",
    ],
)
def test_malformed_checkpoint_is_rejected(name: str, vectors: Path) -> None:
    with pytest.raises(TransparencyLogError):
        parse_checkpoint((vectors / "sigstore-java/checkpoints" / name).read_text())


def test_valid_checkpoints_parse(vectors: Path) -> None:
    one = parse_checkpoint((vectors / "sigstore-java/checkpoints/valid.txt").read_text())
    assert (one.origin, one.size, len(one.signatures)) == ("rekor.sigstore.dev - 2605736670972794746", 37795272, 1)
    two = parse_checkpoint((vectors / "sigstore-java/checkpoints/valid_multi_sig.txt").read_text())
    assert [name for name, _, _ in two.signatures] == ["rekor.sigstore.dev", "bob.loblaw.dev"]


# --- trusted roots -------------------------------------------------------------------------------------

ROOTS = {
    "sigstore-python v1 root loads": ("sigstore-python/assets/trusted_root/trustedroot.v1.json", None),
    "rekor-tiles ed25519 root loads": (
        "sigstore-python/assets/trusted_root/trustedroot.v1.local_tlog_ed25519_rekor-tiles.json",
        None,
    ),
    "a bad media type is rejected": ("sigstore-python/assets/trusted_root/trustedroot.badtype.json", "media type"),
    "a tlog key without validity start is rejected": (
        "conformance/bundle-verify/trust-root-tlog-missing-validity-start_fail/trusted_root.json",
        "no start",
    ),
    "JSON Lines from gh attestation trusted-root load merged": (
        "sigstore-java/bundles/github-private-no-tlog/trusted_root.jsonl",
        None,
    ),
}


@pytest.mark.parametrize("name", sorted(ROOTS))
def test_trusted_root_loading(name: str, vectors: Path) -> None:
    path, error = ROOTS[name]
    if error is None:
        root = TrustedRoot.from_file(vectors / path)
        assert root.certificate_authorities
    else:
        with pytest.raises(TrustRootError, match=error):
            TrustedRoot.from_file(vectors / path)


def test_builtin_roots_equal_the_vectors_copies(vectors: Path) -> None:
    for builtin, copy in ((TrustedRoot.production(), "production"), (TrustedRoot.staging(), "staging")):
        stored = TrustedRoot.from_file(vectors / f"sigstore-python/trust-roots/{copy}/trusted_root.json")
        assert [k.key_id for k in builtin.tlogs] == [k.key_id for k in stored.tlogs]
        assert [a.chain for a in builtin.certificate_authorities] == [a.chain for a in stored.certificate_authorities]


def test_a_missing_trusted_root_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(TrustRootError, match="cannot read"):
        TrustedRoot.from_file(tmp_path / "absent.json")


# --- identities ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"subject": "a", "subject_regexp": "a"},
        {"subject": "a", "issuer": "i", "issuer_regexp": "i"},
        {"subject_regexp": "("},
    ],
)
def test_invalid_identity_is_a_config_error(kwargs: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Identity(**kwargs)


def test_identity_regexps_are_full_matches() -> None:
    ident = Identity(subject_regexp=r"https://github\.com/org/.*", issuer_regexp=r"https://token\..*")
    assert ident.matches_subject("https://github.com/org/repo/.github/workflows/x.yml@refs/heads/main")
    assert not ident.matches_subject("https://evil.example/?https://github.com/org/x")
    assert ident.matches_issuer("https://token.actions.githubusercontent.com")
    assert not ident.matches_issuer(None)


# --- malformed bundles --------------------------------------------------------------------------------


def _mutate(doc: dict[str, Any], name: str) -> Any:
    vm = doc["verificationMaterial"]
    entry = vm["tlogEntries"][0]
    if name == "an unknown media type":
        doc["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.4+json"
    elif name == "a JSON array":
        return [doc]
    elif name == "no verification material":
        del doc["verificationMaterial"]
    elif name == "both a certificate and a public key":
        vm["publicKey"] = {"hint": "x"}
    elif name == "neither content":
        del doc["messageSignature"]
    elif name == "both contents":
        doc["dsseEnvelope"] = {"payloadType": "t", "payload": "", "signatures": []}
    elif name == "a certificate that is not DER":
        vm["certificate"]["rawBytes"] = base64.b64encode(b"not a certificate").decode()
    elif name == "a log index that is not a number":
        entry["logIndex"] = "12x"
    elif name == "a body that is not base64":
        entry["canonicalizedBody"] = "%%%"
    elif name == "a log id of another log":
        entry["logId"]["keyId"] = base64.b64encode(b"\x00" * 32).decode()
    elif name == "a body that is not JSON":
        entry["canonicalizedBody"] = base64.b64encode(b"not json").decode()
    elif name == "a tlog entries object":
        vm["tlogEntries"] = {"0": entry}
    elif name == "a timestamp that is not base64":
        vm["timestampVerificationData"] = {"rfc3161Timestamps": [{"signedTimestamp": "!"}]}
    elif name == "an unknown digest algorithm":
        doc["messageSignature"]["messageDigest"]["algorithm"] = "MD5"
    return doc


MALFORMED_BUNDLES = [
    "an unknown media type",
    "a JSON array",
    "no verification material",
    "both a certificate and a public key",
    "neither content",
    "both contents",
    "a certificate that is not DER",
    "a log index that is not a number",
    "a body that is not base64",
    "a log id of another log",
    "a body that is not JSON",
    "a tlog entries object",
    "a timestamp that is not base64",
    "an unknown digest algorithm",
]


@pytest.mark.parametrize("name", MALFORMED_BUNDLES)
def test_malformed_bundle_fails_with_a_reason(name: str, vectors: Path) -> None:
    doc = json.loads((vectors / HAPPY).read_bytes())
    bundle = json.dumps(_mutate(doc, name)).encode()
    artifact = (vectors / "conformance/bundle-verify/a.txt").read_bytes()
    with pytest.raises(SealgateError) as info:
        verify_bundle(bundle, trusted_root=TrustedRoot.production(), identity=BEACON, artifact=artifact)
    assert isinstance(info.value, BundleInvalidError | TransparencyLogError), info.value
    assert info.value.message


def test_the_unmutated_bundle_verifies(vectors: Path) -> None:
    artifact = (vectors / "conformance/bundle-verify/a.txt").read_bytes()
    result = verify_bundle(
        (vectors / HAPPY).read_bytes(), trusted_root=TrustedRoot.production(), identity=BEACON, artifact=artifact
    )
    assert result.kind == "message-signature"


def test_an_oversized_bundle_is_rejected_before_parsing(vectors: Path) -> None:
    with pytest.raises(BundleInvalidError, match="larger than 1000 bytes"):
        verify_bundle(b" " * 1001, trusted_root=TrustedRoot.production(), identity=BEACON, artifact=b"", max_bytes=1000)


@pytest.mark.parametrize(
    "kwargs",
    [{"artifact": b"x", "digest": Digest.of(b"x")}, {}, {"artifact": b"x", "key": "k"}],
)
def test_ambiguous_requests_are_usage_errors(kwargs: dict[str, Any], vectors: Path) -> None:
    args: dict[str, Any] = {"identity": BEACON, **kwargs}
    if "key" in args:
        args["key"] = load_public_key((vectors / "containers-image/fixtures/cosign.pub").read_bytes())
    with pytest.raises(UsageError):
        verify_bundle((vectors / HAPPY).read_bytes(), trusted_root=TrustedRoot.production(), **args)
