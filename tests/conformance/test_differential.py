"""Differential test: sealgate's bundle verdicts against sigstore-python 4.x, the reference implementation.

Every bundle vector the other tests use is verified twice, offline, with the same trusted root, signer and
artifact: by sealgate (the conformance cases through the real ``sealgate verify-bundle`` CLI, the
sigstore-python/-java/-go/-rs/cosign vectors through :func:`verifier.sigstore.verify_bundle`, as
``test_bundle_vectors`` does) and by ``sigstore.verify.Verifier`` (the way sigstore-python's own ``verify``
command does it: ``verify_dsse`` plus an in-toto subject check for DSSE bundles, ``verify_artifact`` otherwise).

The verdicts must agree, except in :data:`SIGSTORE_PYTHON_WRONG`, where sigstore-python is known to be wrong
(each with why, and each must still disagree in the stated direction, so a fixed upstream shows). A case
sigstore-python cannot express at all is listed in :data:`UNSUPPORTED` with why, never silently skipped. The
counts are asserted, so a verdict that changes on either side fails.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sigstore
from sigstore.errors import Error as SigstoreError
from sigstore.hashes import Hashed
from sigstore.models import Bundle
from sigstore.models import TrustedRoot as ReferenceRoot
from sigstore.verify import Verifier
from sigstore.verify.policy import Identity as ReferenceIdentity
from sigstore.verify.policy import UnsafeNoOp, VerificationPolicy
from sigstore_models.common.v1 import HashAlgorithm

import verifier.cli
from tests.conformance.test_conformance import BEACON_IDENTITY, BEACON_ISSUER, conformance_args
from tests.unit.sigstore.test_bundle_vectors import CASES as VECTOR_CASES
from tests.unit.sigstore.test_bundle_vectors import Case, verify_arguments
from verifier.errors import SealgateError
from verifier.oci import Digest
from verifier.sigstore import verify_bundle

PRODUCTION_ROOT = (
    Path(sigstore.__file__).parent / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev" / "trusted_root.json"
)
_ALGORITHMS = {"sha256": HashAlgorithm.SHA2_256, "sha384": HashAlgorithm.SHA2_384, "sha512": HashAlgorithm.SHA2_512}

_INTOTO = (
    "a Rekor v1 intoto/0.0.2 entry (what `cosign attest` logs): sigstore-python takes the integrated time only "
    "from dsse and hashedrekord 0.0.1 entries and rejects the bundle ('Integrated time only supported for "
    "dsse/hashedrekord 0.0.1 types'); the SET binds the time whatever the entry kind"
)
_SHA2 = (
    "a P-384/P-521 leaf whose messageDigest is SHA2_384/SHA2_512: sigstore-python's verify_artifact always "
    "hashes the input with SHA-256 and fails 'Bundle message digest mismatch' (sigstore-python supports only P-256)"
)

SIGSTORE_PYTHON_WRONG: dict[str, str] = {
    "conformance/intoto-with-custom-trust-root": _INTOTO,
    "conformance/trust-root-tsa-validity-end-inclusive": (
        "the RFC 3161 time equals the end of the TSA's validFor; TimeRange is a closed interval, but "
        "sigstore-python checks gen_time < end (half-open) and finds 'not enough sources of verified time'"
    ),
    "vectors/go sigstore-js provenance verifies by sha512": _INTOTO,
    "vectors/java PKIX_ECDSA_P384_SHA_384.sigstore.json keyless bundle verifies": _SHA2,
    "vectors/java PKIX_ECDSA_P521_SHA_512.sigstore.json keyless bundle verifies": _SHA2,
    "vectors/go otherName SAN verifies": (
        "sigstore-go's scaffolding trusted root names its CA by organization only; the protobuf "
        "DistinguishedName makes commonName optional, sigstore-python's model requires it and rejects the root"
    ),
    "vectors/java bundle-no-digest.sigstore verifies": (
        "a v0.3 bundle carrying its leaf as a one-element x509CertificateChain and no messageDigest: "
        "sigstore-java (whose vector it is) verifies it, sigstore-python demands the v0.3 `certificate` field "
        "('expected certificate in bundle'). NB sigstore-go also rejects a chain in v0.3 (FORMATS.md); sealgate "
        "follows the vector's owner here"
    ),
}

_KEY = "a key-signed bundle: sigstore-python 4.x verifies only certificate (Fulcio) bundles, it has no public-key API"
_JSONL = "a JSON Lines trusted root (gh attestation trusted-root): sigstore-python reads one trusted_root.json"
_NO_TLOG = "verification without a transparency log entry / SCT: sigstore-python always requires them"
_SET_ONLY = "a SET-only v0.1 bundle accepted without an inclusion proof: sigstore-python has no such option"
_REGEXP = "a regular-expression identity with an issuer: sigstore-python's Identity takes an exact SAN only"
_RSA = (
    "an RSA leaf: sigstore-python supports only EC leaves and crashes in verify_artifact "
    "(RSAPublicKey.verify() called with ECDSA arguments: TypeError), so it has no verdict"
)

UNSUPPORTED: dict[str, str] = {
    "conformance/managed-key-and-trusted-root": _KEY,
    "conformance/managed-key-happy-path": _KEY,
    "conformance/managed-key-wrong-key_fail": _KEY,
    "vectors/go key-signed npm publish attestation verifies": _KEY,
    "vectors/tobby cosign v3 key-signed bundle verifies": _KEY,
    "vectors/tobby cosign v3 bundle fails with another key": _KEY,
    "vectors/java github private instance verifies without tlog and SCT": _JSONL,
    "vectors/java github private instance fails with the default tlog requirement": _JSONL,
    "vectors/java github private instance fails against the public-good root": _NO_TLOG,
    "vectors/go v0.1 SET-only provenance verifies when proofs are not required": _SET_ONLY,
    "vectors/cosign OCI attestation fails with subject regexp 'wrong'": _REGEXP,
    **{
        f"vectors/java PKIX_RSA_PKCS1V15_{bits}_SHA256.sigstore.json keyless bundle verifies": _RSA
        for bits in (2048, 3072, 4096)
    },
}

# Measured with sigstore 4.5.1 (142 bundle vectors: 70 conformance + 72 others): 128 get a verdict from both
# sides, 121 agree, the 7 known-wrong disagree, 14 cannot run in sigstore-python.
EXPECTED_COMPARED = 128
EXPECTED_AGREEMENTS = 121


class Unsupported(Exception):
    """sigstore-python cannot run this case (the reason is in :data:`UNSUPPORTED`)."""


@dataclass(frozen=True)
class Differential:
    """One bundle, verified by both sides: ``sealgate()`` and ``reference()`` return the verdict (True = verifies)."""

    sealgate: Callable[[], bool]
    reference: Callable[[], bool]


def _reference_verdict(root: Path, bundle: bytes, policy: VerificationPolicy, subject: Digest) -> bool:
    """sigstore-python's verdict, as its ``sigstore verify identity`` command reaches it (offline)."""
    try:
        verifier_ = Verifier(trusted_root=ReferenceRoot.from_file(str(root)))
        parsed = Bundle.from_json(bundle)
        hashed = Hashed(digest=bytes.fromhex(subject.hex), algorithm=_ALGORITHMS[subject.algorithm])
        if parsed._dsse_envelope is None:
            verifier_.verify_artifact(hashed, parsed, policy)
            return True
        payload_type, payload = verifier_.verify_dsse(parsed, policy)
        if payload_type != "application/vnd.in-toto+json":
            return False
        subjects = json.loads(payload).get("subject") or []
        return any(s.get("digest", {}).get(subject.algorithm) == subject.hex for s in subjects)
    except (SigstoreError, ValueError):  # pydantic's ValidationError is a ValueError
        return False
    except Exception as exc:  # sigstore-python crashed: it has no verdict (the case must be in UNSUPPORTED)
        raise Unsupported(f"{type(exc).__name__}: {exc}") from exc


