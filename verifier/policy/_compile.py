"""Compile validated policy documents into the immutable objects the engine uses.

:func:`compile_documents` takes parsed documents ``(source, number, mapping)``; it reads nothing but key
files, through the ``key_loader`` it is given. Every problem found is collected; if there is any, one
:class:`~verifier.errors.PolicyError` lists them all.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from verifier.cosign import PREDICATE_TYPES, NamedKey, load_public_key, predicate_type_for, read_key_file
from verifier.errors import ConfigError, InvalidReferenceError, KeyFileError, PolicyError, UsageError
from verifier.oci import Reference
from verifier.policy._glob import ImageGlob, NamespaceGlob, normalise_registry
from verifier.policy._lint import authority_warnings, glob_warnings
from verifier.policy._models import API_VERSION, Authority, ImagePolicy, Settings
from verifier.policy._problems import one_line, validation_problems, where
from verifier.policy._select import CompiledNamespaceSelector
from verifier.sbomrules import CompiledSbomRules, compile_sbom_rules
from verifier.sigstore import Identity, TrustedRoot, read_trust_root

#: predicate types whose predicate is an SBOM that SBOM rules can read
SBOM_PREDICATE_TYPES = frozenset({PREDICATE_TYPES["cyclonedx"], PREDICATE_TYPES["spdxjson"]})

__all__ = [
    "CompiledAttestation",
    "CompiledAuthority",
    "CompiledPolicy",
    "CompiledSettings",
    "Document",
    "KeyLoader",
    "PolicySet",
    "compile_documents",
    "compile_problems",
]

_logger = logging.getLogger(__name__)

#: ``(source file, document number from 1, parsed YAML)``
Document = tuple[str, int, Any]
#: reads a key file (``verifier.cosign.read_key_file`` by default)
KeyLoader = Callable[[Path], bytes]

Mode = Literal["enforce", "warn"]
NoMatch = Literal["deny", "allow", "warn"]
OnError = Literal["deny", "allow"]

_KINDS: dict[str, type[ImagePolicy] | type[Settings]] = {"ImagePolicy": ImagePolicy, "Settings": Settings}


def _sha256_json(value: object) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _spki_hex(key: NamedKey) -> str:
    der = key.key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der.hex()


@dataclass(frozen=True, slots=True)
class CompiledAuthority:
    name: str
    #: each ``NamedKey(name=authority name, key)``; empty for a keyless authority
    keys: tuple[NamedKey, ...]
    #: who must have signed, for a keyless authority (Fulcio certificate identity and issuer)
    identity: Identity | None = None
    #: whose CAs, logs and timestamp authorities to trust for keyless signatures and bundles
    trusted_root: TrustedRoot | None = None

    @property
    def keyless(self) -> bool:
        return self.identity is not None


@dataclass(frozen=True, slots=True)
class CompiledAttestation:
    """An attestation the image must carry: ``predicate_type``, signed by one of ``authorities``."""

    name: str
    predicate_type: str
    authorities: tuple[str, ...]
    #: SBOM rules judged on the verified predicate (None: the attestation's presence is the requirement)
    sbom: CompiledSbomRules | None = None


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """One compiled ``ImagePolicy``: every image it matches must be verified by ``threshold`` authorities."""

    name: str
    mode: Mode
    require_digest: bool
    threshold: int
    authorities: tuple[CompiledAuthority, ...]
    #: sha256 hex over the canonical policy, key material (SPKI DER) included: the cache key
    hash: str
    images: tuple[ImageGlob, ...]
    namespaces: CompiledNamespaceSelector | None = None
    #: where it was defined (``prod.yaml: document 1``)
    source: str = ""
    attestations: tuple[CompiledAttestation, ...] = ()
    #: ``annotations`` (CLI ``-a key=value``): claims a simple-signing payload's ``optional`` section must carry
    claims: tuple[tuple[str, str], ...] = ()
    #: False with ``skipReferenceCheck`` (``--skip-reference-check``): the payload may name another repository
    check_reference: bool = True
    #: outside the policy schema (see verifier.policy._single): cosign's ``COSIGN_REPOSITORY``, where signatures
    #: and attestations are stored instead of the image's repository
    signature_repository: Reference | None = None

    def matches_image(self, ref: Reference) -> bool:
        return any(glob.matches(ref) for glob in self.images)

    def applies_to_namespace(self, name: str, labels: Mapping[str, str] | None) -> bool:
        """Does the policy apply in namespace ``name``?

        ``labels`` None means "not known": when the policy selects by label and the name globs do not already
        decide, :class:`NamespaceLabelsRequired` is raised so the caller can fetch the labels and ask again.
        """
        if self.namespaces is None:
            return True
        return self.namespaces.applies(name, labels)

    @property
    def uses_namespace_labels(self) -> bool:
        return self.namespaces is not None and self.namespaces.uses_labels


@dataclass(frozen=True, slots=True)
class CompiledSettings:
    """The ``Settings`` document (or the defaults when there is none)."""

    no_match: NoMatch = "deny"
    on_error: OnError = "deny"
    deadline_seconds: float = 8.0
    cache_ttl_seconds: int = 300
    cache_failure_ttl_seconds: int = 10
    cache_max_entries: int = 10000
    cache_tag_ttl_seconds: int = 0
    exempt_namespaces: tuple[NamespaceGlob, ...] = ()
    exempt_images: tuple[ImageGlob, ...] = ()
    insecure_registries: frozenset[str] = frozenset()
    #: images discovered at once per registry by the engine (policy `registries.concurrency`); each makes several
    #: HTTP requests, which the registry client caps per host (Limits.max_requests_per_host)
    verifications_per_registry: int = 8
    #: where the settings came from (``settings.yaml: document 1``); None = defaults
    source: str | None = None

    @classmethod
    def from_model(cls, model: Settings, source: str | None) -> CompiledSettings:
        spec = model.spec
        return cls(
            no_match=spec.no_match,
            on_error=spec.on_error,
            deadline_seconds=float(spec.deadline_seconds),
            cache_ttl_seconds=spec.cache.ttl_seconds,
            cache_failure_ttl_seconds=spec.cache.failure_ttl_seconds,
            cache_max_entries=spec.cache.max_entries,
            cache_tag_ttl_seconds=spec.cache.tag_ttl_seconds,
            exempt_namespaces=tuple(NamespaceGlob.parse(p) for p in spec.exemptions.namespaces),
            exempt_images=tuple(ImageGlob.parse(g) for g in spec.exemptions.images),
            insecure_registries=frozenset(normalise_registry(h) for h in spec.registries.insecure),
            verifications_per_registry=spec.registries.concurrency,
            source=source,
        )

    def is_exempt(self, namespace: str | None, ref_or_image: Reference | str) -> bool:
        """Is the image exempt from verification (by its namespace or by an image glob)?

        An image text that does not parse is never exempt.
        """
        if namespace is not None and any(g.matches(namespace) for g in self.exempt_namespaces):
            return True
        if not self.exempt_images:
            return False
        if isinstance(ref_or_image, str):
            try:
                ref = Reference.parse(ref_or_image)
            except InvalidReferenceError:
                return False
        else:
            ref = ref_or_image
        return any(g.matches(ref) for g in self.exempt_images)

    def canonical(self) -> dict[str, Any]:
        return {
            "noMatch": self.no_match,
            "onError": self.on_error,
            "deadlineSeconds": self.deadline_seconds,
            "cache": [
                self.cache_ttl_seconds,
                self.cache_failure_ttl_seconds,
                self.cache_max_entries,
                self.cache_tag_ttl_seconds,
            ],
            "exemptNamespaces": [g.text for g in self.exempt_namespaces],
            "exemptImages": [g.text for g in self.exempt_images],
            "insecure": sorted(self.insecure_registries),
            "concurrency": self.verifications_per_registry,
        }

    @property
    def hash(self) -> str:
        return _sha256_json(self.canonical())


@dataclass(frozen=True, slots=True)
class PolicySet:
    """Every compiled policy (sorted by name) and the settings; ``hash`` changes when any of them does."""

    policies: tuple[CompiledPolicy, ...]
    settings: CompiledSettings
    hash: str
    #: things allowed but worth saying (``policy check`` prints them)
    warnings: tuple[str, ...] = ()

    @classmethod
    def build(
        cls, policies: Sequence[CompiledPolicy], settings: CompiledSettings, warnings: Sequence[str] = ()
    ) -> PolicySet:
        ordered = tuple(sorted(policies, key=lambda p: p.name))
        digest = _sha256_json({"policies": [p.hash for p in ordered], "settings": settings.hash})
        return cls(ordered, settings, digest, tuple(warnings))

    def matching(self, ref: Reference) -> list[CompiledPolicy]:
        """The policies whose ``images`` match ``ref`` (exemptions are the caller's: see ``settings``)."""
        return [p for p in self.policies if p.matches_image(ref)]

    def registry_allowed(self, host: str) -> bool:
        """May sealgate contact ``host`` (``host[:port]``)? Only if some policy's glob can match an image there."""
        return any(g.matches_registry(host) for p in self.policies for g in p.images)

    @property
    def allowed_registries(self) -> list[str]:
        """The registry patterns of every policy's globs, sorted (``*`` = any registry), for display."""
        return sorted({"*" if g.registry == "**" else g.registry for p in self.policies for g in p.images})

    @property
    def uses_namespace_labels(self) -> bool:
        return any(p.uses_namespace_labels for p in self.policies)


# --- compiling ------------------------------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, at: str, path: str, reason: str) -> None:
        self.items.append(one_line(f"{at}: {path}: {reason}" if path else f"{at}: {reason}"))


def _header_problems(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if api_version is None:
        out.append(("apiVersion", "required field is missing"))
    elif api_version != API_VERSION:
        out.append(("apiVersion", f"unsupported {str(api_version)[:80]!r} (expected {API_VERSION})"))
    if kind is None:
        out.append(("kind", "required field is missing"))
    elif kind not in _KINDS:
        out.append(("kind", f"unknown kind {str(kind)[:80]!r} (expected ImagePolicy or Settings)"))
    return out


def _keyless(authority: Authority, base: Path) -> tuple[Identity, TrustedRoot, str]:
    """(identity, trusted root, canonical text of the root) of a keyless authority; ConfigError when unusable."""
    ref = authority.keyless
    if ref is None:  # the model guarantees exactly one source
        raise ConfigError("the authority has no keyless identity")
    identity = Identity(
        subject=ref.identity, subject_regexp=ref.identity_reg_exp, issuer=ref.issuer, issuer_regexp=ref.issuer_reg_exp
    )
    if ref.trusted_root is None:
        return identity, TrustedRoot.production(), hashlib.sha256(b"production").hexdigest()
    given = Path(ref.trusted_root)
    path = str(given if given.is_absolute() else base / given)
    # parsed roots are cached by content, so a file replaced between two policy loads is read anew
    raw = read_trust_root(path)
    return identity, TrustedRoot.from_content(raw, source=path), hashlib.sha256(raw).hexdigest()


def _load_key(authority: Authority, base: Path, key_loader: KeyLoader) -> NamedKey:
    """The authority's key (``KeyFileError`` naming the file when it cannot be read or used)."""
    ref = authority.key
    if ref is None:  # the model guarantees exactly one source; fail closed should that ever change
        raise KeyFileError("the authority has no key")
    if ref.path is not None:
        path = Path(ref.path)
        if not path.is_absolute():
            path = base / path
        return NamedKey(authority.name, load_public_key(key_loader(path), source=str(path)))
    return NamedKey(authority.name, load_public_key((ref.data or "").encode(), source=None))


def _compile_policy(
    model: ImagePolicy, at: str, base: Path, key_loader: KeyLoader, problems: _Problems
) -> CompiledPolicy | None:
    spec = model.spec
    before = len(problems.items)
    authorities: list[CompiledAuthority] = []
    trust: dict[str, str] = {}  # authority -> canonical identity and trust root, for the hash
    for i, authority in enumerate(spec.authorities):
        if authority.keyless is not None:
            try:
                identity, root, root_hash = _keyless(authority, base)
            except ConfigError as exc:
                problems.add(at, f"spec.authorities[{i}].keyless", exc.message)
                continue
            authorities.append(CompiledAuthority(authority.name, (), identity=identity, trusted_root=root))
            trust[authority.name] = _sha256_json([identity.describe(), root_hash])
            continue
        field_name = "path" if authority.key is not None and authority.key.path is not None else "data"
        try:
            key = _load_key(authority, base, key_loader)
        except KeyFileError as exc:
            problems.add(at, f"spec.authorities[{i}].key.{field_name}", str(exc))
            continue
        authorities.append(CompiledAuthority(authority.name, (key,)))
    attestations: list[CompiledAttestation] = []
    for i, wanted in enumerate(spec.attestations):
        try:
            predicate_type = predicate_type_for(wanted.predicate_type)
        except UsageError as exc:
            problems.add(at, f"spec.attestations[{i}].predicateType", exc.message)
            continue
        rules = None
        if wanted.sbom is not None:
            where = f"spec.attestations[{i}].sbom"
            if predicate_type not in SBOM_PREDICATE_TYPES:
                problems.add(at, where, f"SBOM rules need a cyclonedx or spdxjson predicateType, not {predicate_type}")
                continue
            try:
                rules = compile_sbom_rules(wanted.sbom, where)
            except ValueError as exc:
                path, _, message = str(exc).partition(": ")
                problems.add(at, path, message)
                continue
        attestations.append(CompiledAttestation(wanted.name, predicate_type, tuple(wanted.authorities), rules))
    if len(problems.items) > before:
        return None
    images = tuple(ImageGlob.parse(g) for g in spec.images)
    namespaces = None if spec.namespaces is None else CompiledNamespaceSelector.compile(spec.namespaces)
    canonical = {
        "name": model.metadata.name,
        "mode": spec.mode,
        "requireDigest": spec.require_digest,
        "threshold": spec.threshold,
        "images": sorted(g.text for g in images),
        "namespaces": None if namespaces is None else namespaces.canonical(),
        "authorities": [
            {"name": a.name, "keys": [_spki_hex(k) for k in a.keys], "keyless": trust.get(a.name)} for a in authorities
        ],
        "attestations": [
            [a.name, a.predicate_type, list(a.authorities), spec.attestations[i].sbom]
            for i, a in enumerate(attestations)
        ],
    }
    claims = tuple(sorted(spec.annotations.items()))
    if claims:  # only when set, so policies without them keep their hash
        canonical["annotations"] = claims
    if spec.skip_reference_check:
        canonical["skipReferenceCheck"] = True
    return CompiledPolicy(
        name=model.metadata.name,
        mode=spec.mode,
        require_digest=spec.require_digest,
        threshold=spec.threshold,
        authorities=tuple(authorities),
        hash=_sha256_json(canonical),
        images=images,
        namespaces=namespaces,
        source=at,
        attestations=tuple(attestations),
        claims=claims,
        check_reference=not spec.skip_reference_check,
    )


def _policy_warnings(policy: CompiledPolicy) -> list[str]:
    images = glob_warnings(policy.source, "spec.images", policy.images, require_digest=policy.require_digest)
    return images + authority_warnings(policy.source, policy.authorities)


def _cross_field_problems(spec: object) -> list[tuple[str, str]]:
    """Rules JSON Schema cannot state, checked on the raw spec so they are reported even beside other errors."""
    if not isinstance(spec, Mapping):
        return []
    out: list[tuple[str, str]] = []
    authorities = spec.get("authorities")
    count = len(authorities) if isinstance(authorities, list) else 0
    seen: dict[str, int] = {}
    for i, authority in enumerate(authorities if isinstance(authorities, list) else []):
        name = authority.get("name") if isinstance(authority, Mapping) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            out.append(
                (
                    f"spec.authorities[{i}].name",
                    f"duplicate authority name {name!r} (also spec.authorities[{seen[name]}])",
                )
            )
        else:
            seen[name] = i
    attestations = spec.get("attestations")
    for i, wanted in enumerate(attestations if isinstance(attestations, list) else []):
        names = wanted.get("authorities") if isinstance(wanted, Mapping) else None
        for j, name in enumerate(names if isinstance(names, list) else []):
            if isinstance(name, str) and seen and name not in seen:
                out.append((f"spec.attestations[{i}].authorities[{j}]", f"no authority named {name!r} in this policy"))
    threshold = spec.get("threshold")
    if count and isinstance(threshold, int) and not isinstance(threshold, bool) and threshold > count:
        out.append(("spec.threshold", f"{threshold} is more than the number of authorities ({count})"))
    return out


def compile_problems(
    docs: Sequence[Document], key_loader: KeyLoader = read_key_file
) -> tuple[PolicySet | None, list[str]]:
    """Compile ``docs``; the set (None if anything is wrong) and every problem found."""
    problems = _Problems()
    policies: list[CompiledPolicy] = []
    names: dict[str, str] = {}
    settings: CompiledSettings | None = None
    settings_at: str | None = None
    for source, number, doc in docs:
        if not isinstance(doc, Mapping):
            got = "a list" if isinstance(doc, list) else f"a {type(doc).__name__}"
            problems.add(where(source, number), "", f"expected a mapping with apiVersion and kind, got {got}")
            continue
        metadata = doc.get("metadata")
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        at = where(source, number, doc.get("kind"), name)
        header = _header_problems(doc)
        for path, reason in header:
            problems.add(at, path, reason)
        if header:
            continue
        before = len(problems.items)
        if doc["kind"] == "Settings":
            if settings_at is not None:
                problems.add(at, "", f"a second Settings document (the first is {settings_at}); at most one is allowed")
            settings_at = settings_at or at
        elif isinstance(name, str):
            if name in names:
                problems.add(at, "metadata.name", f"duplicate policy name {name!r} (first in {names[name]})")
            names.setdefault(name, at)
        try:
            model = _KINDS[doc["kind"]].model_validate(doc)
        except ValidationError as exc:
            for path, reason in validation_problems(exc):
                problems.add(at, path, reason)
            model = None
        if doc["kind"] == "ImagePolicy":
            for path, reason in _cross_field_problems(doc.get("spec")):
                problems.add(at, path, reason)
        if model is None or len(problems.items) > before:
            continue
        if isinstance(model, Settings):
            settings = CompiledSettings.from_model(model, at)
            continue
        policy = _compile_policy(model, at, Path(source).parent, key_loader, problems)
        if policy is not None:
            policies.append(policy)
    if problems.items:
        return None, problems.items
    settings = settings or CompiledSettings()
    warnings = [w for p in sorted(policies, key=lambda p: p.name) for w in _policy_warnings(p)]
    if not policies:
        warnings.append(f"no ImagePolicy documents: every image that is not exempt gets noMatch ({settings.no_match})")
    if settings.source is not None:
        warnings += glob_warnings(settings.source, "spec.exemptions.images", settings.exempt_images, exemption=True)
    if settings.no_match == "allow":
        warnings.append(f"{settings.source}: spec.noMatch: allow admits every image that no policy matches, unverified")
    result = PolicySet.build(policies, settings, warnings)
    _logger.debug("compiled %d policies, hash %s", len(result.policies), result.hash)
    return result, []


def compile_documents(docs: Sequence[Document], key_loader: KeyLoader = read_key_file) -> PolicySet:
    """Compile parsed documents (``(source, number, mapping)``); :class:`PolicyError` lists every problem.

    Relative key paths are resolved against ``source``'s folder and read with ``key_loader``.
    """
    result, problems = compile_problems(docs, key_loader)
    if result is None:
        raise PolicyError(problems)
    return result
