"""The registry fixtures are real: images pushed with skopeo read back with skopeo and raw HTTP, and each
auth mode challenges, accepts and refuses the way distribution does."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tools import (
    INDEX_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    LocalRegistry,
    TokenServer,
    ToolError,
    build_image,
    decode_jwt_claims,
    layout_digest,
    localregistry,
    push_image,
    push_index,
)

pytestmark = pytest.mark.integration

PushedImage = Callable[..., tuple[str, str]]
ACCEPT = ", ".join([MANIFEST_MEDIA_TYPE, INDEX_MEDIA_TYPE])


def _client() -> httpx.Client:
    # trust_env=False: no proxy from the environment may see loopback traffic.
    return httpx.Client(trust_env=False, timeout=10)


def _skopeo_inspect(ref: str, creds: tuple[str, str] | None, *, raw: bool = False) -> subprocess.CompletedProcess[str]:
    cmd = ["skopeo", "--insecure-policy", "inspect", "--tls-verify=false"]
    if raw:
        cmd.append("--raw")
    cmd += ["--no-creds"] if creds is None else ["--creds", f"{creds[0]}:{creds[1]}"]
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "REGISTRY_AUTH_FILE": "/dev/null"}
    return subprocess.run([*cmd, f"docker://{ref}"], capture_output=True, text=True, env=env, timeout=60, check=False)


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="x",service="y"`` -> ("bearer", {"realm": "x", "service": "y"})."""
    scheme, _, rest = header.partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', rest))


def _token(registry: LocalRegistry, scope: str, creds: tuple[str, str] | None) -> str:
    assert registry.token_server is not None
    with _client() as client:
        resp = client.get(
            registry.token_server.realm,
            params={"service": registry.token_server.service, "scope": scope},
            auth=creds,
        )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    return str(body["token"])


def _auth_headers(registry: LocalRegistry, repo: str, actions: str = "pull") -> dict[str, str]:
    """What a client must send to read ``repo`` from ``registry``, whatever its auth mode."""
    if registry.auth is None:
        return {}
    if registry.auth == "htpasswd":
        assert registry.creds is not None
        raw = f"{registry.creds[0]}:{registry.creds[1]}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    return {"Authorization": "Bearer " + _token(registry, f"repository:{repo}:{actions}", registry.creds)}


# -- every fixture is a real registry -------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["registry", "auth_registry", "token_registry"])
def test_a_pushed_image_reads_back_with_skopeo_and_raw_http(
    fixture: str, request: pytest.FixtureRequest, pushed_image: PushedImage
) -> None:
    registry: LocalRegistry = request.getfixturevalue(fixture)
    ref, digest = pushed_image(registry, repo="demo/app", tag="v1")
    assert ref == f"{registry.host}/demo/app:v1"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)

    inspected = _skopeo_inspect(ref, registry.creds)
    assert inspected.returncode == 0, inspected.stderr
    info = json.loads(inspected.stdout)
    assert info["Digest"] == digest
    assert (info["Os"], info["Architecture"]) == ("linux", "amd64")
    assert len(info["Layers"]) == 1

    with _client() as client:
        resp = client.get(
            f"{registry.url}/v2/demo/app/manifests/v1",
            headers={"Accept": ACCEPT, **_auth_headers(registry, "demo/app")},
        )
    assert resp.status_code == 200, resp.text
    assert resp.headers["Docker-Content-Digest"] == digest
    assert "sha256:" + hashlib.sha256(resp.content).hexdigest() == digest
    assert resp.json()["mediaType"] == MANIFEST_MEDIA_TYPE


def test_each_pushed_image_is_distinct(registry: LocalRegistry, pushed_image: PushedImage) -> None:
    _, first = pushed_image(registry, repo="demo/distinct", tag="a")
    _, second = pushed_image(registry, repo="demo/distinct", tag="b")
    assert first != second


def test_a_registry_comes_up_fast_and_leaves_nothing_behind_when_stopped() -> None:
    reg = LocalRegistry()
    with reg:
        pid, root = reg.pid, reg.root.parent
        assert pid is not None and root.is_dir()
        assert reg.host.startswith("127.0.0.1:") and reg.url == f"http://{reg.host}"
        with _client() as client:
            assert client.get(f"{reg.url}/v2/").status_code == 200
    assert reg.pid is None
    assert not root.exists()
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    with pytest.raises(ToolError, match="not running"):
        _ = reg.host