def _subject(artifact: bytes | None, digest: Digest | None) -> Digest:
    if digest is not None:
        return digest
    assert artifact is not None
    return Digest.of(artifact)


def _conformance(case_dir: Path) -> Differential:
    suite = case_dir.parent

    def sealgate() -> bool:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = verifier.cli.main(conformance_args(case_dir, "path"))
        assert code in (0, 1, 2), f"{case_dir.name}: sealgate exited {code} (3 is an internal error)"
        return code == 0

    def reference() -> bool:
        if (case_dir / "key.pub").exists():
            raise Unsupported
        artifact = case_dir / "artifact" if (case_dir / "artifact").exists() else suite / "a.txt"
        identity = (case_dir / "identity").read_text().strip() if (case_dir / "identity").exists() else BEACON_IDENTITY
        issuer = (case_dir / "issuer").read_text().strip() if (case_dir / "issuer").exists() else BEACON_ISSUER
        root = case_dir / "trusted_root.json" if (case_dir / "trusted_root.json").exists() else PRODUCTION_ROOT
        policy = ReferenceIdentity(identity=identity, issuer=issuer)
        bundle = (case_dir / "bundle.sigstore.json").read_bytes()
        return _reference_verdict(root, bundle, policy, Digest.of(artifact.read_bytes()))

    return Differential(sealgate, reference)


