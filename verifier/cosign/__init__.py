"""cosign-compatible keys, payloads, signatures, attestations and their checks: pure (bytes in, verdicts out).

Finding and pushing this material in a registry is ``verifier.attachments``'s job; deciding whether an image
may run is the engine's (``verifier.engine.Engine``), which calls both.

>>> from verifier.cosign import build_simple_signing_payload
>>> build_simple_signing_payload("ghcr.io/org/app", "sha256:" + "0" * 64)[:40]
b'{"critical":{"identity":{"docker-refere'
"""

from verifier.cosign._attachment import (
    BUNDLE_CONTENT_ANNOTATION,
    BUNDLE_MEDIA_TYPE_PREFIX,
    BUNDLE_PREDICATE_ANNOTATION,
    BUNDLE_V03_MEDIA_TYPE,
    COSIGN_SIGN_PREDICATE,
    FALLBACK_TAG,
    LAYOUTS,
    LEGACY_ATT,
    LEGACY_SIG,
    REFERRERS,
    Attachment,
    is_bundle_media_type,
)
from verifier.cosign._attest import (
    CUSTOM_PREDICATE_TYPE,
    PREDICATE_ANNOTATION,
    PREDICATE_TYPES,
    attestation_layer,
    build_attestation_statement,
    build_bundle_referrer,
    build_key_bundle,
    build_predicate,
    layer_predicate_type,
    predicate_type_for,
    with_fallback_entry,
)
from verifier.cosign._attest_check import (
    AttestationCheck,
    check_attestation,
    sigstore_bundle_verifier,
)
from verifier.cosign._dsse_layer import sign_envelope
from verifier.cosign._layout import (
    CERTIFICATE_ANNOTATION,
    DSSE_MEDIA_TYPE,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE,
    SignatureLayer,
    attachment_tag,
    build_signature_config,
    build_signature_manifest,
    parse_signature_manifest,
)
from verifier.cosign._password import password_from_env_or_prompt
from verifier.cosign._payload import SIMPLE_SIGNING_TYPE, SimpleSigningPayload, build_simple_signing_payload
from verifier.cosign._sign import sign_payload, with_signature
from verifier.cosign._verify import (
    NamedKey,
    SignatureCheck,
    check_claims,
    check_simple_signature,
)
from verifier.crypto import (
    ACCEPTED_SCRYPT_N,
    COSIGN_PRIVATE_KEY_LABEL,
    MALFORMED_MATERIAL,
    SIGSTORE_PRIVATE_KEY_LABEL,
    SigningKey,
    VerifyingKey,
    encrypt_private_key,
    generate_signing_key,
    key_id,
    load_private_key,
    load_public_key,
    malformed,
    public_key_pem,
    read_key_file,
    sign_bytes,
    signature_scheme,
    verify_bytes,
)

__all__ = [
    "ACCEPTED_SCRYPT_N",
    "Attachment",
    "AttestationCheck",
    "BUNDLE_CONTENT_ANNOTATION",
    "BUNDLE_MEDIA_TYPE_PREFIX",
    "BUNDLE_PREDICATE_ANNOTATION",
    "BUNDLE_V03_MEDIA_TYPE",
    "CERTIFICATE_ANNOTATION",
    "COSIGN_PRIVATE_KEY_LABEL",
    "COSIGN_SIGN_PREDICATE",
    "CUSTOM_PREDICATE_TYPE",
    "DSSE_MEDIA_TYPE",
    "FALLBACK_TAG",
    "LAYOUTS",
    "LEGACY_ATT",
    "LEGACY_SIG",
    "MALFORMED_MATERIAL",
    "NamedKey",
    "PREDICATE_ANNOTATION",
    "PREDICATE_TYPES",
    "REFERRERS",
    "SIGNATURE_ANNOTATION",
    "SIGSTORE_PRIVATE_KEY_LABEL",
    "SIMPLE_SIGNING_MEDIA_TYPE",
    "SIMPLE_SIGNING_TYPE",
    "SignatureCheck",
    "SignatureLayer",
    "SigningKey",
    "SimpleSigningPayload",
    "VerifyingKey",
    "attachment_tag",
    "attestation_layer",
    "build_attestation_statement",
    "build_bundle_referrer",
    "build_key_bundle",
    "build_predicate",
    "build_signature_config",
    "build_signature_manifest",
    "build_simple_signing_payload",
    "check_attestation",
    "check_claims",
    "check_simple_signature",
    "encrypt_private_key",
    "generate_signing_key",
    "is_bundle_media_type",
    "key_id",
    "layer_predicate_type",
    "load_private_key",
    "load_public_key",
    "malformed",
    "parse_signature_manifest",
    "password_from_env_or_prompt",
    "predicate_type_for",
    "public_key_pem",
    "read_key_file",
    "sign_bytes",
    "sign_envelope",
    "sign_payload",
    "signature_scheme",
    "sigstore_bundle_verifier",
    "verify_bytes",
    "with_fallback_entry",
    "with_signature",
]
