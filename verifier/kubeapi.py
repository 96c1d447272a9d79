"""The one way sealgate talks to the Kubernetes API (``sealgate audit`` and the webhook's namespace labels).

Configuration and credentials come from the ``kubernetes`` package (kubeconfig files and contexts, in-cluster
service accounts, bearer tokens, client certificates, exec credential plugins); requests go through its
``ApiClient`` with ``_preload_content=False`` and the bodies are parsed with orjson, because model objects
are slow at 10,000 pods. Lists are paginated (``limit``/``continue``); a 410 Gone (expired continue token)
restarts the list once, skipping objects already returned.

    client = KubeClient.from_kubeconfig("~/.kube/config", context="prod")
    for pod in client.objects(RESOURCES["pods"], namespace="payments"):
        ...                                                    # plain dicts, with kind and apiVersion
    labels = client.get("/api/v1/namespaces/payments")         # dict, or None for 404
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import urllib3
import yaml
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException
from kubernetes.config import ConfigException
from kubernetes.config.incluster_config import InClusterConfigLoader
from kubernetes.config.kube_config import list_kube_config_contexts, load_kube_config

from verifier.errors import ConfigError, Reason, SealgateError
from verifier.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "RESOURCES",
    "SERVICE_ACCOUNT",
    "KubeClient",
    "KubeConfigError",
    "KubeError",
    "KubeForbiddenError",
    "KubeUnavailableError",
    "Resource",
    "default_kubeconfig",
    "is_namespace_name",
    "kubeconfig_contexts",
]

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_IN_CLUSTER = "in-cluster"
#: what Kubernetes accepts as a namespace (an RFC 1123 label) and as an object name (an RFC 1123 subdomain):
#: checked before either becomes part of a URL path, so a name can never add a segment or a query
_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_SUBDOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?")


def is_namespace_name(text: str) -> bool:
    """Whether Kubernetes would accept ``text`` as a namespace's name (an RFC 1123 label)."""
    return _LABEL.fullmatch(text) is not None


class KubeError(SealgateError):
    """The Kubernetes API answered something unusable (an unexpected status, a malformed body)."""

    code = Reason.KUBE_API_ERROR


class KubeUnavailableError(KubeError):
    """The API server could not be reached (connection refused, timeout, TLS failure)."""

    code = Reason.KUBE_UNAVAILABLE


class KubeForbiddenError(KubeError):
    """401 (credentials rejected: expired or wrong token, unknown certificate) or 403 (RBAC forbids it)."""

    code = Reason.KUBE_FORBIDDEN

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class KubeConfigError(ConfigError):
    """A kubeconfig that cannot be used: missing file or context, broken credentials, failing exec plugin."""

    code = Reason.KUBECONFIG_INVALID


@dataclass(frozen=True, slots=True)
class Resource:
    """A listable resource: ``Resource("apps", "v1", "deployments", "Deployment")``."""

    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None, name: str | None = None) -> str:
        """The collection's path (in ``namespace``), or one object's with ``name``; :class:`KubeError` when
        either is not a valid Kubernetes name."""
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace and not is_namespace_name(namespace):
            raise KubeError(f"{namespace[:80]!r} is not a valid namespace name (an RFC 1123 label)")
        if name is not None and not _SUBDOMAIN.fullmatch(name):
            raise KubeError(f"{name[:80]!r} is not a valid {self.kind} name (an RFC 1123 subdomain)")
        collection = f"{root}/namespaces/{namespace}/{self.plural}" if namespace else f"{root}/{self.plural}"
        return f"{collection}/{name}" if name is not None else collection


RESOURCES: dict[str, Resource] = {
    r.plural: r
    for r in (
        Resource("", "v1", "pods", "Pod"),
        Resource("", "v1", "replicationcontrollers", "ReplicationController"),
        Resource("apps", "v1", "deployments", "Deployment"),
        Resource("apps", "v1", "replicasets", "ReplicaSet"),
        Resource("apps", "v1", "statefulsets", "StatefulSet"),
        Resource("apps", "v1", "daemonsets", "DaemonSet"),
        Resource("batch", "v1", "jobs", "Job"),
        Resource("batch", "v1", "cronjobs", "CronJob"),
        Resource("", "v1", "namespaces", "Namespace"),
    )
}


def default_kubeconfig() -> str:
    """``$KUBECONFIG`` (possibly several paths) or ``~/.kube/config``."""
    return os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())


