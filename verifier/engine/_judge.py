"""Pure judging: does what was found for an image satisfy a policy?

Signatures count per authority, whatever the layout they were found in (legacy ``.sig`` layers, cosign v3
bundles from the referrers API or the fallback tag), key-signed or keyless; ``threshold`` authorities must
verify, each by a distinct signer (``_count``: one key or one keyless identity never counts twice). Then every
attestation requirement must be met by an attestation of that predicate type, for this digest, signed by one of
the authorities it names. No I/O here: the engine fetches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from verifier.cosign import (
    BUNDLE_ANNOTATION,
    CERTIFICATE_ANNOTATION,
    COSIGN_SIGN_PREDICATE,
    MALFORMED_MATERIAL,
    SIMPLE_SIGNING_MEDIA_TYPE,
    Attachment,
    NamedKey,
    SignatureCheck,
    SignatureLayer,
    check_attestation,
    check_claims,
    check_simple_signature,
    malformed,
)
from verifier.crypto import unexpected
from verifier.engine._count import counted_authorities, signer_of
from verifier.engine._decision import Evidence, PolicyResult
from verifier.errors import Reason, SealgateError, SignatureInvalidError
from verifier.limits import DEFAULT_LIMITS
from verifier.oci import OCI_INDEX, OCI_MANIFEST, Descriptor, Digest, Reference
from verifier.policy import CompiledAttestation, CompiledAuthority, CompiledPolicy
from verifier.sbomrules import AGE_RULE, CompiledSbomRules, read_sbom
from verifier.sigstore import (
    RekorEntry,
    TrustedRoot,
    VerifiedSignature,
    check_rekor_entry_matches,
    statement_subject_matches,
    verify_bundle,
    verify_legacy_keyless,
    verify_rekor_set,
)

__all__ = ["check_signature", "judge"]

OK = Reason.OK
#: codes that say only "not this signer's kind of signature": less informative than any other failure (an
#: identity mismatch is informative: it says who did sign)
_WEAK = frozenset({"SIGNATURE_INVALID", "UNSUPPORTED_LAYER", "NOT_A_SIGNATURE"})


def _fail(where: str, exc: SealgateError) -> SignatureCheck:
    return SignatureCheck(where, exc.code, exc.message)


def _root(authority: CompiledAuthority) -> TrustedRoot:
    return authority.trusted_root if authority.trusted_root is not None else TrustedRoot.production()


def _bundle(
    authority: CompiledAuthority, bundle: bytes, digest: Digest, max_bytes: int = DEFAULT_LIMITS.max_bundle_bytes
) -> VerifiedSignature:
    """Verify a bundle for ``digest`` with the authority's identity, or with one of its keys (an attestation
    bundle may be as large as discovery's ``max_attestation_bytes`` let it be read)."""
    if authority.identity is not None:
        return verify_bundle(
            bundle, trusted_root=_root(authority), identity=authority.identity, digest=digest, max_bytes=max_bytes
        )
    last: SealgateError = SignatureInvalidError(f"authority {authority.name!r} has no key")
    for named in authority.keys:
        try:
            # with a key, tlog/TSA evidence is checked when present but not required (key-signed cosign bundles)
            return verify_bundle(
                bundle,
                trusted_root=_root(authority),
                key=named.key,
                digest=digest,
                require_tlog=False,
                max_bytes=max_bytes,
            )
        except SealgateError as exc:
            last = exc
    raise last


def check_signature(
    authority: CompiledAuthority,
    found: Attachment,
    image: Reference,
    digest: Digest,
    *,
    claims: Mapping[str, str] | None = None,
    check_reference: bool = True,
) -> SignatureCheck:
    """One signature attachment (any layout) judged for one authority (key or keyless); ``claims`` and
    ``check_reference`` are what a simple-signing payload must say besides the digest (CLI ``-a``,
    ``--skip-reference-check``).

    Untrusted material is judged on its own: whatever a parser or crypto library raises on it becomes this
    candidate's failure (MATERIAL_INVALID), never an internal error that would hide the other candidates; so
    does a bug of sealgate's that it reaches (logged as one): an internal error would follow ``onError``, and
    ``onError: allow`` would then admit the image on the word of whoever attached the material.
    """
    try:
        return _check_signature(authority, found, image, digest, claims, check_reference)
    except MALFORMED_MATERIAL as exc:
        return _fail(str(found.digest), malformed(str(found.digest), exc))
    except Exception as exc:  # see the docstring: one candidate's failure, never the image's
        return _fail(str(found.digest), unexpected(str(found.digest), exc))


