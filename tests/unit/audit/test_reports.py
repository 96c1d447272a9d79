"""Audit reports from one AuditReport: JSON against its published schema, SARIF and PolicyReport shapes,
self-contained HTML, and the exit code --fail-on asks for (driven through main() on manifests)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from verifier.audit import FORMATS, AuditReport, ClusterSummary, Finding, Severity, Workload, render, report_exit_code
from verifier.cli import main

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "schemas" / "audit-report.schema.json"
SARIF_SCHEMA = ROOT / "tests" / "assets" / "schemas" / "sarif-schema-2.1.0.json"
CRD = ROOT / "tests" / "assets" / "schemas" / "wgpolicyk8s.io_clusterpolicyreports.v1alpha2.yaml"
DIGEST = "sha256:" + "ab" * 32


def _report() -> AuditReport:
    findings = [
        Finding("SG003", Severity.CRITICAL, "prod", "shop", Workload("Deployment", "web"), "web", "containers",
                f"reg.test/app@{DIGEST}", "spec pins one digest but another runs", "sha256:" + "cd" * 32,
                {"fieldPath": "spec.containers[0].image", "source": "pod", "pinned": DIGEST}, ("web-1", "web-2")),
        Finding("SG001", Severity.MEDIUM, "prod", "batch", Workload("CronJob", "report"), "report", "containers",
                "reg.test/report:v1", "tag <b>not</b> digest", None, {"tag": "v1"}),
        Finding("SG010", Severity.MEDIUM, "prod", "secret", Workload("Namespace", "secret"), "", "", "",
                "namespace 'secret' not audited", None, {"resources": ["pods"], "error": "HTTP 403"}),
    ]
    return AuditReport("2026-12-05T11:00:00Z", "0.1.0", [ClusterSummary("prod", "https://127.0.0.1:6443", "partial")],
                       findings, images=2, digests=2, policies=("signed",))


def test_json_validates_against_the_published_schema():
    doc = json.loads(render(_report(), "json"))
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(doc)
    assert doc["summary"]["bySeverity"] == {"critical": 1, "high": 0, "medium": 2, "low": 0, "info": 0}
    bad = dict(doc, findings=[dict(doc["findings"][0], severity="severe")])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(bad)


def test_sarif_has_rules_with_help_and_logical_locations():
    log = json.loads(render(_report(), "sarif"))
    validator = jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text()))
    validator.validate(log)
    assert log["version"] == "2.1.0"
    broken = json.loads(json.dumps(log))
    broken["runs"][0]["results"][0]["level"] = "fatal"
    assert not validator.is_valid(broken)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert all(r["help"]["text"] and r["shortDescription"]["text"] for r in rules)
    first = run["results"][0]
    assert rules[first["ruleIndex"]]["id"] == first["ruleId"] == "SG003"
    assert first["level"] == "error"
    assert first["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "prod/shop/Deployment/web/web"
    assert first["partialFingerprints"]["sealgateFinding/v1"] == _report().findings[0].fingerprint
    # code scanning wants a physical location: a pseudo-path for a live cluster
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "kubernetes/prod/shop/Deployment/web"


def test_policyreports_per_namespace_and_cluster():
    docs = list(yaml.safe_load_all(render(_report(), "policyreport")))
    crd = next(d for d in yaml.safe_load_all(CRD.read_text()) if d)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha2")
    validator = jsonschema.Draft4Validator(version["schema"]["openAPIV3Schema"])
    for doc in docs:
        validator.validate(doc)
    assert not validator.is_valid(dict(docs[0], results=[{"policy": "p", "severity": "critical"}]))
    kinds = sorted((d["kind"], d["metadata"].get("namespace", "")) for d in docs)
    assert kinds == [("ClusterPolicyReport", ""), ("PolicyReport", "batch"), ("PolicyReport", "secret"),
                     ("PolicyReport", "shop")]
    shop = next(d for d in docs if d["metadata"].get("namespace") == "shop")
    assert shop["apiVersion"] == "wgpolicyk8s.io/v1alpha2"
    assert shop["summary"] == {"pass": 0, "fail": 1, "warn": 0, "error": 0, "skip": 0}
    result = shop["results"][0]
    assert result["severity"] == "high" and result["properties"]["sealgateSeverity"] == "critical"
    assert result["result"] == "fail" and result["rule"] == "SG003"
    assert result["resources"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "shop"}]
    assert all(isinstance(v, str) for v in result["properties"].values())  # the CRD's properties are strings
    secret = next(d for d in docs if d["metadata"].get("namespace") == "secret")
    assert secret["results"][0]["result"] == "error"


def test_html_is_self_contained_and_escaped():
    page = render(_report(), "html")
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "<b>not</b>" not in page and "&lt;b&gt;not&lt;/b&gt;" in page
    assert '<div class="card" id="count-critical"><b>1</b>critical</div>' in page
    assert page.count('class="bar"') == 5 + 3 + 3  # severities, namespaces, rules


@pytest.mark.parametrize(
    ("fail_on", "code"), [("critical", 0), ("high", 0), ("medium", 1), ("info", 1), ("never", 0)]
)
def test_exit_code_follows_fail_on(fail_on, code):
    report = _report()
    report.findings = report.findings[1:]  # medium at worst
    assert report_exit_code(report, None if fail_on == "never" else Severity.parse(fail_on)) == code
    assert report_exit_code(_report(), None if fail_on == "never" else Severity.parse(fail_on)) == (fail_on != "never")


def test_cli_on_manifests_without_policies(tmp_path, capsys, monkeypatch):
    """No policy: images are reported as not covered (noMatch), never contacted; exit code per --fail-on."""
    manifest = tmp_path / "app.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: 0\n"
        "  template:\n    spec:\n      containers:\n      - {name: web, image: registry.example.com/team/web:1.2}\n"
    )
    assert main(["audit", "--from-file", str(manifest), "--fail-on", "high", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "SG001 mutable-tag" in out and "SG007 no-match" in out and "2 findings" in out
    assert main(["audit", "--from-file", str(manifest), "--fail-on", "medium", "-o", str(tmp_path / "r.sarif"),
                 "--output", "sarif"]) == 1
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]}
    assert uris == {"kubernetes/manifests/shop/Deployment/web"}  # an absolute manifest path is not repository-relative
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "--from-file", "app.yaml", "--output", "sarif", "-o", "r2.sarif", "--quiet"]) == 1
    sarif = json.loads((tmp_path / "r2.sarif").read_text())
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]} == {
        "app.yaml"
    }
    with pytest.raises(SystemExit) as usage:
        main(["audit", "--from-file", str(manifest), "--output", "xml"])
    assert usage.value.code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n")
    assert main(["audit", "--from-file", str(bad)]) == 2
    assert "neither JSON nor YAML" in capsys.readouterr().err
    bad.write_text("[1, 2, 3]\n")
    assert main(["audit", "--from-file", str(bad)]) == 2
    assert "no Kubernetes objects" in capsys.readouterr().err


def _stderr_on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    import os
    import pty
    import subprocess

    primary, secondary = pty.openpty()
    try:
        run = subprocess.run(argv, stdout=subprocess.PIPE, stderr=secondary, env=env, timeout=60, check=False)
        os.close(secondary)
        seen = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO once the terminal has no writer left
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(primary)
    return run.returncode, seen


def test_progress_bar_on_a_terminal_only(tmp_path):
    """stderr a terminal: a progress bar; a pipe, or a terminal with --quiet: nothing on stderr."""
    import os
    import subprocess
    import sys

    manifest = tmp_path / "app.yaml"
    manifest.write_text(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: r, namespace: ops}\nspec:\n  jobTemplate:\n"
        "    spec:\n      template:\n        spec:\n          containers:\n          - {name: r, image: reg.test/r:1}\n"
    )
    argv = [sys.executable, "-m", "verifier.cli", "audit", "--from-file", str(manifest), "--fail-on", "critical"]
    env = dict(os.environ, COLUMNS="100", TERM="xterm")
    piped = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert piped.returncode == 0 and piped.stderr == "" and "SG001" in piped.stdout
    code, seen = _stderr_on_a_terminal(argv, env)
    assert code == 0 and (b"manifests: checking images" in seen or b"manifests: listing" in seen)
    code, seen = _stderr_on_a_terminal([*argv, "--quiet"], env)
    assert code == 0 and seen == b""


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_a_real_audit_through_the_cli(tmp_path, fmt):
    """Reason codes reach the reports as findings' evidence: PolicyReport YAML could not write them (a str
    subclass), so `--output policyreport` was an internal error on any finding carrying one."""
    manifest = tmp_path / "app.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n"
        "    spec:\n      containers:\n      - {name: web, image: registry.example.com/team/web:1.2}\n"
    )
    out = tmp_path / "report"
    assert main(["audit", "--from-file", str(manifest), "--output", fmt, "-o", str(out), "--fail-on", "never"]) == 0
    text = out.read_text()
    if fmt == "policyreport":
        (cluster, shop) = yaml.safe_load_all(text)
        assert shop["kind"] == "PolicyReport" and shop["summary"]["fail"] == 2
        assert {r["properties"].get("code") for r in shop["results"]} >= {"NO_MATCH"}
    elif fmt in ("json", "sarif"):
        json.loads(text)
    assert "registry.example.com/team/web:1.2" in text


def test_a_very_long_name_wraps_in_its_column_and_hides_no_other_row():
    """Names come from whoever owns a workload: one of 3,000 characters, unwrapped, squeezed the other columns
    to nothing and every other row's workload out of the table."""
    report = _report()
    long = Finding("SG001", Severity.MEDIUM, "prod", "n" * 300, Workload("Deployment", "w" * 3000), "c" * 500,
                   "containers", "reg.test/long:v1", "tag not digest", None, {"tag": "v1"})  # fmt: skip
    wide = AuditReport(report.generated_at, report.version, report.clusters, [*report.findings, long], images=3,
                       digests=2, policies=report.policies)  # fmt: skip
    text = render(wide, "table")
    for expected in ("Deployment/web", "CronJob/report", "reg.test/report:v1", "tag <b>not</b> digest"):
        assert expected in text, expected
    assert max(len(line) for line in text.splitlines()) <= 160
