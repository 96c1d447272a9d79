"""Namespace labels from the Kubernetes API, for policies that select namespaces by label.

An AdmissionReview carries the namespace's name, not its labels; this reads ``GET /api/v1/namespaces/<name>``
through :mod:`verifier.kubeapi` (in-cluster service account, or a URL with a token file and CA) and keeps each
answer for a short TTL. Any failure is a :class:`~verifier.errors.SealgateError`, which the engine turns into
a denial (fail closed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from verifier.errors import Reason, SealgateError
from verifier.kubeapi import RESOURCES, KubeClient
from webhook.settings import WebhookSettings

__all__ = ["KubeNamespaceLabels", "NamespaceLookupError"]


class NamespaceLookupError(SealgateError):
    code = Reason.NAMESPACE_LOOKUP_FAILED


class KubeNamespaceLabels:
    """``await labels("prod") -> {"env": "prod", ...}`` (None when the namespace does not exist)."""

    def __init__(self, client: KubeClient, *, ttl: float = 30.0) -> None:
        self._client = client
        self._ttl = ttl
        self._cache: dict[str, tuple[float, Mapping[str, str] | None]] = {}

    @classmethod
    def from_settings(cls, settings: WebhookSettings) -> KubeNamespaceLabels:
        if settings.kube_api == "in-cluster":
            client = KubeClient.in_cluster()
        else:
            client = KubeClient.from_url(
                settings.kube_api, token_file=settings.kube_token_file, ca_file=settings.kube_ca_file
            )
        return cls(client, ttl=settings.namespace_labels_ttl_seconds)

    async def __call__(self, name: str) -> Mapping[str, str] | None:
        now = time.monotonic()
        cached = self._cache.get(name)
        if cached is not None and cached[0] > now:
            return cached[1]
        labels = await asyncio.to_thread(self._fetch, name)
        self._cache[name] = (now + self._ttl, labels)
        return labels

    def _fetch(self, name: str) -> Mapping[str, str] | None:
        namespace = self._client.get(RESOURCES["namespaces"].path(None, name))
        if namespace is None:
            return None
        metadata = namespace.get("metadata")
        labels = (metadata.get("labels") if isinstance(metadata, dict) else None) or {}
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise NamespaceLookupError(f"namespace {name!r} has malformed labels")
        return labels

    async def aclose(self) -> None:
        self._client.close()
