"""Licence names as packages state them, turned into SPDX identifiers or expressions where recognisable.

Debian's short names (``GPL-2+``, ``Expat``), Python's trove classifiers (``License :: OSI Approved :: MIT
License``) and common spellings (``Apache 2.0``) map to SPDX ids; a valid SPDX expression is kept as it is;
anything else is kept as a free-text name (CycloneDX ``license.name``) rather than guessed.
"""

from __future__ import annotations

import functools
import re

from ._spdx import fixup_id, is_expression

__all__ = ["classifier_license", "spdx"]

_ALIASES = {
    "expat": "MIT",
    "mit license": "MIT",
    "the mit license": "MIT",
    "bsd": "BSD-3-Clause",
    "bsd license": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "bsd-3-clause license": "BSD-3-Clause",
    "simplified bsd": "BSD-2-Clause",
    "apache 2.0": "Apache-2.0",
    "apache-2": "Apache-2.0",
    "apache 2": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache software license": "Apache-2.0",
    "the apache software license, version 2.0": "Apache-2.0",
    "the apache license, version 2.0": "Apache-2.0",
    "isc license": "ISC",
    "isc license (iscl)": "ISC",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "python software foundation license": "PSF-2.0",
    "psf": "PSF-2.0",
    "zlib/libpng license": "Zlib",
    "gnu general public license v2 (gplv2)": "GPL-2.0-only",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0-or-later",
    "gnu general public license v3 (gplv3)": "GPL-3.0-only",
    "gnu general public license v3 or later (gplv3+)": "GPL-3.0-or-later",
    "gnu lesser general public license v2 (lgplv2)": "LGPL-2.0-only",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.0-or-later",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0-only",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "gnu library or lesser general public license (lgpl)": "LGPL-2.0-or-later",
    "eclipse public license 2.0 (epl-2.0)": "EPL-2.0",
    "the unlicense (unlicense)": "Unlicense",
    "boost software license 1.0 (bsl-1.0)": "BSL-1.0",
    "artistic": "Artistic-1.0-Perl",
}

#: Debian's DEP-5 short names of the GNU family: GPL-2 → GPL-2.0-only, LGPL-2.1+ → LGPL-2.1-or-later
_GNU = re.compile(r"^(A?GPL|LGPL|GFDL)-?(\d(?:\.\d)?)(\+)?$", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def _one(text: str) -> str | None:
    key = text.lower()
    if key in _ALIASES:
        return _ALIASES[key]
    match = _GNU.match(text)
    if match:
        family, version, plus = match.group(1).upper(), match.group(2), match.group(3)
        if "." not in version:
            version += ".0"
        candidate = fixup_id(f"{family}-{version}-{'or-later' if plus else 'only'}")
        if candidate is not None:
            return candidate
    return fixup_id(text)


@functools.lru_cache(maxsize=4096)
def spdx(text: str) -> str | None:
    """The SPDX id or expression for ``text``, the cleaned text when none is recognisable, ``None`` if empty."""
    clean = _SPACES.sub(" ", text).strip()
    if not clean:
        return None
    single = _one(clean)
    if single is not None:
        return single
    # DEP-5 and others write "A or B", "A and B": map each part, then check the expression
    tokens = re.split(r"\s+(or|and)\s+", clean.replace(" | ", " or "), flags=re.IGNORECASE)
    if len(tokens) > 1:
        mapped = [t.upper() if i % 2 else _one(t.strip("() ")) for i, t in enumerate(tokens)]
        if all(m is not None for m in mapped):
            expression = " ".join(m for m in mapped if m is not None)
            if is_expression(expression):
                return expression
    if len(clean) <= 200 and is_expression(clean):
        return clean
    return clean[:200]


def classifier_license(classifier: str) -> str | None:
    """The SPDX id for a ``License :: ...`` trove classifier, or ``None`` when it names none precisely."""
    parts = [p.strip() for p in classifier.split("::")]
    if len(parts) < 2 or parts[0] != "License":
        return None
    last = parts[-1]
    if last in ("OSI Approved", "Other/Proprietary License", "Freely Distributable", "Public Domain"):
        return None
    return _one(last)
