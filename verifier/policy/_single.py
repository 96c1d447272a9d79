"""The one-policy set behind ``sealgate verify --key``/keyless and ``verify-attestation``.

The command-line flags say what a policy says - who must have signed, which attestation must be there - for
one image; they compile into a :class:`PolicySet` holding one policy whose only image glob is that image's
repository, so the engine judges it exactly as it judges a policy file (and contacts that registry only).
"""

from __future__ import annotations

from collections.abc import Mapping

from verifier.errors import UsageError
from verifier.oci import Reference
from verifier.policy._compile import (
    CompiledAttestation,
    CompiledAuthority,
    CompiledPolicy,
    CompiledSettings,
    PolicySet,
    _sha256_json,
    _spki_hex,
)
from verifier.policy._glob import ImageGlob

__all__ = ["single_policy"]


def single_policy(
    name: str,
    image: Reference,
    authority: CompiledAuthority,
    *,
    attestation: CompiledAttestation | None = None,
    claims: Mapping[str, str] | None = None,
    check_reference: bool = True,
    signature_repository: Reference | None = None,
) -> PolicySet:
    """One enforcing policy for ``image``'s repository: ``authority`` must have signed it - or, with
    ``attestation``, signed that attestation (no image signature required then, as ``cosign verify-attestation``).
    """
    glob = ImageGlob.parse(image.name)
    if not glob.matches(image):  # a repository name is a glob matching itself; fail closed should that change
        raise UsageError(f"{image.name} cannot be written as an image glob")
    ordered_claims = tuple(sorted((claims or {}).items()))
    attestations = () if attestation is None else (attestation,)
    canonical = {
        "name": name,
        "images": [glob.text],
        "authority": [
            authority.name,
            [_spki_hex(k) for k in authority.keys],
            None if authority.identity is None else authority.identity.describe(),
        ],
        "attestations": [[a.name, a.predicate_type] for a in attestations],
        "claims": ordered_claims,
        "checkReference": check_reference,
        "signatureRepository": None if signature_repository is None else signature_repository.name,
    }
    policy = CompiledPolicy(
        name=name,
        mode="enforce",
        require_digest=False,
        threshold=0 if attestations else 1,
        authorities=(authority,),
        hash=_sha256_json(canonical),
        images=(glob,),
        source="command line",
        attestations=attestations,
        claims=ordered_claims,
        check_reference=check_reference,
        signature_repository=signature_repository,
    )
    return PolicySet.build([policy], CompiledSettings())


