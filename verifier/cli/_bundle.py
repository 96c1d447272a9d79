"""``sealgate verify-bundle``: verify a Sigstore bundle for a file or a digest, offline.

The argument shapes follow the sigstore-conformance client protocol (FORMATS.md §9), so this command runs
the conformance suite unchanged: exit 0 when the bundle verifies, non-zero otherwise.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from verifier.cosign import load_public_key, read_key_file
from verifier.errors import UsageError
from verifier.limits import DEFAULT_LIMITS
from verifier.oci import Digest
from verifier.sigstore import Identity, TrustedRoot, verify_bundle

__all__ = ["register", "resolve_artifact"]

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def register(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser(
        "verify-bundle",
        help="verify a Sigstore bundle (keyless identity or key) for a file or sha256 digest, offline",
        description="Verify a Sigstore bundle (v0.1-v0.3; message signature or DSSE/in-toto) against a trusted "
        "root: the signature, the Rekor entry (SET, inclusion proof, checkpoint), RFC 3161 timestamps, the "
        "Fulcio certificate chain and SCT at the signing time, and the signer identity (or the given key). "
        "Regular expressions are full matches. Exit 0 on success, 1 when verification fails, 2 on bad usage.",
    )
    parser.add_argument("--bundle", required=True, metavar="FILE", help="the Sigstore bundle (JSON)")
    who = parser.add_argument_group("signer (a keyless identity and issuer, or --key)")
    subject = who.add_mutually_exclusive_group()
    subject.add_argument("--certificate-identity", metavar="ID", help="exact certificate SAN (email, URI, ...)")
    subject.add_argument("--certificate-identity-regexp", metavar="RE", help="certificate SAN, full-match regexp")
    issuer = who.add_mutually_exclusive_group()
    issuer.add_argument("--certificate-oidc-issuer", metavar="URL", help="exact OIDC issuer")
    issuer.add_argument("--certificate-oidc-issuer-regexp", metavar="RE", help="OIDC issuer, full-match regexp")
    who.add_argument("--key", metavar="FILE", help="PEM public key of a key-signed bundle (instead of an identity)")
    trust = parser.add_argument_group("trust")
    roots = trust.add_mutually_exclusive_group()
    roots.add_argument("--trusted-root", metavar="FILE", help="trusted_root.json (or JSON Lines of roots)")
    roots.add_argument("--staging", action="store_true", help="use the built-in Sigstore staging trusted root")
    trust.add_argument("--insecure-ignore-sct", action="store_true", help="do not require an SCT in the certificate")
    trust.add_argument(
        "--insecure-ignore-tlog", action="store_true", help="do not require a transparency log entry (TSA time only)"
    )
    parser.add_argument(
        "artifact",
        metavar="ARTIFACT_OR_DIGEST",
        help="the signed file, or sha256:<64 hex> (the in-toto subject for DSSE)",
    )
    parser.set_defaults(func=_verify_bundle)


def resolve_artifact(text: str) -> tuple[bytes | None, Digest | None]:
    """``sha256:<hex>`` that is not an existing path is a digest; anything else is a file to read."""
    if _DIGEST.match(text) and not Path(text).exists():
        return None, Digest.parse(text)
    try:
        return Path(text).read_bytes(), None
    except OSError as exc:
        raise UsageError(f"cannot read artifact {text}: {exc.strerror or exc}") from None


def _read_bundle(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read(DEFAULT_LIMITS.max_bundle_bytes + 1)
    except OSError as exc:
        raise UsageError(f"cannot read bundle {path}: {exc.strerror or exc}") from None
    return data


def _verify_bundle(args: argparse.Namespace) -> int:
    keyless = any(
        v is not None
        for v in (
            args.certificate_identity,
            args.certificate_identity_regexp,
            args.certificate_oidc_issuer,
            args.certificate_oidc_issuer_regexp,
        )
    )
    if args.key is not None and keyless:
        raise UsageError("give either --key or a certificate identity, not both")
    if args.key is None and not keyless:
        raise UsageError("give --certificate-identity and --certificate-oidc-issuer (or --key)")
    identity = key = None
    if args.key is not None:
        key = load_public_key(read_key_file(args.key), source=args.key)
    else:
        if args.certificate_identity is None and args.certificate_identity_regexp is None:
            raise UsageError("--certificate-identity or --certificate-identity-regexp is required")
        if args.certificate_oidc_issuer is None and args.certificate_oidc_issuer_regexp is None:
            raise UsageError("--certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required")
        identity = Identity(
            subject=args.certificate_identity,
            subject_regexp=args.certificate_identity_regexp,
            issuer=args.certificate_oidc_issuer,
            issuer_regexp=args.certificate_oidc_issuer_regexp,
        )
    if args.trusted_root:
        root = TrustedRoot.from_file(args.trusted_root)
    else:
        root = TrustedRoot.staging() if args.staging else TrustedRoot.production()
    artifact, digest = resolve_artifact(args.artifact)
    result = verify_bundle(
        _read_bundle(args.bundle),
        trusted_root=root,
        identity=identity,
        key=key,
        artifact=artifact,
        digest=digest,
        require_sct=not args.insecure_ignore_sct,
        require_tlog=not args.insecure_ignore_tlog,
    )
    signer = identity.describe() if identity is not None else f"key {result.key_id}"
    when = f" at {result.signed_at:%Y-%m-%dT%H:%M:%SZ}" if result.signed_at else ""
    print(f"Verified OK: {args.artifact} ({result.kind}) signed by {signer}{when}")
    sys.stdout.flush()
    return 0
