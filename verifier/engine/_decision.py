"""Decisions are data: what the engine found, from which every denial, warning, report and metric is rendered."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from verifier.errors import Reason

__all__ = ["Decision", "Evidence", "Outcome", "PolicyResult"]


class Outcome(StrEnum):
    ALLOW = "allow"
    WARN = "warn"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One signature or attestation the judge looked at for one authority, and its verdict."""

    kind: str  # signature | attestation
    authority: str
    layout: str  # legacy-sig, legacy-att, referrers, fallback-tag
    digest: str  # the layer's or bundle's digest
    code: str  # OK, or why it was rejected
    reason: str
    #: a verified attestation's in-toto statement (kept by callers that ask for it: Engine(keep_statements=True))
    statement: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def verified(self) -> bool:
        return self.code == Reason.OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "authority": self.authority,
            "layout": self.layout,
            "digest": self.digest,
            "verified": self.verified,
            "code": self.code,
            "reason": self.reason,
            "statement": None if self.statement is None else dict(self.statement),
        }


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """One policy's verdict on one image."""

    policy: str
    mode: str  # enforce | warn
    passed: bool
    code: str  # OK, or the reason code (NO_SIGNATURES, SIGNATURE_INVALID, REGISTRY_UNAVAILABLE, ...)
    reason: str  # one human line
    #: the authorities counted toward the threshold (each verified by a distinct signer)
    authorities: tuple[str, ...] = ()
    #: every signature and attestation judged, with its verdict
    evidence: tuple[Evidence, ...] = ()
    #: a failure's lines when one reason is not enough (each SBOM component a rule denies), else empty
    details: tuple[str, ...] = ()
    #: what passed or failed with a warning (SBOM warn rules): shown, never deciding
    warnings: tuple[str, ...] = ()
    #: when a pass stops holding by itself (an SBOM's maxAge runs out): the verdict is cached no longer than this
    fresh_until: dt.datetime | None = None

    def lines(self) -> tuple[str, ...]:
        """The failure, one line each (``details`` when there are, else ``reason``)."""
        return self.details or (self.reason,)

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "mode": self.mode,
            "passed": self.passed,
            "code": self.code,
            "reason": self.reason,
            "authorities": list(self.authorities),
            "evidence": [e.to_dict() for e in self.evidence],
            "details": list(self.details),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer for one image reference."""

    image: str  # exactly as asked
    outcome: Outcome
    code: str  # OK, or the code of the deciding failure
    reason: str  # one human line
    reference: str | None = None  # normalised reference
    digest: str | None = None
    resolved_from_tag: str | None = None
    results: tuple[PolicyResult, ...] = ()
    #: every policy result came from the cache (no registry request was made)
    cached: bool = False

    @property
    def allowed(self) -> bool:
        return self.outcome is not Outcome.DENY

    def failures(self, mode: str | None = None) -> list[PolicyResult]:
        return [r for r in self.results if not r.passed and (mode is None or r.mode == mode)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "outcome": self.outcome.value,
            "code": self.code,
            "reason": self.reason,
            "reference": self.reference,
            "digest": self.digest,
            "resolvedFromTag": self.resolved_from_tag,
            "cached": self.cached,
            "results": [r.to_dict() for r in self.results],
        }
