"""Each cataloger on small inputs written in its tool's real format, through the layer walker (so the paths
each one asks for are tested too)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from tests.unit.sbom.images import layer_tar
from tests.unit.sbom.rpmdb import rpmdb
from verifier.limits import Limits
from verifier.sbom import generate

DEBIAN_OS = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'

DPKG_STATUS = b"""Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: glibc (2.36-9+deb12u4)
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.

Package: bash
Essential: yes
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2
Source: bash (5.2.15-2)

Package: removed-pkg
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1
"""

DEP5 = b"""Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: bash

Files: *
Copyright: 1987-2022 Free Software Foundation, Inc.
License: GPL-3+

Files: lib/sh/*
Copyright: 1999 Someone
License: BSD-3-clause
 Redistribution and use ...
"""


def sbom_of(tmp_path: Path, *layers: dict[str, object], limits: Limits | None = None):
    from tests.unit.sbom.images import oci_layout

    layout = oci_layout(tmp_path / "layout", [layer_tar(files) for files in layers])  # type: ignore[arg-type]
    return generate(f"oci:{layout}", limits=limits or Limits())


def by_purl(sbom) -> dict[str, object]:
    return {p.purl: p for p in sbom.packages}


def test_dpkg_status_installed_only_with_source_arch_distro_and_dep5_licences(tmp_path):
    sbom = sbom_of(
        tmp_path,
        {
            "etc/os-release": ("symlink", "../usr/lib/os-release"),
            "usr/lib/os-release": DEBIAN_OS,
            "var/lib/dpkg/status": DPKG_STATUS,
            "usr/share/doc/bash/copyright": DEP5,
            "usr/share/doc/libc6/copyright": b"This is not machine readable. GPL.\nLicense: GPL-2\n",
            "usr/share/doc/tzdata/copyright": b"Format-Specification: http://svn.debian.org/wsvn/dep/web/deps/dep5.mdwn"
            b"?op=file&rev=135\n\nFiles: *\nLicense: public-domain\n",
            "var/lib/dpkg/info/bash.list": b"/bin/bash\n",
            "var/lib/dpkg/info/libc6:amd64.list": b"/lib/x86_64-linux-gnu/libc.so.6\n",
        },
    )
    packages = by_purl(sbom)
    assert sorted(packages) == [
        "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2",
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc",
        "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12",
    ]
    bash = next(p for p in sbom.packages if p.name == "bash")
    assert bash.licenses == ("GPL-3.0-or-later", "BSD-3-Clause")
    assert dict(bash.properties)["sealgate:deb:source-version"] == "5.2.15-2"
    assert bash.path == "var/lib/dpkg/status"
    assert next(p for p in sbom.packages if p.name == "libc6").licenses == ()
    assert next(p for p in sbom.packages if p.name == "tzdata").licenses == ("public-domain",)
    assert sbom.distro is not None and sbom.distro.qualifier == "debian-12"
    assert sbom.distro.path == "usr/lib/os-release"


def test_dpkg_distroless_status_d_and_a_malformed_paragraph_is_a_warning(tmp_path):
    sbom = sbom_of(
        tmp_path,
        {
            "etc/os-release": DEBIAN_OS,
            "var/lib/dpkg/status.d/base-files": b"Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n",
            "var/lib/dpkg/status.d/base-files.md5sums": b"d41d8cd98f00b204e9800998ecf8427e  etc/issue\n",
            "var/lib/dpkg/status.d/netbase": b"Package: netbase\nArchitecture: all\n",
            "var/lib/dpkg/status.d/tzdata": b"Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n",
        },
    )
    assert [p.name for p in sbom.packages] == ["base-files", "tzdata"]
    assert any("status.d/netbase: paragraph 1 lacks a usable Package or Version" in w for w in sbom.warnings)


def test_dpkg_status_garbage_is_a_warning_and_the_rest_of_the_sbom(tmp_path):
    garbage = b"\x00\xff" * 100 + b"\nPackage: ok\nStatus: install ok installed\nVersion: 1\n\nPackage bad line\n"
    sbom = sbom_of(
        tmp_path, {"var/lib/dpkg/status": garbage, "app/node_modules/a/package.json": b'{"name":"a","version":"1.0.0"}'}
    )
    assert sorted(p.purl for p in sbom.packages) == ["pkg:deb/debian/ok@1", "pkg:npm/a@1.0.0"]


METADATA = b"""Metadata-Version: 2.4
Name: Flask_SQLAlchemy
Version: 3.1.1
Summary: Add SQLAlchemy support to your Flask application.
License-Expression: BSD-3-Clause
Classifier: License :: OSI Approved :: MIT License

Long description: Name: not-this
"""


def test_python_dist_info_egg_info_and_licences(tmp_path):
    site = "usr/local/lib/python3.11/site-packages"
    dist = "usr/lib/python3/dist-packages"
    sbom = sbom_of(
        tmp_path,
        {
            f"{site}/Flask_SQLAlchemy-3.1.1.dist-info/METADATA": METADATA,
            f"{site}/requests-2.31.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n"
            b"License: Apache 2.0\n",
            f"{site}/six-1.16.0.dist-info/METADATA": b"Name: six\nVersion: 1.16.0\nLicense: UNKNOWN\n"
            b"Classifier: License :: OSI Approved :: MIT License\n",
            f"{dist}/PyYAML-6.0.egg-info": b"Metadata-Version: 1.1\nName: PyYAML\nVersion: 6.0\nLicense: MIT\n",
            f"{dist}/chardet-5.1.0.egg-info/PKG-INFO": b"Metadata-Version: 2.1\nName: chardet\nVersion: 5.1.0\n",
            f"{site}/broken-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nSummary: no name\n",
            "app/requirements.txt": b"django==4.2\n",
            "opt/src/pkg.dist-info/METADATA": b"Name: notinstalled\nVersion: 1\n",
            f"{site}/setuptools/_vendor/packaging-24.0.dist-info/METADATA": b"Name: packaging\nVersion: 24.0\n",
        },
    )
    packages = by_purl(sbom)
    assert sorted(packages) == [
        "pkg:pypi/chardet@5.1.0",
        "pkg:pypi/flask-sqlalchemy@3.1.1",
        "pkg:pypi/pyyaml@6.0",
        "pkg:pypi/requests@2.31.0",
        "pkg:pypi/six@1.16.0",
    ]
    assert packages["pkg:pypi/flask-sqlalchemy@3.1.1"].licenses == ("BSD-3-Clause",)
    assert packages["pkg:pypi/requests@2.31.0"].licenses == ("Apache-2.0",)
    assert packages["pkg:pypi/six@1.16.0"].licenses == ("MIT",)
    assert any("broken-1.0.dist-info/METADATA: no usable Name and Version" in w for w in sbom.warnings)


def test_npm_installed_packages_only_with_scopes_and_licences(tmp_path):
    sbom = sbom_of(
        tmp_path,
        {
            "app/package.json": b'{"name": "my-app", "version": "1.0.0", "dependencies": {"left-pad": "^1"}}',
            "app/package-lock.json": b'{"packages": {"node_modules/ghost": {"version": "9.9.9"}}}',
            "app/node_modules/left-pad/package.json": b'{"name": "left-pad", "version": "1.3.0", "license": "WTFPL"}',
            "app/node_modules/left-pad/test/package.json": b'{"name": "fixture", "version": "0.0.0"}',
            "app/node_modules/@babel/core/package.json": b'{"name": "@babel/core", "version": "7.24.0", '
            b'"license": {"type": "MIT"}}',
            "app/node_modules/@babel/core/node_modules/semver/package.json": b'{"name": "semver", "version": "6.3.1", '
            b'"licenses": [{"type": "ISC"}]}',
            "app/node_modules/bad/package.json": b"{not json",
            "app/node_modules/resolve/test/resolver/node_modules/fixture/package.json": b'{"name": "fixture", '
            b'"version": "0.0.1"}',
            "web/node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/package.json": b'{"name": "lodash", '
            b'"version": "4.17.21", "license": "MIT"}',
        },
    )
    packages = by_purl(sbom)
    assert sorted(packages) == [
        "pkg:npm/%40babel/core@7.24.0",
        "pkg:npm/left-pad@1.3.0",
        "pkg:npm/lodash@4.17.21",
        "pkg:npm/semver@6.3.1",
    ]
    core = packages["pkg:npm/%40babel/core@7.24.0"]
    assert (core.name, core.group, core.licenses) == ("core", "@babel", ("MIT",))
    assert packages["pkg:npm/semver@6.3.1"].licenses == ("ISC",)
    assert any("bad/package.json: not valid JSON" in w for w in sbom.warnings)


def test_apk_installed_database(tmp_path):
    installed = (
        b"C:Q1abc=\nP:musl\nV:1.2.5-r0\nA:x86_64\nS:383152\nI:622592\nT:the musl c library\nU:https://musl.libc.org/\n"
        b"L:MIT\no:musl\nm:Someone\nt:1711000000\nc:abc\nF:lib\nR:ld-musl-x86_64.so.1\n\n"
        b"P:busybox-binsh\nV:1.36.1-r29\nA:x86_64\nL:GPL-2.0-only\no:busybox\n\n"
        b"P:nover\nA:x86_64\n"
    )
    sbom = sbom_of(
        tmp_path,
        {
            "etc/os-release": b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.1\nPRETTY_NAME="Alpine Linux v3.20"\n',
            "lib/apk/db/installed": installed,
        },
    )
    assert sorted(by_purl(sbom)) == [
        "pkg:apk/alpine/busybox-binsh@1.36.1-r29?arch=x86_64&distro=alpine-3.20.1&upstream=busybox",
        "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.1",
    ]
    assert next(p for p in sbom.packages if p.name == "musl").licenses == ("MIT",)
    assert any("record 3 lacks P: or V:" in w for w in sbom.warnings)


def test_rpm_sqlite_database_and_berkeleydb_is_said_to_be_unread(tmp_path):
    database = rpmdb(
        [
            {
                "name": "bash",
                "version": "5.2.26",
                "release": "3.fc40",
                "arch": "x86_64",
                "license": "GPL-3.0-or-later",
                "sourcerpm": "bash-5.2.26-3.fc40.src.rpm",
            },
            {
                "name": "openssl-libs",
                "version": "3.2.1",
                "release": "2.fc40",
                "epoch": 1,
                "arch": "x86_64",
                "license": "Apache-2.0",
                "sourcerpm": "openssl-3.2.1-2.fc40.src.rpm",
            },
            {"name": "gpg-pubkey", "version": "a15b79cc", "release": "63d04c2c"},
        ],
        tmp_path / "rpmdb.sqlite",
    )
    sbom = sbom_of(
        tmp_path,
        {
            "etc/os-release": b'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=40\n',
            "var/lib/rpm/rpmdb.sqlite": database,
            "usr/lib/sysimage/rpm/Packages": b"\x00" * 64,
        },
    )
    assert sorted(by_purl(sbom)) == [
        "pkg:rpm/fedora/bash@5.2.26-3.fc40?arch=x86_64&distro=fedora-40&upstream=bash-5.2.26-3.fc40.src.rpm",
        "pkg:rpm/fedora/openssl-libs@3.2.1-2.fc40?arch=x86_64&distro=fedora-40&epoch=1"
        "&upstream=openssl-3.2.1-2.fc40.src.rpm",
    ]
    assert next(p for p in sbom.packages if p.name == "openssl-libs").version == "1:3.2.1-2.fc40"
    assert any("BerkeleyDB rpm databases are not read" in w for w in sbom.warnings)


def _zip(entries: dict[str, bytes], *, stored: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


POM_XML = b"""<project><licenses><license><name>Apache License, Version 2.0</name>
<url>https://www.apache.org/licenses/LICENSE-2.0.txt</url></license></licenses></project>"""


def test_java_pom_properties_manifest_and_nested_archives(tmp_path):
    inner = _zip(
        {
            "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\n",
            "META-INF/maven/org.slf4j/slf4j-api/pom.properties": b"#generated\nversion=2.0.9\ngroupId=org.slf4j\n"
            b"artifactId=slf4j-api\n",
        }
    )
    manifest_only = _zip(
        {
            "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\r\nImplementation-Title: jaxb-api\r\n"
            b"Implementation-Version: 2.3.1\r\nImplementation-Vendor-Id: javax.xml.bind\r\n\r\nName: x\r\n"
        }
    )
    war = _zip(
        {
            "META-INF/maven/com.example/shop/pom.properties": b"groupId=com.example\nartifactId=shop\nversion=1.4.0\n",
            "META-INF/maven/com.example/shop/pom.xml": POM_XML,
            "WEB-INF/lib/slf4j-api-2.0.9.jar": inner,
            "WEB-INF/lib/jaxb-api-2.3.1.jar": manifest_only,
        }
    )
    sbom = sbom_of(tmp_path, {"srv/shop.war": war, "usr/share/java/broken.jar": b"PK\x03\x04 not a zip"})
    packages = by_purl(sbom)
    assert sorted(packages) == [
        "pkg:maven/com.example/shop@1.4.0",
        "pkg:maven/javax.xml.bind/jaxb-api@2.3.1",
        "pkg:maven/org.slf4j/slf4j-api@2.0.9",
    ]
    assert packages["pkg:maven/com.example/shop@1.4.0"].licenses == ("Apache-2.0",)
    slf4j = packages["pkg:maven/org.slf4j/slf4j-api@2.0.9"]
    assert dict(slf4j.properties)["sealgate:java:archive"] == "srv/shop.war!/WEB-INF/lib/slf4j-api-2.0.9.jar"
    assert slf4j.path == "srv/shop.war"
    assert any("broken.jar: not a readable zip archive" in w for w in sbom.warnings)


def test_java_nesting_depth_and_zip_bombs_are_bounded(tmp_path):
    level = _zip({"META-INF/maven/g/deep/pom.properties": b"groupId=g\nartifactId=deep\nversion=1\n"})
    for _ in range(5):
        level = _zip({"lib/nested.jar": level})
    bomb = _zip({"lib/bomb.jar": b"\x00" * (4 * 1024 * 1024)})
    sbom = sbom_of(tmp_path, {"deep.jar": level, "bomb.jar": bomb}, limits=Limits(max_archive_depth=3))
    assert sbom.packages == []
    assert any("nested deeper than the limit max_archive_depth" in w for w in sbom.warnings)
    assert any("bomb.jar!/lib/bomb.jar: too large or too compressed" in w for w in sbom.warnings)


def test_java_jar_as_maven_writes_it(tmp_path):
    """A jar as Maven writes it (directory entries, stored manifest first) reads the same."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("META-INF/", b"")
        archive.writestr("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\nCreated-By: Maven JAR Plugin 3.3.0\r\n")
        archive.writestr("META-INF/maven/", b"")
        archive.writestr(
            "META-INF/maven/com.fasterxml.jackson.core/jackson-core/pom.properties",
            b"artifactId=jackson-core\ngroupId=com.fasterxml.jackson.core\nversion=2.17.0\n",
        )
        archive.writestr("com/fasterxml/jackson/core/JsonParser.class", b"\xca\xfe\xba\xbe")
    sbom = sbom_of(tmp_path, {"app/lib/jackson-core-2.17.0.jar": out.getvalue()})
    assert [p.purl for p in sbom.packages] == ["pkg:maven/com.fasterxml.jackson.core/jackson-core@2.17.0"]
    assert json.dumps([p.group for p in sbom.packages]) == '["com.fasterxml.jackson.core"]'


def test_os_release_quoting():
    from verifier.sbom._osrelease import parse_os_release

    fields = parse_os_release(b'# comment\nID="debian"\nPRETTY_NAME=\'A "b"\'\nBAD LINE\n')
    assert fields == {"ID": "debian", "PRETTY_NAME": 'A "b"'}


def test_real_jar_from_a_debian_package(tmp_path):
    """libcommons-lang3-java (installed by the Makefile): its jar's pom.properties is the ground truth."""
    jar = Path("/usr/share/java/commons-lang3.jar")
    with zipfile.ZipFile(jar) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith("/pom.properties")]
        truth = dict(
            line.split("=", 1) for line in archive.read(name).decode().splitlines() if "=" in line and line[0] != "#"
        )
    sbom = sbom_of(
        tmp_path,
        {
            "usr/share/java/commons-lang3.jar": jar.read_bytes(),
            "usr/share/java/commons-lang3-3.12.0.jar": ("symlink", "commons-lang3.jar"),
        },
    )
    assert [p.purl for p in sbom.packages] == [f"pkg:maven/{truth['groupId']}/{truth['artifactId']}@{truth['version']}"]
    assert sbom.packages[0].licenses == ()  # its pom.xml inherits <licenses> from commons-parent, not in the jar
    assert sbom.packages[0].path == "usr/share/java/commons-lang3.jar"  # the symlink is not read
