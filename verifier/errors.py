"""One error root for all of sealgate.

Every error sealgate raises on purpose is a :class:`SealgateError`. Each subclass carries a short machine
``code`` (used in JSON output, metrics and admission denials) and a human ``diagnostics()`` text; the CLI
catches only the root, prints the diagnostics on one line and exits with ``exit_code``.

Every code sealgate reports, an error's or a verdict's, is a member of :class:`Reason` (a ``StrEnum``: each
member *is* its string, so JSON, metrics and denials carry the same text as before).
"""

from __future__ import annotations

from enum import StrEnum, unique
from typing import ClassVar

__all__ = [
    "ArtifactMismatchError",
    "BlobTooLargeError",
    "BundleInvalidError",
    "CertificateInvalidError",
    "ConfigError",
    "DigestMismatchError",
    "DownloadBudgetError",
    "EnvelopeInvalidError",
    "IdentityMismatchError",
    "ImageInvalidError",
    "InvalidDigestError",
    "InvalidReferenceError",
    "KeyFileError",
    "LimitExceededError",
    "ManifestUnknownError",
    "MaterialInvalidError",
    "NoSignaturesError",
    "PasswordError",
    "PayloadInvalidError",
    "PolicyError",
    "Reason",
    "RegistryError",
    "RegistryProtocolError",
    "RegistryUnauthorizedError",
    "RegistryUnavailableError",
    "SealgateError",
    "SignatureInvalidError",
    "SbomSourceError",
    "SigstoreError",
    "TimestampInvalidError",
    "TransparencyLogError",
    "TrustRootError",
    "UnsupportedAttachmentError",
    "UsageError",
    "VerificationError",
]


@unique
class Reason(StrEnum):
    """Every machine code: of an error (``SealgateError.code``), of a signature or policy verdict, of a decision."""

    # --- verdicts and decisions (no exception behind them) ---------------------------------------------------
    OK = "OK"
    EXEMPT = "EXEMPT"
    NO_MATCH = "NO_MATCH"
    REGISTRY_NOT_ALLOWED = "REGISTRY_NOT_ALLOWED"
    DIGEST_REQUIRED = "DIGEST_REQUIRED"
    NAMESPACE_LABELS_UNAVAILABLE = "NAMESPACE_LABELS_UNAVAILABLE"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    THRESHOLD_NOT_MET = "THRESHOLD_NOT_MET"
    ATTESTATION_MISSING = "ATTESTATION_MISSING"
    SBOM_DENIED = "SBOM_DENIED"
    SBOM_INVALID = "SBOM_INVALID"
    NOT_A_SIGNATURE = "NOT_A_SIGNATURE"
    UNSUPPORTED_LAYER = "UNSUPPORTED_LAYER"
    PREDICATE_TYPE_MISMATCH = "PREDICATE_TYPE_MISMATCH"
    SUBJECT_MISMATCH = "SUBJECT_MISMATCH"
    PAYLOAD_DIGEST_MISMATCH = "PAYLOAD_DIGEST_MISMATCH"
    REFERENCE_MISMATCH = "REFERENCE_MISMATCH"
    ANNOTATION_MISMATCH = "ANNOTATION_MISMATCH"
    # --- errors (the ``code`` of a SealgateError subclass) ------------------------------------------------
    ERROR = "ERROR"
    USAGE = "USAGE"
    CONFIG_INVALID = "CONFIG_INVALID"
    POLICY_INVALID = "POLICY_INVALID"
    NAMESPACE_LABELS_REQUIRED = "NAMESPACE_LABELS_REQUIRED"
    REFERENCE_INVALID = "REFERENCE_INVALID"
    DIGEST_INVALID = "DIGEST_INVALID"
    KEY_INVALID = "KEY_INVALID"
    KEY_PASSWORD = "KEY_PASSWORD"  # noqa: S105 (a reason code, not a password)
    REGISTRY_ERROR = "REGISTRY_ERROR"
    REGISTRY_UNAVAILABLE = "REGISTRY_UNAVAILABLE"
    REGISTRY_UNAUTHORIZED = "REGISTRY_UNAUTHORIZED"
    NOT_FOUND = "NOT_FOUND"
    REGISTRY_PROTOCOL = "REGISTRY_PROTOCOL"
    DIGEST_MISMATCH = "DIGEST_MISMATCH"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    SIZE_LIMIT = "SIZE_LIMIT"
    DOWNLOAD_BUDGET_EXCEEDED = "DOWNLOAD_BUDGET_EXCEEDED"
    SOURCE_INVALID = "SOURCE_INVALID"
    IMAGE_INVALID = "IMAGE_INVALID"
    VERIFICATION_FAILED = "VERIFICATION_FAILED"
    NO_SIGNATURES = "NO_SIGNATURES"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    MATERIAL_INVALID = "MATERIAL_INVALID"
    UNSUPPORTED_ATTACHMENT = "UNSUPPORTED_ATTACHMENT"
    PAYLOAD_INVALID = "PAYLOAD_INVALID"
    TRUST_ROOT_INVALID = "TRUST_ROOT_INVALID"
    SIGSTORE_FAILED = "SIGSTORE_FAILED"
    BUNDLE_INVALID = "BUNDLE_INVALID"
    CERTIFICATE_INVALID = "CERTIFICATE_INVALID"
    IDENTITY_MISMATCH = "IDENTITY_MISMATCH"
    TLOG_INVALID = "TLOG_INVALID"
    TIMESTAMP_INVALID = "TIMESTAMP_INVALID"
    DSSE_INVALID = "DSSE_INVALID"
    ARTIFACT_MISMATCH = "ARTIFACT_MISMATCH"
    KUBE_API_ERROR = "KUBE_API_ERROR"
    KUBE_UNAVAILABLE = "KUBE_UNAVAILABLE"
    KUBE_FORBIDDEN = "KUBE_FORBIDDEN"
    KUBECONFIG_INVALID = "KUBECONFIG_INVALID"
    REVIEW_INVALID = "REVIEW_INVALID"
    NAMESPACE_LOOKUP_FAILED = "NAMESPACE_LOOKUP_FAILED"


