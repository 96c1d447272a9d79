"""Poisoned signature material: whatever anyone with push rights attaches beside a good signature is judged on
its own - one failed candidate with its reason - and never escapes as an internal error; the good signature
still admits the image. Also: a bundle counts as an image signature only when it states cosign's
``https://sigstore.dev/cosign/sign/v1`` statement over the image digest (sign-blob bundles do not).

Pure: the judge on attachments built in memory (the registry and webhook paths are in
tests/integration/test_poison_registry.py)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from tools.testsigstore import COSIGN_SIGN_PREDICATE, TestSigstore, pae
from verifier.cosign import generate_signing_key, public_key_pem
from verifier.cosign._attachment import BUNDLE_PREDICATE_ANNOTATION, BUNDLE_V03_MEDIA_TYPE, Attachment
from verifier.cosign._attest import build_key_bundle
from verifier.engine import check_signature, judge
from verifier.oci import Digest, Reference
from verifier.policy import compile_documents

IDENTITY = "https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1.0.0"
ISSUER = "https://token.actions.githubusercontent.com"
SBOM = "https://cyclonedx.org/bom"
KEY = generate_signing_key()
IMAGE = Reference.parse("127.0.0.1:5000/poison/app")
DIGEST = Digest.of(b'{"schemaVersion":2,"the":"image manifest"}')


@pytest.fixture(scope="module")
def sg(tmp_path_factory: pytest.TempPathFactory) -> TestSigstore:
    return TestSigstore(tmp_path_factory.mktemp("sigstore"))


def _policies(sg: TestSigstore, *, attestations: bool = False):
    keyless = {"identity": IDENTITY, "issuer": ISSUER, "trustedRoot": str(sg.trusted_root_path)}
    docs = []
    for name, authority in (
        ("keyless", {"name": "gha", "keyless": keyless}),
        ("key", {"name": "ci", "key": {"data": public_key_pem(KEY.public_key()).decode()}}),
    ):
        spec: dict = {"images": ["127.0.0.1:5000/**"], "authorities": [authority]}
        if attestations:
            spec["attestations"] = [{"name": "sbom", "predicateType": SBOM}]
        docs.append(
            {"apiVersion": "sealgate.dev/v1alpha1", "kind": "ImagePolicy", "metadata": {"name": name}, "spec": spec}
        )
    return {p.name: p for p in compile_documents([("p.yaml", i, d) for i, d in enumerate(docs)]).policies}


def _bundle(raw: bytes | dict, predicate: str | None = COSIGN_SIGN_PREDICATE) -> Attachment:
    data = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    annotations = {} if predicate is None else {BUNDLE_PREDICATE_ANNOTATION: predicate}
    return Attachment("referrers", BUNDLE_V03_MEDIA_TYPE, Digest.of(data), data, annotations, data)


def _good(sg: TestSigstore, predicate: str = COSIGN_SIGN_PREDICATE) -> list[Attachment]:
    statement = sg.statement_for_image(str(DIGEST), predicate)
    keyless = sg.sign_bundle(statement=statement, identity=IDENTITY, issuer=ISSUER)
    keyed = build_key_bundle(KEY, json.dumps(statement).encode())
    return [_bundle(keyless, predicate), _bundle(keyed, predicate)]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _rogue_dsse_bundle(
    sg: TestSigstore, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, logged: bytes | None = None
) -> dict:
    """A bundle by a self-made certificate, logged (public Rekor logs anyone's certificate) with ``logged`` as
    the entry's verifier (default: the certificate)."""
    payload = json.dumps(sg.statement_for_image(str(DIGEST), COSIGN_SIGN_PREDICATE)).encode()
    signature = key.sign(pae("application/vnd.in-toto+json", payload), ec.ECDSA(hashes.SHA256()))
    envelope = {
        "payload": _b64(payload),
        "payloadType": "application/vnd.in-toto+json",
        "signatures": [{"sig": _b64(signature)}],
    }
    verifier = logged or cert.public_bytes(serialization.Encoding.PEM)
    entry = sg.log.add_dsse(envelope, verifier, integrated_time=int(sg.now.timestamp()))
    return {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": _b64(cert.public_bytes(serialization.Encoding.DER))},
            "tlogEntries": [entry.bundle_entry()],
        },
        "dsseEnvelope": envelope,
    }