def test_a_port_taken_between_pick_and_bind_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))  # bound, not listening: the registry's bind fails, probes are refused
        taken = busy.getsockname()[1]
        picks = iter([taken, taken])
        real_pick = localregistry._free_port
        monkeypatch.setattr(localregistry, "_free_port", lambda: next(picks, None) or real_pick())
        with LocalRegistry() as reg:
            assert reg.port != taken
            with _client() as client:
                assert client.get(f"{reg.url}/v2/").status_code == 200


@pytest.mark.parametrize(
    ("case", "script", "message"),
    [
        (
            "a registry that exits at once",
            "echo 'configuration error: boom' >&2; exit 1",
            "configuration error: boom",
        ),
        (
            "a registry that never answers",
            "echo 'stuck starting'; exec sleep 30",
            "did not answer GET /v2/ within",
        ),
    ],
)
def test_a_registry_that_does_not_come_up_fails_with_its_output(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, case: str, script: str, message: str
) -> None:
    fake = tmp_path / "fake-registry"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setattr(localregistry, "_binary", lambda: str(fake))
    reg = LocalRegistry(startup_timeout=0.5)
    with pytest.raises(ToolError, match=message):
        reg.start()
    assert reg.pid is None, case
    assert localregistry._live.isdisjoint({reg})


def test_a_missing_registry_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolError, match="docker-registry not found"):
        LocalRegistry().start()


def test_an_unknown_auth_mode_is_refused() -> None:
    with pytest.raises(ToolError, match="unknown registry auth mode"):
        LocalRegistry(auth="ldap")  # type: ignore[arg-type]


# -- htpasswd ---------------------------------------------------------------------------------------------


def test_htpasswd_registry_challenges_anonymous_clients_with_basic(auth_registry: LocalRegistry) -> None:
    with _client() as client:
        resp = client.get(f"{auth_registry.url}/v2/")
    assert resp.status_code == 401
    scheme, params = _challenge(resp.headers["WWW-Authenticate"])
    assert scheme == "basic"
    assert params["realm"] == "sealgate-test-registry"


@pytest.mark.parametrize(
    ("case", "good_password", "status"),
    [
        ("the right password is accepted", True, 200),
        ("a wrong password is refused", False, 401),
    ],
)
def test_htpasswd_registry_checks_the_password(
    auth_registry: LocalRegistry, case: str, good_password: bool, status: int
) -> None:
    assert auth_registry.username is not None and auth_registry.password is not None
    password = auth_registry.password if good_password else auth_registry.password + "x"
    with _client() as client:
        resp = client.get(f"{auth_registry.url}/v2/", auth=(auth_registry.username, password))
    assert resp.status_code == status, case


def test_htpasswd_registry_refuses_an_anonymous_skopeo_read(
    auth_registry: LocalRegistry, pushed_image: PushedImage
) -> None:
    ref, _ = pushed_image(auth_registry, repo="demo/private", tag="v1")
    inspected = _skopeo_inspect(ref, None)
    assert inspected.returncode != 0
    assert "unauthorized" in inspected.stderr.lower() or "authentication required" in inspected.stderr.lower()


# -- token auth -------------------------------------------------------------------------------------------


def test_token_registry_challenges_with_bearer_realm_service_and_scope(token_registry: LocalRegistry) -> None:
    assert token_registry.token_server is not None
    with _client() as client:
        resp = client.get(f"{token_registry.url}/v2/demo/app/manifests/v1", headers={"Accept": ACCEPT})
    assert resp.status_code == 401
    scheme, params = _challenge(resp.headers["WWW-Authenticate"])
    assert scheme == "bearer"
    assert params["realm"] == token_registry.token_server.realm
    assert params["realm"].startswith("http://127.0.0.1:")
    assert params["service"] == token_registry.token_server.service
    assert params["scope"] == "repository:demo/app:pull"


