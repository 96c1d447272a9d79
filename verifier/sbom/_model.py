"""The SBOM's plain data: packages found, the operating system, the image, and the cataloger interface.

Nothing here does I/O. A cataloger names the files it wants (:meth:`Cataloger.wants`), turns each file's bytes
into a small result while the layer streams (:meth:`Cataloger.extract`, so a 100 MB binary is dropped as soon
as it has been read), and, once every layer has been applied, turns the surviving results into packages
(:meth:`Cataloger.catalog`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from packageurl import PackageURL

from verifier.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "Cataloger",
    "Context",
    "Distro",
    "Found",
    "ImageInfo",
    "Package",
    "Sbom",
    "purl",
]


def purl(
    kind: str,
    name: str,
    version: str | None,
    *,
    namespace: str | None = None,
    qualifiers: dict[str, str] | None = None,
) -> str:
    """A canonical package URL string (qualifiers sorted, empty ones dropped), or ``""`` when the parts make none
    (a name that is empty, or becomes so once the purl rules strip it: ``" "``, ``"/"``): :func:`generate` leaves
    such a package out with a warning, whatever cataloger read it."""
    kept = {k: v for k, v in sorted((qualifiers or {}).items()) if v}
    try:
        return str(PackageURL(type=kind, namespace=namespace, name=name, version=version or None, qualifiers=kept))
    except (ValueError, TypeError):  # packageurl refuses a missing name, or fails on one it stripped to nothing
        return ""


@dataclass(frozen=True, slots=True)
class Package:
    """One component of the SBOM, with where it was found."""

    name: str
    version: str
    purl: str
    #: the file the package was read from (path in the image, without a leading ``/``)
    path: str
    #: digest of the layer that brought ``path`` (``None`` for a ``dir:`` source)
    layer: str | None
    #: SPDX identifiers or expressions, or free-text licence names when nothing SPDX is recognisable
    licenses: tuple[str, ...] = ()
    #: CycloneDX properties (``sealgate:...`` names), e.g. the Debian source package
    properties: tuple[tuple[str, str], ...] = ()
    #: Maven group, npm scope (``@scope``), or ``None``
    group: str | None = None
    #: CycloneDX component type: ``library`` or ``application``
    kind: str = "library"


@dataclass(frozen=True, slots=True)
class Distro:
    """What ``etc/os-release`` says (``ID``, ``VERSION_ID``, ...)."""

    id: str
    version_id: str
    pretty_name: str
    version_codename: str = ""
    path: str = "etc/os-release"
    layer: str | None = None

    @property
    def qualifier(self) -> str:
        """The purl ``distro`` qualifier: ``debian-12``, ``alpine-3.20.1``, or just the id."""
        return f"{self.id}-{self.version_id}" if self.version_id else self.id


@dataclass(frozen=True, slots=True)
class Found:
    """A cataloger's result for one file that survived every later layer."""

    path: str
    layer: str | None
    result: object


@dataclass(slots=True)
class Context:
    """What catalogers share: limits, the distro (once known) and the warnings list."""

    limits: Limits = DEFAULT_LIMITS
    distro: Distro | None = None
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


class Cataloger(Protocol):
    """One ecosystem: which files it reads, what it keeps from each, and the packages they make."""

    name: str
    #: the bytes every file it reads starts with (``b"\x7fELF"``), or ``b""``: lets the walker skip, unread,
    #: the shell scripts among the executables the binary catalogers want
    magic: bytes

    def wants(self, path: str, size: int, executable: bool) -> bool:
        """Whether to read this regular file (``path`` has no leading ``/``)."""

    def extract(self, path: str, data: bytes | bytearray, context: Context) -> object | None:
        """A small result for one file's bytes, or ``None`` when there is nothing in it for this cataloger."""

    def catalog(self, found: Sequence[Found], context: Context) -> list[Package]:
        """Packages from every surviving result, in any order."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """The image an SBOM describes (``name`` is a repository or a file; ``digest`` the manifest's)."""

    name: str
    digest: str | None
    os: str = ""
    architecture: str = ""
    variant: str = ""
    created: str | None = None
    source: str = ""
    #: the config's digest (what ``docker images`` calls the image id)
    image_id: str | None = None

    @property
    def platform(self) -> str:
        parts = [p for p in (self.os, self.architecture, self.variant) if p]
        return "/".join(parts)


@dataclass(slots=True)
class Sbom:
    """Everything an SBOM says: the image, its OS, its packages, and what could not be read."""

    image: ImageInfo
    distro: Distro | None
    packages: list[Package]
    warnings: list[str]
    layers: list[str] = field(default_factory=list)


#: progress callback: (what, done, total) with ``total`` 0 when unknown
Progress = Callable[[str, int, int], None]
