"""Sigstore verification: trusted roots, Fulcio certificates, Rekor (v1 and v2) evidence, RFC 3161
timestamps, DSSE/in-toto, Sigstore bundles (v0.1-v0.3) and legacy cosign keyless signatures. All offline.

>>> from verifier.sigstore import Identity, TrustedRoot, verify_bundle
>>> def check(bundle: bytes, artifact: bytes) -> str:  # doctest: +SKIP
...     identity = Identity(subject="dev@example.com", issuer="https://accounts.google.com")
...     result = verify_bundle(bundle, trusted_root=TrustedRoot.production(), identity=identity, artifact=artifact)
...     return result.kind
"""

from verifier.sigstore._bundle import (
    ParsedBundle,
    VerifiedSignature,
    parse_bundle,
    verify_bundle,
)
from verifier.sigstore._certs import check_leaf_profile, verify_certificate, verify_chain, verify_sct
from verifier.sigstore._dsse import (
    IN_TOTO_PAYLOAD_TYPE,
    STATEMENT_TYPES,
    Envelope,
    EnvelopeSignature,
    pae,
    parse_envelope,
    parse_statement,
    statement_subject_matches,
    verify_envelope,
)
from verifier.sigstore._identity import Identity, certificate_identities, certificate_issuer
from verifier.sigstore._legacy import check_rekor_entry_matches, verify_legacy_keyless, verify_rekor_set
from verifier.sigstore._tlog import (
    Checkpoint,
    InclusionProof,
    LoggedMaterial,
    RekorEntry,
    check_entry_body,
    parse_checkpoint,
    verify_checkpoint,
    verify_inclusion_proof,
    verify_set,
)
from verifier.sigstore._trust import CertificateAuthority, LogKey, TimeRange, TrustedRoot, read_trust_root
from verifier.sigstore._tsa import verify_timestamp, verify_timestamps

__all__ = [
    "IN_TOTO_PAYLOAD_TYPE",
    "STATEMENT_TYPES",
    "CertificateAuthority",
    "Checkpoint",
    "Envelope",
    "EnvelopeSignature",
    "Identity",
    "InclusionProof",
    "LogKey",
    "LoggedMaterial",
    "ParsedBundle",
    "RekorEntry",
    "TimeRange",
    "TrustedRoot",
    "VerifiedSignature",
    "certificate_identities",
    "certificate_issuer",
    "check_entry_body",
    "check_leaf_profile",
    "check_rekor_entry_matches",
    "pae",
    "parse_bundle",
    "parse_checkpoint",
    "parse_envelope",
    "parse_statement",
    "read_trust_root",
    "statement_subject_matches",
    "verify_bundle",
    "verify_certificate",
    "verify_chain",
    "verify_checkpoint",
    "verify_envelope",
    "verify_inclusion_proof",
    "verify_legacy_keyless",
    "verify_rekor_set",
    "verify_sct",
    "verify_set",
    "verify_timestamp",
    "verify_timestamps",
]
