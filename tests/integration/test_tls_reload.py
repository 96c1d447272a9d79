"""A real uvicorn server on loopback with ReloadingTLS: rotation without restart, TLS 1.2+, client certificates.

The server runs in a thread on a socket bound to 127.0.0.1:0; clients are plain ``ssl`` sockets trusting the
CA `sealgate certs` made. Every wait is bounded and the server is stopped (and its thread joined) after each test.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from webhook.certs import certificate_pem, generate_ca, private_key_pem, write_bundle
from webhook.tls import ReloadingTLS, uvicorn_config

pytestmark = pytest.mark.integration

LOOPBACK = "127.0.0.1"
CHECK_INTERVAL = 0.2
ROTATION_DEADLINE = 2.0


async def hello_app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    assert scope["type"] == "http"
    body = f"hello over {scope['scheme']}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@dataclass
class Served:
    serial: int
    version: str | None
    body: bytes


@dataclass
class RunningServer:
    port: int
    tls: ReloadingTLS
    dir: Path

    def get(
        self,
        *,
        server_hostname: str | None = LOOPBACK,
        version: ssl.TLSVersion | None = None,
        client_cert: tuple[Path, Path] | None = None,
    ) -> Served:
        """One HTTPS GET on a new connection; the served certificate's serial and the response body."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=self.dir / "ca.crt")
        ctx.check_hostname = server_hostname is not None
        if version is not None:
            ctx.minimum_version = ctx.maximum_version = version
        if client_cert is not None:
            ctx.load_cert_chain(*client_cert)
        with (
            socket.create_connection((LOOPBACK, self.port), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname=server_hostname) as conn,
        ):
            der = conn.getpeercert(binary_form=True)
            assert der is not None
            conn.sendall(b"GET / HTTP/1.1\r\nHost: sealgate.gate.svc\r\nConnection: close\r\n\r\n")
            response = b""
            while chunk := conn.recv(65536):
                response += chunk
            served = Served(x509.load_der_x509_certificate(der).serial_number, conn.version(), response)
        if not served.body:
            # asyncio closes a failed TLS 1.3 handshake without flushing the alert: the client reads EOF
            raise ConnectionResetError("the server closed the connection without an HTTP answer")
        assert served.body.startswith(b"HTTP/1.1 200 "), served.body[:200]
        return served

    def wait_for_serial(self, serial: int, *, deadline: float = ROTATION_DEADLINE, **kwargs: Any) -> float:
        """Seconds until a new connection is served ``serial`` (fails after ``deadline``)."""
        start = time.monotonic()
        while True:
            if self.get(**kwargs).serial == serial:
                return time.monotonic() - start
            if time.monotonic() - start > deadline:
                pytest.fail(f"certificate {serial:x} not served within {deadline} s")
            time.sleep(0.05)


def serial_of(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


def rotate(tls_dir: Path) -> int:
    """What an operator does: run `sealgate certs` again into the same directory (same CA)."""
    write_bundle(tls_dir, service="sealgate", namespace="gate", ip_addresses=[LOOPBACK])
    return serial_of(tls_dir / "tls.crt")


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    write_bundle(tmp_path / "tls", service="sealgate", namespace="gate", ip_addresses=[LOOPBACK])
    return tmp_path / "tls"


@pytest.fixture
def serve(tls_dir: Path) -> Iterator[Callable[..., RunningServer]]:
    """``serve(client_ca_file=None)`` starts uvicorn with ReloadingTLS on loopback; stopped at teardown."""
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(client_ca_file: Path | None = None) -> RunningServer:
        tls = ReloadingTLS(
            tls_dir / "tls.crt", tls_dir / "tls.key", client_ca_file=client_ca_file, check_interval=CHECK_INTERVAL
        )
        config = uvicorn_config(hello_app, host=LOOPBACK, port=0, tls=tls, log_config=None, lifespan="off")
        server = uvicorn.Server(config)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, 0))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
        thread.start()
        running.append((server, thread))
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "uvicorn exited during start-up"
            assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
            time.sleep(0.02)
        return RunningServer(port=sock.getsockname()[1], tls=tls, dir=tls_dir)

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=10)
        assert not thread.is_alive(), "uvicorn did not stop within 10 s"


