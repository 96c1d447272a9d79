"""One error root for all of sealgate.

Every error sealgate raises on purpose is a :class:`SealgateError`. Each subclass carries a short machine
``code`` (used in JSON output, metrics and admission denials) and a human ``diagnostics()`` text; the CLI
catches only the root, prints the diagnostics on one line and exits with ``exit_code``.
"""

from __future__ import annotations

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


class SealgateError(Exception):
    """Root of every deliberate sealgate error."""

    code: ClassVar[str] = "ERROR"
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
    code = "USAGE"
    exit_code = 2


class ConfigError(SealgateError):
    code = "CONFIG_INVALID"
    exit_code = 2


class PolicyError(ConfigError):
    """Policy files that cannot be used; ``problems`` holds every one found, each naming file, document and field."""

    code = "POLICY_INVALID"

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
    code = "REFERENCE_INVALID"


class InvalidDigestError(UsageError):
    code = "DIGEST_INVALID"


class KeyFileError(ConfigError):
    """A key file that cannot be read, parsed or used."""

    code = "KEY_INVALID"


class PasswordError(KeyFileError):
    """The password does not decrypt the private key (or none could be obtained)."""

    code = "KEY_PASSWORD"


# --- registry (exit 1) ----------------------------------------------------------------------------------


class RegistryError(SealgateError):
    code = "REGISTRY_ERROR"


class RegistryUnavailableError(RegistryError):
    """Connection refused, timeouts, TLS failures, 5xx/429 after retries."""

    code = "REGISTRY_UNAVAILABLE"


class RegistryUnauthorizedError(RegistryError):
    code = "REGISTRY_UNAUTHORIZED"


class ManifestUnknownError(RegistryError):
    """404 for a manifest or blob."""

    code = "NOT_FOUND"


class RegistryProtocolError(RegistryError):
    """The registry answered something that does not follow the distribution spec."""

    code = "REGISTRY_PROTOCOL"


class DigestMismatchError(RegistryError):
    """Content fetched does not hash to the digest it was fetched by."""

    code = "DIGEST_MISMATCH"


class LimitExceededError(RegistryError):
    """A configured limit (see :class:`verifier.limits.Limits`) was hit."""

    code = "LIMIT_EXCEEDED"


class BlobTooLargeError(LimitExceededError):
    code = "SIZE_LIMIT"


class DownloadBudgetError(RegistryError):
    """One verification would download more than ``Limits.max_verification_bytes``: the image is denied, by
    sealgate's own decision (never a registry failure, never counted by the registry's circuit breaker).

    Not a :class:`LimitExceededError`: those concern one entry (one candidate fails), this the whole image."""

    code = "DOWNLOAD_BUDGET_EXCEEDED"


# --- images read for an SBOM (exit 1; a source that cannot be named or opened exits 2) -------------------


class SbomSourceError(UsageError):
    """An SBOM source (``oci:DIR``, ``docker-archive:FILE``, ...) that is malformed, missing or unreadable."""

    code = "SOURCE_INVALID"


class ImageInvalidError(SealgateError):
    """An image whose manifest, config or layers cannot be read: corrupt tar or gzip, no matching platform."""

    code = "IMAGE_INVALID"


# --- verification (exit 1) ------------------------------------------------------------------------------


class VerificationError(SealgateError):
    code = "VERIFICATION_FAILED"


class NoSignaturesError(VerificationError):
    code = "NO_SIGNATURES"


class SignatureInvalidError(VerificationError):
    code = "SIGNATURE_INVALID"


class MaterialInvalidError(VerificationError):
    """Signature material (a bundle, envelope, certificate, log entry ...) that a parser or crypto library
    rejected in a way no specific check names: one failed candidate, never an internal error."""

    code = "MATERIAL_INVALID"


class UnsupportedAttachmentError(VerificationError):
    """Something stored as a cosign attachment that sealgate cannot read (layer type, bundle shape)."""

    code = "UNSUPPORTED_ATTACHMENT"


class PayloadInvalidError(VerificationError):
    """A signature payload that is not a well-formed simple-signing document."""

    code = "PAYLOAD_INVALID"


# --- Sigstore bundles and keyless verification (exit 1; trust roots exit 2) ------------------------------


class TrustRootError(ConfigError):
    """A Sigstore trusted root (``trusted_root.json`` or JSON Lines of them) that cannot be used."""

    code = "TRUST_ROOT_INVALID"


class SigstoreError(VerificationError):
    """Root of the Sigstore verification failures (bundles, Fulcio certificates, Rekor, TSA, DSSE)."""

    code = "SIGSTORE_FAILED"


class BundleInvalidError(SigstoreError):
    """A Sigstore bundle (or legacy cosign Rekor annotation) that is malformed or of an unsupported version."""

    code = "BUNDLE_INVALID"


class CertificateInvalidError(SigstoreError):
    """A signing certificate that does not chain to a trusted Fulcio CA, is outside its validity, or lacks an SCT."""

    code = "CERTIFICATE_INVALID"


class IdentityMismatchError(SigstoreError):
    """The certificate's identity (SAN) or OIDC issuer is not the one the policy expects."""

    code = "IDENTITY_MISMATCH"


class TransparencyLogError(SigstoreError):
    """Rekor evidence that does not verify: SET, inclusion proof, checkpoint, or an entry that does not match."""

    code = "TLOG_INVALID"


class TimestampInvalidError(SigstoreError):
    """No trusted signing time, or an RFC 3161 / log time that contradicts the certificate."""

    code = "TIMESTAMP_INVALID"


class EnvelopeInvalidError(SigstoreError):
    """A DSSE envelope or in-toto statement that is malformed."""

    code = "DSSE_INVALID"


class ArtifactMismatchError(SigstoreError):
    """The signature (message digest or in-toto subject) is not over the artifact asked about."""

    code = "ARTIFACT_MISMATCH"
