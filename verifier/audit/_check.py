"""Image uses -> findings, through the one engine.

Every distinct (namespace, image) is decided once; the engine's caches (kept for the whole audit: an audit
is one snapshot) resolve each distinct tag once and verify each distinct digest once, and its per-registry
slots bound the concurrency. For a pod, what is verified is what runs (``repo@<imageID digest>``); the tag
in the spec is resolved too, to see whether it drifted.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from verifier.engine import Decision, Engine, Outcome, PolicyResult
from verifier.errors import InvalidDigestError, InvalidReferenceError, Reason
from verifier.oci import Digest, Reference
from verifier.policy import PolicySet
from verifier.registry import RegistryClient

from ._inventory import ImageUse
from ._model import RULES, Finding, Severity

__all__ = ["Checker", "audit_policies"]

#: codes that mean sealgate could not verify (not that it verified and found the image wanting)
_NOT_CHECKED = frozenset(
    {
        Reason.NOT_FOUND,
        Reason.LIMIT_EXCEEDED,
        Reason.SIZE_LIMIT,
        Reason.NAMESPACE_LABELS_UNAVAILABLE,
        Reason.REGISTRY_PROTOCOL,
        Reason.DEADLINE_EXCEEDED,
    }
)
_SNAPSHOT_TTL = 24 * 3600
#: the cluster whose namespace labels the engine asks for (one engine, one cache, for every cluster)
_cluster: contextvars.ContextVar[str] = contextvars.ContextVar("sealgate_audit_cluster", default="")


def audit_policies(policies: PolicySet) -> PolicySet:
    """The same policies with caches that last the whole audit (each tag resolved, each digest verified once),
    and ``onError: deny``: an image the audit could not check is a finding (SG008), never admitted-with-a-warning
    as the webhook's ``onError: allow`` would have it."""
    settings = replace(
        policies.settings,
        on_error="deny",
        cache_ttl_seconds=_SNAPSHOT_TTL,
        cache_failure_ttl_seconds=_SNAPSHOT_TTL,
        cache_tag_ttl_seconds=_SNAPSHOT_TTL,
        cache_max_entries=max(policies.settings.cache_max_entries, 200_000),
    )
    return PolicySet.build(policies.policies, settings, policies.warnings)


class Checker:
    """``await checker.check(cluster, uses, labels) -> [Finding]``; ``progress`` is called once per decision."""

    def __init__(
        self, policies: PolicySet, client: RegistryClient, *, progress: Callable[[int], None] | None = None
    ) -> None:
        self._labels: dict[str, Mapping[str, Mapping[str, str]] | None] = {}
        self.engine = Engine(audit_policies(policies), client, namespace_labels=self._namespace_labels)
        self._progress = progress or (lambda n: None)
        self.images: set[str] = set()
        self.digests: set[str] = set()

    async def _namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        known = self._labels.get(_cluster.get())
        return None if known is None else known.get(namespace)

    def planned(self, uses: Iterable[ImageUse]) -> int:
        """How many decisions :meth:`check` will make for ``uses`` (for a progress bar)."""
        return len(set(_plan(uses)))

    async def check(
        self,
        cluster: str,
        uses: list[ImageUse],
        labels: Mapping[str, Mapping[str, str]] | None,
    ) -> list[Finding]:
        self._labels[cluster] = labels
        _cluster.set(cluster)
        wanted = sorted(set(_plan(uses)))
        decided: dict[tuple[str, str], Decision] = {}

        async def decide(key: tuple[str, str]) -> None:
            decided[key] = await self.engine.decide(key[1], namespace=key[0])
            self._progress(1)

        await _bounded(map(decide, wanted), 256)
        findings: list[Finding] = []
        for use in uses:
            findings.extend(self._findings(cluster, use, decided))
        for decision in decided.values():
            self.images.add(decision.image)
            if decision.digest:
                self.digests.add(decision.digest)
        return findings

    def _findings(self, cluster: str, use: ImageUse, decided: Mapping[tuple[str, str], Decision]) -> list[Finding]:
        out: list[Finding] = []

        def add(rule: str, message: str, evidence: dict[str, Any], severity: Severity | None = None) -> None:
            out.append(
                Finding(
                    rule, severity if severity is not None else RULES[rule].severity, cluster, use.namespace,
                    use.workload, use.container, use.container_type, use.image, message, use.running,
                    {"fieldPath": use.field_path, "source": use.source, **({"file": use.file} if use.file else {}),
                     **evidence},
                    tuple(use.pods),
                )
            )

        ref = _parse(use.image)
        spec_decision = decided[(use.namespace, use.image)]
        if ref is None:
            add("SG009", f"image {use.image!r} is not a valid reference: {spec_decision.reason}",
                {"code": spec_decision.code})
            return out
        if ref.digest is None:
            add("SG001", f"{use.image} is referenced by tag {ref.tag!r}, not by digest", {"tag": ref.tag})
        if use.unpinned_id == "":
            add("SG011", f"container {use.container!r} reports no imageID yet", {})
        elif use.unpinned_id is not None:
            add("SG011", f"container {use.container!r} reports imageID {use.unpinned_id!r}, which names no registry "
                "digest: what runs cannot be compared with the spec", {"imageID": use.unpinned_id})
        runs = _running_ref(ref, use.running)
        decision = spec_decision
        if runs is not None:
            if ref.digest is not None and str(ref.digest) != use.running:
                add("SG003", f"spec pins {ref.digest} but {use.running} runs",
                    {"pinned": str(ref.digest), "running": use.running})
            elif ref.digest is None and spec_decision.digest and spec_decision.digest != use.running:
                add("SG002", f"tag {ref.tag!r} now resolves to {spec_decision.digest}, but {use.running} runs",
                    {"tag": ref.tag, "resolved": spec_decision.digest, "running": use.running})
            decision = decided[(use.namespace, runs)]
        for rule, message, evidence, severity in _decision_findings(decision):
            add(rule, message, evidence, severity)
        return out


