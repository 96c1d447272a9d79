"""Namespace labels from the Kubernetes API, for policies that select namespaces by label.

An AdmissionReview carries the namespace's name, not its labels; this reads ``GET /api/v1/namespaces/<name>``
(in-cluster service account, or a URL with a token file and CA) and keeps each answer for a short TTL. Any
failure is a :class:`~verifier.errors.SealgateError`, which the engine turns into a denial (fail closed).
"""

from __future__ import annotations

import logging
import os
import ssl
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from verifier.errors import ConfigError, RegistryUnavailableError, SealgateError
from webhook.settings import WebhookSettings

__all__ = ["KubeNamespaceLabels", "NamespaceLookupError"]

_logger = logging.getLogger(__name__)

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class NamespaceLookupError(SealgateError):
    code = "NAMESPACE_LOOKUP_FAILED"


class KubeNamespaceLabels:
    """``await labels("prod") -> {"env": "prod", ...}`` (None when the namespace does not exist)."""

    def __init__(
        self, api_url: str, *, token_file: str | None, ca_file: str | None, ttl: float = 30.0, timeout: float = 3.0
    ) -> None:
        self._api = api_url.rstrip("/")
        self._token_file = token_file
        self._ttl = ttl
        verify = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._http = httpx.AsyncClient(verify=verify, timeout=timeout, follow_redirects=False)
        self._cache: dict[str, tuple[float, Mapping[str, str] | None]] = {}

    @classmethod
    def from_settings(cls, settings: WebhookSettings) -> KubeNamespaceLabels:
        if settings.kube_api == "in-cluster":
            host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
            if not host:
                raise ConfigError("kube_api is in-cluster but KUBERNETES_SERVICE_HOST is not set")
            return cls(
                f"https://{host}:{port}",
                token_file=str(SERVICE_ACCOUNT / "token"),
                ca_file=str(SERVICE_ACCOUNT / "ca.crt"),
                ttl=settings.namespace_labels_ttl_seconds,
            )
        return cls(
            settings.kube_api,
            token_file=settings.kube_token_file,
            ca_file=settings.kube_ca_file,
            ttl=settings.namespace_labels_ttl_seconds,
        )

    async def __call__(self, name: str) -> Mapping[str, str] | None:
        now = time.monotonic()
        cached = self._cache.get(name)
        if cached is not None and cached[0] > now:
            return cached[1]
        labels = await self._fetch(name)
        self._cache[name] = (now + self._ttl, labels)
        return labels

    async def _fetch(self, name: str) -> Mapping[str, str] | None:
        headers = {"Accept": "application/json"}
        if self._token_file:
            try:
                headers["Authorization"] = f"Bearer {Path(self._token_file).read_text().strip()}"
            except OSError as exc:
                raise NamespaceLookupError(f"cannot read Kubernetes token {self._token_file}: {exc.strerror}") from None
        try:
            response = await self._http.get(f"{self._api}/api/v1/namespaces/{name}", headers=headers)
        except httpx.HTTPError as exc:
            raise RegistryUnavailableError(f"Kubernetes API unavailable: {type(exc).__name__}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise NamespaceLookupError(f"Kubernetes API answered HTTP {response.status_code} for namespace {name!r}")
        try:
            labels = response.json().get("metadata", {}).get("labels") or {}
        except (ValueError, AttributeError):
            raise NamespaceLookupError(f"Kubernetes API sent a malformed namespace {name!r}") from None
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise NamespaceLookupError(f"namespace {name!r} has malformed labels")
        return labels

    async def aclose(self) -> None:
        await self._http.aclose()
