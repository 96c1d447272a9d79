"""An in-process, loopback-only OCI registry that misbehaves on request, for client tests.

It serves an in-memory registry (manifests, blobs, tags, uploads, referrers) on ``127.0.0.1`` (port 0)
from a threaded stdlib HTTP server, records every request, and can be told per test to demand basic or
bearer auth (with its own ``/token`` endpoint) and to inject faults: a status (401/404/429/5xx with
headers such as ``Retry-After``), a hang, a truncated or corrupted blob, a body without
``Content-Length``, a missing/odd header, or a redirect chain (optionally via ``localhost`` to look like
another host)::

    with FaultRegistry() as reg:
        digest = reg.add_image("app", "1.0")
        reg.inject(Fault("status", method="GET", path="/manifests/", status=503, times=2))
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote

__all__ = ["Fault", "FaultRegistry", "Recorded"]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SERVICE = "fault-registry"

_ROUTE = re.compile(
    r"^/v2/(?P<repo>[a-z0-9._/-]+?)/(?P<kind>manifests|blobs/uploads|blobs|referrers)(?:/(?P<rest>.*))?$"
)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Fault:
    """One injected misbehaviour, applied to requests whose path contains ``path`` (and ``method``).

    kinds: ``status`` (answer ``status`` with ``headers``), ``hang`` (wait ``seconds`` before answering),
    ``truncate`` (blob: promise the full length, send half, close), ``corrupt`` (blob: flip a byte),
    ``no_length`` (send the body without ``Content-Length``, close-delimited), ``no_digest_header``,
    ``bad_digest_header``, ``content_type`` (send ``value`` as Content-Type), ``no_location`` (upload
    start), ``redirect`` (``hops`` redirects before the content; ``value="other-host"`` goes through
    ``localhost`` so the client sees another host). ``times=-1`` means every time.
    """

    kind: str
    path: str = ""
    method: str | None = None
    times: int = 1
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 5.0
    hops: int = 1
    value: str = ""


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    registry: FaultRegistry

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet: clients hang up on purpose
        pass


class FaultRegistry:
    """The fake registry; use as a context manager (or ``start()``/``stop()``)."""

    def __init__(self) -> None:
        self.blobs: dict[str, dict[str, bytes]] = {}
        self.manifests: dict[str, dict[str, tuple[bytes, str]]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.auth: str | None = None  # None | "basic" | "bearer"
        self.username: str | None = None
        self.password: str | None = None
        self.refresh_token: str | None = None
        self.token_field = "token"
        self.token_expires: int | None = 300
        self.tokens: dict[str, list[str]] = {}
        self.referrers_api = True
        self.referrers_page_size = 0  # > 0: the referrers API answers in pages of this many, with Link headers
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> FaultRegistry:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.registry = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FaultRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "registry not started"
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- content ----------------------------------------------------------------------------------------

    def add_blob(self, repo: str, data: bytes) -> str:
        digest = sha256(data)
        with self._lock:
            self.blobs.setdefault(repo, {})[digest] = data
        return digest

    def add_manifest(self, repo: str, raw: bytes, media_type: str = OCI_MANIFEST, tag: str | None = None) -> str:
        digest = sha256(raw)
        with self._lock:
            self.manifests.setdefault(repo, {})[digest] = (raw, media_type)
            if tag is not None:
                self.tags.setdefault(repo, {})[tag] = digest
        return digest

    def image_manifest(self, repo: str, layer: bytes = b"layer", **extra: Any) -> bytes:
        """Store a config and one layer in ``repo`` and return the bytes of an OCI manifest for them."""
        config = b'{"architecture":"amd64","os":"linux"}'
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": self.add_blob(repo, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": self.add_blob(repo, layer),
                    "size": len(layer),
                }
            ],
            **extra,
        }
        return json.dumps(manifest, separators=(",", ":")).encode()

    def add_image(self, repo: str, tag: str | None = None, layer: bytes = b"layer") -> str:
        return self.add_manifest(repo, self.image_manifest(repo, layer), OCI_MANIFEST, tag)

    # --- behaviour ------------------------------------------------------------------------------------

    def require_basic(self, username: str, password: str) -> None:
        self.auth, self.username, self.password = "basic", username, password

    def require_bearer(
        self, username: str | None = None, password: str | None = None, *, refresh_token: str | None = None
    ) -> None:
        """Bearer auth; the token endpoint wants basic ``username``/``password`` when set, else none."""
        self.auth, self.username, self.password, self.refresh_token = (
            "bearer",
            username,
            password,
            refresh_token,
        )

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def count(self, method: str | None = None, path: str = "") -> int:
        with self._lock:
            return sum(1 for r in self.requests if (method is None or r.method == method) and path in r.path)

    def _take_fault(self, method: str, path: str, kinds: tuple[str, ...] | None = None) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method in (None, method) and fault.path in path and (kinds is None or fault.kind in kinds):
                    if fault.times > 0:
                        fault.times -= 1
                        if fault.times == 0:
                            self.faults.remove(fault)
                    return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = lambda self: self._dispatch()  # noqa: E731

    # --- plumbing ---------------------------------------------------------------------------------------

    def _send(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, *, length: bool = True
    ) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self._send(status, body, {"Content-Type": "application/json", **(headers or {})})

    def _dispatch(self) -> None:
        try:
            self._handle()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _handle(self) -> None:
        reg = self.server.registry
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with reg._lock:
            reg.requests.append(Recorded(self.command, path, query, {k.lower(): v for k, v in self.headers.items()}))
        params = parse_qs(query)
        fault = reg._take_fault(self.command, path, ("status", "hang"))
        if fault is not None and fault.kind == "hang":
            reg._release.wait(fault.seconds)
            fault = None
            if reg._release.is_set():
                self.close_connection = True
                return
        if fault is not None:
            self._error(fault.status, "INJECTED", f"injected HTTP {fault.status}", fault.headers)
            return
        if path == "/token":
            self._token(params, body)
            return
        if path.startswith("/_redirect/"):
            self._redirected(path)
            return
        match = _ROUTE.match(path)
        if match is None:
            self._error(404, "NOT_FOUND", "no such route")
            return
        repo, kind, rest = match.group("repo"), match.group("kind"), match.group("rest") or ""
        action = "pull" if self.command in ("GET", "HEAD") else "push"
        if not self._authorized(repo, action):
            return
        handler = {
            "manifests": self._manifests,
            "blobs": self._blobs,
            "blobs/uploads": self._uploads,
            "referrers": self._referrers,
        }[kind]
        handler(repo, rest, params, body)

    # --- auth -------------------------------------------------------------------------------------------

    def _basic_ok(self) -> bool:
        reg = self.server.registry
        expected = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
        return self.headers.get("Authorization", "") == f"Basic {expected}"

    def _authorized(self, repo: str, action: str) -> bool:
        reg = self.server.registry
        if reg.auth is None:
            return True
        if reg.auth == "basic":
            if self._basic_ok():
                return True
            self._error(
                401,
                "UNAUTHORIZED",
                "authentication required",
                {"WWW-Authenticate": f'Basic realm="{SERVICE}"'},
            )
            return False
        header = self.headers.get("Authorization", "")
        scopes = reg.tokens.get(header[len("Bearer ") :]) if header.startswith("Bearer ") else None
        for scope in scopes or []:
            parts = scope.split(":")
            if len(parts) == 3 and parts[0] == "repository" and parts[1] == repo and action in parts[2].split(","):
                return True
        wanted = "pull" if action == "pull" else "pull,push"
        challenge = (
            f'Bearer realm="http://{self.server.registry.host}/token",service="{SERVICE}",'
            f'scope="repository:{repo}:{wanted}"'
        )
        self._error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})
        return False

    def _token(self, params: dict[str, list[str]], body: bytes) -> None:
        reg = self.server.registry
        if self.command == "POST":
            form = parse_qs(body.decode())
            params = {**params, **form}
            if reg.refresh_token is None or form.get("refresh_token") != [reg.refresh_token]:
                self._error(401, "UNAUTHORIZED", "bad refresh token")
                return
        elif reg.username is not None and not self._basic_ok():
            self._error(401, "UNAUTHORIZED", "bad credentials for the token endpoint")
            return
        if params.get("service") != [SERVICE]:
            self._error(400, "BAD_REQUEST", "wrong service")
            return
        token = secrets.token_hex(8)
        with reg._lock:
            reg.tokens[token] = list(params.get("scope", []))
        answer: dict[str, Any] = {reg.token_field: token}
        if reg.token_expires is not None:
            answer["expires_in"] = reg.token_expires
        self._send(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    # --- API ------------------------------------------------------------------------------------------

    def _manifests(self, repo: str, ref: str, params: dict[str, list[str]], body: bytes) -> None:
        reg = self.server.registry
        if self.command == "PUT":
            digest = sha256(body)
            if ref.startswith("sha256:") and ref != digest:
                self._error(400, "DIGEST_INVALID", "digest does not match")
                return
            reg.add_manifest(repo, body, self.headers.get("Content-Type", ""), None if ":" in ref else ref)
            self._send(201, b"", {"Docker-Content-Digest": digest, "Location": f"/v2/{repo}/manifests/{digest}"})
            return
        digest = ref if ":" in ref else reg.tags.get(repo, {}).get(ref, "")
        found = reg.manifests.get(repo, {}).get(digest)
        if found is None:
            self._error(404, "MANIFEST_UNKNOWN", f"manifest unknown: {ref}")
            return
        raw, media_type = found
        headers = {"Content-Type": media_type, "Docker-Content-Digest": digest}
        for fault_kind in ("no_digest_header", "bad_digest_header", "content_type"):
            fault = reg._take_fault(self.command, self.path, (fault_kind,))
            if fault is None:
                continue
            if fault_kind == "no_digest_header":
                del headers["Docker-Content-Digest"]
            elif fault_kind == "bad_digest_header":
                headers["Docker-Content-Digest"] = sha256(b"something else")
            else:
                headers["Content-Type"] = fault.value
        no_length = reg._take_fault(self.command, self.path, ("no_length",)) is not None
        self._send(200, raw, headers, length=not no_length)

    def _blobs(self, repo: str, digest: str, params: dict[str, list[str]], body: bytes) -> None:
        reg = self.server.registry
        if digest not in reg.blobs.get(repo, {}):
            self._error(404, "BLOB_UNKNOWN", f"blob unknown: {digest}")
            return
        redirect = reg._take_fault(self.command, self.path, ("redirect",))
        if redirect is not None:
            base = f"http://localhost:{reg.port}" if redirect.value == "other-host" else ""
            self._send(307, b"", {"Location": f"{base}/_redirect/{redirect.hops - 1}/{repo}/{digest}"})
            return
        self._serve_blob(repo, digest)

    def _redirected(self, path: str) -> None:
        hops, _, rest = path[len("/_redirect/") :].partition("/")
        if int(hops) > 0:
            self._send(307, b"", {"Location": f"/_redirect/{int(hops) - 1}/{rest}"})
            return
        repo, _, digest = rest.rpartition("/")
        self._serve_blob(repo, digest)

    def _serve_blob(self, repo: str, digest: str) -> None:
        reg = self.server.registry
        data = reg.blobs[repo][digest]
        headers = {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest}
        if reg._take_fault(self.command, "/v2/" + repo + "/blobs/" + digest, ("truncate",)) is not None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if reg._take_fault(self.command, "/v2/" + repo + "/blobs/" + digest, ("corrupt",)) is not None:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        no_length = reg._take_fault(self.command, "/v2/" + repo + "/blobs/" + digest, ("no_length",)) is not None
        self._send(200, data, headers, length=not no_length)

    def _uploads(self, repo: str, session: str, params: dict[str, list[str]], body: bytes) -> None:
        reg = self.server.registry
        if self.command == "POST":
            headers = {"Location": f"/v2/{repo}/blobs/uploads/{secrets.token_hex(8)}?_state={quote('a=b')}"}
            if reg._take_fault("POST", self.path, ("no_location",)) is not None:
                headers = {}
            self._send(202, b"", headers)
            return
        digest = (params.get("digest") or [""])[0]
        if self.command != "PUT" or not session or params.get("_state") != ["a=b"]:
            self._error(400, "BLOB_UPLOAD_INVALID", "bad upload request")
            return
        if sha256(body) != digest:
            self._error(400, "DIGEST_INVALID", "digest does not match")
            return
        reg.add_blob(repo, body)
        self._send(201, b"", {"Docker-Content-Digest": digest, "Location": f"/v2/{repo}/blobs/{digest}"})

    def _referrers(self, repo: str, digest: str, params: dict[str, list[str]], body: bytes) -> None:
        reg = self.server.registry
        if not reg.referrers_api:
            self._error(404, "NOT_FOUND", "referrers API not supported")
            return
        wanted = (params.get("artifactType") or [None])[0]
        entries = []
        for child, (raw, media_type) in sorted(reg.manifests.get(repo, {}).items()):
            data = json.loads(raw)
            if (data.get("subject") or {}).get("digest") != digest:
                continue
            artifact = data.get("artifactType") or data.get("config", {}).get("mediaType")
            if wanted is not None and artifact != wanted:
                continue
            entries.append({"mediaType": media_type, "digest": child, "size": len(raw), "artifactType": artifact})
        headers = {"Content-Type": OCI_INDEX}
        size, start = reg.referrers_page_size, int((params.get("start") or ["0"])[0])
        if size:  # paged as a registry may page it: Link to the next page, relative
            if start + size < len(entries):
                headers["Link"] = f'</v2/{repo}/referrers/{digest}?start={start + size}>; rel="next"'
            entries = entries[start : start + size]
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        self._send(200, json.dumps(index).encode(), headers)
