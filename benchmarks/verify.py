"""Verification cost on the loopback registry, side by side with the same requests made bare with httpx.

Prints HTTP requests per verification (target: 3 cold: digest, signature manifest, payload blob),
milliseconds per verification cold (new client, new connection) and warm (one client reused), and the
ratio sealgate / bare httpx for each (target: <= 1.3). Runs sealgate and the baseline interleaved, round by
round, so machine noise hits both alike; reports medians.

    python benchmarks/verify.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import certifi
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.localregistry import LocalRegistry  # noqa: E402
from tools.testimages import build_image, push_image  # noqa: E402
from verifier.attachments import sign_image  # noqa: E402
from verifier.cosign import NamedKey, attachment_tag, generate_signing_key  # noqa: E402
from verifier.engine import Decision, Engine  # noqa: E402
from verifier.oci import MANIFEST_ACCEPT, OCI_MANIFEST, Reference  # noqa: E402
from verifier.policy import CompiledAuthority, PolicySet, single_policy  # noqa: E402
from verifier.registry import RegistryClient  # noqa: E402

TARGET_COLD_REQUESTS = 3
TARGET_RATIO = 1.3

# the baseline gets the same head start sealgate's client has: a TLS context built once, not per client
BARE_TLS = ssl.create_default_context(cafile=certifi.where())


async def _bare(client: httpx.AsyncClient, base: str, repo: str, tag: str) -> None:
    """The three requests a verification needs, with no parsing, checking or crypto."""
    head = await client.head(f"{base}/v2/{repo}/manifests/{tag}", headers={"Accept": ", ".join(MANIFEST_ACCEPT)})
    digest = head.headers["Docker-Content-Digest"]
    sig_tag = digest.replace(":", "-") + ".sig"
    sig = await client.get(f"{base}/v2/{repo}/manifests/{sig_tag}", headers={"Accept": OCI_MANIFEST})
    layer = sig.json()["layers"][0]["digest"]
    blob = await client.get(f"{base}/v2/{repo}/blobs/{layer}")
    blob.raise_for_status()


async def _verify(client: RegistryClient, policies: PolicySet, ref: Reference) -> Decision:
    """What `sealgate verify --key` does: the flags' one-policy set, judged by a new engine (no cached verdict)."""
    return await Engine(policies, client).decide(str(ref))


async def _time(fn: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await fn()
    return (time.perf_counter() - start) * 1000


async def run(rounds: int) -> int:
    with tempfile.TemporaryDirectory() as tmp, LocalRegistry() as registry:
        layout = build_image(Path(tmp) / "layout", name="bench", files={"bench.txt": os.urandom(64)})
        push_image(layout, registry, "bench/app", "v1")
        ref = Reference.parse(f"{registry.host}/bench/app:v1")
        key = generate_signing_key()
        keys = (NamedKey("bench", key.public_key()),)
        policies = single_policy("bench", ref, CompiledAuthority("bench", keys))
        async with RegistryClient() as client:
            await sign_image(client, ref, key)
            digest = (await client.resolve(ref)).digest
            print(f"image {ref} -> {digest}, signatures at {attachment_tag(digest)}")

        # requests per cold verification
        async with RegistryClient() as client:
            result = await _verify(client, policies, ref)
            cold_requests = client.request_count
        if not result.allowed:
            print(f"benchmark setup broken: {result.reason}")
            return 1

        base = f"http://{registry.host}"

        async def sealgate_cold() -> None:
            async with RegistryClient() as c:
                assert (await _verify(c, policies, ref)).allowed

        async def bare_cold() -> None:
            async with httpx.AsyncClient(verify=BARE_TLS) as c:
                await _bare(c, base, "bench/app", "v1")

        samples: dict[str, list[float]] = {
            "sealgate cold": [],
            "bare cold": [],
            "sealgate warm": [],
            "bare warm": [],
        }
        async with RegistryClient() as warm_client, httpx.AsyncClient(verify=BARE_TLS) as bare_client:
            await _verify(warm_client, policies, ref)  # open the connection once
            await _bare(bare_client, base, "bench/app", "v1")
            before = warm_client.request_count

            async def sealgate_warm() -> None:
                assert (await _verify(warm_client, policies, ref)).allowed

            async def bare_warm() -> None:
                await _bare(bare_client, base, "bench/app", "v1")

            for _ in range(rounds):
                samples["sealgate cold"].append(await _time(sealgate_cold))
                samples["bare cold"].append(await _time(bare_cold))
                samples["sealgate warm"].append(await _time(sealgate_warm))
                samples["bare warm"].append(await _time(bare_warm))
            warm_requests = (warm_client.request_count - before) / rounds

    med = {name: statistics.median(values) for name, values in samples.items()}
    print(f"\nrounds: {rounds} (medians; sealgate and baseline interleaved)")
    print(f"HTTP requests per verification: cold {cold_requests} (target 3), warm {warm_requests:g}")
    print(f"{'':14} {'sealgate ms':>12} {'bare httpx ms':>14} {'ratio':>7}  target")
    missed: list[str] = []
    if cold_requests > TARGET_COLD_REQUESTS:
        missed.append(f"cold verification made {cold_requests} requests (target {TARGET_COLD_REQUESTS})")
    for mode in ("cold", "warm"):
        ratio = med[f"sealgate {mode}"] / med[f"bare {mode}"]
        print(f"{mode:14} {med[f'sealgate {mode}']:12.2f} {med[f'bare {mode}']:14.2f} {ratio:7.2f}  <= {TARGET_RATIO}")
        if ratio > TARGET_RATIO:
            missed.append(f"{mode} ratio {ratio:.2f} above {TARGET_RATIO}")
    for line in missed:
        print(f"MISSED: {line}")
    print("verify benchmark: " + ("targets missed" if missed else "all targets met"))
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200)
    return asyncio.run(run(parser.parse_args().rounds))


if __name__ == "__main__":
    sys.exit(main())
