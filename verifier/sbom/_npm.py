"""npm packages: ``node_modules/<name>/package.json`` and ``node_modules/@scope/<name>/package.json`` at any depth.

Only installed packages count: a ``package.json`` directly inside a ``node_modules`` package directory. The
application's own ``package.json`` and the manifests of its un-installed dependencies (``package-lock.json``)
are not read, nor are ``package.json`` files deeper inside a package (test fixtures, sub-builds).
Reads ``name``, ``version`` and ``license`` (a string, or the old ``{"type": ...}`` / ``licenses`` arrays).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from ._licenses import spdx
from ._model import Context, Found, Package, purl

__all__ = ["Npm"]

_MARK = "node_modules/"


_PACKAGE = r"(?:@[^/@]+/)?[^/@.][^/]*"
_PNPM = r"(?:\.pnpm/[^/]+/node_modules/)?"  # pnpm keeps the real files in node_modules/.pnpm/NAME@VER/node_modules
#: ``name`` or ``@scope/name``, neither part empty, no spaces (npm's own rules are stricter for new packages)
_NAME = re.compile(r"(?:@[^\s/@]+/)?[^\s/@][^\s/]*")
_CHAIN = re.compile(rf"node_modules/{_PNPM}({_PACKAGE})(?:/node_modules/{_PNPM}({_PACKAGE}))*/package\.json")


def _package_dir(path: str) -> str | None:
    """The ``name`` or ``@scope/name`` a ``node_modules/A[/node_modules/B...]/package.json`` path installs.

    From the first ``node_modules`` on, the path must be a chain of installed packages: a ``package.json``
    under any other directory of a package (``node_modules/resolve/test/node_modules/x``: a test fixture) is
    not an installed package.
    """
    at = 0 if path.startswith(_MARK) else path.find("/" + _MARK) + 1
    if at == 0 and not path.startswith(_MARK):
        return None
    match = _CHAIN.fullmatch(path, at)
    if match is None:
        return None
    return match.group(2) or match.group(1)


@dataclass(frozen=True, slots=True)
class _Manifest:
    name: str
    version: str
    licenses: tuple[str, ...]


class Npm:
    name = "npm"
    magic = b""

    def wants(self, path: str, size: int, executable: bool) -> bool:
        return _MARK in path and _package_dir(path) is not None

    def extract(self, path: str, data: bytes | bytearray, context: Context) -> object | None:
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            context.warn(f"{path}: not valid JSON; skipped")
            return None
        if not isinstance(body, dict):
            context.warn(f"{path}: not a JSON object; skipped")
            return None
        name, version = body.get("name"), body.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
            context.warn(f"{path}: no name and version; skipped")
            return None
        if not _NAME.fullmatch(name):
            context.warn(f"{path}: package name {name[:100]!r} is not an npm name; skipped")
            return None
        return _Manifest(name, version, _licenses(body))

    def catalog(self, found: Sequence[Found], context: Context) -> list[Package]:
        packages = []
        for item in found:
            manifest = item.result
            if not isinstance(manifest, _Manifest):
                continue
            scope, _, bare = manifest.name.rpartition("/")
            packages.append(
                Package(
                    name=bare,
                    version=manifest.version,
                    purl=purl("npm", bare, manifest.version, namespace=scope or None),
                    path=item.path,
                    layer=item.layer,
                    licenses=manifest.licenses,
                    group=scope or None,
                )
            )
        return packages


def _licenses(body: dict[str, object]) -> tuple[str, ...]:
    raw: list[object] = []
    license_ = body.get("license")
    if license_ is not None:
        raw.append(license_)
    licenses = body.get("licenses")
    if isinstance(licenses, list):
        raw.extend(licenses)
    out: list[str] = []
    for entry in raw:
        text = entry.get("type") if isinstance(entry, dict) else entry
        if isinstance(text, str):
            value = spdx(text.strip("()") if text.count("(") == 1 and text.startswith("(") else text)
            if value and value not in out:
                out.append(value)
    return tuple(out)
