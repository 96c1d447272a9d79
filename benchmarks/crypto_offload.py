"""Should the judge's crypto run off the event loop? Inline vs a bounded ThreadPoolExecutor, measured.

The engine calls ``judge`` (signature checks, sync) on the event loop. This times the same judgements both
ways, on attachments built in memory (no registry, so only the crypto and its hand-off are measured):

- ``common``: one ECDSA P-256 ``.sig`` signature that verifies (what nearly every admission judges);
- ``heavy``: 32 RSA-4096 signatures by another key, each verified and rejected (the worst a ``.sig`` holds).

For each: median milliseconds per judgement alone, wall time of 16 concurrent judgements, and the longest the
event loop went without running a 1 ms ticker (its stall). The engine keeps the crypto inline; this exits
non-zero when offloading would be faster for the common case (the reason to keep it inline).

    python benchmarks/crypto_offload.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from verifier.cosign import (  # noqa: E402
    LEGACY_SIG,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE,
    Attachment,
    SigningKey,
    VerifyingKey,
    build_simple_signing_payload,
    generate_signing_key,
    public_key_pem,
    sign_bytes,
)
from verifier.engine import PolicyResult, judge  # noqa: E402
from verifier.oci import Digest, Reference  # noqa: E402
from verifier.policy import CompiledPolicy, compile_documents  # noqa: E402

REF = Reference.parse("bench.test/team/app:v1")
DIGEST = Digest.of(b"the image manifest")
CONCURRENT = 16
WORKERS = 2  # the machine's cores: more threads cannot run crypto in parallel
#: inline must be no slower than offloaded for the common case, within this noise margin
MARGIN = 1.10


def _policy(key: VerifyingKey) -> CompiledPolicy:
    doc = {
        "apiVersion": "sealgate.dev/v1alpha1",
        "kind": "ImagePolicy",
        "metadata": {"name": "bench"},
        "spec": {
            "images": ["bench.test/**"],
            "authorities": [{"name": "ci", "key": {"data": public_key_pem(key).decode()}}],
        },
    }
    return compile_documents([("bench.yaml", 1, doc)]).policies[0]


def _signatures(key: SigningKey, count: int) -> list[Attachment]:
    found = []
    for i in range(count):
        payload = build_simple_signing_payload(REF.cosign_identity, str(DIGEST), {"n": str(i)})
        signature = base64.b64encode(sign_bytes(key, payload)).decode()
        found.append(
            Attachment(
                LEGACY_SIG, SIMPLE_SIGNING_MEDIA_TYPE, Digest.of(payload), payload, {SIGNATURE_ANNOTATION: signature}
            )
        )
    return found


async def _stall(run: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """(wall seconds of ``run``, longest gap in seconds between ticks of a 1 ms ticker meanwhile)."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.002)
    start = time.perf_counter()
    await run()
    wall = time.perf_counter() - start
    done.set()
    await tick
    return wall, max(gaps, default=0.0)


async def _measure(
    policy: CompiledPolicy, found: list[Attachment], rounds: int, pool: ThreadPoolExecutor
) -> dict[str, dict[str, float]]:
    loop = asyncio.get_running_loop()

    async def inline() -> PolicyResult:
        return judge(policy, REF, DIGEST, found)

    async def offloaded() -> PolicyResult:
        return await loop.run_in_executor(pool, judge, policy, REF, DIGEST, found)

    out: dict[str, dict[str, float]] = {}
    samples: dict[str, list[float]] = {"inline": [], "offloaded": []}
    walls: dict[str, list[float]] = {"inline": [], "offloaded": []}
    stalls: dict[str, list[float]] = {"inline": [], "offloaded": []}
    for _ in range(rounds):  # interleaved, so machine noise hits both alike
        for name, one in (("inline", inline), ("offloaded", offloaded)):
            start = time.perf_counter()
            await one()
            samples[name].append(time.perf_counter() - start)

            async def many(one: Callable[[], Awaitable[PolicyResult]] = one) -> None:
                await asyncio.gather(*(one() for _ in range(CONCURRENT)))

            wall, stall = await _stall(many)
            walls[name].append(wall)
            stalls[name].append(stall)
    for name in samples:
        out[name] = {
            "one_ms": statistics.median(samples[name]) * 1000,
            "concurrent_ms": statistics.median(walls[name]) * 1000,
            "stall_ms": statistics.median(stalls[name]) * 1000,
        }
    return out


async def _main(rounds: int) -> int:
    ecdsa = generate_signing_key()
    signer, other = rsa.generate_private_key(65537, 4096), rsa.generate_private_key(65537, 4096)
    cases = {
        "common": (_policy(ecdsa.public_key()), _signatures(ecdsa, 1), True),
        "heavy": (_policy(other.public_key()), _signatures(signer, 32), False),
    }
    results = {}
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for name, (policy, found, passes) in cases.items():
            if judge(policy, REF, DIGEST, found).passed is not passes:
                print(f"{name}: the judgement is wrong; not measuring it", file=sys.stderr)
                return 1
            results[name] = await _measure(policy, found, rounds, pool)
    print(f"{'case':8} {'mode':10} {'one (ms)':>9} {f'{CONCURRENT} at once (ms)':>18} {'loop stall (ms)':>16}")
    for name, modes in results.items():
        for mode, m in modes.items():
            print(f"{name:8} {mode:10} {m['one_ms']:9.3f} {m['concurrent_ms']:18.3f} {m['stall_ms']:16.3f}")
    common = results["common"]
    ratio = common["inline"]["one_ms"] / common["offloaded"]["one_ms"]
    print(f"common case, inline / offloaded per judgement: {ratio:.2f} (target <= {MARGIN})")
    if ratio > MARGIN:
        print("MISS: offloading is faster for the common case; the engine should offload", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    return asyncio.run(_main(parser.parse_args().rounds))


if __name__ == "__main__":
    sys.exit(main())
