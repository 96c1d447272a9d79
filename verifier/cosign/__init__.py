"""cosign-compatible keys, signing and verification of container images.

>>> from verifier.cosign import NamedKey, load_public_key, verify_image
>>> from verifier.oci import Reference, RegistryClient
>>> async def check(pem: bytes) -> bool:  # doctest: +SKIP
...     async with RegistryClient() as client:
...         key = NamedKey("ci", load_public_key(pem))
...         result = await verify_image(client, Reference.parse("ghcr.io/org/app:1.0"), [key])
...         return result.verified
"""

from verifier.cosign._attest import PREDICATE_TYPES, AttestedImage, attest_image, predicate_type_for
from verifier.cosign._attest_check import (
    AttestationCheck,
    AttestationVerification,
    check_attestation,
    sigstore_bundle_verifier,
    verify_image_attestations,
)
from verifier.cosign._discover import COSIGN_SIGN_PREDICATE, LAYOUTS, LEGACY_SIG, Attachment, discover
from verifier.cosign._layout import (
    CERTIFICATE_ANNOTATION,
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
from verifier.cosign._sign import SignedImage, attach_signature, sign_image
from verifier.cosign._verify import (
    FetchedSignatures,
    ImageVerification,
    NamedKey,
    SignatureCheck,
    check_claims,
    check_signatures,
    check_simple_signature,
    fetch_signatures,
    verify_image,
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
    "MALFORMED_MATERIAL",
    "LAYOUTS",
    "LEGACY_SIG",
    "CERTIFICATE_ANNOTATION",
    "COSIGN_SIGN_PREDICATE",
    "PREDICATE_TYPES",
    "AttestationCheck",
    "AttestationVerification",
    "Attachment",
    "AttestedImage",
    "attest_image",
    "check_attestation",
    "discover",
    "predicate_type_for",
    "sigstore_bundle_verifier",
    "verify_image_attestations",
    "ACCEPTED_SCRYPT_N",
    "COSIGN_PRIVATE_KEY_LABEL",
    "SIGSTORE_PRIVATE_KEY_LABEL",
    "SIMPLE_SIGNING_TYPE",
    "signature_scheme",
    "malformed",
    "SIGNATURE_ANNOTATION",
    "SIMPLE_SIGNING_MEDIA_TYPE",
    "FetchedSignatures",
    "ImageVerification",
    "NamedKey",
    "SignatureCheck",
    "SignatureLayer",
    "SignedImage",
    "SigningKey",
    "SimpleSigningPayload",
    "VerifyingKey",
    "attach_signature",
    "attachment_tag",
    "build_signature_config",
    "build_signature_manifest",
    "build_simple_signing_payload",
    "check_claims",
    "check_signatures",
    "check_simple_signature",
    "encrypt_private_key",
    "fetch_signatures",
    "generate_signing_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "parse_signature_manifest",
    "password_from_env_or_prompt",
    "public_key_pem",
    "read_key_file",
    "sign_bytes",
    "sign_image",
    "verify_bytes",
    "verify_image",
]
