"""`sealgate verify` / `sign` against a misbehaving registry: one clear line, the documented exit code."""

from __future__ import annotations

import json

import pytest

from tests.support.faultregistry import Fault, FaultRegistry
from verifier.cli import main
from verifier.cosign import SIGNATURE_ANNOTATION, attachment_tag, build_signature_manifest
from verifier.oci import Descriptor, Digest


@pytest.fixture
def keypair(tmp_path, monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    prefix = tmp_path / "k"
    assert main(["keygen", "--output-key-prefix", str(prefix)]) == 0
    return prefix


@pytest.fixture
def reg():
    with FaultRegistry() as registry:
        yield registry


def _signed(reg, keypair, capsys) -> tuple[str, str]:
    digest = reg.add_image("team/app", "v1")
    image = f"{reg.host}/team/app:v1"
    assert main(["sign", "--key", f"{keypair}.key", image]) == 0
    capsys.readouterr()
    return image, digest


def _verify(capsys, keypair, image):
    code = main(["verify", "--key", f"{keypair}.pub", "--output", "json", image])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, json.loads(captured.out)


@pytest.mark.parametrize(
    ("fault", "code_name", "fragment"),
    [
        pytest.param(
            Fault("status", method="HEAD", path="/manifests/v1", status=404, times=-1),
            "NOT_FOUND",
            "",
            id="image tag not found",
        ),
        pytest.param(
            Fault(
                "status",
                method="HEAD",
                path="/manifests/",
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="registry"'},
                times=-1,
            ),
            "REGISTRY_UNAUTHORIZED",
            "no credentials were found",
            id="401 without credentials",
        ),
        pytest.param(
            Fault("status", method="GET", path=".sig", status=500, times=-1),
            "REGISTRY_UNAVAILABLE",
            "HTTP 500 after 4 attempts",
            id="persistent 500",
        ),
        pytest.param(
            Fault("status", method="GET", path=".sig", status=429, headers={"Retry-After": "3600"}, times=-1),
            "REGISTRY_UNAVAILABLE",
            "retry after 3600s",
            id="429 asking for an hour",
        ),
    ],
)
def test_registry_failures_exit_1_with_the_reason(reg, keypair, capsys, fault, code_name, fragment):
    image, _ = _signed(reg, keypair, capsys)
    reg.inject(fault)
    code, report = _verify(capsys, keypair, image)
    assert code == 1
    assert report["code"] == code_name
    assert fragment in report["reason"]


@pytest.mark.parametrize(
    ("fault", "code_name", "judged"),
    [
        pytest.param(
            Fault("corrupt", method="GET", path="/blobs/", times=-1),
            "DIGEST_MISMATCH",
            ["DIGEST_MISMATCH"],
            id="payload blob that does not hash to its digest",
        ),
        pytest.param(
            Fault("truncate", method="GET", path="/blobs/", times=-1),
            "REGISTRY_UNAVAILABLE",
            [],  # the registry failing, not the signature: nothing is judged (and no verdict cached)
            id="payload blob cut short",
        ),
    ],
)
def test_bad_payload_blobs_reject_the_signature(reg, keypair, capsys, fault, code_name, judged):
    image, _ = _signed(reg, keypair, capsys)
    reg.inject(fault)
    code, report = _verify(capsys, keypair, image)
    assert code == 1
    assert [e["code"] for e in report["results"][0]["evidence"]] == judged
    assert report["code"] == code_name


def test_oversized_signature_manifest_is_refused(reg, keypair, capsys):
    digest = reg.add_image("team/app", "v1")
    huge = json.dumps({"schemaVersion": 2, "layers": [], "padding": "x" * (5 * 1024 * 1024)}).encode()
    reg.add_manifest("team/app", huge, tag=attachment_tag(Digest.parse(digest)))
    code, report = _verify(capsys, keypair, f"{reg.host}/team/app:v1")
    assert code == 1
    assert report["code"] == "SIZE_LIMIT"


def test_garbage_in_the_signature_annotation_is_reported(reg, keypair, capsys):
    digest = reg.add_image("team/app", "v1")
    payload = b'{"critical":{}}'
    layer = Descriptor(
        media_type="application/vnd.dev.cosign.simplesigning.v1+json",
        digest=Digest.of(payload),
        size=len(payload),
        annotations={SIGNATURE_ANNOTATION: "%%% not base64 %%%"},
    )
    manifest, config = build_signature_manifest([layer])
    reg.add_blob("team/app", payload)
    reg.add_blob("team/app", config)
    reg.add_manifest("team/app", manifest, tag=attachment_tag(Digest.parse(digest)))
    code, report = _verify(capsys, keypair, f"{reg.host}/team/app:v1")
    assert code == 1
    (check,) = report["results"][0]["evidence"]
    assert (check["kind"], check["code"]) == ("signature", "SIGNATURE_INVALID")
    assert "not valid base64" in check["reason"]


def test_sign_against_a_failing_registry_is_one_line_and_exit_1(reg, keypair, capsys):
    reg.add_image("team/app", "v1")
    reg.inject(Fault("status", method="PUT", path="/manifests/", status=500, times=-1))
    code = main(["sign", "--key", f"{keypair}.key", f"{reg.host}/team/app:v1"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