def test_a_token_from_the_token_server_lets_a_pull_succeed(
    token_registry: LocalRegistry, pushed_image: PushedImage
) -> None:
    assert token_registry.token_server is not None
    _, digest = pushed_image(token_registry, repo="demo/tokened", tag="v1")
    before = token_registry.token_server.tokens_issued
    token = _token(token_registry, "repository:demo/tokened:pull", token_registry.creds)
    assert token_registry.token_server.tokens_issued == before + 1
    claims = decode_jwt_claims(token)
    assert claims["access"] == [{"type": "repository", "name": "demo/tokened", "actions": ["pull"]}]
    with _client() as client:
        resp = client.get(
            f"{token_registry.url}/v2/demo/tokened/manifests/{digest}",
            headers={"Accept": ACCEPT, "Authorization": f"Bearer {token}"},
        )
    assert resp.status_code == 200, resp.text
    assert resp.headers["Docker-Content-Digest"] == digest


@pytest.mark.parametrize(
    ("case", "creds"),
    [
        ("a wrong password", ("sealgate", "wrong")),
        ("an unknown user", ("mallory", "secret")),
    ],
)
def test_the_token_server_refuses_bad_credentials_with_401(
    token_registry: LocalRegistry, case: str, creds: tuple[str, str]
) -> None:
    assert token_registry.token_server is not None
    failures = token_registry.token_server.auth_failures
    with _client() as client:
        resp = client.get(
            token_registry.token_server.realm,
            params={"service": token_registry.token_server.service, "scope": "repository:demo/app:pull"},
            auth=creds,
        )
    assert resp.status_code == 401, case
    assert "token" not in resp.json()
    assert token_registry.token_server.auth_failures == failures + 1