def kubeconfig_contexts(path: str) -> tuple[list[str], str | None]:
    """(every context name in the kubeconfig, the current context or None)."""
    try:
        contexts, current = list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError, ValueError, TypeError, AttributeError, yaml.YAMLError) as exc:
        raise KubeConfigError(f"kubeconfig {path}: {_one_line(exc)}") from None
    names = [c["name"] for c in contexts if isinstance(c, dict) and isinstance(c.get("name"), str)]
    return names, current.get("name") if isinstance(current, dict) else None


class KubeClient:
    """GET and paginated LIST against one API server; every failure is a :class:`KubeError`."""

    def __init__(self, configuration: Configuration, *, name: str, limits: Limits = DEFAULT_LIMITS) -> None:
        configuration.retries = False  # one answer per request: failures are reported, not hidden by retries
        self.name = name
        self.host = str(configuration.host)
        self.requests = 0
        self._limits = limits
        self._api = ApiClient(configuration)

    # --- construction --------------------------------------------------------------------------------

    @classmethod
    def from_kubeconfig(cls, path: str, context: str | None = None, *, limits: Limits = DEFAULT_LIMITS) -> KubeClient:
        """The cluster, user and credentials of ``context`` (the current context when None)."""
        configuration = Configuration()
        where = f"context {context!r} of kubeconfig {path}" if context else f"kubeconfig {path}"
        logged = _ErrorsLogged()  # the kubernetes package logs a failing exec plugin instead of raising
        root = logging.getLogger()
        root.addHandler(logged)
        try:
            load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path, context=context, client_configuration=configuration, persist_config=False
            )
        except (ConfigException, OSError, ValueError, TypeError, AttributeError, KeyError, yaml.YAMLError) as exc:
            raise KubeConfigError(f"{where}: {_one_line(exc)}") from None
        finally:
            root.removeHandler(logged)
        if logged.messages:
            raise KubeConfigError(f"{where}: credential plugin failed: {_one_line(logged.messages[0])}")
        if context is None:
            context = kubeconfig_contexts(path)[1] or "default"
        return cls(configuration, name=context, limits=limits)

    @classmethod
    def in_cluster(cls, *, account: Path = SERVICE_ACCOUNT, limits: Limits = DEFAULT_LIMITS) -> KubeClient:
        """The pod's service account (token re-read as the kubelet rotates it) and the cluster CA."""
        configuration = Configuration()
        try:
            loader = InClusterConfigLoader(  # type: ignore[no-untyped-call]
                token_filename=str(account / "token"), cert_filename=str(account / "ca.crt")
            )
            loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError) as exc:
            raise KubeConfigError(f"in-cluster configuration: {_one_line(exc)}") from None
        return cls(configuration, name=_IN_CLUSTER, limits=limits)

    @classmethod
    def from_url(
        cls, url: str, *, token_file: str | None = None, ca_file: str | None = None, limits: Limits = DEFAULT_LIMITS
    ) -> KubeClient:
        """An API server URL with an optional bearer-token file (re-read on every request) and CA bundle."""
        configuration = Configuration(host=url.rstrip("/"))
        if ca_file:
            configuration.ssl_ca_cert = ca_file
        if token_file:
            configuration.api_key["BearerToken"] = ""  # filled by the hook before each request
            configuration.refresh_api_key_hook = _token_reader(token_file)  # type: ignore[assignment]
        return cls(configuration, name=url, limits=limits)

    # --- requests ------------------------------------------------------------------------------------

    def get(self, path: str) -> dict[str, Any] | None:
        """The object at ``path``; None when the API answers 404."""
        status, body = self._request(path, [])
        if status == 404:
            return None
        return self._document(path, status, body)

    def apply(self, path: str, document: dict[str, Any], *, field_manager: str = "sealgate") -> dict[str, Any]:
        """Server-side apply ``document`` at ``path`` (created when absent, sealgate's fields replaced when not;
        ``force`` takes over fields another manager set). The answer is the object as stored. A 404 means
        the resource type (a CRD) or the namespace does not exist: :class:`KubeError` naming ``path``."""
        query: list[tuple[str, Any]] = [("fieldManager", field_manager), ("force", "true")]
        status, body = self._request(
            path, query, method="PATCH", body=orjson.dumps(document), content_type="application/apply-patch+yaml"
        )
        if status == 404:
            raise KubeError(f"{self.name}: {path}: HTTP 404: not found{_status_message(body)}")
        if status == 201:
            status = 200  # created
        return self._document(path, status, body)

    def objects(
        self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every object of ``resource`` (in ``namespace``, or cluster-wide), page by page.

        Items carry ``kind`` and ``apiVersion`` (a list's items do not). A 410 Gone on a continue token
        restarts the list once; objects already returned are skipped by uid.
        """
        path = resource.path(namespace)
        seen: set[str] = set()
        restarted = False
        token: str | None = None
        while True:
            query: list[tuple[str, Any]] = [("limit", self._limits.kube_page_size)]
            if label_selector:
                query.append(("labelSelector", label_selector))
            if token:
                query.append(("continue", token))
            status, body = self._request(path, query)
            if status == 410 and token and not restarted:
                restarted, token = True, None
                continue
            page = self._document(path, status, body)
            items = page.get("items")
            if not isinstance(items, list):
                raise KubeError(f"{self.name}: {path} is not a list (no items)")
            for item in items:
                if not isinstance(item, dict):
                    continue
                uid = _uid(item)
                if uid in seen:
                    continue
                seen.add(uid)
                item.setdefault("kind", resource.kind)
                item.setdefault("apiVersion", resource.api_version)
                yield item
            metadata = page.get("metadata")
            token = metadata.get("continue") if isinstance(metadata, dict) else None
            if not token or not isinstance(token, str):
                return

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]

    # --- internals -----------------------------------------------------------------------------------

    def _request(
        self,
        path: str,
        query: list[tuple[str, Any]],
        *,
        method: str = "GET",
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> tuple[int, bytes]:
        self.requests += 1
        timeout = (self._limits.connect_timeout, self._limits.read_timeout)
        headers = {"Accept": "application/json"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        try:
            request = self._api.param_serialize(
                method,
                path,
                query_params=query,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self._api.call_api(*request, _request_timeout=timeout)
            raw = response.response
            body = raw.read(self._limits.max_kube_page_bytes + 1, decode_content=True)
            raw.release_conn()
        except ApiException as exc:  # TLS failures surface as status 0
            raise KubeUnavailableError(f"{self.name}: Kubernetes API unavailable: {_one_line(exc)}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeUnavailableError(f"{self.name}: Kubernetes API unavailable: {type(exc).__name__}") from None
        except (ConfigException, ValueError) as exc:  # an exec plugin or token file that fails on refresh
            raise KubeConfigError(f"{self.name}: credentials: {_one_line(exc)}") from None
        if len(body) > self._limits.max_kube_page_bytes:
            raise KubeError(f"{self.name}: {path} answered more than max_kube_page_bytes")
        return int(response.status), body

    def _document(self, path: str, status: int, body: bytes) -> dict[str, Any]:
        if status in (401, 403):
            what = "credentials rejected (expired or wrong token?)" if status == 401 else "forbidden by RBAC"
            message = f"{self.name}: {path}: HTTP {status}: {what}{_status_message(body)}"
            raise KubeForbiddenError(message, status=status)
        if status != 200:
            raise KubeError(f"{self.name}: Kubernetes API answered HTTP {status} for {path}{_status_message(body)}")
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise KubeError(f"{self.name}: {path}: malformed JSON") from None
        if not isinstance(document, dict):
            raise KubeError(f"{self.name}: {path}: not a JSON object")
        return document


class _ErrorsLogged(logging.Handler):
    """Collects the errors the kubernetes package logs while it loads a kubeconfig."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _token_reader(token_file: str) -> Callable[[Configuration], None]:
    def refresh(configuration: Configuration) -> None:
        try:
            token = Path(token_file).read_text().strip()
        except OSError as exc:
            raise KubeConfigError(f"cannot read Kubernetes token {token_file}: {exc.strerror}") from None
        configuration.api_key["BearerToken"] = f"Bearer {token}"

    return refresh


def _uid(item: dict[str, Any]) -> str:
    metadata = item.get("metadata")
    if not isinstance(metadata, dict):
        return ""
    uid = metadata.get("uid")
    return uid if isinstance(uid, str) else f"{metadata.get('namespace')}/{metadata.get('name')}"


def _status_message(body: bytes) -> str:
    """``: <message>`` from a Kubernetes Status body, shortened; "" when there is none."""
    try:
        message = orjson.loads(body).get("message")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return f": {_one_line(message)[:200]}" if isinstance(message, str) and message else ""


def _one_line(exc: object) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__