# --- serving and rotating --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server_hostname", "version"),
    [
        pytest.param("sealgate.gate.svc", ssl.TLSVersion.TLSv1_3, id="by service name with SNI over TLS 1.3"),
        pytest.param("sealgate.gate.svc", ssl.TLSVersion.TLSv1_2, id="by service name with SNI over TLS 1.2"),
        pytest.param(LOOPBACK, ssl.TLSVersion.TLSv1_3, id="by IP address (no SNI) over TLS 1.3"),
        pytest.param(LOOPBACK, ssl.TLSVersion.TLSv1_2, id="by IP address (no SNI) over TLS 1.2"),
        pytest.param(None, None, id="without any server name"),
    ],
)
def test_rotated_certificate_is_served_to_new_connections_without_restart(
    serve: Callable[..., RunningServer], tls_dir: Path, server_hostname: str | None, version: ssl.TLSVersion | None
) -> None:
    server = serve()
    first = server.get(server_hostname=server_hostname, version=version)
    assert first.serial == serial_of(tls_dir / "tls.crt")
    assert first.body.endswith(b"hello over https")
    if version is not None:
        assert first.version == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
    new = rotate(tls_dir)
    assert new != first.serial
    took = server.wait_for_serial(new, server_hostname=server_hostname, version=version)
    assert took <= ROTATION_DEADLINE
    assert server.tls.reload_count == 1
    # and it stays on the new certificate
    assert {server.get(server_hostname=server_hostname, version=version).serial for _ in range(3)} == {new}


def test_a_connection_open_across_the_rotation_keeps_working(
    serve: Callable[..., RunningServer], tls_dir: Path
) -> None:
    server = serve()
    ctx = ssl.create_default_context(cafile=tls_dir / "ca.crt")
    with (
        socket.create_connection((LOOPBACK, server.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="sealgate.gate.svc") as conn,
    ):
        old = x509.load_der_x509_certificate(conn.getpeercert(binary_form=True) or b"").serial_number
        new = rotate(tls_dir)
        server.wait_for_serial(new)
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        response = b""
        while chunk := conn.recv(65536):
            response += chunk
    assert old != new
    assert response.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        pytest.param(lambda d: (d / "tls.key").write_bytes(b"garbage\n"), "cannot load", id="a garbage key"),
        pytest.param(
            lambda d: (d / "tls.key").write_bytes(private_key_pem(ec.generate_private_key(ec.SECP256R1()))),
            "does not match",
            id="the key of another certificate",
        ),
        pytest.param(lambda d: (d / "tls.crt").write_bytes(b""), "not a PEM certificate", id="an empty certificate"),
    ],
)
def test_a_broken_rotation_keeps_the_old_certificate_until_a_good_one_arrives(
    serve: Callable[..., RunningServer], tls_dir: Path, damage: Callable[[Path], object], reason: str
) -> None:
    server = serve()
    old = server.get().serial
    damage(tls_dir)
    time.sleep(CHECK_INTERVAL * 3)
    assert [server.get().serial for _ in range(3)] == [old] * 3
    assert server.tls.last_error is not None and reason in server.tls.last_error
    assert server.tls.reload_count == 0
    new = rotate(tls_dir)
    server.wait_for_serial(new)
    assert server.tls.last_error is None


# --- protocol versions -----------------------------------------------------------------------------------


def tls11_client(ca_file: Path) -> ssl.SSLContext:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ssl deprecates TLS 1.1 itself
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses TLS 1.1 at the default security level
    ctx.load_verify_locations(cafile=ca_file)
    return ctx