def _rogue_cert(sg: TestSigstore, key: ec.EllipticCurvePrivateKey, extension: x509.ExtensionType) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "rogue")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(sg.now - timedelta(minutes=1))
        .not_valid_after(sg.now + timedelta(minutes=10))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(extension, critical=False)
        .sign(key, hashes.SHA256())
    )


def _unknown_key_algorithm(bundle: dict) -> dict:
    """The bundle's certificate with its key algorithm OID (id-ecPublicKey) changed to one nobody knows."""
    der = base64.b64decode(bundle["verificationMaterial"]["certificate"]["rawBytes"])
    ec_oid = bytes.fromhex("06072a8648ce3d0201")
    assert ec_oid in der
    patched = der.replace(ec_oid, bytes.fromhex("06072a8648ce3d0209"), 1)
    out = json.loads(json.dumps(bundle))
    out["verificationMaterial"]["certificate"]["rawBytes"] = _b64(patched)
    return out


def _unsupported_key_pem() -> bytes:
    """A PEM public key whose algorithm OID (id-ecPublicKey, changed) nobody knows."""
    spki = KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    spki = spki.replace(bytes.fromhex("06072a8648ce3d0201"), bytes.fromhex("06072a8648ce3d0209"), 1)
    return b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(spki) + b"-----END PUBLIC KEY-----\n"


def _poisons(sg: TestSigstore) -> dict[str, Attachment]:
    statement = sg.statement_for_image(str(DIGEST), COSIGN_SIGN_PREDICATE)
    keyless = sg.sign_bundle(
        statement=statement, identity="https://evil.example/x", issuer=ISSUER, tamper="untrusted-ca"
    )
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    bad_basic_constraints = x509.UnrecognizedExtension(ExtensionOID.BASIC_CONSTRAINTS, b"\x04\x01\xff")
    bad_san = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x03\x86\x01")
    plain = x509.SubjectAlternativeName([x509.UniformResourceIdentifier("https://evil.example/x")])
    return {
        "deeply nested JSON": _bundle(b"[" * 200_000 + b"]" * 200_000),
        "deeply nested JSON, no annotation": _bundle(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, None),
        "an integer of 5000 digits": _bundle(b'{"mediaType":' + b"9" * 5000 + b"}"),
        "invalid UTF-8": _bundle(b'{"mediaType":"\xff\xfe"}'),
        "JSON of the wrong types": _bundle({"mediaType": ["x"], "verificationMaterial": 3, "dsseEnvelope": "y"}),
        "bad base64": _bundle(
            {**sg.sign_bundle(statement=statement, key=KEY), "dsseEnvelope": {"payload": "%%%", "payloadType": "x"}}
        ),
        "a certificate with an unknown key algorithm": _bundle(_unknown_key_algorithm(keyless)),
        "a log entry with an unsupported public key": _bundle(
            _rogue_dsse_bundle(sg, _rogue_cert(sg, rogue_key, plain), rogue_key, _unsupported_key_pem())
        ),
        "a malformed basicConstraints extension": _bundle(
            _rogue_dsse_bundle(sg, _rogue_cert(sg, rogue_key, bad_basic_constraints), rogue_key)
        ),
        "a malformed subjectAltName extension": _bundle(
            _rogue_dsse_bundle(sg, _rogue_cert(sg, rogue_key, bad_san), rogue_key)
        ),
        "an integratedTime of 10**30": _bundle(_huge_time(sg.sign_bundle(statement=statement, key=KEY))),
        "an unpromised copy of the log entry timed past the year 9999": _bundle(_timed_twin(keyless_outsider(sg))),
        "a DSSE payload nested too deeply": _bundle(_nested_payload(KEY)),
        "a payloadType with a lone surrogate": _bundle(_surrogate_payload_type(KEY, statement)),
    }


def _surrogate_payload_type(key, statement: dict) -> dict:
    doc = json.loads(build_key_bundle(key, json.dumps(statement).encode()))
    doc["dsseEnvelope"]["payloadType"] = "\ud800"
    return doc


