"""Trusted roots are cached by content, not by file name: a policy reload after the root file was replaced
judges with the new root (and going back to the old content gives the old answer again)."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime

import pytest
import yaml

from tools.testsigstore import COSIGN_SIGN_PREDICATE, TestSigstore
from verifier.attachments import attach_bundle
from verifier.engine import Engine, Outcome
from verifier.oci import Digest, Reference
from verifier.policy import load_policy_files
from verifier.registry import RegistryClient

pytestmark = pytest.mark.integration

IDENTITY = "https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1.0.0"
ISSUER = "https://token.actions.githubusercontent.com"


def test_a_replaced_trusted_root_file_is_read_again_on_reload(registry, pushed_image, tmp_path):
    old, new = TestSigstore(tmp_path / "old"), TestSigstore(tmp_path / "new")
    ref_text, digest_text = pushed_image(registry, repo="rootreload/app", tag="v1")
    ref, digest = Reference.parse(ref_text), Digest.parse(digest_text)
    statement = new.statement_for_image(digest_text, COSIGN_SIGN_PREDICATE)
    bundle = json.dumps(new.sign_bundle(statement=statement, identity=IDENTITY, issuer=ISSUER)).encode()

    root = tmp_path / "policies" / "trusted_root.json"
    root.parent.mkdir()
    shutil.copyfile(old.trusted_root_path, root)
    keyless = {"identity": IDENTITY, "issuer": ISSUER, "trustedRoot": "trusted_root.json"}
    policy = {
        "apiVersion": "sealgate.dev/v1alpha1",
        "kind": "ImagePolicy",
        "metadata": {"name": "release"},
        "spec": {"images": [f"{registry.host}/rootreload/**"], "authorities": [{"name": "gha", "keyless": keyless}]},
    }
    (root.parent / "policy.yaml").write_text(yaml.safe_dump(policy))
    image = f"{ref.name}@{digest}"

    async def run() -> list[Outcome]:
        async with RegistryClient() as client:
            subject = await client.resolve(ref.with_digest(digest))
            await attach_bundle(client, ref, subject, bundle, COSIGN_SIGN_PREDICATE, datetime.now(UTC))
            outcomes = []
            for source in (old, new, old):  # replace the file's content, then load the policies again
                shutil.copyfile(source.trusted_root_path, root)
                engine = Engine(load_policy_files([str(root.parent)]), client)
                outcomes.append((await engine.decide(image)).outcome)
            return outcomes

    assert asyncio.run(run()) == [Outcome.DENY, Outcome.ALLOW, Outcome.DENY]