def memory_handshake_version(server: ssl.SSLContext, client: ssl.SSLContext) -> str | None:
    """Handshake over memory BIOs; the negotiated version (raises the first ssl.SSLError)."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client_obj = client.wrap_bio(c_in, c_out, server_hostname=LOOPBACK)
    server_obj = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for obj in (client_obj, server_obj):
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    return client_obj.version()


def test_a_tls_1_1_client_is_refused_by_the_server(serve: Callable[..., RunningServer], tls_dir: Path) -> None:
    client = tls11_client(tls_dir / "ca.crt")
    # control: this client really speaks TLS 1.1 to a server that allows it, so a refusal below is the server's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        permissive = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        permissive.minimum_version = ssl.TLSVersion.TLSv1
    permissive.set_ciphers("DEFAULT:@SECLEVEL=0")
    permissive.load_cert_chain(tls_dir / "tls.crt", tls_dir / "tls.key")
    try:
        control = memory_handshake_version(permissive, client)
    except ssl.SSLError as exc:  # pragma: no cover - depends on the system OpenSSL build
        pytest.skip(f"this OpenSSL cannot speak TLS 1.1 at all: {exc}")
    assert control == "TLSv1.1"
    # the webhook's own context answers a TLS 1.1 hello with a protocol_version alert ...
    with pytest.raises(ssl.SSLError, match="UNSUPPORTED_PROTOCOL|TLSV1_ALERT_PROTOCOL_VERSION"):
        memory_handshake_version(ReloadingTLS(tls_dir / "tls.crt", tls_dir / "tls.key").context, client)
    # ... and the running server refuses the connection (asyncio drops it without flushing the alert)
    server = serve()
    with (
        socket.create_connection((LOOPBACK, server.port), timeout=5) as raw,
        pytest.raises((ssl.SSLError, ConnectionResetError)) as err,
    ):
        client.wrap_socket(raw, server_hostname=LOOPBACK)
    reason = err.value.reason if isinstance(err.value, ssl.SSLError) else "reset"
    assert reason in ("TLSV1_ALERT_PROTOCOL_VERSION", "UNEXPECTED_EOF_WHILE_READING", "reset"), err.value
    assert server.get().body.endswith(b"hello over https"), "the server still serves good clients"


# --- client certificates (the API server's, for mutual TLS) ---------------------------------------------


def issue_client_cert(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, out: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "client.crt").write_bytes(certificate_pem(cert))
    (out / "client.key").write_bytes(private_key_pem(key))
    return out / "client.crt", out / "client.key"


@pytest.fixture
def client_ca(tmp_path: Path) -> tuple[Path, tuple[Path, Path], tuple[Path, Path]]:
    """(client CA file, a client cert+key it signed, a client cert+key another CA signed)."""
    key, cert = generate_ca("api server clients")
    (tmp_path / "client-ca.crt").write_bytes(certificate_pem(cert))
    other_key, other_cert = generate_ca("strangers")
    return (
        tmp_path / "client-ca.crt",
        issue_client_cert(key, cert, tmp_path / "good"),
        issue_client_cert(other_key, other_cert, tmp_path / "stranger"),
    )


def refused(server: RunningServer, **kwargs: Any) -> Exception:
    """The error a refused client sees: at the handshake (TLS 1.2) or on the first read (TLS 1.3).

    The reason is not asserted: asyncio closes a failed handshake without sending OpenSSL's alert, so the
    client sees an EOF. The unit tests (memory BIOs) check the exact alerts.
    """
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)) as err:
        server.get(**kwargs)
    return err.value


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["TLS 1.2", "TLS 1.3"])
def test_with_a_client_ca_only_clients_with_a_certificate_from_it_are_served(
    serve: Callable[..., RunningServer],
    tls_dir: Path,
    client_ca: tuple[Path, tuple[Path, Path], tuple[Path, Path]],
    version: ssl.TLSVersion,
) -> None:
    ca_file, good, stranger = client_ca
    server = serve(client_ca_file=ca_file)
    assert server.get(version=version, client_cert=good).body.endswith(b"hello over https")
    refused(server, version=version)
    refused(server, version=version, client_cert=stranger)
    assert server.get(version=version, client_cert=good).serial == serial_of(tls_dir / "tls.crt")
    # a rotated serving certificate keeps the client certificate requirement
    new = rotate(tls_dir)
    server.wait_for_serial(new, version=version, client_cert=good)
    refused(server, version=version)
    refused(server, version=version, client_cert=stranger)
