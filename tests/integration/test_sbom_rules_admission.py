"""SBOM rules at admission, over the real webhook (`sealgate serve` over HTTPS) and the real registry: images
attested with `sealgate attest --type cyclonedx` by the CI key, judged by a policy whose SBOM attestation
carries deny rules, a licence allow-list and a warn rule.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support.keyedwebhook import keyed_webhook
from verifier.cli import main
from verifier.oci import Digest, Reference
from verifier.registry import RegistryClient

pytestmark = pytest.mark.integration

PASSWORD = "sbom-rules-password"
LOG4J_OLD = "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"

POLICY = """\
apiVersion: sealgate.dev/v1alpha1
kind: ImagePolicy
metadata: {{name: prod}}
spec:
  images: ["{reg}/sbom-rules/**"]
  authorities:
    - {{name: ci, key: {{path: ci.pub}}}}
    - {{name: release, key: {{path: release.pub}}}}
  attestations:
    - name: sbom
      predicateType: cyclonedx
      authorities: [ci]
      sbom:
        deny:
          - name: log4shell
            purl: pkg:maven/org.apache.logging.log4j/log4j-core
            versions: "vers:maven/<2.17.1"
          - name: old-openssl
            purl: pkg:deb/debian/openssl
            versions: "vers:deb/<3.0.13-1~deb12u1"
            mode: warn
        licenses:
          allow: [MIT, Apache-2.0, BSD-3-Clause]
          unknown: deny
"""


def _component(purl: str, licence: str = "Apache-2.0") -> dict:
    name, _, version = purl.rsplit("/", 1)[1].split("?")[0].partition("@")
    return {"type": "library", "name": name, "version": version, "purl": purl,
            "licenses": [{"expression": licence}]}  # fmt: skip


def _sbom(*components: dict) -> bytes:
    base = [_component("pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64", "Zlib OR MIT")]
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": base + list(components)}
    return json.dumps(doc).encode()


@pytest.fixture(scope="module")
def env(tmp_path_factory, registry):
    tmp = tmp_path_factory.mktemp("sbom-rules")
    with keyed_webhook(tmp, POLICY.format(reg=registry.host), password=PASSWORD) as hook:
        yield {"tmp": tmp, "hook": hook, "registry": registry}


def _image(env, pushed_image, tag: str, sbom: bytes | None, attester: str = "ci") -> str:
    ref, digest = pushed_image(env["registry"], repo="sbom-rules/app", tag=tag)
    predicate = env["tmp"] / f"{tag}.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COSIGN_PASSWORD", PASSWORD)
        assert main(["sign", "--key", str(env["tmp"] / "ci.key"), ref]) == 0
        if sbom is not None:
            predicate.write_bytes(sbom)
            argv = ["attest", "--key", str(env["tmp"] / f"{attester}.key"), "--type", "cyclonedx"]
            assert main([*argv, "--predicate", str(predicate), ref]) == 0
    return f"{Reference.parse(ref).name}@{digest}"


def test_a_denied_component_is_named_in_the_denial(env, pushed_image):
    image = _image(env, pushed_image, "log4j", _sbom(_component(LOG4J_OLD)))
    answer = env["hook"].admit(image)
    assert answer["allowed"] is False, answer
    assert answer["status"]["message"] == (
        f'spec.containers[0].image "{image}": policy "prod": SBOM component {LOG4J_OLD} is denied by rule '
        '"log4shell" (vers:maven/<2.17.1)'
    )


def test_a_denied_licence_is_named_and_many_findings_are_bounded(env, pushed_image):
    gpl = [_component(f"pkg:npm/gpl-{i}@1.0.{i}", "GPL-3.0-only") for i in range(30)]
    image = _image(env, pushed_image, "gpl", _sbom(*gpl))
    message = env["hook"].admit(image)["status"]["message"]
    assert "SBOM component pkg:npm/gpl-0@1.0.0 licence 'GPL-3.0-only' is not allowed" in message
    assert "and 21 more" in message  # 30 findings: 9 shown, then how many more
    assert message.count("\n- ") == 10


def test_a_clean_sbom_is_admitted_and_a_warn_rule_warns(env, pushed_image):
    fixed = _component("pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1")
    clean = _image(env, pushed_image, "clean", _sbom(fixed))
    answer = env["hook"].admit(clean)
    assert answer["allowed"] is True, answer
    assert not answer.get("warnings")
    warned = _image(env, pushed_image, "openssl", _sbom(_component("pkg:deb/debian/openssl@3.0.11-1~deb12u2", "MIT")))
    answer = env["hook"].admit(warned)
    assert answer["allowed"] is True, answer
    assert any('SBOM component pkg:deb/debian/openssl@3.0.11-1~deb12u2 is denied by rule "old-openssl"' in w
               for w in answer["warnings"])  # fmt: skip


def test_an_sbom_attested_by_another_authority_does_not_count(env, pushed_image):
    image = _image(env, pushed_image, "release-attested", _sbom(), attester="release")
    answer = env["hook"].admit(image)
    assert answer["allowed"] is False, answer
    assert "no verified https://cyclonedx.org/bom attestation" in answer["status"]["message"]


def test_an_sbom_for_another_digest_does_not_count(env, pushed_image):
    clean = _image(env, pushed_image, "donor", _sbom())
    target, target_digest = pushed_image(env["registry"], repo="sbom-rules/app", tag="no-sbom")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COSIGN_PASSWORD", PASSWORD)
        assert main(["sign", "--key", str(env["tmp"] / "ci.key"), target]) == 0
    donor = Reference.parse(clean)

    async def replay() -> None:  # the donor's signed .att, written under the target's .att tag
        async with RegistryClient() as client:
            manifest = await client.get_manifest(donor.with_tag(f"{donor.digest.tag_form}.att"))
            where = Reference.parse(target).with_tag(f"{Digest.parse(target_digest).tag_form}.att")
            await client.put_manifest(where, manifest.raw, manifest.media_type)

    asyncio.run(replay())
    answer = env["hook"].admit(f"{Reference.parse(target).name}@{target_digest}")
    assert answer["allowed"] is False, answer
    assert "does not name" in answer["status"]["message"], answer["status"]["message"]