def _check_signature(
    authority: CompiledAuthority,
    found: Attachment,
    image: Reference,
    digest: Digest,
    claims: Mapping[str, str] | None,
    check_reference: bool,
) -> SignatureCheck:
    where = str(found.digest)
    if isinstance(found.payload, SealgateError):
        return _fail(where, found.payload)
    if found.media_type == SIMPLE_SIGNING_MEDIA_TYPE:
        layer = SignatureLayer(Descriptor(found.media_type, found.digest, len(found.payload), found.annotations))
        if authority.identity is None:
            return check_simple_signature(
                layer, found.payload, authority.keys, image, digest, annotations=claims, check_reference=check_reference
            )
        certificate = found.annotations.get(CERTIFICATE_ANNOTATION)
        if not certificate:
            return SignatureCheck(where, "SIGNATURE_INVALID", "signature has no certificate (not keyless)")
        try:
            verify_legacy_keyless(
                signature=layer.signature(),
                payload=found.payload,
                certificate_pem=certificate,
                chain_pem=layer.chain,
                rekor_bundle=layer.bundle,
                trusted_root=_root(authority),
                identity=authority.identity,
            )
        except SealgateError as exc:
            return _fail(where, exc)
        return check_claims(
            where,
            found.payload,
            image,
            digest,
            signer=authority.name,
            annotations=claims,
            check_reference=check_reference,
        )
    if found.bundle is None:
        return SignatureCheck(where, "UNSUPPORTED_LAYER", f"layer media type {found.media_type} is not a signature")
    try:
        verified = _bundle(authority, found.bundle, digest)
    except SealgateError as exc:
        return _fail(where, exc)
    # only cosign's own statement over this digest is an image signature (README "Keyless and bundles")
    problem = _statement_problem(verified, digest, COSIGN_SIGN_PREDICATE)
    if problem is not None:
        return SignatureCheck(where, "NOT_A_SIGNATURE", problem[1])
    if claims:
        return SignatureCheck(where, "ANNOTATION_MISMATCH", "a signature bundle carries no annotations to match")
    return SignatureCheck(where, OK, f"signature bundle verified for {authority.name!r}", key=authority.name)


def _statement_problem(verified: VerifiedSignature, digest: Digest, predicate_type: str) -> tuple[str, str] | None:
    """(code, reason) when a verified bundle does not state ``predicate_type`` about ``digest``, else None.

    Only an in-toto statement in a DSSE envelope states anything: a message signature (``cosign sign-blob``)
    verifies over any bytes that hash to the digest - the image manifest itself - and says nothing about an
    image. The statement's predicateType must be the one wanted and a subject must name the image digest.
    """
    if verified.kind != "dsse" or verified.statement is None:
        return "NOT_A_SIGNATURE", "bundle holds a message signature (sign-blob), not an in-toto statement"
    predicate = verified.statement.get("predicateType")
    if predicate != predicate_type:
        return Reason.PREDICATE_TYPE_MISMATCH, f"bundle states {str(predicate)[:100]}, not {predicate_type}"
    if not statement_subject_matches(verified.statement, digest):
        return "ARTIFACT_MISMATCH", f"bundle statement's subject is not the image digest {digest}"
    return None


#: one attestation candidate's verdict and its verified signing time (None: no trusted time)
_Attested = tuple[SignatureCheck, dt.datetime | None]


