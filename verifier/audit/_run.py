"""One audit: list each target (clusters or files), check every image once through the engine, merge.

An unreachable cluster, rejected credentials or a forbidden namespace becomes a ``not-audited`` finding
naming the cluster and namespace; the others are audited all the same.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from dataclasses import dataclass

from verifier import __version__
from verifier.errors import SealgateError
from verifier.kubeapi import KubeClient
from verifier.policy import PolicySet
from verifier.registry import RegistryClient

from ._check import Checker
from ._model import RULES, AuditReport, ClusterSummary, Finding, Workload
from ._sources import Snapshot, from_cluster, from_files

__all__ = ["Progress", "Target", "run_audit"]


@dataclass(frozen=True, slots=True)
class Target:
    """A cluster to list (``connect`` builds its client, raising SealgateError) or files (``files``)."""

    name: str
    connect: Callable[[], KubeClient] | None = None
    namespaces: list[str] | None = None
    files: tuple[str, ...] = ()


class Progress:
    """Receives progress; the CLI's rich bar subclasses it, pipes and --quiet use this silent one."""

    def start(self, cluster: str, total: int) -> None:
        """``total`` decisions are about to be made for ``cluster``."""

    def advance(self, n: int) -> None:
        """``n`` more decisions were made."""

    def listing(self, cluster: str) -> None:
        """``cluster`` is being listed."""


async def run_audit(
    targets: list[Target], policies: PolicySet, client: RegistryClient, progress: Progress | None = None
) -> AuditReport:
    progress = progress or Progress()
    checker = Checker(policies, client, progress=progress.advance)
    summaries: list[ClusterSummary] = []
    findings: list[Finding] = []
    for target in targets:
        progress.listing(target.name)
        summary, snap = await _snapshot(target)
        summaries.append(summary)
        findings.extend(_problem_findings(target.name, summary, snap))
        if snap is None:
            continue
        uses = snap.inventory.uses()
        summary.namespaces = len(snap.inventory.namespaces)
        summary.pods = snap.inventory.pods
        summary.workloads = snap.inventory.workloads
        summary.containers = len(uses)
        progress.start(target.name, checker.planned(uses))
        findings.extend(await checker.check(target.name, uses, snap.labels))
    return AuditReport(
        generated_at=datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        version=__version__,
        clusters=summaries,
        findings=sorted(findings, key=lambda f: f.sort_key()),
        images=len(checker.images),
        digests=len(checker.digests),
        verifications=checker.engine.stats.verifications,
        policies=tuple(p.name for p in policies.policies),
    )


async def _snapshot(target: Target) -> tuple[ClusterSummary, Snapshot | None]:
    if target.connect is None:
        snap = await asyncio.to_thread(from_files, list(target.files))
        return ClusterSummary(target.name, ", ".join(target.files)), snap
    try:
        kube = await asyncio.to_thread(target.connect)
    except SealgateError as exc:
        return ClusterSummary(target.name, "", status="unreachable", error=exc.message), None
    try:
        snap = await asyncio.to_thread(from_cluster, kube, target.namespaces)
    finally:
        kube.close()
    summary = ClusterSummary(target.name, kube.host)
    fatal = [p for p in snap.problems if p.fatal]
    if fatal:
        summary.status, summary.error = "unreachable", fatal[0].message
        return summary, None
    if snap.problems:
        summary.status = "partial"
    return summary, snap


def _problem_findings(cluster: str, summary: ClusterSummary, snap: Snapshot | None) -> list[Finding]:
    rule = RULES["SG010"]
    out: list[Finding] = []
    if snap is None:
        out.append(
            Finding("SG010", rule.severity, cluster, "", Workload("Cluster", cluster), "", "", "",
                    f"cluster not audited: {summary.error}", evidence={"error": summary.error})
        )
        return out
    merged: dict[str, list[str]] = {}
    messages: dict[str, str] = {}
    for problem in snap.problems:
        merged.setdefault(problem.namespace, []).append(problem.resource)
        messages.setdefault(problem.namespace, problem.message)
    for namespace, resources in sorted(merged.items()):
        where = Workload("Namespace", namespace) if namespace else Workload("Cluster", cluster)
        what = f"namespace {namespace!r}" if namespace else "cluster-wide list"
        out.append(
            Finding("SG010", rule.severity, cluster, namespace, where, "", "", "",
                    f"{what} not audited ({', '.join(sorted(resources))}): {messages[namespace]}",
                    evidence={"resources": sorted(resources), "error": messages[namespace]})
        )
    for namespace, workload, reason in snap.inventory.problems:
        out.append(
            Finding("SG010", rule.severity, cluster, namespace, workload, "", "", "",
                    f"{workload.kind}/{workload.name} not audited: {reason}", evidence={"error": reason})
        )
    return out