class SealgateError(Exception):
    """Root of every deliberate sealgate error."""

    code: ClassVar[str] = Reason.ERROR
    #: process exit code the CLI uses for this error
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """One human line (plus a hint line when there is one)."""
        return self.message if self.hint is None else f"{self.message}\nhint: {self.hint}"

    def __str__(self) -> str:
        return self.message


# --- usage and configuration (exit 2) -------------------------------------------------------------------


class UsageError(SealgateError):
    code = Reason.USAGE
    exit_code = 2


class ConfigError(SealgateError):
    code = Reason.CONFIG_INVALID
    exit_code = 2


class PolicyError(ConfigError):
    """Policy files that cannot be used; ``problems`` holds every one found, each naming file, document and field."""

    code = Reason.POLICY_INVALID

    def __init__(self, problems: list[str], *, hint: str | None = None) -> None:
        self.problems = list(problems) or ["invalid policy configuration"]
        more = len(self.problems) - 1
        first = self.problems[0]
        super().__init__(first if not more else f"{first} (and {more} more)", hint=hint)

    def diagnostics(self) -> str:
        """Every problem, one per line (plus a hint line when there is one)."""
        text = "\n".join(self.problems)
        return text if self.hint is None else f"{text}\nhint: {self.hint}"


class InvalidReferenceError(UsageError):
    code = Reason.REFERENCE_INVALID


class InvalidDigestError(UsageError):
    code = Reason.DIGEST_INVALID


class KeyFileError(ConfigError):
    """A key file that cannot be read, parsed or used."""

    code = Reason.KEY_INVALID


class PasswordError(KeyFileError):
    """The password does not decrypt the private key (or none could be obtained)."""

    code = Reason.KEY_PASSWORD


# --- registry (exit 1) ----------------------------------------------------------------------------------


class RegistryError(SealgateError):
    code = Reason.REGISTRY_ERROR


class RegistryUnavailableError(RegistryError):
    """Connection refused, timeouts, TLS failures, 5xx/429 after retries."""

    code = Reason.REGISTRY_UNAVAILABLE


class RegistryUnauthorizedError(RegistryError):
    code = Reason.REGISTRY_UNAUTHORIZED


class ManifestUnknownError(RegistryError):
    """404 for a manifest or blob."""

    code = Reason.NOT_FOUND


