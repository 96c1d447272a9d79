"""Writing the audit's PolicyReports into the cluster it audited (``sealgate audit --write-reports``).

Each report is server-side applied (``PATCH`` with ``application/apply-patch+yaml``, field manager
``sealgate``): the API server creates it on the first run and replaces sealgate's fields on the next, with no
read-modify-write race and no resourceVersion to carry. Names are stable (``sealgate-audit`` per namespace, a
``ClusterPolicyReport`` per cluster), so a run replaces the previous run's reports. A namespace that had
findings and has none now keeps a report, emptied: sealgate lists the reports carrying its label and applies
an empty one over each it did not write this time, so no stale failure stays visible.

A missing CRD (404) or a missing permission (403) is a :class:`KubeError` that says which, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verifier.kubeapi import KubeClient, KubeError, KubeForbiddenError, Resource

from ._policyreport import API_VERSION, MANAGED_BY, report_document

__all__ = ["ReportWriteError", "ReportsWritten", "write_policyreports"]

_GROUP, _VERSION = API_VERSION.split("/")
_NAMESPACED = Resource(_GROUP, _VERSION, "policyreports", "PolicyReport")
_CLUSTER = Resource(_GROUP, _VERSION, "clusterpolicyreports", "ClusterPolicyReport")
_CRD_HINT = (
    "the wgpolicyk8s.io/v1alpha2 PolicyReport CRDs are not installed (install them, e.g. with Kyverno or "
    "kubernetes-sigs/wg-policy-prototypes' policy-report CRDs)"
)


class ReportWriteError(KubeError):
    """The reports could not be written (CRDs missing, RBAC, API errors): a set-up problem, exit code 2."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class ReportsWritten:
    written: int  # reports applied with this run's results
    emptied: int  # earlier sealgate reports whose namespace has no finding any more


def _path(kind: str, name: str, namespace: str) -> str:
    resource = _NAMESPACED if kind == "PolicyReport" else _CLUSTER
    return resource.path(namespace or None, name)


def _apply(client: KubeClient, document: dict[str, Any]) -> None:
    metadata = document["metadata"]
    try:
        client.apply(_path(document["kind"], metadata["name"], metadata.get("namespace", "")), document)
    except KubeForbiddenError as exc:
        raise ReportWriteError(
            f"{exc.message} (writing reports needs list, create and patch on policyreports and "
            "clusterpolicyreports in wgpolicyk8s.io)"
        ) from None
    except KubeError as exc:
        if "HTTP 404" not in exc.message:
            raise ReportWriteError(exc.message) from None
        namespace = metadata.get("namespace")
        gone = f", or namespace {namespace!r} is gone" if namespace else ""
        raise ReportWriteError(f"{exc.message}: {_CRD_HINT}{gone}") from None


def write_policyreports(
    client: KubeClient, documents: list[dict[str, Any]], *, namespaces: list[str] | None, complete: bool
) -> ReportsWritten:
    """Apply ``documents`` (one cluster's reports, as :func:`policyreport_documents` makes them) and empty the
    sealgate reports of that cluster that this run did not write - only where the run looked (``namespaces``,
    None for all) and only when it saw everything there (``complete``): a namespace it could not read keeps
    its last report."""
    wanted = {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]) for d in documents}
    for document in sorted(documents, key=lambda d: d["kind"] != "ClusterPolicyReport"):  # CRD check first
        _apply(client, document)
    selector = "=".join(MANAGED_BY)
    emptied = 0
    if not complete:
        return ReportsWritten(len(documents), emptied)
    for resource in (_NAMESPACED, _CLUSTER):
        try:
            existing = list(client.objects(resource, label_selector=selector))
        except KubeError as exc:
            hint = f": {_CRD_HINT}" if "HTTP 404" in exc.message else ""
            raise ReportWriteError(f"{exc.message}{hint}") from None
        for item in existing:
            metadata = item.get("metadata")
            if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
                continue
            key = (resource.kind, str(metadata.get("namespace") or ""), metadata["name"])
            if key in wanted or (namespaces is not None and key[1] not in namespaces):
                continue
            empty_metadata = {"name": key[2], "labels": dict([MANAGED_BY])}
            if key[1]:
                empty_metadata["namespace"] = key[1]
            annotations = metadata.get("annotations")
            if isinstance(annotations, dict):
                empty_metadata["annotations"] = {k: v for k, v in annotations.items() if k.startswith("sealgate.dev/")}
            _apply(client, report_document(resource.kind, empty_metadata, []))
            emptied += 1
    return ReportsWritten(len(documents), emptied)
