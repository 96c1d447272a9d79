"""PolicyReports (``wgpolicyk8s.io/v1alpha2``): one PolicyReport per namespace, a ClusterPolicyReport for
findings without a namespace; what Kyverno's policy-reporter UI reads. Multi-document YAML to apply."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

import yaml

from ._model import AuditReport, Finding, Severity

__all__ = ["MANAGED_BY", "policyreport_documents", "render_policyreports", "report_document"]

API_VERSION = "wgpolicyk8s.io/v1alpha2"
#: the label every report sealgate writes carries (and by which it finds its stale ones)
MANAGED_BY = ("app.kubernetes.io/managed-by", "sealgate")
#: the v1alpha2 CRD allows high, medium and low only (later revisions add critical and info)
_SEVERITY = {Severity.CRITICAL: "high", Severity.HIGH: "high", Severity.MEDIUM: "medium", Severity.LOW: "low",
             Severity.INFO: "low"}
_NAME = re.compile(r"[^a-z0-9-]+")
_API_VERSIONS = {
    "Pod": "v1", "ReplicationController": "v1", "Namespace": "v1", "Deployment": "apps/v1", "ReplicaSet": "apps/v1",
    "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1",
}


def _timestamp(report: AuditReport) -> dict[str, int]:
    when = dt.datetime.fromisoformat(report.generated_at.replace("Z", "+00:00"))
    return {"seconds": int(when.timestamp()), "nanos": 0}


def _result(f: Finding, timestamp: dict[str, int]) -> dict[str, Any]:
    properties = {"cluster": f.cluster, "container": f.container, "image": f.image, "fingerprint": f.fingerprint,
                  "sealgateSeverity": f.severity.label}
    if f.digest:
        properties["digest"] = f.digest
    for key, value in f.evidence.items():  # plain strings: a reason code is a str subclass YAML cannot write
        properties[key] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    result: dict[str, Any] = {
        "source": "sealgate",
        "policy": f"sealgate-{f.rule_info.name}",
        "rule": f.rule,
        "category": "Supply chain",
        "severity": _SEVERITY[f.severity],
        "result": "error" if f.rule in ("SG008", "SG010") else "fail",
        "scored": True,
        "message": f.message,
        "timestamp": timestamp,
        "properties": properties,
    }
    if f.workload.kind not in ("Cluster",):
        resource = {"apiVersion": _API_VERSIONS.get(f.workload.kind, "v1"), "kind": f.workload.kind,
                    "name": f.workload.name}
        if f.namespace and f.workload.kind != "Namespace":
            resource["namespace"] = f.namespace
        result["resources"] = [resource]
    return result


def _summary(results: list[dict[str, Any]]) -> dict[str, int]:
    found = Counter(r["result"] for r in results)
    return {k: found.get(k, 0) for k in ("pass", "fail", "warn", "error", "skip")}


def _name(*parts: str) -> str:
    text = _NAME.sub("-", "-".join(p.lower() for p in parts if p)).strip("-")
    return text[:253].rstrip("-") or "sealgate"


def report_document(kind: str, metadata: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    """One PolicyReport or ClusterPolicyReport object, its summary counted from ``results``."""
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "summary": _summary(results),
            "results": results}  # fmt: skip


def render_policyreports(report: AuditReport) -> str:
    return yaml.safe_dump_all(policyreport_documents(report), sort_keys=False, explicit_start=True)


def policyreport_documents(report: AuditReport) -> list[dict[str, Any]]:
    """The reports as objects: a PolicyReport per namespace with findings, a ClusterPolicyReport per cluster."""
    timestamp = _timestamp(report)
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in report.findings:
        groups.setdefault((f.cluster, f.namespace), []).append(f)
    for summary in report.clusters:  # every cluster gets its ClusterPolicyReport, empty when clean
        groups.setdefault((summary.name, ""), [])
    many = len(report.clusters) > 1
    docs = []
    for (cluster, namespace), findings in sorted(groups.items()):
        results = [_result(f, timestamp) for f in findings]
        labels = dict([MANAGED_BY])
        metadata: dict[str, Any] = {"labels": labels, "annotations": {"sealgate.dev/cluster": cluster}}
        if namespace:
            metadata |= {"name": _name("sealgate", cluster if many else "", "audit"), "namespace": namespace}
            kind = "PolicyReport"
        else:
            metadata["name"] = _name("sealgate", cluster, "audit")
            kind = "ClusterPolicyReport"
        docs.append(report_document(kind, metadata, results))
    return docs
