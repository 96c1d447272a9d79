"""webhook.certs and ``sealgate certs``: certificate fields, chain verification, files, CA reuse, CLI output."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from verifier.errors import ConfigError, UsageError
from webhook.certs import (
    ca_bundle_b64,
    certificate_pem,
    generate_ca,
    issue_serving_cert,
    load_ca,
    private_key_pem,
    service_dns_names,
    write_bundle,
)

SERVICE_NAMES = ["sealgate.gate.svc", "sealgate", "sealgate.gate", "sealgate.gate.svc.cluster.local"]


@pytest.fixture(scope="module")
def ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    return generate_ca("test webhook CA")


@pytest.fixture(scope="module")
def serving(
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_key, ca_cert = ca
    names = service_dns_names("sealgate", "gate", ["webhook.example.test"])
    return issue_serving_cert(ca_key, ca_cert, names, ["127.0.0.1", "::1"])


def ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension[x509.ExtensionType]:
    return cert.extensions.get_extension_for_class(kind)


def server_verifier(ca_cert: x509.Certificate, name: x509.DNSName | x509.IPAddress) -> object:
    return PolicyBuilder().store(Store([ca_cert])).build_server_verifier(name)


# --- the CA ---------------------------------------------------------------------------------------------


def test_ca_is_a_self_signed_p256_ca_that_signs_only_leaf_certificates(
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    key, cert = ca
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert cert.public_key() == key.public_key()
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "test webhook CA"
    cert.verify_directly_issued_by(cert)
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value == x509.BasicConstraints(ca=True, path_length=0)
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical
    assert ku.value.key_cert_sign and ku.value.crl_sign  # type: ignore[attr-defined]
    ski = ext(cert, x509.SubjectKeyIdentifier).value
    aki = ext(cert, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest  # type: ignore[attr-defined]


def test_ca_lifetime_is_ten_years_by_default_and_starts_slightly_in_the_past(
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    _, cert = ca
    now = dt.datetime.now(dt.UTC)
    assert now - dt.timedelta(minutes=10) < cert.not_valid_before_utc < now
    lifetime = cert.not_valid_after_utc - now
    assert dt.timedelta(days=3649) < lifetime <= dt.timedelta(days=3650)


# --- the serving certificate -----------------------------------------------------------------------------


def test_serving_cert_names_the_service_in_every_form_plus_extras_and_ips(
    serving: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    _, cert = serving
    san = ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [*SERVICE_NAMES, "webhook.example.test"]  # type: ignore[attr-defined]
    assert san.get_values_for_type(x509.IPAddress) == [  # type: ignore[attr-defined]
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "sealgate.gate.svc"


def test_serving_cert_is_a_p256_server_only_leaf(
    serving: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    key, cert = serving
    _, ca_cert = ca
    assert cert.public_key() == key.public_key()
    assert key.curve.name == "secp256r1"
    assert cert.signature_hash_algorithm is not None and cert.signature_hash_algorithm.name == "sha256"
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca is False  # type: ignore[attr-defined]
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature  # type: ignore[attr-defined]
    assert not ku.value.key_cert_sign and not ku.value.crl_sign  # type: ignore[attr-defined]
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]  # type: ignore[call-overload]
    assert ext(cert, x509.SubjectKeyIdentifier).value == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    aki = ext(cert, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ext(ca_cert, x509.SubjectKeyIdentifier).value.digest  # type: ignore[attr-defined]
    assert cert.issuer == ca_cert.subject


def test_serving_cert_lifetime_is_one_year_by_default(
    serving: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    _, cert = serving
    lifetime = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=364) < lifetime <= dt.timedelta(days=365)


@pytest.mark.parametrize(
    "name",
    [*(x509.DNSName(n) for n in SERVICE_NAMES), x509.DNSName("webhook.example.test")]
    + [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1"))],
    ids=lambda n: f"chain verifies for {n.value}",
)
def test_chain_verifies_as_a_tls_server_for(
    name: x509.DNSName | x509.IPAddress,
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    serving: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    chain = server_verifier(ca[1], name).verify(serving[1], [])  # type: ignore[attr-defined]
    assert chain == [serving[1], ca[1]]


@pytest.mark.parametrize(
    "name",
    [
        x509.DNSName("other.gate.svc"),
        x509.DNSName("sealgate.other.svc"),
        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
    ],
    ids=lambda n: f"chain does not verify for {n.value}",
)
def test_chain_does_not_verify_for_a_name_not_in_the_certificate(
    name: x509.DNSName | x509.IPAddress,
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    serving: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    with pytest.raises(VerificationError, match="subjectAltName"):
        server_verifier(ca[1], name).verify(serving[1], [])  # type: ignore[attr-defined]


def test_chain_does_not_verify_against_another_ca(serving: tuple[ec.EllipticCurvePrivateKey, x509.Certificate]) -> None:
    _, other_ca = generate_ca("another CA")
    with pytest.raises(VerificationError):
        server_verifier(other_ca, x509.DNSName("sealgate.gate.svc")).verify(serving[1], [])  # type: ignore[attr-defined]


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_verifies_the_chain_as_an_ssl_server_for_the_service_name(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path, service="sealgate", namespace="gate")
    ok = subprocess.run(
        ["openssl", "verify", "-CAfile", "ca.crt", "-purpose", "sslserver", "-verify_hostname", "sealgate.gate.svc"]
        + ["-x509_strict", "tls.crt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "tls.crt: OK"
    wrong = subprocess.run(
        ["openssl", "verify", "-CAfile", "ca.crt", "-verify_hostname", "evil.gate.svc", "tls.crt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert wrong.returncode != 0
    assert "hostname mismatch" in (wrong.stdout + wrong.stderr)
    assert (
        bundle.cert.serial_number == x509.load_pem_x509_certificate((tmp_path / "tls.crt").read_bytes()).serial_number
    )


def test_serving_cert_never_outlives_its_ca() -> None:
    ca_key, ca_cert = generate_ca("short CA", days=30)
    _, cert = issue_serving_cert(ca_key, ca_cert, ["a.b.svc"], days=365)
    assert cert.not_valid_after_utc == ca_cert.not_valid_after_utc


def test_issuing_with_an_expired_ca_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    expired = self_signed_ca(key, not_after=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    with pytest.raises(ConfigError, match="CA certificate expired"):
        issue_serving_cert(key, expired, ["a.b.svc"])


def test_issuing_with_a_key_that_is_not_the_cas_is_refused(
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> None:
    with pytest.raises(ConfigError, match="CA key does not match"):
        issue_serving_cert(ec.generate_private_key(ec.SECP256R1()), ca[1], ["a.b.svc"])


# --- names and arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "namespace", "extra", "expected"),
    [
        pytest.param(
            "web",
            "ns",
            [],
            ["web.ns.svc", "web", "web.ns", "web.ns.svc.cluster.local"],
            id="the service names come first",
        ),
        pytest.param(
            "web",
            "ns",
            ["Web.Example.COM.", "web.ns"],
            ["web.ns.svc", "web", "web.ns", "web.ns.svc.cluster.local", "web.example.com"],
            id="extra names are lower-cased, stripped of the root dot and deduplicated",
        ),
        pytest.param(
            "a-1",
            "kube-system",
            ["*.example.com"],
            ["a-1.kube-system.svc", "a-1", "a-1.kube-system", "a-1.kube-system.svc.cluster.local", "*.example.com"],
            id="a wildcard extra name is allowed",
        ),
    ],
)
def test_service_dns_names(service: str, namespace: str, extra: list[str], expected: list[str]) -> None:
    assert service_dns_names(service, namespace, extra) == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda: service_dns_names("Web", "ns"),
            "service name 'Web' is not a DNS-1123 label",
            id="an upper-case service name is refused",
        ),
        pytest.param(
            lambda: service_dns_names("web", "a.b"),
            "namespace name 'a.b' is not a DNS-1123 label",
            id="a dotted namespace is refused",
        ),
        pytest.param(
            lambda: service_dns_names("-web", "ns"),
            "service name '-web'",
            id="a service name starting with a dash is refused",
        ),
        pytest.param(
            lambda: service_dns_names("w" * 64, "ns"),
            "is not a DNS-1123 label",
            id="a 64-character service name is refused",
        ),
        pytest.param(
            lambda: service_dns_names("web", "ns", ["bad_name.example"]),
            "dns name 'bad_name.example'",
            id="an extra name with an underscore is refused",
        ),
        pytest.param(
            lambda: service_dns_names("web", "ns", ["a..b"]),
            "dns name 'a..b'",
            id="an extra name with an empty label is refused",
        ),
        pytest.param(lambda: service_dns_names("web", "ns", [""]), "dns name ''", id="an empty extra name is refused"),
        pytest.param(lambda: generate_ca("x", days=0), "CA lifetime of 0 days", id="a zero-day CA is refused"),
        pytest.param(lambda: generate_ca(""), "CA common name is empty", id="an empty CA name is refused"),
        pytest.param(
            lambda: write_bundle("/nonexistent-never", service="a", namespace="b", ip_addresses=["300.1.1.1"]),
            "ip address '300.1.1.1'",
            id="a bad ip address is refused before anything is written",
        ),
        pytest.param(
            lambda: write_bundle("/nonexistent-never", service="a", namespace="b", days=-3),
            "serving certificate lifetime of -3 days",
            id="a negative lifetime is refused before anything is written",
        ),
    ],
)
def test_bad_arguments_are_usage_errors(call: Callable[[], object], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace(".", r"\.").replace("*", r"\*")):
        call()


def test_ca_bundle_is_base64_of_the_ca_pem(ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate]) -> None:
    decoded = base64.b64decode(ca_bundle_b64(ca[1]), validate=True)
    assert decoded == certificate_pem(ca[1])
    assert decoded.startswith(b"-----BEGIN CERTIFICATE-----\n")


# --- files -----------------------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_bundle_writes_four_files_with_private_keys_readable_by_the_owner_only(tmp_path: Path) -> None:
    out = tmp_path / "new" / "dir"
    bundle = write_bundle(out, service="sealgate", namespace="gate", ip_addresses=["127.0.0.1"])
    assert sorted(p.name for p in out.iterdir()) == ["ca.crt", "ca.key", "tls.crt", "tls.key"]
    assert [p.name for p in bundle.written] == ["ca.key", "ca.crt", "tls.key", "tls.crt"]
    assert mode(out / "ca.key") == 0o600
    assert mode(out / "tls.key") == 0o600
    assert mode(out / "ca.crt") == 0o644
    assert mode(out / "tls.crt") == 0o644
    assert bundle.ca_reused is False
    tls_key = serialization.load_pem_private_key((out / "tls.key").read_bytes(), password=None)
    tls_cert = x509.load_pem_x509_certificate((out / "tls.crt").read_bytes())
    assert tls_cert == bundle.cert and tls_key.public_key() == tls_cert.public_key()
    assert load_ca(out / "ca.crt", out / "ca.key")[1] == bundle.ca_cert
    assert bundle.dns_names == SERVICE_NAMES


def test_rotation_reuses_the_ca_so_the_ca_bundle_stays_the_same(tmp_path: Path) -> None:
    first = write_bundle(tmp_path, service="sealgate", namespace="gate")
    ca_bytes = (tmp_path / "ca.crt").read_bytes()
    second = write_bundle(tmp_path, service="sealgate", namespace="gate")
    assert second.ca_reused is True
    assert [p.name for p in second.written] == ["tls.key", "tls.crt"]
    assert (tmp_path / "ca.crt").read_bytes() == ca_bytes
    assert second.ca_bundle_b64 == first.ca_bundle_b64
    assert second.cert.serial_number != first.cert.serial_number
    second.cert.verify_directly_issued_by(first.ca_cert)


def test_new_ca_replaces_the_ca(tmp_path: Path) -> None:
    first = write_bundle(tmp_path, service="sealgate", namespace="gate")
    second = write_bundle(tmp_path, service="sealgate", namespace="gate", new_ca=True)
    assert second.ca_reused is False
    assert second.ca_bundle_b64 != first.ca_bundle_b64
    second.cert.verify_directly_issued_by(second.ca_cert)


def test_an_existing_rsa_ca_made_elsewhere_is_reused(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = self_signed_ca(key)
    (tmp_path / "ca.crt").write_bytes(certificate_pem(ca_cert))
    (tmp_path / "ca.key").write_bytes(private_key_pem(key))
    bundle = write_bundle(tmp_path, service="sealgate", namespace="gate")
    assert bundle.ca_reused and bundle.ca_cert == ca_cert
    bundle.cert.verify_directly_issued_by(ca_cert)
    chain = server_verifier(ca_cert, x509.DNSName("sealgate.gate.svc")).verify(bundle.cert, [])  # type: ignore[attr-defined]
    assert chain[-1] == ca_cert


def self_signed_ca(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, *, ca: bool = True, not_after: dt.datetime | None = None
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "made elsewhere")])
    now = dt.datetime.now(dt.UTC)
    end = not_after or now + dt.timedelta(days=30)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, end) - dt.timedelta(days=2))
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    return builder.sign(key, hashes.SHA256())


def write_ca_files(out: Path, cert: x509.Certificate | None, key: ec.EllipticCurvePrivateKey | bytes | None) -> None:
    if cert is not None:
        (out / "ca.crt").write_bytes(certificate_pem(cert))
    if isinstance(key, bytes):
        (out / "ca.key").write_bytes(key)
    elif key is not None:
        (out / "ca.key").write_bytes(private_key_pem(key))


def _other_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


_K = ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize(
    ("cert", "key", "message"),
    [
        pytest.param(
            self_signed_ca(_K),
            None,
            "ca.crt exists but .*ca.key does not",
            id="a CA certificate without its key is not silently replaced",
        ),
        pytest.param(None, _K, "cannot read CA certificate", id="a CA key without its certificate is refused"),
        pytest.param(
            self_signed_ca(_K),
            _other_key(),
            "does not match CA certificate",
            id="a CA key that does not match the certificate is refused",
        ),
        pytest.param(self_signed_ca(_K, ca=False), _K, "is not a CA", id="a certificate that is not a CA is refused"),
        pytest.param(
            self_signed_ca(_K), b"garbage", "is not an unencrypted PEM private key", id="a garbage CA key is refused"
        ),
        pytest.param(
            self_signed_ca(_K),
            _K.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"pw"),
            ),
            "is not an unencrypted PEM private key",
            id="an encrypted CA key is refused",
        ),
        pytest.param(
            self_signed_ca(_K, not_after=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)),
            _K,
            "CA certificate expired",
            id="an expired CA is refused",
        ),
    ],
)
def test_a_broken_existing_ca_is_a_config_error_and_nothing_is_written(
    tmp_path: Path, cert: x509.Certificate | None, key: ec.EllipticCurvePrivateKey | bytes | None, message: str
) -> None:
    write_ca_files(tmp_path, cert, key)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ConfigError, match=message):
        write_bundle(tmp_path, service="sealgate", namespace="gate")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_bundle(tmp_path, service="sealgate", namespace="gate")
    old_cert = (tmp_path / "tls.crt").read_bytes()

    def fail_on_cert(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).name == "tls.crt":
            raise OSError(28, "No space left on device")
        os.rename(src, dst)

    monkeypatch.setattr(os, "replace", fail_on_cert)  # what webhook.certs renames with
    with pytest.raises(ConfigError, match="cannot write certificates to .*: No space left on device"):
        write_bundle(tmp_path, service="sealgate", namespace="gate")
    assert (tmp_path / "tls.crt").read_bytes() == old_cert
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.crt", "ca.key", "tls.crt", "tls.key"]


def test_an_output_path_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="is not a directory|cannot create output directory"):
        write_bundle(tmp_path / "f", service="sealgate", namespace="gate")


# --- the CLI ---------------------------------------------------------------------------------------------


@pytest.fixture
def sealgate() -> Callable[[Sequence[str]], int]:
    """``sealgate([...]) -> exit code`` (``verifier.cli.main``)."""
    from verifier.cli import main

    return main


def test_cli_writes_the_files_and_prints_expiry_ca_bundle_and_a_client_config(
    tmp_path: Path, sealgate: Callable[[Sequence[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tls"
    argv = ["certs", "--service", "sealgate", "--namespace", "gate", "--out-dir", str(out)]
    code = sealgate([*argv, "--dns", "hook.example.test", "--ip", "127.0.0.1", "--days", "30"])
    stdout = capsys.readouterr().out
    assert code == 0
    cert = x509.load_pem_x509_certificate((out / "tls.crt").read_bytes())
    ca_cert = x509.load_pem_x509_certificate((out / "ca.crt").read_bytes())
    lines = stdout.splitlines()
    assert f"wrote {out / 'tls.crt'}" in lines and f"wrote {out / 'ca.key'}" in lines
    assert f"serving certificate expires {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}" in lines
    assert (
        "serving certificate for DNS:sealgate.gate.svc, DNS:sealgate, DNS:sealgate.gate, "
        "DNS:sealgate.gate.svc.cluster.local, DNS:hook.example.test, IP:127.0.0.1" in lines
    )
    assert dt.timedelta(days=29) < cert.not_valid_after_utc - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)
    bundle_lines = [line for line in lines if line.startswith("caBundle: ")]
    assert bundle_lines == [f"caBundle: {ca_bundle_b64(ca_cert)}"]
    snippet = yaml.safe_load(stdout[stdout.index("clientConfig:") :])
    assert snippet == {
        "clientConfig": {
            "service": {"name": "sealgate", "namespace": "gate", "path": "/validate", "port": 443},
            "caBundle": ca_bundle_b64(ca_cert),
        }
    }
    assert any(line.startswith("new CA ") for line in lines)


def test_cli_rotation_keeps_the_ca_and_says_so(
    tmp_path: Path, sealgate: Callable[[Sequence[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["certs", "--service", "sealgate", "--namespace", "gate", "--out-dir", str(tmp_path)]
    assert sealgate(argv) == 0
    first = capsys.readouterr().out
    assert sealgate(argv) == 0
    second = capsys.readouterr().out
    ca_line = [line for line in first.splitlines() if line.startswith("caBundle: ")]
    assert ca_line == [line for line in second.splitlines() if line.startswith("caBundle: ")]
    assert any(line.startswith(f"kept CA {tmp_path / 'ca.crt'}") for line in second.splitlines())
    assert f"wrote {tmp_path / 'ca.crt'}" not in second.splitlines()


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        pytest.param(
            ["--ip", "localhost"],
            2,
            "error: ip address 'localhost' is not an IPv4 or IPv6 address",
            id="a host name given as --ip is a usage error",
        ),
        pytest.param(
            ["--days", "0"],
            2,
            "error: serving certificate lifetime of 0 days is out of range",
            id="zero days is a usage error",
        ),
        pytest.param(
            ["--days", "ten"],
            2,
            "argument --days: invalid int value: 'ten'",
            id="a non-numeric --days is a usage error",
        ),
        pytest.param(
            ["--dns", "a_b"], 2, "error: dns name 'a_b' is not a valid host name", id="a bad --dns is a usage error"
        ),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(
    tmp_path: Path,
    sealgate: Callable[[Sequence[str]], int],
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    code: int,
    message: str,
) -> None:
    argv = ["certs", "--service", "sealgate", "--namespace", "gate", "--out-dir", str(tmp_path / "o"), *extra]
    try:
        got = sealgate(argv)
    except SystemExit as exc:  # argparse's own errors
        got = int(exc.code or 0)
    err = capsys.readouterr().err
    assert got == code
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_cli_with_a_ca_certificate_but_no_key_exits_2_with_a_hint(
    tmp_path: Path, sealgate: Callable[[Sequence[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ca.crt").write_bytes(certificate_pem(self_signed_ca(_K)))
    code = sealgate(["certs", "--service", "s", "--namespace", "n", "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [
        f"error: {tmp_path / 'ca.crt'} exists but {tmp_path / 'ca.key'} does not, so the CA cannot sign",
        "hint: use --new-ca to replace the CA (then update caBundle)",
    ]
