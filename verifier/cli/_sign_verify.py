"""``sealgate keygen``, ``sealgate sign`` and ``sealgate verify``: the key-based cosign workflow."""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
from pathlib import Path
from typing import Any

from verifier.attachments import SignedImage, sign_image
from verifier.cli._common import (
    add_registry_options,
    annotations_from,
    load_signing_key,
    registry_client,
    signature_repository,
)
from verifier.cli._decide import decide_and_print, flags_policy, key_authority, keyless_authority
from verifier.cosign import (
    encrypt_private_key,
    generate_signing_key,
    password_from_env_or_prompt,
    public_key_pem,
)
from verifier.errors import UsageError
from verifier.oci import Reference
from verifier.policy import load_policy_files

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
        help="verify an image's signatures (key, keyless identity, or policy files)",
        description="Check the signatures attached to IMAGE in every layout: one must verify with --key (or the "
        "keyless identity), name the image's digest and repository, and carry every -a annotation. The flags "
        "compile into one policy that IMAGE is judged by exactly as the admission webhook judges it; with "
        "--policy, by those policy files. Exit 0 when allowed (or warned), 1 when denied, 2 for usage or "
        "configuration errors.",
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


def _verify(args: argparse.Namespace) -> int:
    identity_given = args.certificate_identity or args.certificate_identity_regexp
    if args.policy:
        if identity_given:
            raise UsageError("--policy says who must have signed; drop --certificate-identity")
        if args.annotation or args.skip_reference_check:
            raise UsageError("-a and --skip-reference-check go with --key; policies say what they require")
        policies = load_policy_files(args.policy)
        insecure = policies.settings.insecure_registries
        return decide_and_print(args, args.image, policies, namespace=args.namespace, insecure=insecure)
    if args.key and identity_given:
        raise UsageError("give --key or --certificate-identity[-regexp], not both")
    if not args.key and not identity_given:
        raise UsageError("verify needs --key, --policy, or --certificate-identity[-regexp] (keyless)")
    ref = Reference.parse(args.image)
    claims = annotations_from(args.annotation)
    authority = key_authority(args.key) if args.key else keyless_authority(args)
    policies = flags_policy(ref, authority, claims=claims, check_reference=not args.skip_reference_check)
    return decide_and_print(args, args.image, policies)
