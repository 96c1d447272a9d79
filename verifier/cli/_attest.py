"""``sealgate attest`` and ``sealgate verify-attestation``: key-signed in-toto attestations, cosign-compatible."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any, TextIO

from verifier.attachments import AttestedImage, attest_image
from verifier.cli._common import add_registry_options, load_signing_key, registry_client
from verifier.cli._common import signature_repository as attestation_repository
from verifier.cli._decide import decide_and_print, flags_policy, key_authority
from verifier.cosign import PREDICATE_TYPES, SigningKey, predicate_type_for
from verifier.errors import UsageError
from verifier.oci import Reference

__all__ = ["attest_and_report", "register"]

_TYPES = ", ".join(sorted(PREDICATE_TYPES))
#: largest --predicate file read (cosign caps attachments at 128 MiB; registries rarely take that much)
_MAX_PREDICATE_BYTES = 64 * 1024 * 1024


def register(commands: argparse._SubParsersAction[Any]) -> None:
    attest = commands.add_parser(
        "attest",
        help="attach a signed in-toto attestation to an image (cosign .att layout or sigstore bundle)",
        description="Wrap the --predicate file in an in-toto statement about IMAGE's digest, sign it as a DSSE "
        "envelope with --key and attach it at <repo>:sha256-<hex>.att, exactly as `cosign attest --key` does. "
        "With --bundle-format, store a sigstore bundle v0.3 in a referring manifest instead (found through the "
        "referrers API, or the sha256-<hex> fallback tag on registries without one). A tag is resolved first.",
    )
    attest.add_argument("image", metavar="IMAGE")
    attest.add_argument("--predicate", required=True, metavar="FILE", help="the predicate document")
    attest.add_argument(
        "--type",
        default="custom",
        metavar="TYPE",
        help=f"predicate type: one of {_TYPES}, or a URI (default: custom)",
    )
    attest.add_argument("--key", required=True, metavar="FILE", help="private key (cosign format or PEM)")
    attest.add_argument(
        "--replace", action="store_true", help="drop existing .att attestations of the same predicate type first"
    )
    attest.add_argument(
        "--bundle-format",
        action="store_true",
        help="store a sigstore bundle v0.3 as an OCI 1.1 referrer (cosign 3's --new-bundle-format)",
    )
    add_registry_options(attest)
    attest.set_defaults(func=_attest)

    verify = commands.add_parser(
        "verify-attestation",
        help="verify an image's key-signed attestations",
        description="Find IMAGE's attestations in every layout cosign uses (.att tag, referrers API, referrers "
        "fallback tag; DSSE envelopes and sigstore bundles) and check each: signed by --key, an in-toto statement "
        "whose subject is IMAGE's digest, of predicate type --type (judged by the engine as a policy requiring that "
        "attestation). Prints the decision and the verified statements. Exit 0 when at least one attestation "
        "verifies, 1 when none does, 2 for usage or configuration errors.",
    )
    verify.add_argument("image", metavar="IMAGE")
    verify.add_argument(
        "--key",
        action="append",
        required=True,
        metavar="FILE",
        help="public key (PEM); repeat to accept any of several",
    )
    verify.add_argument(
        "--type",
        default="custom",
        metavar="TYPE",
        help=f"required predicate type: one of {_TYPES}, or a URI (default: custom)",
    )
    verify.add_argument("--output", choices=("text", "json"), default="text", help="output format (default: text)")
    add_registry_options(verify)
    verify.set_defaults(func=_verify_attestation)


def _read_predicate(path: str) -> bytes:
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > _MAX_PREDICATE_BYTES:
            raise UsageError(f"--predicate {path}: {size} bytes, above the {_MAX_PREDICATE_BYTES}-byte limit")
        return file.read_bytes()
    except OSError as exc:
        raise UsageError(f"--predicate {path}: {exc.strerror or exc}") from None


def _attest(args: argparse.Namespace) -> int:
    ref = Reference.parse(args.image)
    predicate_type_for(args.type)  # a usage error before the key password is asked for
    predicate = _read_predicate(args.predicate)
    key = load_signing_key(args.key)
    return attest_and_report(args, ref, key, predicate, args.type, replace=args.replace)


def attest_and_report(
    args: argparse.Namespace,
    ref: Reference,
    key: SigningKey,
    predicate: bytes,
    predicate_type: str,
    *,
    replace: bool = False,
    out: TextIO | None = None,
) -> int:
    """Attach ``predicate`` to ``ref`` as ``sealgate attest`` does (``args`` carries the registry options and
    ``bundle_format``) and say where it went; ``sealgate sbom --attest`` comes through here too."""

    async def run() -> AttestedImage:
        async with registry_client(args) as client:
            return await attest_image(
                client,
                ref,
                key,
                predicate=predicate,
                predicate_type=predicate_type,
                bundle_format=args.bundle_format,
                replace=replace,
                attestation_repository=attestation_repository(),
            )

    done = asyncio.run(run())
    if ref.digest is None:
        print(f"Resolved tag {ref.tag!r} of {ref.name} to {done.digest}", file=out)
    if done.replaced:
        print(f"Replaced {done.replaced} attestation(s) of type {done.predicate_type}", file=out)
    print(
        f"Attested {done.reference.name}@{done.digest} ({done.predicate_type}): {done.layout} at {done.location}",
        file=out,
    )
    return 0


def _verify_attestation(args: argparse.Namespace) -> int:
    ref = Reference.parse(args.image)
    predicate = (args.type, predicate_type_for(args.type))
    policies = flags_policy(ref, key_authority(args.key), predicate=predicate)
    return decide_and_print(args, args.image, policies, keep_statements=True)