def _attestation(authority: CompiledAuthority, found: Attachment, digest: Digest, predicate_type: str) -> _Attested:
    """One attestation candidate for one authority; malformed material (or a bug it reaches: see
    :func:`check_signature`) fails this candidate only."""
    try:
        return _check_attestation(authority, found, digest, predicate_type)
    except MALFORMED_MATERIAL as exc:
        return _fail(str(found.digest), malformed(str(found.digest), exc)), None
    except Exception as exc:  # one candidate's failure, never the image's
        return _fail(str(found.digest), unexpected(str(found.digest), exc)), None


def _check_attestation(
    authority: CompiledAuthority, found: Attachment, digest: Digest, predicate_type: str
) -> _Attested:
    where = str(found.digest)
    if isinstance(found.payload, SealgateError):
        return _fail(where, found.payload), None
    if authority.identity is None:
        times: list[dt.datetime | None] = []

        def verifier(bundle: bytes, key: NamedKey, subject: Digest) -> None:
            # a bundle's tlog/TSA evidence, when present, is checked against the authority's trust root; the
            # time it proves is kept for SBOM maxAge
            verified = verify_bundle(
                bundle,
                trusted_root=_root(authority),
                key=key.key,
                digest=subject,
                require_tlog=False,
                max_bytes=DEFAULT_LIMITS.max_attestation_bytes,
            )
            times.append(verified.signed_at)

        check = check_attestation(found, authority.keys, digest, predicate_type, bundle_verifier=verifier)
        if not check.verified:
            return SignatureCheck(where, check.code, check.reason), None
        # a legacy layer's time (its Rekor SET) is worked out only when maxAge needs it: _legacy_signed_at
        signed_at = times[-1] if times else None
        return SignatureCheck(where, OK, check.reason, key=authority.name, statement=check.statement), signed_at
    if found.bundle is None:
        reason = "keyless attestations are verified in the bundle format (cosign 3) only"
        return SignatureCheck(where, "UNSUPPORTED_LAYER", reason), None
    try:
        verified = _bundle(authority, found.bundle, digest, DEFAULT_LIMITS.max_attestation_bytes)
    except SealgateError as exc:
        return _fail(where, exc), None
    problem = _statement_problem(verified, digest, predicate_type)
    if problem is not None:
        return SignatureCheck(where, *problem), None
    reason = f"{predicate_type} attestation verified for {authority.name!r}"
    return SignatureCheck(where, OK, reason, key=authority.name, statement=verified.statement), verified.signed_at


def _legacy_signed_at(authority: CompiledAuthority, found: Attachment) -> dt.datetime | None:
    """The Rekor integrated time of a verified key-signed legacy ``.att`` layer: trusted only when its SET
    verifies with the authority's trust root and the entry records this envelope and a key of the authority;
    else None (the attestation itself verified; its time is just not proven)."""
    annotation = found.annotations.get(BUNDLE_ANNOTATION)
    if not annotation or not isinstance(found.payload, bytes):
        return None
    try:
        entry = verify_rekor_set(annotation, _root(authority))
    except Exception:  # anything at all: the time is then unknown, never an error
        return None
    if any(_logged_by(entry, found.payload, named) for named in authority.keys):
        return entry.integrated_at
    return None


def _logged_by(entry: RekorEntry, payload: bytes, named: NamedKey) -> bool:
    """Whether the log entry records ``payload`` under ``named``'s key (anything else that fails: it does not)."""
    try:
        check_rekor_entry_matches(entry, signature=None, payload=payload, public_key_or_cert=named.key)
    except Exception:  # hostile material: a parser's complaint, or a bug it reaches, is a "no"
        return False
    return True


def _best_reason(checks: Sequence[SignatureCheck]) -> tuple[str, str] | None:
    informative = [c for c in checks if c.code not in _WEAK]
    chosen = informative[0] if informative else (checks[0] if checks else None)
    return None if chosen is None else (chosen.code, chosen.reason)


def _evidence(kind: str, authority: str, found: Attachment, check: SignatureCheck) -> Evidence:
    return Evidence(kind, authority, found.layout, check.layer, check.code, check.reason, check.statement)


@dataclass(frozen=True, slots=True)
class _Met:
    """One attestation requirement's verdict."""

    met: bool
    code: str = OK
    reason: str = ""
    details: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    fresh_until: dt.datetime | None = None  # SBOM maxAge: when the freshest SBOM grows too old


