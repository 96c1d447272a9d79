"""Image references (``registry/repository[:tag][@digest]``) with Docker's normalisation rules."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

from verifier.errors import InvalidDigestError, InvalidReferenceError

from ._digest import Digest

__all__ = ["DOCKER_HUB", "Reference"]

#: how sealgate names Docker Hub (``docker.io``, as docker and containers/image print it)
DOCKER_HUB = "docker.io"
#: what cosign/ggcr write for Docker Hub in ``docker-reference``
_DOCKER_HUB_COSIGN = "index.docker.io"
#: where Docker Hub's registry API actually lives
_DOCKER_HUB_API = "registry-1.docker.io"
_DOCKER_HUB_ALIASES = frozenset({DOCKER_HUB, _DOCKER_HUB_COSIGN, _DOCKER_HUB_API})

_NAME_MAX = 255
_TAG_MAX = 128
_DOMAIN_COMPONENT = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN_NAME = re.compile(rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*")
_IPV6 = re.compile(r"\[[0-9a-fA-F:.]+\]")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_IMAGE_ID = re.compile(r"[a-f0-9]{64}")


def _fail(text: str, reason: str) -> InvalidReferenceError:
    shown = text if len(text) <= 200 else text[:197] + "..."
    return InvalidReferenceError(f"invalid image reference {shown!r}: {reason}")


def _check_domain(text: str, domain: str) -> str:
    host, port = domain, ""
    if domain.startswith("["):
        end = domain.find("]")
        host, rest = domain[: end + 1], domain[end + 1 :]
        if end < 0 or not _IPV6.fullmatch(host) or (rest and not rest.startswith(":")):
            raise _fail(text, f"invalid registry host {domain!r}")
        port = rest[1:] if rest else ""
        has_port = bool(rest)
    else:
        host, has_colon, port = domain.partition(":")
        has_port = bool(has_colon)
        if not _DOMAIN_NAME.fullmatch(host):
            raise _fail(text, f"invalid registry host {host!r}")
    if has_port and (not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536):
        raise _fail(text, f"invalid registry port {port!r}")
    registry = domain.lower()
    return DOCKER_HUB if registry in _DOCKER_HUB_ALIASES else registry


def _check_path(text: str, path: str) -> None:
    for component in path.split("/"):
        if not component:
            raise _fail(text, "empty repository path component (leading, trailing or double '/')")
        if component != component.lower():
            raise _fail(text, f"repository name must be lowercase ({component!r})")
        if not _PATH_COMPONENT.fullmatch(component):
            raise _fail(
                text,
                f"invalid repository path component {component!r} "
                "(lowercase letters and digits, separated by '.', '_', '__' or '-')",
            )


def _check_tag(text: str, tag: str, *, max_length: int | None) -> None:
    if not tag:
        raise _fail(text, "empty tag after ':'")
    if max_length is not None and len(tag) > max_length:
        raise _fail(text, f"tag longer than {max_length} characters ({len(tag)})")
    if not tag.isascii() or not _TAG.fullmatch(tag):
        raise _fail(text, "tag may only contain [A-Za-z0-9_.-] and must not start with '.' or '-'")


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed, normalised image reference.

    ``registry`` is ``docker.io`` for Docker Hub (``index.docker.io`` and ``registry-1.docker.io`` are
    accepted as aliases) and one-component Docker Hub names get ``library/``. Build one with
    :meth:`parse`; fields are kept as given when the dataclass is constructed directly.

    >>> str(Reference.parse("nginx"))
    'docker.io/library/nginx:latest'
    >>> Reference.parse("localhost:5000/team/app:1.0").api_host
    'localhost:5000'
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Parse ``[registry[:port]/]repository[:tag][@digest]`` (memoised: references are immutable).

        See :func:`_parse` for the rules.
        """
        if not isinstance(text, str):
            raise _fail("", "empty reference")
        return _parse(text)

    @classmethod
    def _parse_uncached(cls, text: str) -> Reference:
        """Parse ``[registry[:port]/]repository[:tag][@digest]`` the way docker does.

        The first path component is a registry when it contains ``.`` or ``:`` or is ``localhost``;
        otherwise the registry is Docker Hub. The tag defaults to ``latest`` **only** when the text has
        neither a tag nor a digest (``repo@sha256:...`` has no tag). Both may be given
        (``repo:1.0@sha256:...``); the digest is then what identifies the image. Any deviation raises
        ``InvalidReferenceError`` naming the reason.
        """
        if not isinstance(text, str) or not text:
            raise _fail("", "empty reference")
        if not text.isprintable() or " " in text:
            raise _fail(text, "contains whitespace or control characters")
        if "://" in text:
            raise _fail(text, f"must not have a scheme prefix (drop {text.split('://', 1)[0] + '://'!r})")
        if not text.isascii():
            raise _fail(text, "contains non-ASCII characters")
        name_part, at, digest_text = text.partition("@")
        digest: Digest | None = None
        if at:
            if not digest_text:
                raise _fail(text, "empty digest after '@'")
            if "@" in digest_text:
                raise _fail(text, "more than one '@'")
            try:
                digest = Digest.parse(digest_text)
            except InvalidDigestError as exc:
                raise _fail(text, str(exc)) from None
        tag: str | None = None
        colon = name_part.rfind(":")
        if colon > name_part.rfind("/"):
            name_part, tag = name_part[:colon], name_part[colon + 1 :]
            _check_tag(text, tag, max_length=_TAG_MAX)
        if not name_part:
            raise _fail(text, "empty repository name")
        if len(name_part) > _NAME_MAX:
            raise _fail(text, f"name longer than {_NAME_MAX} characters ({len(name_part)})")
        slash = name_part.find("/")
        first = name_part[:slash]
        if slash > 0 and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
            registry = _check_domain(text, first)
            path = name_part[slash + 1 :]
        else:
            registry, path = DOCKER_HUB, name_part
            if _IMAGE_ID.fullmatch(path):
                raise _fail(text, "a 64-character hex string is an image id, not a repository name")
        _check_path(text, path)
        if registry == DOCKER_HUB and "/" not in path:
            path = f"library/{path}"
        if tag is None and digest is None:
            tag = "latest"
        return cls(registry, path, tag, digest)

    @property
    def name(self) -> str:
        """``registry/repository`` (Docker Hub stays ``docker.io``)."""
        return f"{self.registry}/{self.repository}"

    @property
    def cosign_identity(self) -> str:
        """What cosign writes as ``docker-reference``: ``index.docker.io/...`` for Docker Hub, no tag."""
        registry = _DOCKER_HUB_COSIGN if self.registry == DOCKER_HUB else self.registry
        return f"{registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """``host[:port]`` to send HTTP requests to (``registry-1.docker.io`` for Docker Hub)."""
        return _DOCKER_HUB_API if self.registry in _DOCKER_HUB_ALIASES else self.registry

    @property
    def identifier(self) -> str:
        """What names the manifest in an API path: the digest when there is one, else the tag.

        Raises ``InvalidReferenceError`` when the reference has neither.
        """
        if self.digest is not None:
            return str(self.digest)
        if self.tag is not None:
            return self.tag
        raise InvalidReferenceError(f"image reference {self.name!r} has neither a tag nor a digest")

    def with_digest(self, digest: Digest) -> Reference:
        """The same repository pinned to ``digest`` (the tag is kept for display)."""
        return replace(self, digest=digest)

    def with_tag(self, tag: str) -> Reference:
        """The same repository at ``tag``, without a digest.

        The tag's characters are checked, not its length: cosign's sha512 ``.sig`` tags are 139
        characters, beyond the 128 that :meth:`parse` allows from users.
        """
        _check_tag(f"{self.name}:{tag}", tag, max_length=None)
        return replace(self, tag=tag, digest=None)

    def same_repository(self, other_name: str) -> bool:
        """True when ``other_name`` (``registry/repo``, optionally with tag/digest) names this repository.

        Docker Hub aliases and the implicit ``library/`` are taken into account; an unparsable name is
        simply not the same repository.
        """
        try:
            other = Reference.parse(other_name)
        except InvalidReferenceError:
            return False
        mine = DOCKER_HUB if self.registry in _DOCKER_HUB_ALIASES else self.registry
        return (mine, self.repository) == (other.registry, other.repository)

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Reference:
    # admission requests name the same few images over and over; errors are not cached (they re-raise)
    return Reference._parse_uncached(text)
