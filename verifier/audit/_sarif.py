"""SARIF 2.1.0 for GitHub code scanning: one run, rules with help text, results with logical locations
(cluster / namespace / kind / name / container) and stable partial fingerprints."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

import orjson

from ._model import RULES, AuditReport, Finding, Severity

__all__ = ["render_sarif"]

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note",
          Severity.INFO: "note"}
#: GitHub's security-severity: a CVSS-like score that code scanning maps to critical/high/medium/low
_SCORE = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "3.0",
          Severity.INFO: "0.0"}


def _uri(f: Finding) -> str:
    """GitHub code scanning needs a physical location: the manifest for ``--from-file``, else a stable
    repository-relative pseudo-path naming the object (``kubernetes/<cluster>/<namespace>/<Kind>/<name>``)."""
    file = f.evidence.get("file")
    if isinstance(file, str) and file:
        path = PurePosixPath(file.replace("\\", "/"))
        if not path.is_absolute() and ".." not in path.parts:
            return quote(str(path))
    parts = ["kubernetes", f.cluster, f.namespace or "_cluster", f.workload.kind, f.workload.name]
    return "/".join(quote(p, safe="") for p in parts)


def _locations(f: Finding) -> list[dict[str, Any]]:
    names = [f.cluster, f.namespace, f"{f.workload.kind}/{f.workload.name}", f.container]
    fqn = "/".join(n for n in names if n)
    kind = "member" if f.container else "namespace" if f.workload.kind in ("Namespace", "Cluster") else "type"
    return [{
        "physicalLocation": {"artifactLocation": {"uri": _uri(f)}, "region": {"startLine": 1}},
        "logicalLocations": [{"name": f.container or f.workload.name, "fullyQualifiedName": fqn, "kind": kind}],
        "message": {"text": fqn},
    }]


def render_sarif(report: AuditReport) -> str:
    ids = list(RULES)
    rules = [
        {
            "id": r.id,
            "name": r.name,
            "shortDescription": {"text": r.title},
            "fullDescription": {"text": r.help},
            "help": {"text": r.help, "markdown": f"**{r.title}**\n\n{r.help}"},
            "defaultConfiguration": {"level": _LEVEL[r.severity]},
            "properties": {"security-severity": _SCORE[r.severity], "tags": ["security", "supply-chain"]},
        }
        for r in RULES.values()
    ]
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": ids.index(f.rule),
            "level": _LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": _locations(f),
            "partialFingerprints": {"sealgateFinding/v1": f.fingerprint},
            "properties": {
                "severity": f.severity.label,
                "security-severity": _SCORE[f.severity],
                "cluster": f.cluster,
                "namespace": f.namespace,
                "workload": {"kind": f.workload.kind, "name": f.workload.name},
                "container": f.container,
                "image": f.image,
                "digest": f.digest,
                "evidence": f.evidence,
            },
        }
        for f in report.findings
    ]
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "sealgate", "version": report.version, "semanticVersion": report.version,
                                "rules": rules}},
            "automationDetails": {"id": f"sealgate-audit/{report.generated_at}"},
            "invocations": [{"executionSuccessful": True, "endTimeUtc": report.generated_at}],
            "results": results,
        }],
    }
    return orjson.dumps(log, option=orjson.OPT_INDENT_2).decode() + "\n"