def test_an_anonymous_token_grants_nothing_so_the_pull_is_refused(
    token_registry: LocalRegistry, pushed_image: PushedImage
) -> None:
    pushed_image(token_registry, repo="demo/anon", tag="v1")
    token = _token(token_registry, "repository:demo/anon:pull", None)
    assert decode_jwt_claims(token)["access"] == []
    with _client() as client:
        resp = client.get(
            f"{token_registry.url}/v2/demo/anon/manifests/v1",
            headers={"Accept": ACCEPT, "Authorization": f"Bearer {token}"},
        )
    assert resp.status_code == 401
    assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("case", "who", "scope"),
    [
        ("a pull-only token asked for by a pusher", "pusher", "repository:demo/scoped:pull"),
        ("a reader asking for push gets only pull", "reader", "repository:demo/scoped:pull,push"),
    ],
)
def test_a_pull_only_token_cannot_push(token_registry: LocalRegistry, case: str, who: str, scope: str) -> None:
    assert token_registry.creds is not None
    creds = token_registry.creds if who == "pusher" else (token_registry.reader, token_registry.reader_password)
    token = _token(token_registry, scope, creds)
    assert decode_jwt_claims(token)["access"][0]["actions"] == ["pull"], case
    with _client() as client:
        resp = client.post(
            f"{token_registry.url}/v2/demo/scoped/blobs/uploads/",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert resp.status_code == 401, case
    scheme, params = _challenge(resp.headers["WWW-Authenticate"])
    rtype, name, actions = params["scope"].split(":")
    assert (scheme, rtype, name, set(actions.split(","))) == (
        "bearer",
        "repository",
        "demo/scoped",
        {"pull", "push"},
    )


def test_a_push_token_can_start_an_upload(token_registry: LocalRegistry) -> None:
    token = _token(token_registry, "repository:demo/scoped:pull,push", token_registry.creds)
    with _client() as client:
        resp = client.post(
            f"{token_registry.url}/v2/demo/scoped/blobs/uploads/",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert resp.status_code == 202, resp.text
    assert resp.headers["Location"]


def test_a_reader_cannot_push_with_skopeo(token_registry: LocalRegistry, tmp_path: Path) -> None:
    layout = build_image(tmp_path, name="denied", files={"x": b"reader push"})
    with pytest.raises(ToolError, match="skopeo copy"):
        push_image(
            layout,
            token_registry,
            "demo/denied",
            "v1",
            creds=(token_registry.reader, token_registry.reader_password),
        )


def test_the_token_server_accepts_an_oauth2_password_grant(token_registry: LocalRegistry) -> None:
    server = token_registry.token_server
    assert server is not None and token_registry.creds is not None
    with _client() as client:
        good = client.post(
            server.realm,
            data={
                "grant_type": "password",
                "username": token_registry.creds[0],
                "password": token_registry.creds[1],
                "service": server.service,
                "scope": "repository:demo/app:pull",
            },
        )
        bad = client.post(
            server.realm,
            data={"grant_type": "password", "username": token_registry.creds[0], "password": "nope"},
        )
    assert good.status_code == 200
    assert decode_jwt_claims(good.json()["access_token"])["access"][0]["actions"] == ["pull"]
    assert bad.status_code == 401


def test_a_token_is_an_es256_jws_signed_by_the_certificate_in_its_x5c() -> None:
    server = TokenServer({"u": "p"}, service="svc", issuer="iss")
    token = server.issue("u", ["repository:a/b:pull,push,bogus"])["token"]
    header_b64, claims_b64, sig_b64 = token.split(".")
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
    assert header["alg"] == "ES256"
    cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    assert cert == x509.load_pem_x509_certificate(server.cert_pem)
    raw = base64.urlsafe_b64decode(sig_b64 + "=" * (-len(sig_b64) % 4))
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    claims = decode_jwt_claims(token)
    assert (claims["iss"], claims["aud"], claims["sub"]) == ("iss", "svc", "u")
    assert claims["access"] == [{"type": "repository", "name": "a/b", "actions": ["pull", "push"]}]
    assert server.tokens_issued == 1


# -- test images -----------------------------------------------------------------------------------------


def test_build_image_is_deterministic_and_content_addressed(tmp_path: Path) -> None:
    one = layout_digest(build_image(tmp_path / "a", name="img", files={"f.txt": b"1"}))
    same = layout_digest(build_image(tmp_path / "b", name="img", files={"f.txt": b"1"}))
    other = layout_digest(build_image(tmp_path / "c", name="img", files={"f.txt": b"2"}))
    assert one == same
    assert one != other


@pytest.mark.parametrize(
    ("case", "name", "files", "message"),
    [
        ("a file escaping the image root", "img", {"../etc/passwd": b""}, "bad file name"),
        ("an image name with a slash", "a/b", {"f": b""}, "bad image name"),
    ],
)
def test_build_image_refuses_bad_input(
    tmp_path: Path, case: str, name: str, files: dict[str, bytes], message: str
) -> None:
    with pytest.raises(ToolError, match=message):
        build_image(tmp_path, name=name, files=files)


def test_a_pushed_layout_keeps_its_digest(registry: LocalRegistry, tmp_path: Path) -> None:
    layout = build_image(tmp_path, name="kept", files={"k": b"kept"})
    assert push_image(layout, registry, "demo/kept", "v1") == layout_digest(layout)


def test_push_index_pushes_a_two_platform_index_and_both_images(registry: LocalRegistry, tmp_path: Path) -> None:
    pushed = push_index(tmp_path, registry, "demo/multi", "v1", name="multi")
    assert pushed.ref == f"{registry.host}/demo/multi:v1"
    assert set(pushed.children) == {"linux/amd64", "linux/arm64"}
    assert len(set(pushed.children.values())) == 2

    inspected = _skopeo_inspect(pushed.ref, None, raw=True)
    assert inspected.returncode == 0, inspected.stderr
    assert "sha256:" + hashlib.sha256(inspected.stdout.encode()).hexdigest() == pushed.digest
    index = json.loads(inspected.stdout)
    assert index["mediaType"] == INDEX_MEDIA_TYPE
    listed = {f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"] for m in index["manifests"]}
    assert listed == pushed.children

    with _client() as client:
        for platform, digest in pushed.children.items():
            resp = client.get(f"{registry.url}/v2/demo/multi/manifests/{digest}", headers={"Accept": ACCEPT})
            assert resp.status_code == 200, platform
            config_digest = resp.json()["config"]["digest"]
            config = client.get(f"{registry.url}/v2/demo/multi/blobs/{config_digest}")
            assert config.status_code == 200
            assert f"{config.json()['os']}/{config.json()['architecture']}" == platform
