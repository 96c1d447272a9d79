"""cosign-compatible keys, signing and verification of container images.

>>> from verifier.cosign import NamedKey, discover, load_public_key
>>> from verifier.oci import Reference
>>> from verifier.registry import RegistryClient
>>> async def signatures(pem: bytes) -> int:  # doctest: +SKIP
...     async with RegistryClient() as client:
...         key = NamedKey("ci", load_public_key(pem))
...         ref = Reference.parse("ghcr.io/org/app@sha256:...")
...         return len(await discover(client, ref, ref.digest, signatures=True, attestations=False))

Deciding whether an image may run is the engine's job (``verifier.engine.Engine``), which calls these.
"""

from verifier.cosign._attest import PREDICATE_TYPES, AttestedImage, attest_image, predicate_type_for
from verifier.cosign._attest_check import (
    AttestationCheck,
    check_attestation,
    sigstore_bundle_verifier,
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
    "MALFORMED_MATERIAL",
    "LAYOUTS",
    "LEGACY_SIG",
    "CERTIFICATE_ANNOTATION",
    "COSIGN_SIGN_PREDICATE",
    "PREDICATE_TYPES",
    "AttestationCheck",
    "Attachment",
    "AttestedImage",
    "attest_image",
    "check_attestation",
    "discover",
    "predicate_type_for",
    "sigstore_bundle_verifier",
    "ACCEPTED_SCRYPT_N",
    "COSIGN_PRIVATE_KEY_LABEL",
    "SIGSTORE_PRIVATE_KEY_LABEL",
    "SIMPLE_SIGNING_TYPE",
    "signature_scheme",
    "malformed",
    "SIGNATURE_ANNOTATION",
    "SIMPLE_SIGNING_MEDIA_TYPE",
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
    "check_simple_signature",
    "encrypt_private_key",
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
]
