"""What an audit finds: rules with stable ids, findings, problems, and the report that holds them."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

__all__ = [
    "REPORT_API_VERSION",
    "RULES",
    "AuditReport",
    "ClusterSummary",
    "Finding",
    "Rule",
    "Severity",
    "Workload",
]

REPORT_API_VERSION = "sealgate.dev/audit/v1"


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    severity: Severity
    title: str
    help: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "SG001", "mutable-tag", Severity.MEDIUM, "Image referenced by a mutable tag",
            "The spec names the image by tag, not by digest: what runs can change without a change to the spec. "
            "Pin images by digest (image@sha256:...).",
        ),
        Rule(
            "SG002", "tag-drift", Severity.HIGH, "Tag now points at another digest than the one running",
            "The tag in the spec resolves today to a digest other than the one the node pulled: the running "
            "container is not what a new pod would get. Redeploy, or pin by digest.",
        ),
        Rule(
            "SG003", "digest-mismatch", Severity.CRITICAL, "Running digest differs from the pinned digest",
            "The spec pins a digest but the container runs another one (status.containerStatuses[].imageID). "
            "Investigate the node and the registry mirror that served it.",
        ),
        Rule(
            "SG004", "signature", Severity.HIGH, "Image unsigned or no signature verifies under the policy",
            "No signature of the running image satisfies a policy that matches it; the evidence carries the "
            "engine's reason. Sign the image (sealgate sign / cosign sign) with a key or identity the policy trusts.",
        ),
        Rule(
            "SG005", "attestation", Severity.HIGH, "Required attestation missing or failing",
            "A policy requires an attestation (for example an SBOM) that is missing, unverifiable or not signed by "
            "a trusted authority. Attest the image (sealgate attest / cosign attest).",
        ),
        Rule(
            "SG006", "sbom-rule", Severity.HIGH, "SBOM rule violated",
            "The image's SBOM attestation verifies but breaks a rule of the policy (denied package or licence).",
        ),
        Rule(
            "SG007", "no-match", Severity.MEDIUM, "No policy covers the image's registry",
            "No policy matches the image (noMatch), or its registry is not named by any policy: sealgate would not "
            "verify it. Add a policy for the registry or stop using it.",
        ),
        Rule(
            "SG008", "not-checked", Severity.MEDIUM, "Image could not be checked",
            "sealgate could not verify the image (registry unavailable, authentication failed, content missing, "
            "namespace labels unreadable). This is not a pass: check again when the cause is fixed.",
        ),
        Rule(
            "SG009", "invalid-image", Severity.HIGH, "Image reference is empty or invalid",
            "The container's image is missing or does not parse as an image reference.",
        ),
        Rule(
            "SG010", "not-audited", Severity.MEDIUM, "Cluster or namespace could not be listed",
            "The Kubernetes API refused or failed a list (unreachable cluster, expired credentials, RBAC "
            "forbidden): nothing there was audited. Grant list on pods and workloads, or fix the credentials.",
        ),
        Rule(
            "SG011", "not-running", Severity.INFO, "Running digest unknown",
            "The pod reports no imageID for the container (pending, pulling, or failing to pull), or one without a "
            "registry digest (an image built on the node): the running digest could not be compared with the spec.",
        ),
    )
}


@dataclass(frozen=True, slots=True, order=True)
class Workload:
    """The object a finding belongs to: the top-level owner of a pod, or the workload whose template it is."""

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: Severity
    cluster: str
    namespace: str
    workload: Workload
    container: str
    container_type: str  # containers | initContainers | ephemeralContainers | "" (namespace / cluster problems)
    image: str  # as the spec writes it
    message: str
    digest: str | None = None  # the running digest, when known
    evidence: dict[str, Any] = field(default_factory=dict)
    pods: tuple[str, ...] = ()

    @property
    def rule_info(self) -> Rule:
        return RULES[self.rule]

    @property
    def fingerprint(self) -> str:
        """Stable across runs for the same problem in the same place (SARIF partialFingerprints, JSON ids)."""
        key = "\0".join(
            (self.rule, self.cluster, self.namespace, self.workload.kind, self.workload.name, self.container,
             self.image, self.digest or "")
        )
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def sort_key(self) -> tuple[Any, ...]:
        return (-self.severity, self.rule, self.cluster, self.namespace, self.workload, self.container, self.image)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.fingerprint,
            "rule": self.rule,
            "ruleName": self.rule_info.name,
            "severity": self.severity.label,
            "cluster": self.cluster,
            "namespace": self.namespace,
            "workload": {"kind": self.workload.kind, "name": self.workload.name},
            "container": self.container,
            "containerType": self.container_type,
            "image": self.image,
            "digest": self.digest,
            "message": self.message,
            "evidence": self.evidence,
            "pods": list(self.pods),
        }


@dataclass(slots=True)
class ClusterSummary:
    name: str
    server: str
    status: str = "audited"  # audited | partial | unreachable
    error: str | None = None
    namespaces: int = 0
    pods: int = 0
    workloads: int = 0
    containers: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "server": self.server,
            "status": self.status,
            "error": self.error,
            "namespaces": self.namespaces,
            "pods": self.pods,
            "workloads": self.workloads,
            "containers": self.containers,
        }


@dataclass(slots=True)
class AuditReport:
    generated_at: str
    version: str
    clusters: list[ClusterSummary]
    findings: list[Finding]
    images: int = 0  # distinct image references checked
    digests: int = 0  # distinct digests verified
    verifications: int = 0  # attachment look-ups made (one per distinct digest and attestation need)
    policies: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        found = Counter(f.severity for f in self.findings)
        return {s.label: found.get(s, 0) for s in sorted(Severity, reverse=True)}

    def by_rule(self) -> dict[str, int]:
        found = Counter(f.rule for f in self.findings)
        return {rule: found[rule] for rule in sorted(found)}

    def by_namespace(self) -> dict[str, int]:
        found = Counter(f.namespace or "(cluster)" for f in self.findings)
        return dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))

    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "apiVersion": REPORT_API_VERSION,
            "kind": "AuditReport",
            "generatedAt": self.generated_at,
            "tool": {"name": "sealgate", "version": self.version},
            "policies": list(self.policies),
            "clusters": [c.to_dict() for c in self.clusters],
            "summary": {
                "findings": len(self.findings),
                "bySeverity": self.counts(),
                "byRule": self.by_rule(),
                "byNamespace": self.by_namespace(),
                "images": self.images,
                "digests": self.digests,
                "verifications": self.verifications,
            },
            "rules": [
                {"id": r.id, "name": r.name, "severity": r.severity.label, "title": r.title, "help": r.help}
                for r in RULES.values()
            ],
            "findings": [f.to_dict() for f in self.findings],
        }
