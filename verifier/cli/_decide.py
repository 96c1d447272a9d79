"""The one way the CLI verifies an image: a policy set (policy files, or the flags compiled into one policy) judged
by :class:`verifier.engine.Engine`, printed with the webhook's renderer (``decision_lines``).

``sealgate verify --key``/keyless, ``verify --policy`` and ``verify-attestation`` all end here, so the same
image gets the same reasons from every command, and ``--output json`` is always one Decision
(``schemas/verify-result.schema.json``). Exit code 0 when the decision allows, 1 when it denies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from verifier.cli._common import load_verifying_keys, registry_client, signature_repository
from verifier.errors import UsageError

if TYPE_CHECKING:
    from verifier.engine import Decision
    from verifier.oci import Reference
    from verifier.policy import CompiledAuthority, PolicySet

__all__ = ["FLAGS_POLICY", "decide_and_print", "flags_policy", "key_authority", "keyless_authority", "print_decision"]

#: the name of the one policy the flags compile into (denial lines say ``policy "command-line": ...``)
FLAGS_POLICY = "command-line"


def key_authority(paths: Sequence[str]) -> CompiledAuthority:
    """``--key`` files (repeatable: any of them may have signed), named after the files."""
    from verifier.policy import CompiledAuthority

    keys = tuple(load_verifying_keys(paths))
    return CompiledAuthority(", ".join(dict.fromkeys(k.name for k in keys)), keys)


def keyless_authority(args: argparse.Namespace) -> CompiledAuthority:
    """The keyless identity flags and ``--trusted-root``, named after the identity they require."""
    from verifier.policy import CompiledAuthority
    from verifier.sigstore import Identity, TrustedRoot

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
    return CompiledAuthority(identity.describe(), (), identity=identity, trusted_root=root)


def flags_policy(
    image: Reference,
    authority: CompiledAuthority,
    *,
    claims: dict[str, str] | None = None,
    check_reference: bool = True,
    predicate: tuple[str, str] | None = None,
) -> PolicySet:
    """The flags as one enforcing policy for ``image``'s repository: ``authority`` must have signed the image
    (carrying ``claims``, naming the repository unless ``check_reference`` is off), or with ``predicate``
    (``(name, predicate type URI)``, verify-attestation) have signed an attestation of that type instead.
    ``COSIGN_REPOSITORY`` says where the signatures are stored."""
    from verifier.policy import CompiledAttestation, single_policy

    attestation = None
    if predicate is not None:
        attestation = CompiledAttestation(predicate[0], predicate[1], (authority.name,))
    return single_policy(
        FLAGS_POLICY,
        image,
        authority,
        attestation=attestation,
        claims=claims,
        check_reference=check_reference,
        signature_repository=signature_repository(),
    )


def decide_and_print(
    args: argparse.Namespace,
    image: str,
    policies: PolicySet,
    *,
    namespace: str | None = None,
    keep_statements: bool = False,
    insecure: Iterable[str] = (),
) -> int:
    """Judge ``image`` by ``policies`` through the engine and print the decision (``args.output``)."""
    from verifier.engine import Engine

    async def run() -> Decision:
        async with registry_client(args, insecure=insecure) as client:
            engine = Engine(policies, client, keep_statements=keep_statements)
            return await engine.decide(image, namespace=namespace)

    decision = asyncio.run(run())
    if args.output == "json":
        print(json.dumps(decision.to_dict(), indent=2))
    else:
        print_decision(decision)
    return 0 if decision.allowed else 1


def print_decision(decision: Decision) -> None:
    """The text report: the verdict, the webhook's per-image lines, what was checked, the verified statements."""
    from verifier.engine import decision_lines, safe_text

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
    statements: dict[str, str] = {}
    for result in decision.results:
        if result.evidence:
            print(f'  checked for policy "{safe_text(result.policy)}":')
        for seen in result.evidence:
            where = f"{seen.kind} {seen.digest} [{seen.layout}]"
            print(f"    {safe_text(seen.code)} {where}: {safe_text(seen.reason)}")
            if seen.verified and seen.statement is not None:
                statements.setdefault(seen.digest, json.dumps(seen.statement, sort_keys=True))
    for text in statements.values():
        print(text)
