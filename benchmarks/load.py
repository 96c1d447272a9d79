"""Steady load on `sealgate serve` with a registry outage in the middle.

An open-loop generator (requests leave on schedule whatever the answers do) sends AdmissionReviews at a fixed
rate for 60 s over TLS to `python -m verifier.cli serve` with a policy over a real loopback registry
(tools.LocalRegistry). The mix, by request:

- 70 % "cached": a Pod of 3 signed images by digest, verified once and then answered from the cache;
- 25 % "uncached": a Pod of one signed image by *tag*: every request resolves the tag at the registry
  (tag cache TTL 0), so it needs the registry;
- 5 % "bad": a Pod of an unsigned image: must always be denied.

After `--outage-at` seconds the registry process is stopped for `--outage-for` seconds and started again on
the same port with the same storage. Printed: requests, errors (non-200), p50/p99 latency, uncached requests
during the outage and how many were denied as "registry unavailable", wrong allows, seconds from the
registry's return to the first allowed uncached request (with none denied after it), and the server's peak
RSS. Targets: 0 errors, 0 wrong allows, recovery under 1 s, peak RSS under 300 MB.

    python benchmarks/load.py [--rate 50] [--seconds 60] [--outage-at 25] [--outage-for 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (  # noqa: E402
    make_key,
    push_image_named,
    push_signed,
    start_server,
    write_policy,
)
from tools.localregistry import LocalRegistry  # noqa: E402
from tools.reviews import review, shape, with_images  # noqa: E402
from tools.webhookserver import RunningWebhook  # noqa: E402

#: connections the generator keeps open (requests queue on them when all are busy)
CONNECTIONS = 16
#: request kinds by ``i % 20``
MIX = ["cached"] * 14 + ["uncached"] * 5 + ["bad"]


@dataclass(frozen=True)
class Record:
    sent: float  # seconds since the start
    latency: float
    kind: str
    status: int
    allowed: bool
    message: str


@dataclass
class Outage:
    down: float = float("nan")
    up: float = float("nan")


async def _load(
    server: RunningWebhook,
    bodies: dict[str, list[bytes]],
    rate: float,
    seconds: float,
    registry: LocalRegistry,
    outage_at: float,
    outage_for: float,
) -> tuple[list[Record], Outage]:
    url = f"{server.url}/validate"
    # a few kept-alive TLS connections: the generator, not the server, is the bottleneck on 2 cores otherwise
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    records: list[Record] = []
    outage = Outage()
    async with httpx.AsyncClient(verify=server.ca, limits=limits, timeout=30) as client:
        start = time.monotonic()

        async def one(kind: str, body: bytes) -> None:
            sent = time.monotonic()
            status, allowed, message = -1, False, ""
            try:
                response = await client.post(url, content=body, headers={"content-type": "application/json"})
                status = response.status_code
                if status == 200:
                    answer = response.json()["response"]
                    allowed = bool(answer["allowed"])
                    message = answer.get("status", {}).get("message", "")
            except httpx.HTTPError as exc:
                message = f"{type(exc).__name__}: {exc}"
            records.append(Record(sent - start, time.monotonic() - sent, kind, status, allowed, message))

        async def outage_task() -> None:
            await asyncio.sleep(outage_at)
            outage.down = time.monotonic() - start
            await asyncio.to_thread(registry.pause)
            await asyncio.sleep(outage_for)
            await asyncio.to_thread(registry.resume)  # returns once the registry answers GET /v2/
            outage.up = time.monotonic() - start

        tasks = [asyncio.create_task(outage_task())]
        for i in range(int(rate * seconds)):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            kind = MIX[i % len(MIX)]
            options = bodies[kind]
            tasks.append(asyncio.create_task(one(kind, options[i % len(options)])))
        await asyncio.gather(*tasks)
    return records, outage


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def report(records: list[Record], outage: Outage, rate: float, rss_mb: float) -> int:
    latencies = [r.latency for r in records]
    errors = [r for r in records if r.status != 200]
    wrong = [r for r in records if r.kind == "bad" and r.allowed]
    during = [r for r in records if r.kind == "uncached" and outage.down <= r.sent and r.sent + r.latency <= outage.up]
    unavailable = [r for r in during if not r.allowed and "unavailable" in r.message]
    cached_denied = [r for r in records if r.kind == "cached" and not r.allowed]
    after = sorted(
        (r for r in records if r.kind == "uncached" and r.sent + r.latency > outage.up), key=lambda r: r.sent
    )
    last_denied = max((i for i, r in enumerate(after) if not r.allowed), default=-1)
    if last_denied + 1 < len(after):
        first_ok = after[last_denied + 1]
        recovery = max(0.0, first_ok.sent + first_ok.latency - outage.up)
    else:
        recovery = float("inf")
    print(
        f"\nload: {rate:g} req/s for {max(r.sent for r in records):.0f} s, open loop, TLS, mix {len(MIX)}: "
        "14 cached / 5 uncached (tag) / 1 unsigned"
    )
    print(f"requests                 {len(records)}")
    print(f"errors (non-200)         {len(errors)}  (target 0)")
    print(f"latency p50 / p99        {statistics.median(latencies) * 1000:.1f} ms / {_pct(latencies, 99):.1f} ms")
    print(f"registry outage          {outage.down:.1f} s .. {outage.up:.1f} s")
    print(f"uncached during outage   {len(during)}, denied 'registry unavailable': {len(unavailable)}")
    print(f"cached denied            {len(cached_denied)}  (target 0: cached verdicts survive the outage)")
    print(f"wrong allows             {len(wrong)}  (target 0)")
    print(f"recovery after return    {recovery:.2f} s  (target < 1 s)")
    print(f"server peak RSS          {rss_mb:.0f} MB  (target < 300 MB)")
    for sample in errors[:3]:
        print(f"  error sample: {sample}")
    ok = (
        not errors
        and not wrong
        and len(unavailable) == len(during)
        and recovery < 1.0
        and rss_mb < 300
        and not cached_denied
    )
    print("result: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


def run(rate: float, seconds: float, outage_at: float, outage_for: float) -> int:
    with tempfile.TemporaryDirectory() as tmp_name, LocalRegistry() as registry:
        tmp = Path(tmp_name)
        key = make_key(tmp)
        hot = push_signed(tmp, registry, key, 3)
        cold = [image.split("@")[0] + ":v1" for image in push_signed(tmp, registry, key, 4, prefix="bench/tagged")]
        unsigned = push_image_named(tmp, registry, "bench/unsigned")
        policies = write_policy(tmp, registry, key, settings="  cache: {tagTtlSeconds: 0}\n")
        server = start_server(tmp, policies, ["--log-level", "warning"])
        try:
            bodies = {
                "cached": [json.dumps(review(with_images(shape("pod"), hot))).encode()],
                "uncached": [json.dumps(review(with_images(shape("pod"), [image]))).encode() for image in cold],
                "bad": [json.dumps(review(with_images(shape("pod"), [unsigned]))).encode()],
            }
            warm = httpx.post(f"{server.url}/validate", content=bodies["cached"][0], verify=server.ca, timeout=30)
            if not warm.json()["response"]["allowed"]:
                print(f"setup broken: {warm.text}")
                return 1
            records, outage = asyncio.run(_load(server, bodies, rate, seconds, registry, outage_at, outage_for))
            rss = server.peak_rss_mb()
        finally:
            server.stop()
    return report(records, outage, rate, rss)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second (open loop)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--outage-at", type=float, default=25.0)
    parser.add_argument("--outage-for", type=float, default=10.0)
    args = parser.parse_args()
    return run(args.rate, args.seconds, args.outage_at, args.outage_for)


if __name__ == "__main__":
    sys.exit(main())
