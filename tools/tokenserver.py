"""A Docker registry token server (the ``auth.token`` flow of distribution) for tests and the demo.

The server listens on 127.0.0.1 only. ``GET /token?service=S&scope=repository:NAME:pull,push`` with HTTP
basic credentials answers ``{"token", "access_token", "expires_in", "issued_at"}`` holding an ES256 JWT
whose ``access`` claim grants the requested actions the user is allowed. Bad credentials get a 401;
a request without credentials gets a token with no access at all (so the registry then refuses pulls,
as public hubs do for private repositories). ``POST /token`` with an OAuth2 password grant form is
accepted as well.

The JWT header carries ``x5c`` with the self-signed signing certificate; distribution 2.8 verifies that
chain against the registry's ``auth.token.rootcertbundle``, which must hold :attr:`TokenServer.cert_pem`.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from webhook.certs import key_usage

__all__ = ["ALL_ACTIONS", "TokenServer", "decode_jwt_claims"]

_logger = logging.getLogger(__name__)

#: actions a user may be granted on a repository (``*`` is what distribution asks for the catalog)
ALL_ACTIONS = frozenset({"pull", "push", "delete", "*"})
_TOKEN_LIFETIME = 300


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a compact JWS, *unverified* (for tests that look at what was granted)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("token is not a compact jws")
    claims = json.loads(_b64url_decode(parts[1]))
    if not isinstance(claims, dict):
        raise ValueError("token claims are not an object")
    return claims


def _parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """``repository:name/x:pull,push`` -> ("repository", "name/x", ["pull", "push"]); None if malformed."""
    rtype, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not rtype or not name:
        return None
    return rtype, name, [a for a in actions.split(",") if a]


class TokenServer:
    """A threaded loopback token server: use as a context manager or call :meth:`start`/:meth:`stop`.

    ``users`` maps user name to password. ``permissions`` optionally limits, per user, which actions may
    be granted (default: every action in :data:`ALL_ACTIONS`); a user with ``{"pull"}`` gets pull-only
    tokens whatever scope is asked for.
    """

    def __init__(
        self,
        users: Mapping[str, str],
        *,
        service: str = "sealgate-test-registry",
        issuer: str = "sealgate-test-token-server",
        permissions: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.users = dict(users)
        self.service = service
        self.issuer = issuer
        self._permissions = {user: frozenset(acts) for user, acts in (permissions or {}).items()}
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._cert = _self_signed(self._key, issuer)
        self.cert_pem: bytes = self._cert.public_bytes(serialization.Encoding.PEM)
        self._x5c = base64.b64encode(self._cert.public_bytes(serialization.Encoding.DER)).decode("ascii")
        self._lock = threading.Lock()
        self._tokens_issued = 0
        self._failures = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> TokenServer:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="sealgate-tokens", daemon=True)
        self._thread.start()
        _logger.debug("token server listening on %s", self.realm)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> TokenServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- facts -----------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("token server is not running")
        return int(self._server.server_address[1])

    @property
    def realm(self) -> str:
        """The URL registries put in their ``Bearer realm=...`` challenge."""
        return f"http://127.0.0.1:{self.port}/token"

    @property
    def tokens_issued(self) -> int:
        """How many tokens were handed out (anonymous ones included), so tests can assert caching."""
        with self._lock:
            return self._tokens_issued

    @property
    def auth_failures(self) -> int:
        """How many requests were refused for bad credentials."""
        with self._lock:
            return self._failures

    # -- tokens ----------------------------------------------------------------------------------------

    def check_credentials(self, user: str, password: str) -> bool:
        expected = self.users.get(user)
        return expected is not None and secrets.compare_digest(expected.encode(), password.encode())

    def grant(self, user: str | None, scopes: Iterable[str]) -> list[dict[str, Any]]:
        """The ``access`` claim for ``user`` (None = anonymous: nothing) asking for ``scopes``."""
        if user is None:
            return []
        allowed = self._permissions.get(user, ALL_ACTIONS)
        access: list[dict[str, Any]] = []
        for scope in scopes:
            parsed = _parse_scope(scope)
            if parsed is None:
                continue
            rtype, name, actions = parsed
            granted = [a for a in actions if a in allowed]
            access.append({"type": rtype, "name": name, "actions": granted})
        return access

    def issue(self, user: str | None, scopes: Iterable[str], *, service: str | None = None) -> dict[str, Any]:
        """Mint a token for ``user`` and count it; returns the JSON body the token endpoint answers."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": service or self.service,
            "exp": now + _TOKEN_LIFETIME,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": self.grant(user, scopes),
        }
        header = {"typ": "JWT", "alg": "ES256", "x5c": [self._x5c]}
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = self._key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        token = signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        with self._lock:
            self._tokens_issued += 1
        issued_at = datetime.datetime.fromtimestamp(now, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        _logger.debug("issued token for %r: %s", user, claims["access"])
        return {"token": token, "access_token": token, "expires_in": _TOKEN_LIFETIME, "issued_at": issued_at}

    def _count_failure(self) -> None:
        with self._lock:
            self._failures += 1


def _self_signed(key: ec.EllipticCurvePrivateKey, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(tz=datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            key_usage(digital_signature=True, key_cert_sign=True),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )


def _make_handler(owner: TokenServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        server_version = "sealgate-token-server"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            _logger.debug("token server: " + format, *args)

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            url = urllib.parse.urlsplit(self.path)
            if url.path != "/token":
                self._answer(404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})
                return
            query = urllib.parse.parse_qs(url.query)
            user: str | None = None
            header = self.headers.get("Authorization")
            if header is not None:
                user = self._basic_user(header)
                if user is None:
                    return
            service = next(iter(query.get("service", [])), None)
            self._answer(200, owner.issue(user, _scopes(query.get("scope", [])), service=service))

        def do_POST(self) -> None:  # noqa: N802 - stdlib naming
            url = urllib.parse.urlsplit(self.path)
            if url.path != "/token":
                self._answer(404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})
                return
            length = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
            grant_type = (form.get("grant_type") or [""])[0]
            if grant_type != "password":
                self._answer(400, {"error": "unsupported_grant_type"})
                return
            user = (form.get("username") or [""])[0]
            if not owner.check_credentials(user, (form.get("password") or [""])[0]):
                owner._count_failure()
                self._answer(401, {"error": "invalid_grant"})
                return
            service = next(iter(form.get("service", [])), None)
            self._answer(200, owner.issue(user, _scopes(form.get("scope", [])), service=service))

        def _basic_user(self, header: str) -> str | None:
            scheme, _, value = header.partition(" ")
            user, password = "", ""
            if scheme.lower() == "basic":
                try:
                    user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
                except ValueError:
                    user = ""
            if user and owner.check_credentials(user, password):
                return user
            owner._count_failure()
            self._answer(
                401,
                {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]},
                extra={"WWW-Authenticate": 'Basic realm="sealgate-test-token-server"'},
            )
            return None

        def _answer(self, status: int, body: dict[str, Any], *, extra: Mapping[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    return _Handler


def _scopes(values: Iterable[str]) -> list[str]:
    """Scopes from query/form values; a single value may hold several scopes separated by spaces."""
    return [scope for value in values for scope in value.split() if scope]
