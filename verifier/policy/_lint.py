"""Warnings about compiled policies: things allowed but worth saying (``sealgate policy check`` prints them).

None of these stop a policy from loading; each names the field it is about:

- an image glob that reaches every registry host (``**``, ``*/**``) or every host on a port (``*:5000/**``,
  ``*.*.*.*:443/**``): sealgate may then contact any registry an admission request names;
- an image glob or exemption that names a tag: it never matches a reference that carries a digest (the runtime
  pulls the digest whatever tag is written beside it), and an exemption by tag follows whoever can push the tag;
- authorities that can never be told apart (the same key, or the same keyless identity, issuer and trust root):
  one signature satisfies them all and counts once toward ``threshold``;
- a keyless ``issuerRegExp`` that accepts any OIDC issuer;
- an image glob that can match no reference: a literal repository component or tag that no image reference can
  have (``App``, ``-app``, ``a..b``; a tag starting with ``.`` or ``-``). (``**/**`` is not one: consecutive ``**``
  are one, so it is ``**``.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization

from verifier.errors import InvalidReferenceError
from verifier.oci import Reference
from verifier.policy._glob import ImageGlob

if TYPE_CHECKING:
    from verifier.policy._compile import CompiledAuthority

__all__ = ["authority_warnings", "glob_warnings"]

#: unrelated issuers: an ``issuerRegExp`` that fully matches all of them accepts any issuer
_ISSUER_PROBES = ("https://accounts.google.com", "https://token.actions.githubusercontent.com", "x")


def _port(glob: ImageGlob) -> str:
    host_end = glob.registry.find("]") + 1 if glob.registry.startswith("[") else 0
    _, colon, port = glob.registry[host_end:].rpartition(":")
    return f" on port {port}" if colon and port.strip("*?") else ""


def _matches_nothing(glob: ImageGlob) -> str | None:
    """Why ``glob`` can match no image reference, or None."""
    path = glob.text.split("@")[0]
    if glob.tag is not None:
        path = path[: -len(glob.tag) - 1]
    for segment in path.split("/")[1:]:
        if "*" in segment or "?" in segment:
            continue
        try:
            Reference.parse(f"registry.invalid/{segment}")
        except InvalidReferenceError:
            return f"no image reference has a repository component {segment!r}"
    if glob.tag is not None and glob.tag[0] in ".-":
        return f"no image tag starts with {glob.tag[0]!r}"
    return None


def glob_warnings(
    at: str, field: str, globs: Sequence[ImageGlob], *, exemption: bool = False, require_digest: bool = False
) -> list[str]:
    """Warnings for the image globs of one field (``spec.images``, ``spec.exemptions.images``)."""
    out: list[str] = []
    for i, glob in enumerate(globs):
        where = f"{at}: {field}[{i}]: {glob.source!r}"
        nothing = _matches_nothing(glob)
        if nothing is not None:
            out.append(f"{where} can match no image: {nothing}")
        if glob.matches_every_registry and not exemption:
            port = _port(glob)
            reach = f"every registry host{port}" if port else "every registry"
            out.append(f"{where} matches {reach}, so sealgate may contact any registry an admission request names")
        if glob.names_tag:
            if exemption:
                out.append(
                    f"{where} names a tag: it exempts only references by that tag alone (whoever can push the tag "
                    "chooses what is exempt), never a reference with a digest; exempt repo@sha256:... instead"
                )
            elif require_digest:
                out.append(
                    f"{where} names a tag, and requireDigest is true: references with a digest never match it and "
                    "references by tag alone are denied, so every image it selects is denied"
                )
            else:
                out.append(
                    f"{where} names a tag: references with a digest (also repo:tag@sha256:...) never match it, "
                    "since the runtime pulls the digest whatever tag is written"
                )
    return out


def _key_material(authority: CompiledAuthority) -> tuple[str, ...]:
    return tuple(
        k.key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo).hex()
        for k in authority.keys
    )


def authority_warnings(at: str, authorities: Sequence[CompiledAuthority]) -> list[str]:
    """Warnings for one policy's compiled authorities (in ``spec.authorities`` order)."""
    out: list[str] = []
    seen: list[tuple[int, str, object]] = []
    for i, authority in enumerate(authorities):
        name = authority.name
        identity = authority.identity
        if identity is not None:
            fingerprint: object = ("keyless", identity, id(authority.trusted_root))
            regexp = identity.issuer_regexp
            if regexp is not None and all(identity.matches_issuer(p) for p in _ISSUER_PROBES):
                out.append(
                    f"{at}: spec.authorities[{i}].keyless.issuerRegExp: {regexp!r} accepts any OIDC issuer, so "
                    "anyone who can get a certificate naming the identity from any issuer the root trusts can sign"
                )
        else:
            fingerprint = ("key", _key_material(authority))
        for j, other, theirs in seen:
            if theirs == fingerprint:
                what = "keyless identity, issuer and trusted root" if identity is not None else "key"
                out.append(
                    f"{at}: spec.authorities[{i}] ({name!r}) has the same {what} as spec.authorities[{j}] "
                    f"({other!r}): they can never be told apart, so one signature satisfies both and counts once "
                    "toward threshold"
                )
                break
        seen.append((i, name, fingerprint))
    return out
