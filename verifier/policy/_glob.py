"""Image and namespace globs: parsed, normalised like image references, and compiled to regexes once.

An image glob is ``[registry/]repository[:tag-pattern][@digest]``:

- the first path component is a registry when it contains ``.`` or ``:`` or is ``localhost`` (docker's
  rule), or when it is made only of wildcards and more components follow (``*/**``, ``**/nginx``);
  otherwise the registry is Docker Hub and a one-component name gets ``library/`` (``nginx`` ->
  ``docker.io/library/nginx``, ``docker.io/*`` -> ``docker.io/library/*``). ``index.docker.io`` and
  ``registry-1.docker.io`` are written ``docker.io``; a registry's port is kept.
- ``*`` matches within one component (never ``/``), ``?`` one character other than ``/``, and ``**`` (only as
  a whole component) any number of components, including none: ``team/**`` matches ``team`` and
  ``team/a/b``; ``a/**/b`` matches ``a/b``; a glob of just ``**`` matches every image. Consecutive ``**``
  components are one (``**/**`` is ``**``, ``a/**/**/b`` is ``a/**/b``).
- the name part is matched against ``Reference.name`` (``registry/repository``). A tag pattern
  (``app:1.*``) is matched against the tag of a reference **by tag only**. A reference that carries a digest
  (``app@sha256:D`` or ``app:1.2@sha256:D``) is matched as if it had no tag: the runtime pulls D and ignores
  the tag, so the tag is cosmetic and whoever writes the pod spec chooses it. Such a reference matches a tag
  pattern only when the pattern is ``*`` ("any tag or none"); ``app:1.2`` never matches ``app:1.2@sha256:D``.
  ``@sha256:<hex>`` matches exactly that digest. Exemptions and policy selection both use
  :meth:`ImageGlob.matches`, and ``policy check`` warns from the same :attr:`ImageGlob.names_tag`, so all three
  agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verifier.errors import InvalidDigestError
from verifier.oci import DOCKER_HUB, Digest, Reference

__all__ = ["ImageGlob", "NamespaceGlob", "normalise_registry"]

_DOCKER_HUB_ALIASES = frozenset({DOCKER_HUB, "index.docker.io", "registry-1.docker.io"})
_MAX_GLOB = 512
_MAX_TAG = 128
_REGISTRY_CHARS = re.compile(r"[a-z0-9.\-:\[\]*?]+")
_PATH_CHARS = re.compile(r"[a-z0-9._\-*?]+")
_TAG_CHARS = re.compile(r"[A-Za-z0-9_.\-*?]+")
_NAMESPACE_CHARS = re.compile(r"[a-z0-9\-*?]+")
_WILDCARDS_ONLY = re.compile(r"[*?]+")
_HOST_NON_LITERAL = re.compile(r"[*?.:\[\]]")


def normalise_registry(host: str) -> str:
    """``host[:port]`` in lower case, with Docker Hub's aliases written ``docker.io``."""
    host = host.strip().lower()
    return DOCKER_HUB if host in _DOCKER_HUB_ALIASES else host


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    for char in segment:
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(char))
    return "".join(out)


def _name_regex(segments: list[str]) -> str:
    """Regex source for ``segments`` joined by ``/``, where a ``**`` segment spans any number of them."""
    out: list[str] = []
    last = len(segments) - 1
    for i, segment in enumerate(segments):
        if segment == "**":
            if last == 0:
                out.append("[^/]+(?:/[^/]+)*")
            elif i == 0:
                out.append("(?:[^/]+/)*")
            else:
                out.append("(?:/[^/]+)*")
            continue
        if i > 0 and not (i == 1 and segments[0] == "**"):
            out.append("/")
        out.append(_segment_regex(segment))
    return "".join(out)


def _split_glob(text: str) -> tuple[str, str | None, str | None]:
    """``name``, ``tag pattern`` and ``digest`` parts of an image glob (syntax only)."""
    name, at, digest = text.partition("@")
    if at and not digest:
        raise ValueError("empty digest after '@'")
    tag: str | None = None
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
        if not tag:
            raise ValueError("empty tag pattern after ':'")
    return name, tag, (digest if at else None)


def _is_registry(first: str, has_more: bool) -> bool:
    if not has_more:
        return False
    return "." in first or ":" in first or first == "localhost" or bool(_WILDCARDS_ONLY.fullmatch(first))