def _attestation_met(
    policy: CompiledPolicy,
    wanted: CompiledAttestation,
    found: Sequence[Attachment],
    digest: Digest,
    now: dt.datetime,
) -> tuple[_Met, list[Evidence]]:
    allowed = [a for a in policy.authorities if not wanted.authorities or a.name in wanted.authorities]
    judged = [
        (authority, attachment, *_attestation(authority, attachment, digest, wanted.predicate_type))
        for attachment in found
        # a cosign 3 signature bundle is a DSSE statement of cosign's sign predicate: it meets a requirement of that
        # type (as `cosign verify-attestation --type https://sigstore.dev/cosign/sign/v1` accepts it)
        if attachment.is_attestation or (attachment.is_bundle and wanted.predicate_type == COSIGN_SIGN_PREDICATE)
        for authority in allowed
    ]
    checks = [c for _, _, c, _ in judged]
    evidence = [_evidence("attestation", a.name, f, c) for a, f, c, _ in judged]
    if any(c.verified for c in checks):
        if wanted.sbom is None:
            return _Met(True), evidence
        signed: dict[str, dt.datetime] = {}
        for authority, attachment, check, when in judged:
            if check.verified and when is None and not attachment.is_bundle and not authority.keyless:
                when = _legacy_signed_at(authority, attachment) if wanted.sbom.max_age is not None else None
            if check.verified and when is not None:
                signed[check.layer] = min(when, signed.get(check.layer, when))
        return _sbom_met(wanted, wanted.sbom, checks, signed, now), evidence
    names = ", ".join(f'"{a.name}"' for a in allowed)
    missing = f'no verified {wanted.predicate_type} attestation ("{wanted.name}") signed by {names}'
    best = _best_reason([c for c in checks if c.code not in (Reason.PREDICATE_TYPE_MISMATCH,)])
    if best is None or best[0] in _WEAK:
        return _Met(False, "ATTESTATION_MISSING", missing), evidence
    return _Met(False, best[0], f"{missing}: {best[1]}"), evidence


def _sbom_met(
    wanted: CompiledAttestation,
    rules: CompiledSbomRules,
    checks: Sequence[SignatureCheck],
    signed: Mapping[str, dt.datetime],
    now: dt.datetime,
) -> _Met:
    """SBOM rules on every verified SBOM of the requirement (each verified once, however many authorities
    verified it): a finding in any signed SBOM stands, except ``maxAge``, which the freshest SBOM decides (its
    age from the SBOM's own time, else ``signed``: the attestation's verified signing time). An SBOM that does
    not parse fails the requirement (a signed document sealgate cannot read is never a pass)."""
    statements = {c.layer: c.statement for c in checks if c.verified and c.statement is not None}
    denials: dict[str, None] = {}
    warnings: dict[str, None] = {}
    stale: list[str] = []
    fresh: list[dt.datetime] = []
    for layer, statement in sorted(statements.items()):
        try:
            document = read_sbom(statement.get("predicate"))
            verdict = rules.evaluate(document, now=now, signed_at=signed.get(layer))
        except SealgateError as exc:
            reason = f'SBOM attestation "{wanted.name}" ({layer}) cannot be read: {exc.message}'
            return _Met(False, Reason.SBOM_INVALID, reason)
        except Exception as exc:  # a bug the document reached fails the requirement, as above
            reason = f'SBOM attestation "{wanted.name}" ({layer}): {unexpected(layer, exc, "an SBOM").message}'
            return _Met(False, Reason.SBOM_INVALID, reason)
        ages = [f.message for f in verdict.findings if f.rule == AGE_RULE]
        stale += ages[:1]
        fresh += [verdict.fresh_until] if verdict.fresh_until is not None else []
        denials.update((f.message, None) for f in verdict.findings if f.mode == "enforce" and f.rule != AGE_RULE)
        warnings.update((f.message, None) for f in verdict.findings if f.mode == "warn")
    if stale and len(stale) == len(statements):
        denials[stale[0]] = None
    if denials:
        lines = tuple(denials)
        return _Met(False, Reason.SBOM_DENIED, lines[0], lines, tuple(warnings))
    return _Met(True, warnings=tuple(warnings), fresh_until=max(fresh, default=None))