def _vector(case: Case, vectors: Path) -> Differential:
    def sealgate() -> bool:
        raw, kwargs = verify_arguments(case, vectors)
        try:
            verify_bundle(raw, **kwargs)
        except SealgateError:
            return False
        return True

    def reference() -> bool:
        if case.key:
            raise Unsupported
        if case.root.endswith(".jsonl"):
            raise Unsupported
        raw, kwargs = verify_arguments(case, vectors)
        if set(case.options) - {"subject_of", "sha512_of"}:
            raise Unsupported
        policy: VerificationPolicy
        if case.subject is not None:
            policy = ReferenceIdentity(identity=case.subject, issuer=case.issuer)
        elif case.subject_regexp == ".+" and case.issuer is None:
            policy = UnsafeNoOp()
        else:
            raise Unsupported
        return _reference_verdict(
            vectors / case.root, raw, policy, _subject(kwargs.get("artifact"), kwargs.get("digest"))
        )

    return Differential(sealgate, reference)


@dataclass(frozen=True)
class Table:
    agree: list[str]
    disagree: dict[str, tuple[bool, bool]]  # name -> (sealgate, sigstore-python)
    unsupported: list[str]


@pytest.fixture(scope="module")
def table(vectors: Path) -> Table:
    suite = vectors / "conformance" / "bundle-verify"
    cases = {"conformance/" + p.name: _conformance(p) for p in sorted(suite.iterdir()) if p.is_dir()}
    cases.update({"vectors/" + name: _vector(case, vectors) for name, case in sorted(VECTOR_CASES.items())})
    agree: list[str] = []
    disagree: dict[str, tuple[bool, bool]] = {}
    unsupported: list[str] = []
    for name, diff in cases.items():
        ours = diff.sealgate()
        try:
            theirs = diff.reference()
        except Unsupported as exc:
            print(f"{name}: sigstore-python cannot run it {exc}")
            unsupported.append(name)
            continue
        if ours == theirs:
            agree.append(name)
        else:
            disagree[name] = (ours, theirs)
    print(
        f"\nsealgate vs sigstore {sigstore.__version__}: {len(agree)} agree, {len(disagree)} disagree, "
        f"{len(unsupported)} cannot run in sigstore-python (of {len(cases)} bundle vectors)"
    )
    return Table(agree, disagree, unsupported)


def test_every_vector_is_in_the_table(table: Table) -> None:
    total = len(table.agree) + len(table.disagree) + len(table.unsupported)
    assert total == 70 + len(VECTOR_CASES)


def test_sealgate_agrees_with_sigstore_python_except_where_it_is_known_wrong(table: Table) -> None:
    unexplained = {name: verdicts for name, verdicts in table.disagree.items() if name not in SIGSTORE_PYTHON_WRONG}
    assert not unexplained, f"(sealgate, sigstore-python) verdicts differ: {unexplained}"
    assert len(table.agree) + len(table.disagree) == EXPECTED_COMPARED
    assert len(table.agree) == EXPECTED_AGREEMENTS


@pytest.mark.parametrize("name", sorted(SIGSTORE_PYTHON_WRONG))
def test_a_known_sigstore_python_error_still_disagrees_the_stated_way(name: str, table: Table) -> None:
    """Every known-wrong case is a valid bundle sigstore-python rejects; a fixed upstream fails here."""
    assert table.disagree.get(name) == (True, False), table.disagree.get(name, "agrees now: drop it from the list")


def test_the_cases_sigstore_python_cannot_run_are_exactly_the_listed_ones(table: Table) -> None:
    assert sorted(table.unsupported) == sorted(UNSUPPORTED)


def test_sealgate_passes_the_conformance_cases_sigstore_python_fails() -> None:
    """The README's "70 of 70, sigstore-python 4.5.1 66": the 4 are the known-wrong cases and the two passing
    key-signed cases sigstore-python cannot verify (managed-key-wrong-key_fail it "passes" by failing)."""
    failing_upstream = [n for n in SIGSTORE_PYTHON_WRONG if n.startswith("conformance/")] + [
        n for n in UNSUPPORTED if n.startswith("conformance/") and not n.endswith("_fail")
    ]
    assert len(failing_upstream) == 70 - 66