class RegistryProtocolError(RegistryError):
    """The registry answered something that does not follow the distribution spec."""

    code = Reason.REGISTRY_PROTOCOL


class DigestMismatchError(RegistryError):
    """Content fetched does not hash to the digest it was fetched by."""

    code = Reason.DIGEST_MISMATCH


class LimitExceededError(RegistryError):
    """A configured limit (see :class:`verifier.limits.Limits`) was hit."""

    code = Reason.LIMIT_EXCEEDED


class BlobTooLargeError(LimitExceededError):
    code = Reason.SIZE_LIMIT


class DownloadBudgetError(RegistryError):
    """One verification would download more than ``Limits.max_verification_bytes``: the image is denied, by
    sealgate's own decision (never a registry failure, never counted by the registry's circuit breaker).

    Not a :class:`LimitExceededError`: those concern one entry (one candidate fails), this the whole image."""

    code = Reason.DOWNLOAD_BUDGET_EXCEEDED


# --- images read for an SBOM (exit 1; a source that cannot be named or opened exits 2) -------------------


class SbomSourceError(UsageError):
    """An SBOM source (``oci:DIR``, ``docker-archive:FILE``, ...) that is malformed, missing or unreadable."""

    code = Reason.SOURCE_INVALID


class ImageInvalidError(SealgateError):
    """An image whose manifest, config or layers cannot be read: corrupt tar or gzip, no matching platform."""

    code = Reason.IMAGE_INVALID


# --- verification (exit 1) ------------------------------------------------------------------------------


class VerificationError(SealgateError):
    code = Reason.VERIFICATION_FAILED


class NoSignaturesError(VerificationError):
    code = Reason.NO_SIGNATURES


class SignatureInvalidError(VerificationError):
    code = Reason.SIGNATURE_INVALID


class MaterialInvalidError(VerificationError):
    """Signature material (a bundle, envelope, certificate, log entry ...) that a parser or crypto library
    rejected in a way no specific check names: one failed candidate, never an internal error."""

    code = Reason.MATERIAL_INVALID


class UnsupportedAttachmentError(VerificationError):
    """Something stored as a cosign attachment that sealgate cannot read (layer type, bundle shape)."""

    code = Reason.UNSUPPORTED_ATTACHMENT


class PayloadInvalidError(VerificationError):
    """A signature payload that is not a well-formed simple-signing document."""

    code = Reason.PAYLOAD_INVALID


# --- Sigstore bundles and keyless verification (exit 1; trust roots exit 2) ------------------------------


class TrustRootError(ConfigError):
    """A Sigstore trusted root (``trusted_root.json`` or JSON Lines of them) that cannot be used."""

    code = Reason.TRUST_ROOT_INVALID


class SigstoreError(VerificationError):
    """Root of the Sigstore verification failures (bundles, Fulcio certificates, Rekor, TSA, DSSE)."""

    code = Reason.SIGSTORE_FAILED


class BundleInvalidError(SigstoreError):
    """A Sigstore bundle (or legacy cosign Rekor annotation) that is malformed or of an unsupported version."""

    code = Reason.BUNDLE_INVALID


class CertificateInvalidError(SigstoreError):
    """A signing certificate that does not chain to a trusted Fulcio CA, is outside its validity, or lacks an SCT."""

    code = Reason.CERTIFICATE_INVALID


class IdentityMismatchError(SigstoreError):
    """The certificate's identity (SAN) or OIDC issuer is not the one the policy expects."""

    code = Reason.IDENTITY_MISMATCH


class TransparencyLogError(SigstoreError):
    """Rekor evidence that does not verify: SET, inclusion proof, checkpoint, or an entry that does not match."""

    code = Reason.TLOG_INVALID


class TimestampInvalidError(SigstoreError):
    """No trusted signing time, or an RFC 3161 / log time that contradicts the certificate."""

    code = Reason.TIMESTAMP_INVALID


class EnvelopeInvalidError(VerificationError):
    """A DSSE envelope (legacy `.att` layer or bundle) or in-toto statement that is malformed."""

    code = Reason.DSSE_INVALID


class ArtifactMismatchError(SigstoreError):
    """The signature (message digest or in-toto subject) is not over the artifact asked about."""

    code = Reason.ARTIFACT_MISMATCH
