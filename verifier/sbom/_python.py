"""Python distributions: ``*.dist-info/METADATA``, ``*.egg-info/PKG-INFO`` and single-file ``*.egg-info`` in
any ``site-packages`` or ``dist-packages`` directory (pip's, a virtualenv's, and Debian's python3-* packages).

Reads ``Name``, ``Version``, ``License-Expression`` (PEP 639), else ``License`` when it is short, else the
``License ::`` classifiers. Not read: ``RECORD`` (which files belong to a distribution), ``requires.txt``,
eggs as zip files, and ``pyproject.toml``/``requirements.txt`` of applications not installed.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ._licenses import classifier_license, spdx
from ._model import Context, Found, Package, purl
from ._rfc822 import parse_headers

__all__ = ["Python", "normalise_name"]

_NORMALISE = re.compile(r"[-_.]+")
_VERSION = re.compile(r"^[A-Za-z0-9.+!_-]{1,128}$")
#: a distribution name as PEP 508 allows it: letters and digits at both ends, ``.``, ``_`` and ``-`` between
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,198}[A-Za-z0-9])?$")


def normalise_name(name: str) -> str:
    """PEP 503 normalisation, as the ``pkg:pypi`` purl type requires."""
    return _NORMALISE.sub("-", name).lower()


def _in_packages_dir(path: str) -> bool:
    return "site-packages/" in path or "dist-packages/" in path


def _installed(directory: str, suffix: str) -> bool:
    """``directory`` ends in ``suffix`` and lies directly in a site-/dist-packages directory: what pip lists.
    (Distributions vendored inside a package, like ``setuptools/_vendor/*.dist-info``, are not installed.)"""
    if not directory.endswith(suffix):
        return False
    return posixpath.basename(posixpath.dirname(directory)) in ("site-packages", "dist-packages")


@dataclass(frozen=True, slots=True)
class _Dist:
    name: str
    version: str
    licenses: tuple[str, ...]


class Python:
    name = "python"
    magic = b""

    def wants(self, path: str, size: int, executable: bool) -> bool:
        if not _in_packages_dir(path):
            return False
        if path.endswith("/METADATA"):
            return _installed(path[: -len("/METADATA")], ".dist-info")
        if path.endswith("/PKG-INFO"):
            return _installed(path[: -len("/PKG-INFO")], ".egg-info")
        return _installed(path, ".egg-info")  # distutils wrote PKG-INFO as a file of this name

    def extract(self, path: str, data: bytes | bytearray, context: Context) -> object | None:
        fields = parse_headers(data.decode("utf-8", "replace"))
        values: dict[str, str] = {}
        classifiers: list[str] = []
        for key, value in fields:
            key = key.lower()
            if key == "classifier":
                classifiers.append(value)
            else:
                values.setdefault(key, value)
        name, version = values.get("name", ""), values.get("version", "")
        if not _NAME.match(name) or not _VERSION.match(version):
            context.warn(f"{path}: no usable Name and Version in the metadata; skipped")
            return None
        return _Dist(name, version, _licenses(values, classifiers))

    def catalog(self, found: Sequence[Found], context: Context) -> list[Package]:
        packages = []
        for item in found:
            dist = item.result
            if not isinstance(dist, _Dist):
                continue
            packages.append(
                Package(
                    name=dist.name,
                    version=dist.version,
                    purl=purl("pypi", normalise_name(dist.name), dist.version),
                    path=item.path,
                    layer=item.layer,
                    licenses=dist.licenses,
                )
            )
        return packages


def _licenses(values: dict[str, str], classifiers: list[str]) -> tuple[str, ...]:
    expression = values.get("license-expression", "").strip()
    if expression:
        value = spdx(expression)
        return (value,) if value else ()
    text = values.get("license", "").strip()
    if text and "\n" not in text and len(text) <= 100 and text.upper() not in ("UNKNOWN", "NONE"):
        value = spdx(text)
        return (value,) if value else ()
    out: list[str] = []
    for classifier in classifiers:
        value = classifier_license(classifier)
        if value and value not in out:
            out.append(value)
    return tuple(out)
