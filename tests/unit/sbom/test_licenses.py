"""Licence names as packages state them → SPDX ids or expressions, and the expression validator."""

from __future__ import annotations

import pytest

from verifier.sbom._licenses import classifier_license, spdx
from verifier.sbom._spdx import is_expression


@pytest.mark.parametrize(
    ("stated", "expected"),
    [
        ("MIT", "MIT"),
        ("mit", "MIT"),
        ("Expat", "MIT"),  # Debian's name for it
        ("GPL-2", "GPL-2.0-only"),
        ("GPL-2+", "GPL-2.0-or-later"),
        ("LGPL-2.1+", "LGPL-2.1-or-later"),  # not the deprecated SPDX id LGPL-2.1+
        ("BSD-3-clause", "BSD-3-Clause"),
        ("Apache 2.0", "Apache-2.0"),
        ("GPL-2+ or Artistic", "GPL-2.0-or-later OR Artistic-1.0-Perl"),  # perl's DEP-5 line
        ("MIT OR Apache-2.0", "MIT OR Apache-2.0"),
        ("(MIT and Zlib)", "MIT AND Zlib"),
        ("public-domain", "public-domain"),  # no SPDX id: kept as a name
        ("GPL-3+ with Bison exception", "GPL-3+ with Bison exception"),
        ("  ", None),
    ],
)
def test_spdx_mapping(stated, expected):
    assert spdx(stated) == expected


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("MIT", True),
        ("GPL-2.0-or-later WITH Classpath-exception-2.0", True),
        ("(MIT AND BSD-3-Clause) OR Apache-2.0", True),
        ("GPL-2.0+", True),
        ("LicenseRef-acme-1", True),
        ("MIT OR", False),
        ("(MIT", False),
        ("MIT AND AND ISC", False),
        ("Not-A-License", False),
        ("MIT WITH MIT", False),
        ("", False),
    ],
)
def test_expression_validator(text, valid):
    assert is_expression(text) is valid


def test_classifiers():
    assert classifier_license("License :: OSI Approved :: BSD License") == "BSD-3-Clause"
    assert classifier_license("License :: OSI Approved :: GNU General Public License v2 (GPLv2)") == "GPL-2.0-only"
    assert classifier_license("License :: OSI Approved") is None
    assert classifier_license("Programming Language :: Python") is None
