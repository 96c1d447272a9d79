"""`sealgate sbom check`: a policy's SBOM rules on a local SBOM file, with verify's lines and exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from verifier.cli import main

POLICY = """\
apiVersion: sealgate.dev/v1alpha1
kind: ImagePolicy
metadata: {{name: prod}}
spec:
  images: ["reg.example/app/**"]
  authorities: [{{name: ci, key: {{path: {key}}}}}]
  attestations:
    - name: sbom
      predicateType: cyclonedx
      sbom:
        deny:
          - {{name: log4shell, purl: pkg:maven/org.apache.logging.log4j/log4j-core, versions: "vers:maven/<2.17.1"}}
          - {{name: old-zlib, purl: pkg:deb/debian/zlib1g, versions: "vers:deb/<1:1.3", mode: warn}}
"""


@pytest.fixture
def policy(tmp_path, monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", "x")
    assert main(["keygen", "--output-key-prefix", str(tmp_path / "ci")]) == 0
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.format(key=tmp_path / "ci.pub"))
    return str(path)


def _sbom(tmp_path, *purls: str, statement: bool = False) -> str:
    components = [{"name": p.split("/")[-1].split("@")[0], "purl": p} for p in purls]
    doc: dict = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": components}
    if statement:
        doc = {"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://cyclonedx.org/bom",
               "subject": [], "predicate": doc}  # fmt: skip
    path = tmp_path / "sbom.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_a_denied_component_exits_1_with_the_verify_line(tmp_path, policy, capsys):
    sbom = _sbom(tmp_path, "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", "pkg:deb/debian/zlib1g@1:1.2.13")
    capsys.readouterr()
    assert main(["sbom", "check", sbom, "--policy", policy]) == 1
    out, err = capsys.readouterr()
    assert out == (
        'FAIL policy "prod": SBOM component pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1 is denied by rule '
        '"log4shell" (vers:maven/<2.17.1)\n'
    )
    assert 'warning: policy "prod": SBOM component pkg:deb/debian/zlib1g@1:1.2.13 is denied by rule "old-zlib"' in err


def test_a_clean_statement_passes_and_image_selects_policies(tmp_path, policy, capsys):
    sbom = _sbom(tmp_path, "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1", statement=True)
    assert main(["sbom", "check", sbom, "--policy", policy, "--image", "reg.example/app/web:1"]) == 0
    assert 'PASS policy "prod"' in capsys.readouterr().out
    assert main(["sbom", "check", sbom, "--policy", policy, "--image", "other.example/x:1"]) == 2
    assert "no policy with SBOM rules applies to other.example/x:1" in capsys.readouterr().err


def test_an_unreadable_sbom_is_one_line_and_exit_2(tmp_path, policy, capsys):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\xff\xfe")
    assert main(["sbom", "check", str(bad), "--policy", policy]) == 2
    err = capsys.readouterr().err
    assert "bad.json: SBOM is not valid JSON" in err and "Traceback" not in err


def test_max_age_on_a_local_sbom_without_a_time(tmp_path, policy, capsys):
    """A local file has no attestation whose signing time could stand in: the age is unknown (denied), and the
    line says so without speaking of an attestation; with its own timestamp a fresh SBOM passes."""
    path = tmp_path / "aged.yaml"
    path.write_text(Path(policy).read_text() + "        maxAge: 24h\n")
    sbom = _sbom(tmp_path, "pkg:deb/debian/bash@5.2.15-2")
    capsys.readouterr()
    assert main(["sbom", "check", sbom, "--policy", str(path)]) == 1
    assert capsys.readouterr().out == (
        'FAIL policy "prod": SBOM states no time, so its age is unknown: denied by maxAge 24h\n'
    )
    doc = json.loads(Path(sbom).read_text())
    for stamp, code in ((datetime.now(UTC) - timedelta(hours=2), 0), (datetime.now(UTC) - timedelta(days=2), 1),
                        (datetime.now(UTC) + timedelta(days=3650), 1)):  # fmt: skip
        doc["metadata"] = {"timestamp": stamp.isoformat()}
        (tmp_path / "sbom.json").write_text(json.dumps(doc))
        assert main(["sbom", "check", sbom, "--policy", str(path)]) == code, stamp
    assert "SBOM states a time in the future" in capsys.readouterr().out  # dated ahead: never fresh for years
