"""``etc/os-release`` (or ``usr/lib/os-release``, where Debian's ``etc/os-release`` symlink points)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ._model import Context, Distro, Found, Package

__all__ = ["OsRelease", "parse_os_release"]

_PATHS = ("etc/os-release", "usr/lib/os-release")
#: what os-release(5) allows in ``ID`` and ``VERSION_ID`` (they become purl namespaces and qualifiers)
_IDENTIFIER = re.compile(r"[a-z0-9._-]{1,64}")


def parse_os_release(data: bytes | bytearray) -> dict[str, str]:
    """``KEY=value`` lines, values unquoted (shell quoting as os-release(5) allows it)."""
    fields: dict[str, str] = {}
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        fields[key.strip()] = value
    return fields


class OsRelease:
    name = "os-release"
    magic = b""

    def wants(self, path: str, size: int, executable: bool) -> bool:
        return path in _PATHS

    def extract(self, path: str, data: bytes | bytearray, context: Context) -> object | None:
        fields = parse_os_release(data[: 64 * 1024])
        for key in ("ID", "VERSION_ID"):
            value = fields.get(key)
            if value and not _IDENTIFIER.fullmatch(value.lower()):
                context.warn(f"{path}: {key} {value[:100]!r} is not an os-release identifier; ignored")
                del fields[key]
        return fields

    def catalog(self, found: Sequence[Found], context: Context) -> list[Package]:
        return []

    def distro(self, found: Sequence[Found]) -> Distro | None:
        """The distribution, from ``etc/os-release`` when it is a file, else ``usr/lib/os-release``."""
        for path in _PATHS:
            for item in found:
                fields = item.result
                if item.path == path and isinstance(fields, dict) and fields.get("ID"):
                    return Distro(
                        id=fields["ID"].lower(),
                        version_id=fields.get("VERSION_ID", ""),
                        pretty_name=fields.get("PRETTY_NAME") or fields["ID"],
                        version_codename=fields.get("VERSION_CODENAME", ""),
                        path=item.path,
                        layer=item.layer,
                    )
        return None