@dataclass(frozen=True, slots=True)
class ImageGlob:
    """One compiled image glob; :meth:`parse` builds it (``ValueError`` with a short reason otherwise)."""

    #: the glob as given
    source: str
    #: the normalised glob (``docker.io/library/nginx:1.*``); the policy hash is computed over it
    text: str
    #: the registry pattern (``registry.example.com``, ``*.gcr.io``; ``**`` = any registry)
    registry: str
    name_regex: re.Pattern[str]
    #: None = any registry
    registry_regex: re.Pattern[str] | None
    tag: str | None
    tag_regex: re.Pattern[str] | None
    digest: Digest | None

    @classmethod
    def parse(cls, source: str) -> ImageGlob:
        text = source.strip()
        if not text:
            raise ValueError("empty image glob")
        if len(text) > _MAX_GLOB:
            raise ValueError(f"image glob longer than {_MAX_GLOB} characters")
        if "://" in text:
            raise ValueError("an image glob has no scheme (drop the '://' prefix)")
        name, tag, digest_text = _split_glob(text)
        digest: Digest | None = None
        if digest_text is not None:
            if tag is not None:
                raise ValueError("an image glob may have a tag pattern or a digest, not both")
            try:
                digest = Digest.parse(digest_text)
            except InvalidDigestError as exc:
                raise ValueError(str(exc)) from None
        segments = name.split("/")
        if any(not segment for segment in segments):
            raise ValueError("empty path component (leading, trailing or double '/')")
        if _is_registry(segments[0], len(segments) > 1):
            registry = normalise_registry(segments[0])
            if not _REGISTRY_CHARS.fullmatch(registry):
                raise ValueError(f"invalid registry pattern {segments[0]!r}")
            if "**" in registry and registry != "**":
                raise ValueError("'**' must be a whole path component")
            path = segments[1:]
        elif segments[0] == "**":
            registry, path = "**", segments[1:]
        else:
            registry, path = DOCKER_HUB, segments
        for segment in path:
            if "**" in segment and segment != "**":
                raise ValueError("'**' must be a whole path component")
            if segment != segment.lower():
                raise ValueError(f"repository names are lower case ({segment!r})")
            if not _PATH_CHARS.fullmatch(segment):
                raise ValueError(
                    f"invalid repository component {segment!r} (lower-case letters, digits, '.', '_', '-', '*', '?')"
                )
        if registry == "**":  # '**/**/x' is '**/x': the registry '**' already spans any components
            while path and path[0] == "**":
                path = path[1:]
        path = [s for i, s in enumerate(path) if not (s == "**" and i and path[i - 1] == "**")]
        if registry == DOCKER_HUB and len(path) == 1 and path[0] != "**":
            path = ["library", *path]
        if tag is not None:
            if len(tag) > _MAX_TAG:
                raise ValueError(f"tag pattern longer than {_MAX_TAG} characters")
            if not _TAG_CHARS.fullmatch(tag):
                raise ValueError(f"invalid tag pattern {tag!r} (letters, digits, '_', '.', '-', '*', '?')")
        all_segments = [registry, *path]
        normal = "/".join(all_segments)
        if tag is not None:
            normal += f":{tag}"
        if digest is not None:
            normal += f"@{digest}"
        any_registry = registry == "**"
        return cls(
            source=source,
            text=normal,
            registry=registry,
            name_regex=re.compile(_name_regex(all_segments)),
            registry_regex=None if any_registry else re.compile(_segment_regex(registry)),
            tag=tag,
            tag_regex=None if tag is None else re.compile(_segment_regex(tag)),
            digest=digest,
        )

    @property
    def matches_every_registry(self) -> bool:
        """True when the registry's host has no literal text to pin it: any host, on any port (``**``, ``*/**``,
        ``*:*/...``) or on a given one (``*:5000/**``, ``*.*.*.*:443/**``)."""
        if self.registry_regex is None:
            return True
        host = self.registry[: self.registry.find("]") + 1] if self.registry.startswith("[") else self.registry
        host = host.partition(":")[0] if not host.startswith("[") else host
        return not _HOST_NON_LITERAL.sub("", host)

    def matches_registry(self, host: str) -> bool:
        """Can an image on ``host`` (``host[:port]``, Docker Hub aliases accepted) match this glob?"""
        if self.registry_regex is None:
            return True
        return self.registry_regex.fullmatch(normalise_registry(host)) is not None

    @property
    def names_tag(self) -> bool:
        """True when the glob has a tag pattern that is more than ``*`` (it never matches a digest reference)."""
        return self.tag is not None and bool(self.tag.strip("*"))

    def matches(self, ref: Reference) -> bool:
        """Does ``ref`` match? The one matching rule for exemptions, policy selection and ``policy check``."""
        if self.name_regex.fullmatch(f"{normalise_registry(ref.registry)}/{ref.repository}") is None:
            return False
        if self.digest is not None and ref.digest != self.digest:
            return False
        if self.tag_regex is not None:
            # a digest reference runs its digest whatever tag it is written with: its tag is never matched, and
            # only a tag pattern of just '*' ("any tag or none") takes it
            if ref.digest is not None or ref.tag is None:
                return not self.names_tag
            return self.tag_regex.fullmatch(ref.tag) is not None
        return True

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class NamespaceGlob:
    """A namespace name pattern: ``*`` any characters, ``?`` one character (namespace names have no ``/``)."""

    text: str
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, source: str) -> NamespaceGlob:
        text = source.strip()
        if not text:
            raise ValueError("empty namespace pattern")
        if len(text) > 253:
            raise ValueError("namespace pattern longer than 253 characters")
        if not _NAMESPACE_CHARS.fullmatch(text):
            raise ValueError(f"invalid namespace pattern {text!r} (lower-case letters, digits, '-', '*', '?')")
        return cls(text, re.compile(_segment_regex(text)))

    def matches(self, namespace: str) -> bool:
        return self.regex.fullmatch(namespace) is not None

    def __str__(self) -> str:
        return self.text