def _unreadable_listing(found: Attachment) -> bool:
    return not found.ok and found.media_type in (OCI_INDEX, OCI_MANIFEST)


def judge(
    policy: CompiledPolicy,
    ref: Reference,
    digest: Digest,
    found: Sequence[Attachment],
    *,
    now: dt.datetime | None = None,
) -> PolicyResult:
    """Does ``found`` (everything attached to ``ref@digest``) satisfy ``policy``? (``now``: for SBOM maxAge)"""

    evidence: list[Evidence] = []
    warnings: tuple[str, ...] = ()
    details: tuple[str, ...] = ()
    fresh: list[dt.datetime] = []

    def result(passed: bool, code: str, reason: str, verified: Sequence[str] = ()) -> PolicyResult:
        return PolicyResult(
            policy.name, policy.mode, passed, code, reason, tuple(verified), tuple(evidence), details, warnings,
            min(fresh, default=None),
        )

    image = ref.with_digest(digest)
    # a listing that could not be read (a `.sig` manifest over its size limit, ...) may have held signatures: its
    # failure is this image's reason when nothing verifies, not a silent "no signatures found"
    signatures = [a for a in found if a.is_signature or _unreadable_listing(a)] if policy.threshold else []
    if not signatures and policy.threshold:
        return result(False, "NO_SIGNATURES", "no signatures found")
    claims = dict(policy.claims)
    signers: dict[str, set[str]] = {}  # authority -> the signers of the signatures that verified for it
    failures: list[SignatureCheck] = []
    for authority in policy.authorities if policy.threshold else ():
        checks = [
            check_signature(authority, a, image, digest, claims=claims, check_reference=policy.check_reference)
            for a in signatures
        ]
        evidence += [_evidence("signature", authority.name, a, c) for a, c in zip(signatures, checks, strict=True)]
        signers[authority.name] = {
            signer_of(authority, a) for a, c in zip(signatures, checks, strict=True) if c.verified
        }
        if not signers[authority.name]:
            failures.extend(checks)
    # threshold counts distinct signers, each for a distinct authority (see _count)
    verified = counted_authorities([a.name for a in policy.authorities], signers)
    if len(verified) < policy.threshold:
        names = ", ".join(f'"{a.name}"' for a in policy.authorities if a.name not in verified)
        if policy.threshold > 1:
            reason = f"{len(verified)} of the required {policy.threshold} authorities verified (missing {names})"
            shared = [n for n, by in signers.items() if by and n not in verified]
            if shared:
                again = ", ".join(f'"{n}"' for n in shared)
                reason += f"; {again} verified only by a signer already counted for another authority"
            return result(False, "THRESHOLD_NOT_MET", reason, verified)
        best = _best_reason(failures)
        if best is not None and best[0] not in _WEAK:
            return result(False, best[0], best[1], verified)
        if any(a.keyless for a in policy.authorities):
            phrase = f"no signature verifies for {names}"
        elif sum(len(a.keys) for a in policy.authorities) == 1:
            phrase = f"no signature verifies with key of {names}"
        else:
            phrase = f"no signature verifies with a key of {names}"
        return result(False, "SIGNATURE_INVALID", phrase, verified)
    now = now or dt.datetime.now(dt.UTC)
    for wanted in policy.attestations:
        met, seen = _attestation_met(policy, wanted, found, digest, now)
        evidence += seen
        warnings += met.warnings
        fresh += [met.fresh_until] if met.fresh_until is not None else []
        if not met.met:
            details = met.details
            return result(False, met.code, met.reason, verified)
    if not verified:  # threshold 0 (verify-attestation): the attestations were the whole requirement
        return result(True, OK, f"attestations {', '.join(a.name for a in policy.attestations)} verified")
    names = ", ".join(repr(a) for a in verified)
    extra = f"; attestations {', '.join(a.name for a in policy.attestations)}" if policy.attestations else ""
    return result(True, OK, f"verified by {names}{extra}", verified)
