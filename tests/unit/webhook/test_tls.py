"""webhook.tls.ReloadingTLS without sockets: TLS handshakes over memory BIOs, a fake clock, rotated files."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from verifier.errors import ConfigError
from webhook.certs import certificate_pem, generate_ca, private_key_pem, write_bundle
from webhook.tls import ReloadingTLS, uvicorn_config


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, server_hostname: str | None) -> ssl.SSLObject:
    """Run a full TLS handshake in memory; return the client's SSLObject (raises the client's ssl.SSLError)."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client_obj = client.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    server_obj = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, obj in (("client", client_obj), ("server", server_obj)):
            if not done[name]:
                try:
                    obj.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return client_obj
    raise AssertionError("handshake did not finish")


def client_context(ca_file: Path, *, check_hostname: bool = True) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=ca_file)
    ctx.check_hostname = check_hostname
    return ctx


def served_serial(obj: ssl.SSLObject) -> int:
    der = obj.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def file_serial(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


def replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    write_bundle(tmp_path, service="sealgate", namespace="gate", ip_addresses=["127.0.0.1"])
    return tmp_path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tls(tls_dir: Path, clock: FakeClock) -> ReloadingTLS:
    return ReloadingTLS(tls_dir / "tls.crt", tls_dir / "tls.key", check_interval=1.0, clock=clock)


def connect(tls: ReloadingTLS, tls_dir: Path, server_hostname: str | None = "sealgate.gate.svc") -> int:
    client = client_context(tls_dir / "ca.crt", check_hostname=server_hostname is not None)
    return served_serial(handshake(tls.context, client, server_hostname))


def rotate(tls_dir: Path) -> int:
    write_bundle(tls_dir, service="sealgate", namespace="gate", ip_addresses=["127.0.0.1"])
    return file_serial(tls_dir / "tls.crt")


# --- the context -----------------------------------------------------------------------------------------


def test_context_is_tls_1_2_or_newer_with_forward_secret_aead_suites_only(tls: ReloadingTLS) -> None:
    ctx = tls.context
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode == ssl.CERT_NONE
    assert ctx.options & ssl.OP_NO_COMPRESSION and ctx.options & ssl.OP_NO_RENEGOTIATION
    tls12 = [c for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12, "no TLS 1.2 suites at all"
    assert all(c["kea"] == "kx-ecdhe" and c["aead"] for c in tls12), tls12


@pytest.mark.parametrize(
    "server_hostname",
    ["sealgate.gate.svc", "127.0.0.1", None],
    ids=["a client sending SNI is served", "a client connecting by IP is served", "a client without SNI is served"],
)
def test_initial_certificate_is_served(tls: ReloadingTLS, tls_dir: Path, server_hostname: str | None) -> None:
    assert connect(tls, tls_dir, server_hostname) == file_serial(tls_dir / "tls.crt")
    assert tls.certificate.serial_number == file_serial(tls_dir / "tls.crt")


# --- reloading -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("server_hostname", ["sealgate.gate.svc", None], ids=["with SNI", "without SNI"])
def test_rotated_files_are_served_once_the_check_interval_has_passed(
    tls: ReloadingTLS, tls_dir: Path, clock: FakeClock, server_hostname: str | None
) -> None:
    old = connect(tls, tls_dir, server_hostname)
    new = rotate(tls_dir)
    assert new != old
    clock.now += 0.5
    assert connect(tls, tls_dir, server_hostname) == old, "files were stat'ed before the interval passed"
    clock.now += 0.6
    assert connect(tls, tls_dir, server_hostname) == new
    assert tls.reload_count == 1 and tls.last_error is None
    assert tls.certificate.serial_number == new
    assert tls.current_context is not tls.context


def test_a_second_rotation_is_picked_up_too(tls: ReloadingTLS, tls_dir: Path, clock: FakeClock) -> None:
    serials = []
    for _ in range(3):
        serials.append(rotate(tls_dir))
        clock.now += 1.0
        assert connect(tls, tls_dir) == serials[-1]
    assert len(set(serials)) == 3 and tls.reload_count == 3


def test_unchanged_files_are_not_reloaded(tls: ReloadingTLS, tls_dir: Path, clock: FakeClock) -> None:
    clock.now += 5
    assert tls.check() is False
    assert connect(tls, tls_dir) == file_serial(tls_dir / "tls.crt")
    assert tls.reload_count == 0
    assert tls.check(force=True) is True and tls.reload_count == 1


def other_key_pem() -> bytes:
    return private_key_pem(ec.generate_private_key(ec.SECP256R1()))


@pytest.mark.parametrize(
    ("break_files", "message"),
    [
        pytest.param(
            lambda d: replace(d / "tls.key", b"garbage\n"),
            "cannot load tls certificate/key",
            id="a garbage key keeps the old pair",
        ),
        pytest.param(
            lambda d: replace(d / "tls.key", other_key_pem()),
            "does not match certificate",
            id="a key of another certificate keeps the old pair",
        ),
        pytest.param(
            lambda d: replace(d / "tls.crt", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            "is not a PEM certificate",
            id="a garbage certificate keeps the old pair",
        ),
        pytest.param(
            lambda d: replace(d / "tls.crt", b""),
            "is not a PEM certificate",
            id="an empty certificate keeps the old pair",
        ),
        pytest.param(
            lambda d: (d / "tls.key").unlink(), "tls key .* does not exist", id="a deleted key keeps the old pair"
        ),
        pytest.param(
            lambda d: (d / "tls.crt").unlink(),
            "cannot read tls certificate",
            id="a deleted certificate keeps the old pair",
        ),
        pytest.param(
            lambda d: replace(
                d / "tls.key",
                ec.generate_private_key(ec.SECP256R1()).private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.BestAvailableEncryption(b"pw"),
                ),
            ),
            "tls key is encrypted; the webhook needs an unencrypted key",
            id="an encrypted key keeps the old pair without prompting for a password",
        ),
    ],
)
def test_a_broken_rotation_keeps_serving_the_old_pair_and_warns_once(
    tls: ReloadingTLS,
    tls_dir: Path,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    break_files: object,
    message: str,
) -> None:
    old = connect(tls, tls_dir)
    break_files(tls_dir)  # type: ignore[operator]
    caplog.set_level(logging.WARNING, logger="webhook.tls")
    for _ in range(3):
        clock.now += 1.5
        assert connect(tls, tls_dir) == old
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "a broken pair is reported once, not on every handshake"
    assert "keeping the current tls certificate" in warnings[0].getMessage()
    assert tls.last_error is not None
    assert re.search(message, tls.last_error), tls.last_error
    assert tls.reload_count == 0
    # a good rotation afterwards is taken
    new = rotate(tls_dir)
    clock.now += 1.5
    assert connect(tls, tls_dir) == new
    assert tls.last_error is None


def test_an_unexpected_failure_in_the_hello_callback_does_not_break_handshakes(
    tls: ReloadingTLS,
    tls_dir: Path,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = connect(tls, tls_dir)
    rotate(tls_dir)

    def boom() -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(tls, "_build", boom)
    clock.now += 2
    with caplog.at_level(logging.WARNING, logger="webhook.tls"):
        assert connect(tls, tls_dir) == old
    assert any("tls reload check failed" in r.getMessage() for r in caplog.records)


# --- client certificates ---------------------------------------------------------------------------------


def client_certificate(ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, tmp: Path) -> tuple[Path, Path]:
    """A clientAuth certificate (like the API server's) signed by the CA; returns (cert file, key file)."""
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
    (tmp / "client.crt").write_bytes(certificate_pem(cert))
    (tmp / "client.key").write_bytes(private_key_pem(key))
    return tmp / "client.crt", tmp / "client.key"


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["TLS 1.2", "TLS 1.3"])
def test_with_a_client_ca_a_client_certificate_is_required_before_and_after_a_reload(
    tls_dir: Path, clock: FakeClock, tmp_path_factory: pytest.TempPathFactory, version: ssl.TLSVersion
) -> None:
    client_dir = tmp_path_factory.mktemp("client")
    client_ca_key, client_ca = generate_ca("api server client CA")
    (client_dir / "ca.crt").write_bytes(certificate_pem(client_ca))
    cert_file, key_file = client_certificate(client_ca_key, client_ca, client_dir)
    other_key, other_ca = generate_ca("someone else")
    other_dir = tmp_path_factory.mktemp("other")
    other_cert, other_key_file = client_certificate(other_key, other_ca, other_dir)
    tls = ReloadingTLS(tls_dir / "tls.crt", tls_dir / "tls.key", client_ca_file=client_dir / "ca.crt", clock=clock)
    assert tls.context.verify_mode == ssl.CERT_REQUIRED

    def attempt(cert: Path | None, key: Path | None) -> int:
        client = client_context(tls_dir / "ca.crt")
        client.minimum_version = client.maximum_version = version
        if cert is not None:
            client.load_cert_chain(cert, key)
        return served_serial(handshake(tls.context, client, "sealgate.gate.svc"))

    for round_ in ("before", "after"):
        expected = file_serial(tls_dir / "tls.crt")
        assert attempt(cert_file, key_file) == expected, round_
        with pytest.raises(ssl.SSLError, match="PEER_DID_NOT_RETURN_A_CERTIFICATE|CERTIFICATE_REQUIRED"):
            attempt(None, None)
        with pytest.raises(ssl.SSLError, match="CERTIFICATE_VERIFY_FAILED|UNKNOWN_CA"):
            attempt(other_cert, other_key_file)
        rotate(tls_dir)
        clock.now += 2
    assert tls.reload_count == 1


def test_a_replaced_client_ca_file_is_reloaded_too(
    tls_dir: Path, clock: FakeClock, tmp_path_factory: pytest.TempPathFactory
) -> None:
    client_dir = tmp_path_factory.mktemp("client")
    old_key, old_ca = generate_ca("old client CA")
    new_key, new_ca = generate_ca("new client CA")
    (client_dir / "ca.crt").write_bytes(certificate_pem(old_ca))
    old_client = client_certificate(old_key, old_ca, tmp_path_factory.mktemp("old"))
    new_client = client_certificate(new_key, new_ca, tmp_path_factory.mktemp("new"))
    tls = ReloadingTLS(tls_dir / "tls.crt", tls_dir / "tls.key", client_ca_file=client_dir / "ca.crt", clock=clock)

    def attempt(cert: tuple[Path, Path]) -> None:
        client = client_context(tls_dir / "ca.crt")
        client.load_cert_chain(*cert)
        handshake(tls.context, client, "sealgate.gate.svc")

    attempt(old_client)
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_VERIFY_FAILED|UNKNOWN_CA"):
        attempt(new_client)
    replace(client_dir / "ca.crt", certificate_pem(new_ca))
    clock.now += 2
    attempt(new_client)
    with pytest.raises(ssl.SSLError, match="CERTIFICATE_VERIFY_FAILED|UNKNOWN_CA"):
        attempt(old_client)
    assert tls.reload_count == 1


# --- construction errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "kwargs", "message"),
    [
        pytest.param(lambda d: (d / "tls.crt").unlink(), {}, "cannot read tls certificate", id="a missing certificate"),
        pytest.param(lambda d: (d / "tls.key").unlink(), {}, "tls key .*tls.key does not exist", id="a missing key"),
        pytest.param(
            lambda d: replace(d / "tls.key", other_key_pem()),
            {},
            "does not match certificate",
            id="a key of another certificate",
        ),
        pytest.param(
            lambda d: None,
            {"client_ca_file": "missing-ca.crt"},
            "client CA file .* does not exist",
            id="a missing client CA",
        ),
        pytest.param(
            lambda d: replace(d / "bad.crt", b"nothing here\n"),
            {"client_ca_file": "bad.crt"},
            "holds no usable certificate",
            id="a client CA file without certificates",
        ),
        pytest.param(lambda d: None, {"check_interval": -1}, "negative", id="a negative check interval"),
    ],
)
def test_unusable_files_at_start_are_config_errors(
    tls_dir: Path, setup: object, kwargs: dict[str, object], message: str
) -> None:
    setup(tls_dir)  # type: ignore[operator]
    if "client_ca_file" in kwargs:
        kwargs["client_ca_file"] = tls_dir / str(kwargs["client_ca_file"])
    with pytest.raises(ConfigError, match=message):
        ReloadingTLS(tls_dir / "tls.crt", tls_dir / "tls.key", **kwargs)  # type: ignore[arg-type]


# --- uvicorn ---------------------------------------------------------------------------------------------


async def _app(scope: object, receive: object, send: object) -> None:  # pragma: no cover - never served here
    raise AssertionError


def test_uvicorn_config_serves_the_reloading_context_after_load(tls: ReloadingTLS) -> None:
    config = uvicorn_config(_app, host="127.0.0.1", port=8443, tls=tls, log_config=None, lifespan="off")
    config.load()
    assert config.ssl is tls.context
    assert config.is_ssl


@pytest.mark.parametrize("option", ["ssl_certfile", "ssl_keyfile", "workers", "reload"])
def test_uvicorn_config_refuses_options_that_would_bypass_the_reloading_context(tls: ReloadingTLS, option: str) -> None:
    value: object = 2 if option == "workers" else True if option == "reload" else "x.pem"
    with pytest.raises(ConfigError, match=f"{option} cannot be combined"):
        uvicorn_config(_app, host="127.0.0.1", port=8443, tls=tls, **{option: value})
