"""A loopback Kubernetes API-server double that speaks the real list API, for ``sealgate audit`` tests.

Objects are kubectl's own shapes (``tests/assets/k8s``, from ``kubectl create ... --dry-run=client -o json``)
with realistic ``metadata`` (uid, namespace, ownerReferences) and ``status`` blocks. It serves
``GET /api/v1/...`` and ``/apis/{group}/v1/...`` lists, cluster-wide and per namespace, paginated with
``limit``/``continue`` (a continue token can be expired on purpose: 410 Gone), ``GET`` of one namespace,
bearer-token and client-certificate (mutual TLS) authentication, and RBAC: per user, namespaces that answer
403 and whether cluster-wide lists are allowed. ``kubeconfig()`` writes a real kubeconfig file for it.

    with KubeAPIDouble(tls=True) as api:
        api.add_namespace("payments", {"env": "prod"})
        api.add(workload("Deployment", "payments", "web", [("web", "reg/app:v1")]))   # tests.support.k8sobjects
        path = api.kubeconfig(tmp / "config", {"admin": api.token_user("admin")})
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import ssl
import threading
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: kind -> (API group path, plural)
KINDS: dict[str, tuple[str, str]] = {
    "Pod": ("/api/v1", "pods"),
    "ReplicationController": ("/api/v1", "replicationcontrollers"),
    "Deployment": ("/apis/apps/v1", "deployments"),
    "ReplicaSet": ("/apis/apps/v1", "replicasets"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"),
    "DaemonSet": ("/apis/apps/v1", "daemonsets"),
    "Job": ("/apis/batch/v1", "jobs"),
    "CronJob": ("/apis/batch/v1", "cronjobs"),
}


# --- TLS material ---------------------------------------------------------------------------------------


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _issue(
    issuer: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None, cn: str, *, ca: bool, server: bool = False
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer_key, issuer_name = (key, name) if issuer is None else (issuer[0], issuer[1].subject)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return key, builder.sign(signer_key, hashes.SHA256())


# --- the server -----------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    double: KubeAPIDouble

    def handle_error(self, request: Any, client_address: Any) -> None:  # clients hang up; stay quiet
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._send(*self.server.double.answer(self))

    def do_PATCH(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self._send(*self.server.double.apply(self, self.rfile.read(length)))

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _status(code: int, reason: str, message: str) -> tuple[int, bytes]:
    doc = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
           "reason": reason, "code": code}
    return code, orjson.dumps(doc)


class KubeAPIDouble:
    """The double; start with ``with`` (or ``start()``), add objects any time."""

    def __init__(self, *, tls: bool = False) -> None:
        self.tls = tls
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str, str], list[bytes]] = {}  # (group path, plural, namespace) -> items
        self.namespaces: dict[str, dict[str, str]] = {}
        self.tokens: dict[str, str] = {}  # bearer token -> user
        #: user -> namespaces that answer 403 to them; users in ``namespaced_only`` cannot list cluster-wide
        self.forbidden: dict[str, set[str]] = {}
        self.namespaced_only: set[str] = set()
        #: users who may GET a namespace but not list them
        self.no_namespace_list: set[str] = set()
        self.expire_continue = 0  # the next N continue tokens answer 410 Gone
        #: PolicyReports written by server-side apply: (namespace or "", kind, name) -> (object, apply query)
        self.reports: dict[tuple[str, str, str], tuple[dict[str, Any], dict[str, str]]] = {}
        self.report_crds = True  # False: the wgpolicyk8s.io CRDs are not installed (404)
        self.report_writers: set[str] | None = None  # users allowed to write reports (None: everyone)
        self.requests: list[str] = []
        self.generation = 1
        self._ca = _issue(None, "kubeapi-double-ca", ca=True)
        self._server_cert = _issue(self._ca, "127.0.0.1", ca=False, server=True)
        self._httpd: _Server | None = None

    # --- content ---

    def add_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        self.namespaces[name] = dict(labels or {})

    def add(self, *objects: Mapping[str, Any]) -> None:
        for obj in objects:
            group, plural = KINDS[str(obj["kind"])]
            namespace = str(obj["metadata"]["namespace"])
            self.namespaces.setdefault(namespace, {})
            item = dict(copy.deepcopy(obj))
            item.pop("kind", None)  # list items carry neither kind nor apiVersion
            item.pop("apiVersion", None)
            with self._lock:
                self._objects.setdefault((group, plural, namespace), []).append(orjson.dumps(item))

    def token_user(self, user: str, token: str | None = None) -> dict[str, Any]:
        """A kubeconfig user entry with a bearer token for ``user``."""
        token = token or base64.urlsafe_b64encode(hashlib.sha256(user.encode()).digest()).decode().rstrip("=")
        self.tokens[token] = user
        return {"token": token}

    def cert_user(self, user: str) -> dict[str, Any]:
        """A kubeconfig user entry with a client certificate (CN=user) signed by the double's client CA."""
        key, cert = _issue(self._ca, user, ca=False)
        return {
            "client-certificate-data": base64.b64encode(_pem(cert)).decode(),
            "client-key-data": base64.b64encode(_key_pem(key)).decode(),
        }

    def kubeconfig(self, path: Path, users: Mapping[str, Mapping[str, Any]], *, current: str | None = None) -> str:
        """Write a kubeconfig with one context per entry of ``users`` (context name = user name)."""
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(_pem(self._ca[1])).decode()
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "double", "cluster": cluster}],
            "users": [{"name": name, "user": dict(entry)} for name, entry in users.items()],
            "contexts": [{"name": name, "context": {"cluster": "double", "user": name}} for name in users],
            "current-context": current or next(iter(users)),
        }
        path.write_text(yaml.safe_dump(doc))
        return str(path)

    # --- serving ---

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> KubeAPIDouble:
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.double = self
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            folder = Path(_tempdir())
            (folder / "server.pem").write_bytes(_pem(self._server_cert[1]) + _key_pem(self._server_cert[0]))
            context.load_cert_chain(folder / "server.pem")
            context.load_verify_locations(cadata=_pem(self._ca[1]).decode())
            context.verify_mode = ssl.CERT_OPTIONAL
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> KubeAPIDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the API ---

    def _user(self, handler: BaseHTTPRequestHandler) -> str | None:
        auth = handler.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer":  # the scheme is case-insensitive (RFC 6750); in-cluster sends "bearer"
            return self.tokens.get(token.strip())
        if self.tls:
            cert = handler.connection.getpeercert()  # type: ignore[attr-defined]
            if cert:
                for rdn in cert.get("subject", ()):
                    for key, value in rdn:
                        if key == "commonName":
                            return str(value)
        return None

    def answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        url = urlsplit(handler.path)
        with self._lock:
            self.requests.append(url.path)
        user = self._user(handler)
        if user is None:
            return _status(401, "Unauthorized", "Unauthorized")
        parts = [p for p in url.path.split("/") if p]
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        discovery = _discovery(url.path.rstrip("/"))
        if discovery is not None:
            return 200, orjson.dumps(discovery)
        if parts[:2] == ["api", "v1"]:
            group, rest = "/api/v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, rest = f"/apis/{parts[1]}/{parts[2]}", parts[3:]
        else:
            return _status(404, "NotFound", "the server could not find the requested resource")
        if group == "/api/v1" and rest[:1] == ["namespaces"] and len(rest) <= 2:
            return self._namespaces(user, rest[1] if len(rest) == 2 else None)
        namespace: str | None = None
        if len(rest) == 3 and rest[0] == "namespaces":
            namespace, plural = rest[1], rest[2]
        elif len(rest) == 1:
            plural = rest[0]
        else:
            return _status(404, "NotFound", "the server could not find the requested resource")
        if group == "/apis/wgpolicyk8s.io/v1alpha2" and plural in ("policyreports", "clusterpolicyreports"):
            return self._reports(plural, namespace, query)
        if (group, plural) not in KINDS.values():
            return _status(404, "NotFound", "the server could not find the requested resource")
        if namespace is None and user in self.namespaced_only:
            return _status(403, "Forbidden", f'{plural} is forbidden: User "{user}" cannot list resource '
                           f'"{plural}" at the cluster scope')
        if namespace is not None and namespace in self.forbidden.get(user, set()):
            return _status(403, "Forbidden", f'{plural} is forbidden: User "{user}" cannot list resource '
                           f'"{plural}" in the namespace "{namespace}"')
        return self._list(group, plural, namespace, query)

    def apply(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, bytes]:
        """Server-side apply of a (Cluster)PolicyReport, as the API server takes it: PATCH with content type
        application/apply-patch+yaml and a fieldManager; the body's kind, apiVersion and name must match the
        path. A first apply creates (201), later ones replace (200)."""
        url = urlsplit(handler.path)
        with self._lock:
            self.requests.append(f"PATCH {url.path}")
        user = self._user(handler)
        if user is None:
            return _status(401, "Unauthorized", "Unauthorized")
        parts = [p for p in url.path.split("/") if p]
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if parts[:3] != ["apis", "wgpolicyk8s.io", "v1alpha2"] or not self.report_crds:
            return _status(404, "NotFound", "the server could not find the requested resource")
        rest = parts[3:]
        if len(rest) == 4 and rest[0] == "namespaces" and rest[2] == "policyreports":
            namespace, kind, name = rest[1], "PolicyReport", rest[3]
        elif len(rest) == 2 and rest[0] == "clusterpolicyreports":
            namespace, kind, name = "", "ClusterPolicyReport", rest[1]
        else:
            return _status(404, "NotFound", "the server could not find the requested resource")
        if self.report_writers is not None and user not in self.report_writers:
            return _status(403, "Forbidden", f'{kind.lower()}s.wgpolicyk8s.io "{name}" is forbidden: User "{user}" '
                           f'cannot patch resource "{kind.lower()}s" in API group "wgpolicyk8s.io"')
        if handler.headers.get("Content-Type") != "application/apply-patch+yaml":
            return _status(415, "UnsupportedMediaType", "the body of the request was in an unknown format")
        if not query.get("fieldManager"):
            return _status(422, "Invalid", "fieldManager is required for apply requests")
        try:
            obj = yaml.safe_load(body)  # apply bodies are YAML (JSON is YAML)
        except yaml.YAMLError:
            return _status(400, "BadRequest", "error decoding YAML")
        metadata = obj.get("metadata") if isinstance(obj, dict) else None
        if (not isinstance(metadata, dict) or obj.get("kind") != kind
                or obj.get("apiVersion") != "wgpolicyk8s.io/v1alpha2" or metadata.get("name") != name
                or metadata.get("namespace", "") != namespace):
            return _status(400, "BadRequest", "the object does not match the request path")
        if namespace and namespace not in self.namespaces:
            return _status(404, "NotFound", f'namespaces "{namespace}" not found')
        key = (namespace, kind, name)
        with self._lock:
            created = key not in self.reports
            self.reports[key] = (obj, query)
        return (201 if created else 200), orjson.dumps(obj)

    def _reports(self, plural: str, namespace: str | None, query: Mapping[str, str]) -> tuple[int, bytes]:
        if not self.report_crds:
            return _status(404, "NotFound", "the server could not find the requested resource")
        kind = "PolicyReport" if plural == "policyreports" else "ClusterPolicyReport"
        label, _, value = query.get("labelSelector", "").partition("=")
        with self._lock:
            items = [
                {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
                for (ns, k, _), (obj, _) in sorted(self.reports.items())
                if k == kind and (namespace is None or ns == namespace)
                and (not label or obj["metadata"].get("labels", {}).get(label) == value)
            ]
        return 200, orjson.dumps({"kind": f"{kind}List", "apiVersion": "wgpolicyk8s.io/v1alpha2",
                                  "metadata": {"resourceVersion": str(self.generation)}, "items": items})

    def _namespaces(self, user: str, name: str | None) -> tuple[int, bytes]:
        if name is not None:
            if name not in self.namespaces:
                return _status(404, "NotFound", f'namespaces "{name}" not found')
            return 200, orjson.dumps(self._namespace(name) | {"kind": "Namespace", "apiVersion": "v1"})
        if user in self.no_namespace_list:
            return _status(403, "Forbidden", f'namespaces is forbidden: User "{user}" cannot list resource '
                           '"namespaces" at the cluster scope')
        items = [self._namespace(n) for n in sorted(self.namespaces)]
        return 200, orjson.dumps({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {}, "items": items})

    def _namespace(self, name: str) -> dict[str, Any]:
        labels = {"kubernetes.io/metadata.name": name, **self.namespaces[name]}
        return {"metadata": {"name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, name)), "labels": labels},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}

    def _list(self, group: str, plural: str, namespace: str | None, query: Mapping[str, str]) -> tuple[int, bytes]:
        with self._lock:
            if namespace is None:
                items = [i for (g, p, _), v in sorted(self._objects.items()) if (g, p) == (group, plural) for i in v]
            else:
                items = list(self._objects.get((group, plural, namespace), []))
            token = query.get("continue")
            start = 0
            if token:
                if self.expire_continue > 0:
                    self.expire_continue -= 1
                    return _status(410, "Expired", "The provided continue parameter is too old to display a "
                                   "consistent list result. You can start a new list without the continue parameter.")
                try:
                    generation, offset = orjson.loads(base64.urlsafe_b64decode(token))
                    start = int(offset)
                except (ValueError, TypeError):
                    return _status(400, "BadRequest", "continue key is not valid")
        limit = int(query.get("limit", "0") or 0)
        end = len(items) if limit <= 0 else min(len(items), start + limit)
        metadata: dict[str, Any] = {"resourceVersion": str(self.generation)}
        if end < len(items):
            metadata["continue"] = base64.urlsafe_b64encode(orjson.dumps([self.generation, end])).decode()
            metadata["remainingItemCount"] = len(items) - end
        kind = next(k for k, v in KINDS.items() if v == (group, plural))
        api_version = group.removeprefix("/apis/").removeprefix("/api/")
        head = orjson.dumps({"kind": f"{kind}List", "apiVersion": api_version, "metadata": metadata})
        body = head[:-1] + b',"items":[' + b",".join(items[start:end]) + b"]}"
        return 200, body


def _discovery(path: str) -> dict[str, Any] | None:
    """The discovery documents kubectl reads before it lists (version, API groups, resource lists)."""
    if path == "/version":
        return {"major": "1", "minor": "32", "gitVersion": "v1.32.0", "platform": "linux/amd64"}
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/apis":
        groups = [{"name": g, "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                   "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"}} for g in ("apps", "batch")]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    resources = [
        {"name": plural, "singularName": kind.lower(), "namespaced": True, "kind": kind,
         "verbs": ["get", "list", "watch"]}
        for kind, (group, plural) in KINDS.items()
        if group == path
    ]
    if not resources:
        return None
    if path == "/api/v1":
        resources.append({"name": "namespaces", "singularName": "namespace", "namespaced": False,
                          "kind": "Namespace", "verbs": ["get", "list", "watch"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": path.removeprefix("/api/").removeprefix(
        "/apis/"), "resources": resources}


def _tempdir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="kubeapi-double-")

