"""sign and verify through real registries that need credentials: htpasswd basic auth and the distribution
token flow, with credentials from flags, a docker config.json and a docker credential helper."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from verifier.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def keys(tmp_path, monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", "")
    prefix = tmp_path / "k"
    assert main(["keygen", "--output-key-prefix", str(prefix)]) == 0
    return prefix


@pytest.fixture
def no_docker_config(tmp_path, monkeypatch):
    """Point DOCKER_CONFIG at an empty folder so the developer's own credentials never leak into a test."""
    empty = tmp_path / "empty-docker"
    empty.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(empty))


def _docker_config(tmp_path, host, user, password):
    path = tmp_path / "config.json"
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {host: {"auth": token}}}))
    return path


def _verify(capsys, *argv):
    code = main(["verify", "--output", "json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_htpasswd_registry_with_docker_config(auth_registry, pushed_image, keys, tmp_path, capsys, no_docker_config):
    ref, _ = pushed_image(auth_registry, repo="auth/basic", tag="v1")
    config = _docker_config(tmp_path, auth_registry.host, auth_registry.username, auth_registry.password)
    assert main(["sign", "--key", f"{keys}.key", "--docker-config", str(config), ref]) == 0
    capsys.readouterr()
    code, report = _verify(capsys, "--key", f"{keys}.pub", "--docker-config", str(config), ref)
    assert code == 0, report


def test_htpasswd_registry_without_credentials_is_unauthorized(
    auth_registry, pushed_image, keys, capsys, no_docker_config
):
    ref, _ = pushed_image(auth_registry, repo="auth/anon", tag="v1")
    code, report = _verify(capsys, "--key", f"{keys}.pub", ref)
    assert code == 1
    assert report["code"] == "REGISTRY_UNAUTHORIZED"
    assert "no credentials were found" in report["reason"]


def test_htpasswd_registry_with_a_wrong_password_is_unauthorized(
    auth_registry, pushed_image, keys, capsys, no_docker_config
):
    ref, _ = pushed_image(auth_registry, repo="auth/wrong", tag="v1")
    code, report = _verify(
        capsys,
        "--key",
        f"{keys}.pub",
        "--registry-username",
        auth_registry.username,
        "--registry-password",
        "not-the-password",
        ref,
    )
    assert code == 1
    assert report["code"] == "REGISTRY_UNAUTHORIZED"
    assert "credentials were found" in report["reason"]


def test_token_registry_sign_and_verify_reuse_tokens(token_registry, pushed_image, keys, capsys, no_docker_config):
    ref, _ = pushed_image(token_registry, repo="auth/token", tag="v1")
    creds = ["--registry-username", token_registry.username, "--registry-password", token_registry.password]
    assert main(["sign", "--key", f"{keys}.key", *creds, ref]) == 0
    capsys.readouterr()
    before = token_registry.token_server.tokens_issued
    code, report = _verify(capsys, "--key", f"{keys}.pub", *creds, ref)
    assert code == 0, report
    # one pull token serves the digest lookup, the signature manifest and the payload blob
    assert token_registry.token_server.tokens_issued - before == 1


def test_token_registry_pull_only_user_verifies_but_cannot_sign(
    token_registry, pushed_image, keys, capsys, no_docker_config
):
    ref, _ = pushed_image(token_registry, repo="auth/readonly", tag="v1")
    owner = ["--registry-username", token_registry.username, "--registry-password", token_registry.password]
    reader = ["--registry-username", token_registry.reader, "--registry-password", token_registry.reader_password]
    assert main(["sign", "--key", f"{keys}.key", *owner, ref]) == 0
    capsys.readouterr()
    code, report = _verify(capsys, "--key", f"{keys}.pub", *reader, ref)
    assert code == 0, report
    # re-signing is a no-op (the signature is there), but a new signature needs push rights
    assert main(["sign", "--key", f"{keys}.key", *reader, ref]) == 0
    other, _ = pushed_image(token_registry, repo="auth/readonly", tag="v2")
    capsys.readouterr()
    assert main(["sign", "--key", f"{keys}.key", *reader, other]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: registry ")
    assert "refused" in err


def test_token_registry_with_a_credential_helper(token_registry, pushed_image, keys, tmp_path, capsys, monkeypatch):
    """credHelpers: sealgate runs docker-credential-<name> get, the server on stdin, as docker does."""
    ref, _ = pushed_image(token_registry, repo="auth/helper", tag="v1")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-sealgatetest"
    answer = json.dumps(
        {"ServerURL": token_registry.host, "Username": token_registry.username, "Secret": token_registry.password}
    )
    helper.write_text(f"#!/bin/sh\n[ \"$1\" = get ] || exit 1\ncat >/dev/null\necho '{answer}'\n")
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    config_dir = tmp_path / "docker"
    config_dir.mkdir()
    (config_dir / "config.json").write_text(json.dumps({"credHelpers": {token_registry.host: "sealgatetest"}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    assert main(["sign", "--key", f"{keys}.key", ref]) == 0
    capsys.readouterr()
    code, report = _verify(capsys, "--key", f"{keys}.pub", ref)
    assert code == 0, report
