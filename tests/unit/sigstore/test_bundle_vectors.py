"""Real Sigstore bundles from sigstore-python, -java, -go, -rs, cosign and tobby-fetch, each with the result
their upstream tests assert (vectors/README.md §3-§7), through :func:`verifier.sigstore.verify_bundle`.

A failing case names the error class it must fail with, so a bundle that fails "for the wrong reason" shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from verifier.cosign import load_public_key
from verifier.errors import (
    ArtifactMismatchError,
    BundleInvalidError,
    IdentityMismatchError,
    SealgateError,
    SignatureInvalidError,
    TimestampInvalidError,
    TransparencyLogError,
)
from verifier.oci import Digest
from verifier.sigstore import Identity, TrustedRoot, verify_bundle

PROD = "sigstore-python/trust-roots/production/trusted_root.json"
STAGING = "sigstore-python/trust-roots/staging/trusted_root.json"
GH = "https://github.com/login/oauth"
GOOGLE = "https://accounts.google.com"
GHA = "https://token.actions.githubusercontent.com"
BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
SJ = "sigstore-java/bundles/"
SP = "sigstore-python/assets/"
SGO = "sigstore-go/testing-data/"
SIGSTORE_JS = "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
SJS_SHA512 = (
    "46d4e2f74c4877316640000a6fdf8a8b59f1e0847667973e9859f774dd31b8f1"
    "e0937813b777fb66a2ac67d50540fe34640966eee9fc2ccca387082b4c85cd3c"
)


@dataclass(frozen=True)
class Case:
    bundle: str
    root: str
    subject: str | None = None
    issuer: str | None = None
    artifact: str | None = None
    digest: str | None = None
    key: str | None = None
    error: type[SealgateError] | None = None  # None = must verify
    options: dict[str, Any] = field(default_factory=dict)
    subject_regexp: str | None = None


CASES: dict[str, Case] = {
    # --- sigstore-python (§3a) --------------------------------------------------------------------------
    "python v0.1 staging bundle verifies": Case(
        SP + "bundle.txt.sigstore", STAGING, "a@tny.town", GH, SP + "bundle.txt"
    ),
    "python v0.1 bundle with another SAN fails": Case(
        SP + "bundle.txt.sigstore", STAGING, "bad@ident.example.com", GH, SP + "bundle.txt", error=IdentityMismatchError
    ),
    "python staging bundle fails against the production root": Case(
        SP + "bundle.txt.sigstore", PROD, "a@tny.town", GH, SP + "bundle.txt", error=TransparencyLogError
    ),
    "python v0.3 bundle verifies": Case(
        SP + "bundle_v3.txt.sigstore", STAGING, "william@yossarian.net", GH, SP + "bundle_v3.txt"
    ),
    "python v0.3 alt media type verifies": Case(
        SP + "bundle_v3_alt.txt.sigstore", STAGING, "william@yossarian.net", GH, SP + "bundle_v3_alt.txt"
    ),
    "python rekor v2 bundle verifies": Case(
        SP + "staging-rekor-v2.txt.sigstore.json", STAGING, "jku@goto.fi", GH, SP + "staging-rekor-v2.txt"
    ),
    "python dsse rekor v2 bundle verifies for the a.txt subject": Case(
        SP + "a.dsse.staging-rekor-v2.txt.sigstore.json", STAGING, BEACON, GHA, "conformance/bundle-verify/a.txt"
    ),
    "python dsse rekor v2 bundle fails for its sibling file": Case(
        SP + "a.dsse.staging-rekor-v2.txt.sigstore.json",
        STAGING,
        BEACON,
        GHA,
        SP + "a.dsse.staging-rekor-v2.txt",
        error=ArtifactMismatchError,
    ),
    "python github wheel bundle verifies by digest": Case(
        SP + "bundle_v3_github.whl.sigstore",
        PROD,
        "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2",
        GHA,
        digest="sha256:c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201",
    ),
    "python CVE-2022-36056 inconsistent log entry fails": Case(
        SP + "bundle_cve_2022_36056.txt.sigstore",
        STAGING,
        "william@yossarian.net",
        GH,
        SP + "bundle_cve_2022_36056.txt",
        error=TransparencyLogError,
    ),
    "python invalid media type fails": Case(
        SP + "bundle_invalid_version.txt.sigstore",
        STAGING,
        "x@y",
        GH,
        SP + "bundle_invalid_version.txt",
        error=BundleInvalidError,
    ),
    "python empty certificate chain fails": Case(
        SP + "bundle_no_cert_v1.txt.sigstore", PROD, "x@y", GH, SP + "bundle_no_cert_v1.txt", error=BundleInvalidError
    ),
    "python bundle without log entry fails": Case(
        SP + "bundle_no_log_entry.txt.sigstore",
        PROD,
        "alex.cameron@trailofbits.com",
        GOOGLE,
        SP + "bundle_no_log_entry.txt",
        error=TransparencyLogError,
    ),
    "python v0.2 proof without checkpoint fails": Case(
        SP + "bundle_no_checkpoint.txt.sigstore",
        STAGING,
        "william@yossarian.net",
        GH,
        SP + "bundle_no_checkpoint.txt",
        error=BundleInvalidError,
    ),
    "python v0.3 without promise or timestamp fails": Case(
        SP + "bundle_v3_no_signed_time.txt.sigstore.json",
        PROD,
        "william@yossarian.net",
        GH,
        SP + "bundle_v3_no_signed_time.txt",
        error=TimestampInvalidError,
    ),
    "python bundle with SET and timestamps verifies on the staging root": Case(
        SP + "tsa/bundle.txt.sigstore", STAGING, "alexis.challande@trailofbits.com", GOOGLE, SP + "tsa/bundle.txt"
    ),
    "python bundle with 33 timestamps fails": Case(
        SP + "tsa/bundle.many_timestamp.sigstore",
        STAGING,
        "alexis.challande@trailofbits.com",
        GOOGLE,
        SP + "tsa/bundle.txt",
        error=TimestampInvalidError,
    ),
    "python bundle with duplicate timestamps fails": Case(
        SP + "tsa/bundle.duplicate.sigstore",
        STAGING,
        "alexis.challande@trailofbits.com",
        GOOGLE,
        SP + "tsa/bundle.txt",
        error=TimestampInvalidError,
    ),
    "python bundle with a late timestamp fails": Case(
        SP + "tsa/bundle.txt.late_timestamp.sigstore",
        STAGING,
        "insecure-cloudtop-shared-user@cloudtop-prod-us-east.iam.gserviceaccount.com",
        GOOGLE,
        SP + "tsa/bundle.txt",
        error=SealgateError,
    ),
    "python v0.1 proof without checkpoint (Python 3.12.5) fails": Case(
        SP + "integration/Python-3.12.5.tgz.sigstore",
        PROD,
        "thomas@python.org",
        GOOGLE,
        digest="sha256:38dc4e2c261d49c661196066edbfb70fdb16be4a79cc8220c224dfeb5636d405",
        error=TransparencyLogError,
    ),
    # --- sigstore-java (§4) ------------------------------------------------------------------------------
    **{
        f"java {name} verifies": Case(SJ + name, PROD, "appu@google.com", GOOGLE, SJ + "artifact.txt")
        for name in (
            "bundle.v1.sigstore",
            "bundle.v2.sigstore",
            "bundle.v3.sigstore",
            "bundle.v3_1.sigstore",
            "bundle.sigstore",
            "bundle-no-digest.sigstore",
        )
    },
    **{
        f"java {name} without inclusion proof fails": Case(
            SJ + name, PROD, "appu@google.com", GOOGLE, SJ + "artifact.txt", error=SealgateError
        )
        for name in (
            "bundle.v1.no.inclusion.sigstore",
            "bundle.v2.no.inclusion.sigstore",
            "bundle.v3.no.inclusion.sigstore",
            "bundle.v3_1.no.inclusion.sigstore",
        )
    },
    "java bundle with a mismatched SET fails": Case(
        SJ + "bundle-with-mismatched-set.sigstore",
        PROD,
        "appu@google.com",
        GOOGLE,
        SJ + "artifact.txt",
        error=SealgateError,
    ),
    "java bundle with a wrong tlog entry fails": Case(
        SJ + "bundle-with-wrong-tlog-entry.sigstore",
        PROD,
        "appu@google.com",
        GOOGLE,
        SJ + "artifact.txt",
        error=TransparencyLogError,
    ),
    "java bundle with a bad checkpoint signature fails": Case(
        SJ + "bundle-with-bad-checkpoint-signature.sigstore",
        PROD,
        "appu@google.com",
        GOOGLE,
        SJ + "artifact.txt",
        error=TransparencyLogError,
    ),
    "java bundle with an expired certificate fails": Case(
        SJ + "bundle-with-expired-cert.sigstore",
        PROD,
        "appu@google.com",
        GOOGLE,
        SJ + "artifact.txt",
        error=SealgateError,
    ),
    "java rekor v2 bundle verifies": Case(
        SJ + "bundle-with-rekor-v2-entry.sigstore", STAGING, "aaronlew@google.com", GOOGLE, SJ + "artifact.txt"
    ),
    "java bundle with SET and timestamp verifies": Case(
        SJ + "bundle-with-timestamp.sigstore", STAGING, None, None, SJ + "artifact.txt", subject_regexp=".+"
    ),
    "java dsse bundle verifies": Case(
        SJ + "bundle.dsse.sigstore",
        PROD,
        "https://github.com/loosebazooka/aa-test/.github/workflows/provenance.yaml@refs/heads/main",
        GHA,
        digest=None,
        artifact=None,
        subject_regexp=None,
        options={"subject_of": "dsse"},
    ),
    "java dsse bundle fails for sha256(nonsense)": Case(
        SJ + "bundle.dsse.sigstore",
        PROD,
        "https://github.com/loosebazooka/aa-test/.github/workflows/provenance.yaml@refs/heads/main",
        GHA,
        digest="sha256:" + __import__("hashlib").sha256(b"nonsense").hexdigest(),
        error=ArtifactMismatchError,
    ),
    "java dsse rekor v2 bundle verifies": Case(
        SJ + "bundle.dsse.rekor-v2.sigstore",
        PROD,
        "untrusted-sa@sigstore-conformance.iam.gserviceaccount.com",
        GOOGLE,
        options={"subject_of": "dsse"},
    ),
    "java dsse bad signature fails": Case(
        SJ + "bundle.dsse.bad-signature.sigstore",
        PROD,
        None,
        None,
        subject_regexp=".+",
        options={"subject_of": "dsse"},
        error=SignatureInvalidError,
    ),
    **{
        f"java {name} fails": Case(
            SJ + name, root, None, None, subject_regexp=".+", options={"subject_of": "dsse"}, error=err
        )
        for name, root, err in (
            ("bundle.dsse.mismatched-envelope.sigstore", PROD, TransparencyLogError),
            ("bundle.dsse.mismatched-signature.sigstore", PROD, TransparencyLogError),
            ("bundle.dsse.rekor-v2.bad-signature.sigstore", STAGING, SignatureInvalidError),
            ("bundle.dsse.rekor-v2.mismatched-envelope.sigstore", STAGING, TransparencyLogError),
            ("bundle.dsse.rekor-v2.mismatched-signature.sigstore", STAGING, TransparencyLogError),
            ("bundle.dsse.rekor-v2.bad-entry-type.sigstore", STAGING, TransparencyLogError),
        )
    },
    **{
        f"java {name} keyless bundle verifies": Case(
            SJ + name, PROD, "untrusted-sa@sigstore-conformance.iam.gserviceaccount.com", GOOGLE, SJ + "artifact.txt"
        )
        for name in (
            "PKIX_ECDSA_P256_SHA_256.sigstore.json",
            "PKIX_ECDSA_P384_SHA_384.sigstore.json",
            "PKIX_ECDSA_P521_SHA_512.sigstore.json",
            "PKIX_RSA_PKCS1V15_2048_SHA256.sigstore.json",
            "PKIX_RSA_PKCS1V15_3072_SHA256.sigstore.json",
            "PKIX_RSA_PKCS1V15_4096_SHA256.sigstore.json",
        )
    },
    "java P-256 bundle fails with the artifact's sha512 digest": Case(
        SJ + "PKIX_ECDSA_P256_SHA_256.sigstore.json",
        PROD,
        "untrusted-sa@sigstore-conformance.iam.gserviceaccount.com",
        GOOGLE,
        options={"sha512_of": SJ + "artifact.txt"},
        error=ArtifactMismatchError,
    ),
    "java github private instance verifies without tlog and SCT": Case(
        SJ + "github-private-no-tlog/attestation.sigstore.json",
        SJ + "github-private-no-tlog/trusted_root.jsonl",
        "https://github.com/neverendingsupport/slsa-attestations/.github/workflows/attest.yml@9f6d9dc1bfc02986955721eb15f89ad618f1cedb",
        GHA,
        digest="sha256:caa015ef69e9bc31a41322d6c71563ed9600c75bb988e4d639b1edc578580551",
        options={"require_tlog": False, "require_sct": False},
    ),
    "java github private instance fails with the default tlog requirement": Case(
        SJ + "github-private-no-tlog/attestation.sigstore.json",
        SJ + "github-private-no-tlog/trusted_root.jsonl",
        None,
        None,
        digest="sha256:caa015ef69e9bc31a41322d6c71563ed9600c75bb988e4d639b1edc578580551",
        subject_regexp=".+",
        error=TransparencyLogError,
    ),
    "java github private instance fails against the public-good root": Case(
        SJ + "github-private-no-tlog/attestation.sigstore.json",
        PROD,
        None,
        None,
        digest="sha256:caa015ef69e9bc31a41322d6c71563ed9600c75bb988e4d639b1edc578580551",
        subject_regexp=".+",
        options={"require_tlog": False, "require_sct": False},
        error=TimestampInvalidError,
    ),
    # --- sigstore-go (§5) --------------------------------------------------------------------------------
    "go sigstore-js provenance verifies by sha512": Case(
        SGO + "bundles/sigstore.js@2.0.0-provenance.sigstore.json",
        SGO + "trusted-roots/public-good.json",
        SIGSTORE_JS,
        GHA,
        digest="sha512:" + SJS_SHA512,
    ),
    "go sigstore-js provenance fails with another digest": Case(
        SGO + "bundles/sigstore.js@2.0.0-provenance.sigstore.json",
        SGO + "trusted-roots/public-good.json",
        SIGSTORE_JS,
        GHA,
        digest="sha512:5" + SJS_SHA512[1:],
        error=ArtifactMismatchError,
    ),
    "go sigstore-js provenance fails with SAN BadSANValue": Case(
        SGO + "bundles/sigstore.js@2.0.0-provenance.sigstore.json",
        SGO + "trusted-roots/public-good.json",
        "BadSANValue",
        GHA,
        digest="sha512:" + SJS_SHA512,
        error=IdentityMismatchError,
    ),
    "go v0.1 SET-only provenance verifies when proofs are not required": Case(
        "sigstore-go/examples/bundle-provenance.json",
        "sigstore-go/examples/trusted-root-public-good.json",
        SIGSTORE_JS,
        GHA,
        digest="sha512:76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6"
        "b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751",
        options={"require_inclusion_proof": False},
    ),
    "go v0.1 SET-only provenance fails by default (no inclusion proof)": Case(
        "sigstore-go/examples/bundle-provenance.json",
        "sigstore-go/examples/trusted-root-public-good.json",
        SIGSTORE_JS,
        GHA,
        digest="sha512:76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6"
        "b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751",
        error=TransparencyLogError,
    ),
    "go key-signed npm publish attestation verifies": Case(
        "sigstore-go/examples/bundle-publish.json",
        "sigstore-go/examples/trusted-root-public-good.json",
        key="sigstore-go/examples/publish_key.pub",
        digest="sha512:76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6"
        "b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751",
        options={"require_inclusion_proof": False},
    ),
    "go envelope with two signatures fails": Case(
        SGO + "bundles/dsse-2sigs.sigstore.json",
        SGO + "trusted-roots/public-good.json",
        None,
        None,
        subject_regexp=".+",
        options={"subject_of": "any"},
        error=BundleInvalidError,
    ),
    "go otherName SAN verifies": Case(
        SGO + "bundles/othername.sigstore.json",
        SGO + "trusted-roots/scaffolding.json",
        "foo!oidc.local",
        "http://oidc.local:8080",
        digest="sha256:bc103b4a84971ef6459b294a2b98568a2bfb72cded09d4acd1e16366a401f95b",
    ),
    "go otherName SAN does not match an email": Case(
        SGO + "bundles/othername.sigstore.json",
        SGO + "trusted-roots/scaffolding.json",
        "foo@oidc.local",
        "http://oidc.local:8080",
        digest="sha256:bc103b4a84971ef6459b294a2b98568a2bfb72cded09d4acd1e16366a401f95b",
        error=IdentityMismatchError,
    ),
    # --- sigstore-rs, cosign, tobby-fetch (§6c, §6d, §7a) --------------------------------------------------
    "rs cosign v3 image bundle verifies": Case(
        "sigstore-rs/bundle/bundle_v03.json",
        PROD,
        "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0",
        GHA,
        digest="sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172",
    ),
    "rs cosign v3 image bundle fails for another digest": Case(
        "sigstore-rs/bundle/bundle_v03.json",
        PROD,
        "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0",
        GHA,
        digest="sha256:" + "0" * 64,
        error=ArtifactMismatchError,
    ),
    "cosign OCI attestation verifies": Case(
        "cosign/pkg-cosign-testdata/oci-attestation.sigstore.json",
        "cosign/pkg-cosign-testdata/trusted_root_pgi.json",
        "cody@soyland.com",
        GH,
        digest="sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4",
    ),
    "cosign OCI attestation fails for another image": Case(
        "cosign/pkg-cosign-testdata/oci-attestation.sigstore.json",
        "cosign/pkg-cosign-testdata/trusted_root_pgi.json",
        "cody@soyland.com",
        GH,
        digest="sha256:" + "1" * 64,
        error=ArtifactMismatchError,
    ),
    "cosign OCI attestation fails with subject regexp 'wrong'": Case(
        "cosign/pkg-cosign-testdata/oci-attestation.sigstore.json",
        "cosign/pkg-cosign-testdata/trusted_root_pgi.json",
        None,
        GH,
        digest="sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4",
        subject_regexp="wrong",
        error=IdentityMismatchError,
    ),
    "tobby cosign v3 key-signed bundle verifies": Case(
        "tobby-fetch-cosign-oci/v3-bundle-referrers/bundle-sigstore.json",
        PROD,
        key="tobby-fetch-cosign-oci/v3-bundle-referrers/bundle-cosign.pub",
        digest="sha256:d7d5640c741c60b47fa4b5530daa20a6469b55754a89dd42adbadadb59f9093c",
    ),
    "tobby cosign v3 bundle fails with another key": Case(
        "tobby-fetch-cosign-oci/v3-bundle-referrers/bundle-sigstore.json",
        PROD,
        key="sigstore-go/examples/publish_key.pub",
        digest="sha256:d7d5640c741c60b47fa4b5530daa20a6469b55754a89dd42adbadadb59f9093c",
        error=SignatureInvalidError,
    ),
}


def _subject_digest(bundle: bytes) -> Digest:
    import base64
    import json

    doc = json.loads(bundle)
    statement = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    return Digest("sha256", statement["subject"][0]["digest"]["sha256"])


def verify_arguments(case: Case, vectors: Path) -> tuple[bytes, dict[str, Any]]:
    """The bundle bytes and the keyword arguments of :func:`verify_bundle` for ``case`` (also used by the
    differential test against sigstore-python)."""
    options = dict(case.options)
    raw = (vectors / case.bundle).read_bytes()
    kwargs: dict[str, Any] = {"trusted_root": TrustedRoot.from_file(vectors / case.root)}
    if case.key:
        kwargs["key"] = load_public_key((vectors / case.key).read_bytes())
    else:
        kwargs["identity"] = Identity(subject=case.subject, subject_regexp=case.subject_regexp, issuer=case.issuer)
    subject_of = options.pop("subject_of", None)
    sha512_of = options.pop("sha512_of", None)
    if case.artifact:
        kwargs["artifact"] = (vectors / case.artifact).read_bytes()
    elif case.digest:
        kwargs["digest"] = Digest.parse(case.digest)
    elif sha512_of:
        kwargs["digest"] = Digest.of((vectors / sha512_of).read_bytes(), "sha512")
    elif subject_of == "any":
        kwargs["digest"] = Digest("sha256", "0" * 64)
    else:
        kwargs["digest"] = _subject_digest(raw)
    kwargs.update(options)
    return raw, kwargs


@pytest.mark.parametrize("name", sorted(CASES))
def test_bundle_vector(name: str, vectors: Path) -> None:
    case = CASES[name]
    raw, kwargs = verify_arguments(case, vectors)
    if case.error is None:
        result = verify_bundle(raw, **kwargs)
        assert result.signed_at is not None
        assert result.kind in ("dsse", "message-signature")
        assert (result.certificate is None) == (case.key is not None)
    else:
        with pytest.raises(case.error) as info:
            verify_bundle(raw, **kwargs)
        assert info.value.code != "ERROR" and info.value.message