def keyless_outsider(sg: TestSigstore) -> dict:
    """A keyless bundle from the trusted CA and log, for an identity no policy trusts."""
    statement = sg.statement_for_image(str(DIGEST), COSIGN_SIGN_PREDICATE)
    return sg.sign_bundle(statement=statement, identity="https://github.com/attacker/x", issuer=ISSUER)


def _timed_twin(bundle: dict) -> dict:
    """The log entry copied without its promise (nothing then signs its time) and timed at 10**17: an int64, but
    past what a datetime holds (it raised OSError, not a parse error)."""
    entries = bundle["verificationMaterial"]["tlogEntries"]
    twin = {k: v for k, v in entries[0].items() if k != "inclusionPromise"}
    entries.append({**twin, "integratedTime": str(10**17)})
    return bundle


def _huge_time(bundle: dict) -> dict:
    bundle["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = 10**30
    return bundle


def _nested_payload(key) -> bytes:
    """A key-signed bundle (by the policy's own key, as a careless CI might) over a hostile payload."""
    return build_key_bundle(key, b"[" * 100_000 + b"]" * 100_000)


POISON_NAMES = [
    "deeply nested JSON",
    "deeply nested JSON, no annotation",
    "an integer of 5000 digits",
    "invalid UTF-8",
    "JSON of the wrong types",
    "bad base64",
    "a certificate with an unknown key algorithm",
    "a log entry with an unsupported public key",
    "a malformed basicConstraints extension",
    "a malformed subjectAltName extension",
    "an integratedTime of 10**30",
    "an unpromised copy of the log entry timed past the year 9999",
    "a DSSE payload nested too deeply",
    "a payloadType with a lone surrogate",
]


@pytest.fixture(scope="module")
def poisons(sg: TestSigstore) -> dict[str, Attachment]:
    return _poisons(sg)


@pytest.mark.parametrize("name", POISON_NAMES)
@pytest.mark.parametrize("policy", ["keyless", "key"])
def test_a_poison_candidate_is_one_failed_check(sg, poisons, name: str, policy: str) -> None:
    compiled = _policies(sg)[policy]
    check = check_signature(compiled.authorities[0], poisons[name], IMAGE.with_digest(DIGEST), DIGEST)
    assert not check.verified
    assert check.code != "OK" and "\n" not in check.reason and len(check.reason) < 400


@pytest.mark.parametrize("name", POISON_NAMES)
@pytest.mark.parametrize("policy", ["keyless", "key"])
def test_a_poison_beside_a_good_signature_still_admits(sg, poisons, name: str, policy: str) -> None:
    compiled = _policies(sg)[policy]
    good = _good(sg)
    result = judge(compiled, IMAGE, DIGEST, [poisons[name], *good])
    assert result.passed, result.reason
    alone = judge(compiled, IMAGE, DIGEST, [poisons[name]])
    assert not alone.passed and alone.code not in ("OK", "INTERNAL_ERROR")


@pytest.mark.parametrize("name", POISON_NAMES)
@pytest.mark.parametrize("policy", ["keyless", "key"])
def test_a_poison_attestation_beside_a_good_one_still_admits(sg, poisons, name: str, policy: str) -> None:
    compiled = _policies(sg, attestations=True)[policy]
    poison = poisons[name]
    as_attestation = Attachment(
        poison.layout,
        poison.media_type,
        poison.digest,
        poison.payload,
        {BUNDLE_PREDICATE_ANNOTATION: SBOM},
        poison.bundle,
    )
    found = [as_attestation, poison, *_good(sg), *_good(sg, SBOM)]
    assert judge(compiled, IMAGE, DIGEST, found).passed
    denied = judge(compiled, IMAGE, DIGEST, [as_attestation, *_good(sg)])
    assert not denied.passed and denied.code != "OK"


# --- bundles that are not image signatures ----------------------------------------------------------------


def _sign_blob_over_manifest(sg: TestSigstore, *, keyless: bool) -> Attachment:
    """What `cosign sign-blob --bundle` makes for the manifest bytes: a message signature over their digest."""
    who = {"identity": IDENTITY, "issuer": ISSUER} if keyless else {"key": KEY}
    return _bundle(sg.sign_bundle(artifact_digest=bytes.fromhex(DIGEST.hex), **who))


@pytest.mark.parametrize("policy", ["keyless", "key"])
def test_a_sign_blob_bundle_over_the_manifest_is_not_an_image_signature(sg, policy: str) -> None:
    compiled = _policies(sg)[policy]
    blob = _sign_blob_over_manifest(sg, keyless=policy == "keyless")
    if policy == "key":  # a key-signed sign-blob bundle with no log entry (--tlog-upload=false)
        doc = json.loads(blob.payload)
        doc["verificationMaterial"].pop("tlogEntries")
        blob = _bundle(doc)
    check = check_signature(compiled.authorities[0], blob, IMAGE.with_digest(DIGEST), DIGEST)
    assert (check.verified, check.code) == (False, "NOT_A_SIGNATURE")
    assert "message signature" in check.reason
    assert not judge(compiled, IMAGE, DIGEST, [blob]).passed
    assert judge(compiled, IMAGE, DIGEST, [blob, *_good(sg)]).passed


@pytest.mark.parametrize("policy", ["keyless", "key"])
def test_a_statement_with_another_predicate_or_subject_is_not_an_image_signature(sg, policy: str) -> None:
    compiled = _policies(sg)[policy]
    other = Digest.of(b"another image")
    for statement, code in (
        (sg.statement_for_image(str(DIGEST), SBOM), "NOT_A_SIGNATURE"),
        (sg.statement_for_image(str(other), COSIGN_SIGN_PREDICATE), None),
    ):
        if policy == "keyless":
            raw: bytes | dict = sg.sign_bundle(statement=statement, identity=IDENTITY, issuer=ISSUER)
        else:
            raw = build_key_bundle(KEY, json.dumps(statement).encode())
        attachment = _bundle(raw, None)  # no predicate annotation: judged by what it states
        check = check_signature(compiled.authorities[0], attachment, IMAGE.with_digest(DIGEST), DIGEST)
        assert not check.verified
        if code is not None:
            assert check.code == code
        assert not judge(compiled, IMAGE, DIGEST, [attachment]).passed


def test_a_sign_blob_bundle_is_not_an_attestation_either(sg) -> None:
    compiled = _policies(sg, attestations=True)["keyless"]
    blob = _sign_blob_over_manifest(sg, keyless=True)
    as_attestation = Attachment(
        blob.layout, blob.media_type, blob.digest, blob.payload, {BUNDLE_PREDICATE_ANNOTATION: SBOM}, blob.bundle
    )
    result = judge(compiled, IMAGE, DIGEST, [as_attestation, *_good(sg)])
    assert not result.passed


# --- a bug that hostile material reaches ------------------------------------------------------------------


def test_an_unexpected_exception_while_judging_is_that_candidates_failure_and_is_logged(sg, monkeypatch, caplog):
    """Not an internal error: that would follow onError, and onError: allow would admit the image."""
    import verifier.engine._judge as judge_module

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("a lookup sealgate got wrong")

    monkeypatch.setattr(judge_module, "_bundle", broken)
    compiled = _policies(sg)["keyless"]
    with caplog.at_level("ERROR", logger="verifier.crypto._signatures"):
        check = check_signature(compiled.authorities[0], _good(sg)[0], IMAGE.with_digest(DIGEST), DIGEST)
        result = judge(compiled, IMAGE, DIGEST, _good(sg))
    assert not check.verified and check.code == "MATERIAL_INVALID"
    assert check.reason == "signature material sealgate could not judge (KeyError: 'a lookup sealgate got wrong')"
    assert not result.passed and result.code not in ("OK", "INTERNAL_ERROR")
    assert any("a bug" in r.getMessage() and r.exc_info for r in caplog.records)
    attested, _ = judge_module._attestation(compiled.authorities[0], _good(sg, SBOM)[0], DIGEST, SBOM)
    assert attested.code == "MATERIAL_INVALID" and "KeyError" in attested.reason
