"""`make run`: the main job end to end on an embedded default, nothing from the internet.

Starts a loopback docker-registry, pushes two demo images, generates a cosign key pair, signs one image and
verifies it, then shows what sealgate says about an unsigned image, a copied (replayed) signature and the
wrong key. Then it makes webhook certificates, starts the admission webhook (`sealgate serve`) with a demo
policy and replays AdmissionReviews for signed and unsigned workloads, printing each decision. Exits 0 only
when every step gives the expected answer.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import httpx

from tools.localregistry import LocalRegistry
from tools.reviews import review, shape, with_images
from tools.testimages import build_image, push_image
from tools.webhookserver import free_port, start_webhook
from verifier.cli import main as sealgate
from verifier.cosign import attachment_tag
from verifier.oci import OCI_MANIFEST, Digest, Reference
from verifier.registry import RegistryClient

DEMO_DIR = Path(".demo")
DEMO_PASSWORD = "demo-password"  # noqa: S105 - the demo key's password, printed on purpose


def _step(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def _run(argv: list[str], expect: int) -> bool:
    print("$ sealgate " + " ".join(argv), flush=True)
    code = sealgate(argv)
    ok = code == expect
    print(f"-> exit {code} ({'as expected' if ok else f'EXPECTED {expect}'})", flush=True)
    return ok


async def _replay_signature(repository: Reference, source: Digest, target: Digest) -> None:
    """What an attacker with push access does: copy a valid .sig manifest onto another image."""
    async with RegistryClient() as client:
        manifest = await client.get_manifest(repository.with_tag(attachment_tag(source)))
        await client.put_manifest(repository.with_tag(attachment_tag(target)), manifest.raw, OCI_MANIFEST)


def demo() -> int:
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir()
    os.environ["COSIGN_PASSWORD"] = DEMO_PASSWORD
    results: list[bool] = []
    with LocalRegistry() as registry:
        _step(f"loopback registry up at {registry.host}; pushing demo images")
        images = {}
        for tag in ("v1", "v2"):
            layout = build_image(DEMO_DIR / f"layout-{tag}", name=tag, files={"hello.txt": f"app {tag}\n".encode()})
            digest = push_image(layout, registry, "demo/app", tag)
            images[tag] = f"{registry.host}/demo/app:{tag}"
            print(f"pushed {images[tag]} ({digest})")

        key, pub, other = str(DEMO_DIR / "cosign"), str(DEMO_DIR / "cosign.pub"), str(DEMO_DIR / "other")
        _step("generate a key pair (cosign format)")
        results.append(_run(["keygen", "--output-key-prefix", key], 0))
        results.append(_run(["keygen", "--output-key-prefix", other], 0))

        _step("sign demo/app:v1 by tag (resolved to its digest)")
        results.append(_run(["sign", "--key", f"{key}.key", "-a", "env=demo", images["v1"]], 0))

        _step("verify it: the signature verifies")
        results.append(_run(["verify", "--key", pub, "-a", "env=demo", images["v1"]], 0))

        _step("demo/app:v2 is unsigned: it fails")
        results.append(_run(["verify", "--key", pub, images["v2"]], 1))

        _step("v1's signature copied onto v2 fails (payload names another digest)")
        v1, v2 = Reference.parse(images["v1"]), Reference.parse(images["v2"])
        asyncio.run(_replay_signature(v1, asyncio.run(_resolve(v1)), asyncio.run(_resolve(v2))))
        results.append(_run(["verify", "--key", pub, images["v2"]], 1))

        _step("the wrong key fails")
        results.append(_run(["verify", "--key", f"{other}.pub", images["v1"]], 1))

        results.extend(_webhook_demo(registry.host, Path(pub), images))

    passed = all(results)
    print(f"\n{'demo OK' if passed else 'demo FAILED'}: {sum(results)} of {len(results)} steps as expected")
    return 0 if passed else 1


DEMO_POLICY = """\
# The demo policy: every image of the loopback registry's demo/ repositories must be signed by the demo key.
apiVersion: sealgate.dev/v1alpha1
kind: ImagePolicy
metadata: {{name: demo-signed}}
spec:
  images: ["{host}/demo/**"]
  authorities:
    - name: demo-ci
      key: {{path: cosign.pub}}
---
apiVersion: sealgate.dev/v1alpha1
kind: Settings
spec:
  noMatch: deny
"""


def _webhook_demo(host: str, public_key: Path, images: dict[str, str]) -> list[bool]:
    """Start `sealgate serve` over HTTPS with the demo policy and replay AdmissionReviews against it."""
    _step("admission webhook: `sealgate certs`, then `sealgate serve` with the demo policy")
    policy_dir = DEMO_DIR / "policy"
    policy_dir.mkdir()
    shutil.copy(public_key, policy_dir / "cosign.pub")
    (policy_dir / "demo.yaml").write_text(DEMO_POLICY.format(host=host))
    certs = DEMO_DIR / "certs"
    results = [
        _run(["certs", "--service", "sealgate", "--namespace", "demo", "--out-dir", str(certs), "--ip", "127.0.0.1"], 0)
    ]
    with (
        start_webhook(DEMO_DIR / "webhook", policy_dir, certs=certs) as hook,
        httpx.Client(verify=hook.ca, timeout=15) as http,
    ):
        print(f"webhook ready at {hook.url} (log: {hook.log})")
        cases = [
            ("a Pod running the signed demo/app:v1", with_images(shape("pod"), [images["v1"]]), True),
            (
                "a Deployment whose init container is demo/app:v2 (it carries only a copied signature)",
                with_images(shape("deployment"), [images["v1"]], init=[images["v2"]]),
                False,
            ),
            # a loopback port nothing listens on: no policy names it, so sealgate must not even connect
            (
                "a Pod from a registry no policy names",
                with_images(shape("pod"), [f"127.0.0.1:{free_port()}/team/app:1.0"]),
                False,
            ),
        ]
        for title, obj, expect_allowed in cases:
            _step(f"AdmissionReview: {title}")
            answer = http.post(f"{hook.url}/validate", json=review(obj, namespace="demo")).json()["response"]
            print("ALLOWED" if answer["allowed"] else "DENIED")
            if not answer["allowed"]:
                print(f"  {answer['status']['message']}")
            for warning in answer.get("warnings", []):
                print(f"  warning: {warning}")
            ok = answer["allowed"] is expect_allowed
            print(f"-> {'as expected' if ok else 'NOT AS EXPECTED'}")
            results.append(ok)
    return results


async def _resolve(ref: Reference) -> Digest:
    async with RegistryClient() as client:
        return (await client.resolve(ref)).digest


if __name__ == "__main__":
    sys.exit(demo())
