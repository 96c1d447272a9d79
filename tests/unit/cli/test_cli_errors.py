"""Bad input on the command line: one clear line on stderr, the documented exit code, never a traceback."""

from __future__ import annotations

import socket

import pytest

from verifier.cli import main


@pytest.fixture
def closed_port():
    """A loopback port with nothing listening (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return port


@pytest.fixture
def keypair(tmp_path, monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", "right")
    prefix = tmp_path / "k"
    assert main(["keygen", "--output-key-prefix", str(prefix)]) == 0
    return prefix


def _run(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("image", "fragment"),
    [
        pytest.param("", "empty", id="empty reference"),
        pytest.param("UPPER/case:v1", "must be lowercase", id="uppercase repository"),
        pytest.param("app:bad tag", "contains whitespace", id="space in the tag"),
        pytest.param("app@sha256:abc", "digest", id="short digest"),
        pytest.param(
            "https://registry.example.com/app", "must not have a scheme prefix", id="URL instead of a reference"
        ),
    ],
)
def test_malformed_references_exit_2(capsys, keypair, image, fragment):
    code, _, err = _run(capsys, ["verify", "--key", f"{keypair}.pub", image])
    assert code == 2
    assert err.startswith("error: ")
    assert fragment.lower() in err.lower()
    assert err.count("\n") == 1


def test_unreachable_registry_is_reported_and_exits_1(capsys, keypair, closed_port):
    code, out, _ = _run(capsys, ["verify", "--key", f"{keypair}.pub", f"127.0.0.1:{closed_port}/app:v1"])
    assert code == 1
    host = f"127.0.0.1:{closed_port}"
    assert f'FAIL image "{host}/app:v1": policy "command-line": registry {host}' in out
    assert "unavailable" in out


def test_wrong_password_exits_2_with_a_clear_message(capsys, keypair, monkeypatch, closed_port):
    monkeypatch.setenv("COSIGN_PASSWORD", "wrong")
    code, _, err = _run(capsys, ["sign", "--key", f"{keypair}.key", f"127.0.0.1:{closed_port}/app:v1"])
    assert code == 2
    assert "password" in err.lower()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b"", "no PEM block found", id="empty key file"),
        pytest.param(b"not a pem", "no PEM block found", id="garbage key file"),
        pytest.param(
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            "cannot parse the PUBLIC KEY block",
            id="truncated public key",
        ),
    ],
)
def test_broken_public_keys_exit_2(capsys, tmp_path, content, fragment):
    key = tmp_path / "bad.pub"
    key.write_bytes(content)
    code, _, err = _run(capsys, ["verify", "--key", str(key), "127.0.0.1:1/app:v1"])
    assert code == 2
    assert err.startswith("error: ")
    assert str(key) in err
    assert fragment in err
    assert err.count("\n") == 1


def test_missing_key_file_names_the_path(capsys, tmp_path):
    code, _, err = _run(capsys, ["verify", "--key", str(tmp_path / "nope.pub"), "127.0.0.1:1/app:v1"])
    assert code == 2
    assert "nope.pub" in err


@pytest.mark.parametrize("pair", ["novalue", "=value"])
def test_malformed_annotations_exit_2(capsys, keypair, pair):
    code, _, err = _run(capsys, ["verify", "--key", f"{keypair}.pub", "-a", pair, "127.0.0.1:1/app:v1"])
    assert code == 2
    assert "key=value" in err


def test_unknown_option_is_a_usage_error(capsys):
    code = None
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--no-such-flag"])
    code = exc.value.code
    assert code == 2
    assert "error:" in capsys.readouterr().err


def test_keygen_refuses_to_overwrite(capsys, keypair):
    code, _, err = _run(capsys, ["keygen", "--output-key-prefix", str(keypair)])
    assert code == 2
    assert "already exists" in err


def test_cosign_repository_with_a_tag_is_rejected(capsys, keypair, monkeypatch):
    monkeypatch.setenv("COSIGN_REPOSITORY", "127.0.0.1:1/sigs:v1")
    code, _, err = _run(capsys, ["verify", "--key", f"{keypair}.pub", "127.0.0.1:1/app@sha256:" + "a" * 64])
    assert code == 2
    assert "COSIGN_REPOSITORY" in err
