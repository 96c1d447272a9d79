"""`make run`: the main job end to end on an embedded default, nothing from the internet.

Starts a loopback docker-registry, pushes two demo images, generates a cosign key pair, signs one image and
verifies it, then shows what sealgate says about an unsigned image, a copied (replayed) signature and the
wrong key. Exits 0 only when every step gives the expected answer.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

from tools.localregistry import LocalRegistry
from tools.testimages import build_image, push_image
from verifier.cli import main as sealgate
from verifier.cosign import attachment_tag
from verifier.oci import OCI_MANIFEST, Digest, Reference, RegistryClient

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

    passed = all(results)
    print(f"\n{'demo OK' if passed else 'demo FAILED'}: {sum(results)} of {len(results)} steps as expected")
    return 0 if passed else 1


async def _resolve(ref: Reference) -> Digest:
    async with RegistryClient() as client:
        return (await client.resolve(ref)).digest


if __name__ == "__main__":
    sys.exit(demo())
