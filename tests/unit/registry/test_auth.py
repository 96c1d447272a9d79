"""Credentials from docker's config.json (auths, credHelpers, credsStore) and WWW-Authenticate parsing."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from verifier.errors import ConfigError
from verifier.registry import Credentials, DockerConfigCredentials, StaticCredentials, parse_challenges, registry_key


def write_config(tmp_path: Path, config: dict[str, object]) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


HELPER = """#!/bin/sh
read server
echo "$server" >> "{log}"
case "$server" in
  *slow*) exec sleep 5 ;;
  *broken*) echo "helper exploded" >&2; exit 3 ;;
  *garbage*) echo "not json"; exit 0 ;;
  ghcr.io) echo '{{"ServerURL":"ghcr.io","Username":"<token>","Secret":"refresh-123"}}' ;;
  https://index.docker.io/v1/) echo '{{"ServerURL":"'"$server"'","Username":"hubuser","Secret":"hubpass"}}' ;;
  *) echo '{{"ServerURL":"'"$server"'","Username":"helper-user","Secret":"helper-secret-for-'"$server"'"}}' ;;
esac
case "$server" in *unknown*) echo "credentials not found in native keychain"; exit 1 ;; esac
"""


@pytest.fixture
def helper_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``docker-credential-test`` on PATH; returns the file it logs each server URL to."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "helper.log"
    log.touch()
    script = bindir / "docker-credential-test"
    script.write_text(HELPER.format(log=log))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


AUTHS = [
    pytest.param(
        {"auths": {"https://index.docker.io/v1/": {"auth": b64("hub:pw:with:colons")}}},
        "docker.io",
        Credentials("hub", "pw:with:colons"),
        id="docker hub key with base64 auth",
    ),
    pytest.param(
        {"auths": {"index.docker.io": {"auth": b64("hub:pw")}}},
        "docker.io",
        Credentials("hub", "pw"),
        id="docker hub key without scheme",
    ),
    pytest.param(
        {"auths": {"https://ghcr.io/v2/": {"username": "u", "password": "p"}}},
        "ghcr.io",
        Credentials("u", "p"),
        id="key with scheme and path, username and password",
    ),
    pytest.param(
        {"auths": {"localhost:5000": {"auth": b64("a:b")}}},
        "localhost:5000",
        Credentials("a", "b"),
        id="host with port",
    ),
    pytest.param(
        {
            "auths": {
                "myacr.azurecr.io": {
                    "auth": b64("00000000-0000-0000-0000-000000000000:"),
                    "identitytoken": "refresh",
                }
            }
        },
        "myacr.azurecr.io",
        Credentials("00000000-0000-0000-0000-000000000000", "", "refresh"),
        id="identity token",
    ),
    pytest.param({"auths": {"ghcr.io": {"auth": b64("a:b")}}}, "quay.io", None, id="other registry has none"),
    pytest.param({"auths": {"ghcr.io": {}}}, "ghcr.io", None, id="empty entry means none"),
    pytest.param({}, "ghcr.io", None, id="no auths at all"),
]


@pytest.mark.parametrize(("config", "registry", "expected"), AUTHS)
def test_auths_entries(tmp_path: Path, config: dict[str, object], registry: str, expected: Credentials | None) -> None:
    store = DockerConfigCredentials(write_config(tmp_path, config))
    assert store.get(registry) == expected


def test_missing_config_file_means_no_credentials(tmp_path: Path) -> None:
    assert DockerConfigCredentials(tmp_path / "absent.json").get("ghcr.io") is None


def test_default_path_honours_docker_config_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, {"auths": {"ghcr.io": {"auth": b64("env:pw")}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert DockerConfigCredentials().get("ghcr.io") == Credentials("env", "pw")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param("{not json", "is not valid JSON", id="broken JSON"),
        pytest.param("[]", "is not a JSON object", id="not an object"),
        pytest.param('{"auths": {"ghcr.io": {"auth": "%%%"}}}', "invalid base64", id="bad base64"),
        pytest.param(
            json.dumps({"auths": {"ghcr.io": {"auth": b64("nocolon")}}}),
            "not 'user:password'",
            id="auth without colon",
        ),
        pytest.param('{"credHelpers": {"ghcr.io": "../evil"}}', "invalid credential helper name", id="bad helper name"),
    ],
)
def test_malformed_config_is_a_config_error(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        DockerConfigCredentials(path).get("ghcr.io")
    assert fragment in str(caught.value)


def test_cred_helper_gets_the_server_on_stdin(tmp_path: Path, helper_log: Path) -> None:
    store = DockerConfigCredentials(write_config(tmp_path, {"credHelpers": {"quay.io": "test"}}))
    assert store.get("quay.io") == Credentials("helper-user", "helper-secret-for-quay.io")
    assert store.get("quay.io") is not None
    assert helper_log.read_text().splitlines() == ["quay.io"], "the answer is cached"


def test_cred_helper_token_username_means_identity_token(tmp_path: Path, helper_log: Path) -> None:
    store = DockerConfigCredentials(write_config(tmp_path, {"credHelpers": {"ghcr.io": "test"}}))
    assert store.get("ghcr.io") == Credentials(identity_token="refresh-123")


def test_creds_store_is_the_default_and_uses_the_docker_hub_key(tmp_path: Path, helper_log: Path) -> None:
    store = DockerConfigCredentials(write_config(tmp_path, {"credsStore": "test"}))
    assert store.get("docker.io") == Credentials("hubuser", "hubpass")
    assert helper_log.read_text().splitlines() == ["https://index.docker.io/v1/"]


def test_cred_helpers_win_over_creds_store_and_auths(tmp_path: Path, helper_log: Path) -> None:
    config = {
        "credsStore": "missing-helper",
        "credHelpers": {"quay.io": "test"},
        "auths": {"quay.io": {"auth": b64("file:pw")}},
    }
    assert DockerConfigCredentials(write_config(tmp_path, config)).get("quay.io") == Credentials(
        "helper-user", "helper-secret-for-quay.io"
    )


def test_helper_not_found_falls_back_to_auths(tmp_path: Path, helper_log: Path) -> None:
    config = {"credsStore": "missing-helper", "auths": {"quay.io": {"auth": b64("file:pw")}}}
    assert DockerConfigCredentials(write_config(tmp_path, config)).get("quay.io") == Credentials("file", "pw")


def test_helper_without_credentials_falls_back_to_auths(tmp_path: Path, helper_log: Path) -> None:
    config = {"credsStore": "test", "auths": {"unknown.example": {"auth": b64("file:pw")}}}
    assert DockerConfigCredentials(write_config(tmp_path, config)).get("unknown.example") == Credentials("file", "pw")


@pytest.mark.parametrize(
    ("registry", "fragment"),
    [
        pytest.param(
            "broken.example",
            "failed for registry broken.example (exit 3): helper exploded",
            id="helper fails",
        ),
        pytest.param("garbage.example", "returned no JSON object", id="helper prints garbage"),
        pytest.param("slow.example", "timed out after 0.5s", id="helper hangs"),
    ],
)
def test_failing_helpers_are_config_errors(tmp_path: Path, helper_log: Path, registry: str, fragment: str) -> None:
    store = DockerConfigCredentials(write_config(tmp_path, {"credsStore": "test"}), helper_timeout=0.5)
    with pytest.raises(ConfigError) as caught:
        store.get(registry)
    assert fragment in str(caught.value)


def test_static_credentials_normalise_keys() -> None:
    creds = Credentials("u", "p")
    store = StaticCredentials({"https://index.docker.io/v1/": creds})
    assert store.get("docker.io") is creds
    assert store.get("registry-1.docker.io") is creds
    assert store.get("ghcr.io") is None


def test_static_credentials_for_any_registry() -> None:
    store = StaticCredentials.for_any_registry("ci", "token")
    assert store.get("ghcr.io") == store.get("docker.io") == Credentials("ci", "token")


def test_credentials_repr_hides_secrets() -> None:
    text = repr(Credentials("user", "hunter2", "idtok", "regtok"))
    assert "user" in text
    assert "hunter2" not in text and "idtok" not in text and "regtok" not in text


@pytest.mark.parametrize(
    ("key", "registry"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("http://LOCALHOST:5000/v2/", "localhost:5000"),
        ("registry-1.docker.io", "docker.io"),
        ("ghcr.io", "ghcr.io"),
    ],
)
def test_registry_key(key: str, registry: str) -> None:
    assert registry_key(key) == registry


@pytest.mark.parametrize(
    ("headers", "scheme", "params"),
    [
        pytest.param(
            [
                'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                'scope="repository:library/nginx:pull"'
            ],
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:library/nginx:pull",
            },
            id="docker hub bearer challenge",
        ),
        pytest.param(['Basic realm="Registry Realm"'], "basic", {"realm": "Registry Realm"}, id="basic challenge"),
        pytest.param(
            ['Basic realm="x", Bearer realm="https://t.example/token",scope="a:b:pull,push"'],
            "bearer",
            {"realm": "https://t.example/token", "scope": "a:b:pull,push"},
            id="bearer preferred when both are offered in one header",
        ),
        pytest.param(
            ["bearer realm=https://t.example/token"],
            "bearer",
            {"realm": "https://t.example/token"},
            id="lowercase scheme and unquoted value",
        ),
        pytest.param(['Bearer realm="a\\"b"'], "bearer", {"realm": 'a"b'}, id="escaped quote"),
    ],
)
def test_parse_challenges(headers: list[str], scheme: str, params: dict[str, str]) -> None:
    challenge = parse_challenges(headers)
    assert challenge is not None
    assert challenge.scheme == scheme
    assert dict(challenge.params) == params


@pytest.mark.parametrize("headers", [[], ["Negotiate"], ['Bearer service="x"']])
def test_parse_challenges_without_usable_challenge(headers: list[str]) -> None:
    assert parse_challenges(headers) is None
