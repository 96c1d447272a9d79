"""Process-level settings of the webhook server (environment ``SEALGATE_*`` or constructor arguments).

Policy-level behaviour (noMatch, deadline, cache TTLs, exemptions, insecure registries) lives in the policy
files' ``kind: Settings`` document, so it travels with the policies; this object says where those files and
the TLS material are and how the process itself behaves.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from verifier.limits import DEFAULT_LIMITS

__all__ = ["WebhookSettings"]


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEALGATE_", extra="forbid", frozen=True)

    #: policy files or folders (loaded at start-up; a broken file stops start-up with its errors)
    policy_paths: tuple[str, ...] = Field(default=(), min_length=1)
    #: largest AdmissionReview body accepted (default: ``Limits.max_request_bytes``)
    max_body_bytes: int = Field(default=DEFAULT_LIMITS.max_request_bytes, gt=0)
    #: largest body read at all; one above ``max_body_bytes`` but within this is denied by uid (an AdmissionReview
    #: naming the limit), one above it gets HTTP 413 (``Limits.max_oversized_request_bytes``)
    max_read_bytes: int = Field(default=DEFAULT_LIMITS.max_oversized_request_bytes, gt=0)
    #: most images verified for one request; more is a denial naming the limit (``Limits.max_images_per_request``)
    max_images_per_request: int = Field(default=DEFAULT_LIMITS.max_images_per_request, gt=0)
    #: extra CA bundle for registry TLS
    registry_ca_bundle: str | None = None
    #: docker config.json with registry credentials (default: $DOCKER_CONFIG or ~/.docker/config.json)
    docker_config: str | None = None
    #: Kubernetes API for namespace labels: "in-cluster", a URL, or "" for none (label selectors then fail closed)
    kube_api: str = ""
    kube_token_file: str | None = None
    kube_ca_file: str | None = None
    #: how long namespace labels are reused, in seconds
    namespace_labels_ttl_seconds: float = Field(default=30.0, ge=0)
