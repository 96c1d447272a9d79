"""``sealgate keygen``, ``sealgate sign`` and ``sealgate verify``: the key-based cosign workflow."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

from verifier.cli._common import (
    add_registry_options,
    annotations_from,
    emit,
    load_signing_key,
    load_verifying_keys,
    print_heading,
    registry_client,
    signature_repository,
)
from verifier.cosign import (
    LEGACY_SIG,
    ImageVerification,
    SignedImage,
    discover,
    encrypt_private_key,
    generate_signing_key,
    password_from_env_or_prompt,
    public_key_pem,
    sign_image,
    verify_image,
)
from verifier.engine import Decision, Engine, check_signature, decision_lines, safe_text
from verifier.errors import NoSignaturesError, RegistryError, UsageError
from verifier.oci import Reference
from verifier.policy import CompiledAuthority, load_policy_files
from verifier.registry import RegistryClient
from verifier.sigstore import Identity, TrustedRoot

__all__ = ["register"]


def register(commands: argparse._SubParsersAction[Any]) -> None:
    keygen = commands.add_parser(
        "keygen",
        help="generate a cosign-compatible key pair (cosign.key, cosign.pub)",
        description="Generate an ECDSA P-256 key pair: an encrypted private key in cosign's format and its PEM "
        "public key. The password comes from COSIGN_PASSWORD or SEALGATE_PASSWORD (empty allowed), a prompt, "
        "or standard input.",
    )
    keygen.add_argument(
        "--output-key-prefix", default="cosign", metavar="PREFIX", help="file name prefix (default: cosign)"
    )
    keygen.add_argument("--force", action="store_true", help="overwrite existing key files")
    keygen.set_defaults(func=_keygen)

    sign = commands.add_parser(
        "sign",
        help="sign an image in its registry (cosign .sig layout)",
        description="Sign IMAGE with a private key and attach the signature at <repo>:sha256-<hex>.sig, exactly "
        "as `cosign sign --key` does. A tag is resolved to its digest first.",
    )
    sign.add_argument("image", metavar="IMAGE")
    sign.add_argument("--key", required=True, metavar="FILE", help="private key (cosign format or PEM)")
    sign.add_argument(
        "-a",
        "--annotation",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra claim written into the payload's `optional` section; repeatable",
    )
    sign.add_argument("--recursive", action="store_true", help="for an image index, also sign every manifest in it")
    sign.add_argument(
        "--sign-container-identity",
        metavar="REF",
        help="docker-reference to write in the payload instead of the image's repository",
    )
    sign.add_argument("--output-signature", metavar="FILE", help="also write the base64 signature here")
    sign.add_argument("--output-payload", metavar="FILE", help="also write the signed payload here")
    sign.add_argument(
        "--no-upload",
        dest="upload",
        action="store_false",
        help="do not push the signature (use with --output-signature/--output-payload)",
    )
    add_registry_options(sign)
    sign.set_defaults(func=_sign)

    verify = commands.add_parser(
        "verify",
        help="verify an image's key-based signatures",
        description="Check the signatures attached to IMAGE: each must verify over its payload with --key, name "
        "the image's digest and repository, and carry every -a annotation. Exit 0 when at least one signature "
        "verifies, 1 when none does, 2 for usage or configuration errors. With --policy instead of --key, IMAGE "
        "is judged by the policies exactly as the admission webhook judges it (exit 0 allowed or warned, 1 denied).",
    )
    verify.add_argument("image", metavar="IMAGE")
    trust = verify.add_mutually_exclusive_group()
    trust.add_argument(
        "--key",
        action="append",
        metavar="FILE",
        help="public key (PEM); repeat to accept any of several keys",
    )
    trust.add_argument(
        "--policy",
        action="append",
        metavar="FILE_OR_DIR",
        help="judge IMAGE by these policy files (as the webhook does); repeatable",
    )
    verify.add_argument(
        "--namespace", metavar="NS", help="with --policy: the namespace the image would run in (selection, exemptions)"
    )
    keyless = verify.add_argument_group("keyless (instead of --key or --policy)")
    keyless.add_argument("--certificate-identity", metavar="ID", help="the signing certificate's identity (SAN)")
    keyless.add_argument(
        "--certificate-identity-regexp", metavar="RE", help="full-match regular expression for the identity"
    )
    keyless.add_argument("--certificate-oidc-issuer", metavar="URL", help="the certificate's OIDC issuer")
    keyless.add_argument(
        "--certificate-oidc-issuer-regexp", metavar="RE", help="full-match regular expression for the issuer"
    )
    keyless.add_argument(
        "--trusted-root",
        metavar="FILE",
        help="Sigstore trusted_root.json (default: the public-good root shipped with sealgate; never fetched)",
    )
    verify.add_argument(
        "-a",
        "--annotation",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="require this claim in the payload's `optional` section; repeatable",
    )
    verify.add_argument(
        "--skip-reference-check",
        action="store_true",
        help="accept signatures whose docker-reference names another repository (as cosign does)",
    )
    verify.add_argument("--output", choices=("text", "json"), default="text", help="output format (default: text)")
    add_registry_options(verify)
    verify.set_defaults(func=_verify)


def _write_new(path: Path, data: bytes, mode: int, force: bool) -> None:
    if path.exists() and not force:
        raise UsageError(f"{path} already exists (use --force to overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _keygen(args: argparse.Namespace) -> int:
    key_path, pub_path = Path(f"{args.output_key_prefix}.key"), Path(f"{args.output_key_prefix}.pub")
    for path in (key_path, pub_path):
        if path.exists() and not args.force:
            raise UsageError(f"{path} already exists (use --force to overwrite)")
    password = password_from_env_or_prompt(confirm=True, stdin=sys.stdin)
    key = generate_signing_key()
    _write_new(key_path, encrypt_private_key(key, password), 0o600, args.force)
    _write_new(pub_path, public_key_pem(key.public_key()), 0o644, args.force)
    print(f"Private key written to {key_path}")
    print(f"Public key written to {pub_path}")
    return 0


def _sign(args: argparse.Namespace) -> int:
    ref = Reference.parse(args.image)
    annotations = annotations_from(args.annotation)
    key = load_signing_key(args.key)

    async def run() -> list[SignedImage]:
        async with registry_client(args) as client:
            return await sign_image(
                client,
                ref,
                key,
                annotations=annotations,
                recursive=args.recursive,
                signature_repository=signature_repository(),
                docker_reference=args.sign_container_identity,
                upload=args.upload,
            )

    signed = asyncio.run(run())
    if ref.digest is None:
        print(f"Resolved tag {ref.tag!r} of {ref.name} to {signed[0].digest}")
    for item in signed:
        if not args.upload:
            print(f"Signed {item.reference.name}@{item.digest} (not uploaded)")
        elif item.appended:
            print(f"Signed {item.reference.name}@{item.digest}: signature pushed to {item.signature_tag}")
        else:
            print(f"{item.reference.name}@{item.digest} already carries this signature at {item.signature_tag}")
    if args.output_signature:
        Path(args.output_signature).write_text(base64.b64encode(signed[0].signature).decode())
    if args.output_payload:
        Path(args.output_payload).write_bytes(signed[0].payload)
    return 0


def _authority(args: argparse.Namespace) -> CompiledAuthority:
    """The one authority `verify` checks against: --key files, or a keyless identity."""
    identity_given = args.certificate_identity or args.certificate_identity_regexp
    if args.key and identity_given:
        raise UsageError("give --key or --certificate-identity[-regexp], not both")
    if args.key:
        return CompiledAuthority("key", tuple(load_verifying_keys(args.key)))
    if not identity_given:
        raise UsageError("verify needs --key, --policy, or --certificate-identity[-regexp] (keyless)")
    if not (args.certificate_oidc_issuer or args.certificate_oidc_issuer_regexp):
        raise UsageError(
            "keyless verify needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp "
            "(an identity means nothing without its issuer; '.*' accepts any)"
        )
    identity = Identity(
        subject=args.certificate_identity,
        subject_regexp=args.certificate_identity_regexp,
        issuer=args.certificate_oidc_issuer,
        issuer_regexp=args.certificate_oidc_issuer_regexp,
    )
    root = TrustedRoot.from_file(args.trusted_root) if args.trusted_root else TrustedRoot.production()
    return CompiledAuthority("keyless", (), identity=identity, trusted_root=root)


async def _verify_every_layout(
    client: RegistryClient, ref: Reference, authority: CompiledAuthority, legacy: ImageVerification | None
) -> ImageVerification:
    """Legacy `.sig` layers (keyless) and cosign v3 bundles (referrers API or fallback tag), for one authority."""
    store = signature_repository() or ref
    digest, resolved = ref.digest, None
    if legacy is not None and legacy.digest is not None:
        digest, resolved = legacy.digest, legacy.resolved_from_tag
    try:
        if digest is None:
            digest, resolved = (await client.resolve(ref)).digest, ref.tag
        found = [a for a in await discover(client, store, digest, attestations=False) if a.is_signature]
    except RegistryError as exc:
        if legacy is not None and legacy.signatures:  # what the `.sig` layers said stands
            return legacy
        return ImageVerification(ref if digest is None else ref.with_digest(digest), digest, resolved, error=exc)
    image = ref.with_digest(digest)
    earlier = legacy.signatures if legacy is not None else ()
    if legacy is not None:  # its `.sig` layers were judged already, with the -a / reference options
        found = [a for a in found if a.layout != LEGACY_SIG]
    if not found and not earlier:
        error = NoSignaturesError(f"no signatures found for {ref.name}@{digest} (any layout)")
        return ImageVerification(image, digest, resolved, error=error)
    checks = tuple(check_signature(authority, attachment, image, digest) for attachment in found)
    return ImageVerification(image, digest, resolved, (*earlier, *checks))


def _verify(args: argparse.Namespace) -> int:
    if args.policy:
        if args.certificate_identity or args.certificate_identity_regexp:
            raise UsageError("--policy says who must have signed; drop --certificate-identity")
        return _verify_by_policy(args)
    ref = Reference.parse(args.image)
    annotations = annotations_from(args.annotation)
    authority = _authority(args)

    async def run() -> ImageVerification:
        async with registry_client(args) as client:
            legacy = None
            if not authority.keyless:  # the fast path: cosign's classic `.sig` layers (3 requests)
                legacy = await verify_image(
                    client,
                    ref,
                    authority.keys,
                    annotations=annotations,
                    check_reference=not args.skip_reference_check,
                    signature_repository=signature_repository(),
                )
                if legacy.verified or not isinstance(legacy.error, NoSignaturesError | None):
                    return legacy
                if annotations:  # -a claims live in simple-signing payloads only
                    return legacy
            return await _verify_every_layout(client, ref, authority, legacy)

    return emit(asyncio.run(run()), args.output, _print_verification)


def _print_verification(result: ImageVerification) -> None:
    if not print_heading(f"Verification for {result.image}", result.resolved_from_tag, result.digest, result.error):
        return
    for check in result.signatures:
        mark = "OK  " if check.verified else "FAIL"
        print(f"  {mark} {check.layer}: {check.reason}")
    verdict = "VERIFIED" if result.verified else "NOT VERIFIED"
    print(f"{verdict}: {result.reason()}")


def _verify_by_policy(args: argparse.Namespace) -> int:
    if args.annotation or args.skip_reference_check:
        raise UsageError("-a and --skip-reference-check go with --key; policies say what they require")
    policies = load_policy_files(args.policy)

    async def run() -> Decision:
        async with registry_client(args, insecure=policies.settings.insecure_registries) as client:
            return await Engine(policies, client).decide(args.image, namespace=args.namespace)

    decision = asyncio.run(run())
    if args.output == "json":
        print(json.dumps(decision.to_dict(), indent=2))
    else:
        _print_decision(decision)
    return 0 if decision.allowed else 1


def _print_decision(decision: Decision) -> None:
    print(f"Decision for {decision.reference or decision.image}: {decision.outcome.value.upper()}")
    if decision.resolved_from_tag is not None and decision.digest is not None:
        print(f"  tag {decision.resolved_from_tag!r} resolved to {decision.digest}")
    for result in decision.results:
        if result.passed:
            print(f'  PASS policy "{result.policy}" ({result.mode})')
    denials, warnings = decision_lines("image", decision.image, decision)
    for line in denials:
        print(f"  FAIL {line}")
    for line in warnings:
        print(f"  WARN {line}")
    if not decision.results and not denials and not warnings:
        print(f"  {safe_text(decision.reason)}")