def _plan(uses: Iterable[ImageUse]) -> Iterable[tuple[str, str]]:
    for use in uses:
        yield use.namespace, use.image
        ref = _parse(use.image)
        runs = _running_ref(ref, use.running) if ref is not None else None
        if runs is not None:
            yield use.namespace, runs


def _parse(image: str) -> Reference | None:
    try:
        return Reference.parse(image)
    except InvalidReferenceError:
        return None


def _running_ref(ref: Reference | None, running: str | None) -> str | None:
    if ref is None or running is None:
        return None
    try:
        return str(ref.with_digest(Digest.parse(running)))
    except (InvalidDigestError, InvalidReferenceError):
        return None


def _decision_findings(decision: Decision) -> list[tuple[str, str, dict[str, Any], Severity | None]]:
    """(rule, message, evidence, severity override) for what the engine said about the image that runs."""
    base = {"verified": decision.image, "outcome": decision.outcome.value, "code": decision.code}
    if decision.code == Reason.EXEMPT:
        return []
    if decision.code in (Reason.NO_MATCH, Reason.REGISTRY_NOT_ALLOWED):
        severity = Severity.LOW if decision.outcome is Outcome.ALLOW else None
        return [("SG007", decision.reason, base, severity)]
    if not decision.results and decision.outcome is Outcome.DENY:
        rule = "SG009" if decision.code.startswith("REFERENCE") else "SG008"
        return [(rule, decision.reason, base, None)]
    out = []
    for result in decision.results:
        if result.passed:
            continue
        rule = _rule_for(result)
        severity = Severity.LOW if result.mode != "enforce" and rule not in ("SG008",) else None
        evidence: dict[str, Any] = {**base, "policy": result.policy, "mode": result.mode, "code": result.code}
        if result.authorities:
            evidence["verifiedAuthorities"] = list(result.authorities)
        out.append((rule, f'policy "{result.policy}": {result.reason}', evidence, severity))
    return out


def _rule_for(result: PolicyResult) -> str:
    code = result.code
    if code.startswith("REGISTRY_") or code in _NOT_CHECKED:
        return "SG008"
    if "SBOM" in code:
        return "SG006"
    if code.startswith("ATTESTATION") or result.reason.startswith("no verified "):
        return "SG005"
    return "SG004"


async def _bounded(jobs: Iterable[Awaitable[None]], limit: int) -> None:
    """Run awaitables with at most ``limit`` in flight (the engine bounds each registry further)."""
    gate = asyncio.Semaphore(limit)

    async def run(job: Awaitable[None]) -> None:
        async with gate:
            await job

    await asyncio.gather(*(run(j) for j in jobs))
