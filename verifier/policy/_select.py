"""Namespace selection: name globs and Kubernetes label selectors, compiled once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier.errors import Reason, SealgateError
from verifier.policy._glob import NamespaceGlob
from verifier.policy._models import NamespaceSelector

__all__ = ["CompiledNamespaceSelector", "LabelRequirement", "NamespaceLabelsRequired"]


class NamespaceLabelsRequired(SealgateError):
    """A policy selects namespaces by label and the caller did not give the namespace's labels.

    Not a failure: the caller fetches the labels (or checks ``uses_namespace_labels`` up front) and asks again.
    """

    code = Reason.NAMESPACE_LABELS_REQUIRED


@dataclass(frozen=True, slots=True)
class LabelRequirement:
    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist
    values: frozenset[str]

    def holds(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "In":
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not present or labels[self.key] not in self.values
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        return False  # unreachable: the model admits only the four operators; fail closed anyway


@dataclass(frozen=True, slots=True)
class CompiledNamespaceSelector:
    """Every part given must hold: the name matches an ``include`` glob (none given = any name), no
    ``exclude`` glob, every ``matchLabels`` pair and every ``matchExpressions`` requirement."""

    include: tuple[NamespaceGlob, ...] = ()
    exclude: tuple[NamespaceGlob, ...] = ()
    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[LabelRequirement, ...] = ()

    @classmethod
    def compile(cls, model: NamespaceSelector) -> CompiledNamespaceSelector:
        return cls(
            include=tuple(NamespaceGlob.parse(p) for p in model.include),
            exclude=tuple(NamespaceGlob.parse(p) for p in model.exclude),
            match_labels=tuple(sorted(model.match_labels.items())),
            match_expressions=tuple(
                LabelRequirement(r.key, r.operator, frozenset(r.values or ())) for r in model.match_expressions
            ),
        )

    @property
    def uses_labels(self) -> bool:
        return bool(self.match_labels or self.match_expressions)

    def applies(self, name: str, labels: Mapping[str, str] | None) -> bool:
        """Does the selector select namespace ``name``?

        The name globs are checked first, so a namespace they rule out never needs its labels. When labels are
        needed and ``labels`` is None (unknown), :class:`NamespaceLabelsRequired` is raised.
        """
        if self.include and not any(g.matches(name) for g in self.include):
            return False
        if any(g.matches(name) for g in self.exclude):
            return False
        if not self.uses_labels:
            return True
        if labels is None:
            raise NamespaceLabelsRequired(f"labels of namespace {name!r} are needed to select policies")
        if any(labels.get(k) != v for k, v in self.match_labels):
            return False
        return all(r.holds(labels) for r in self.match_expressions)

    def canonical(self) -> dict[str, Any]:
        """A JSON-ready form for hashing."""
        return {
            "include": [g.text for g in self.include],
            "exclude": [g.text for g in self.exclude],
            "matchLabels": dict(self.match_labels),
            "matchExpressions": [
                {"key": r.key, "operator": r.operator, "values": sorted(r.values)} for r in self.match_expressions
            ],
        }
