"""sealgate's /validate against a bare FastAPI handler, side by side in one run.

Both servers run the same way (uvicorn, one process, the same TLS context class, on loopback) and get the same
load generator (wrk, same connections and duration), alternating so machine noise hits both:

- sealgate: a 3-container Pod whose images (by digest) are already verified and cached;
- bare:     a handler that only parses the same AdmissionReview and answers allowed.

Prints requests/s and p50/p99 of both and the ratio (target: sealgate >= 0.8 of bare), then the cold latency of
a Pod of 3 signed images sealgate has never seen, fetched in parallel from the loopback registry (target: under
100 ms).

    python benchmarks/webhook.py [--seconds 10] [--connections 16] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import make_certs, make_key, push_signed, start_server, write_policy  # noqa: E402
from tools.localregistry import LocalRegistry  # noqa: E402
from tools.reviews import review, shape, with_images  # noqa: E402
from tools.webhookserver import free_port, wait_ready  # noqa: E402

# extra `sealgate serve` arguments, for experiments (e.g. "--log-level warning")
EXTRA: list[str] = os.environ.get("BENCH_SEALGATE_ARGS", "").split()

# every answer is checked under load: an answer that is not an allow of this (signed, cached) Pod is counted
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("{body}", "rb"):read("*a")
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) wrong = 0 end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"allowed":true', 1, true) then wrong = wrong + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("wrong") end
  io.write(string.format("wrong answers: %d\\n", total))
end
"""

TARGET_RATIO = 0.8
TARGET_COLD_MS = 100.0


def _wrk(url: str, script: Path, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    wrong = re.search(r"wrong answers: (\d+)", out)
    if wrong is None:
        raise SystemExit(f"wrk printed no answer check:\n{out}")

    def pct(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {
        "rps": rps,
        "p50": pct("50"),
        "p99": pct("99"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
        "wrong": float(wrong.group(1)),
    }


def run(seconds: int, connections: int, rounds: int, cold_rounds: int) -> int:
    if shutil.which("wrk") is None:
        print("wrk not found: `apt-get install wrk` (make bench installs it)")
        return 2
    with tempfile.TemporaryDirectory() as tmp_name, LocalRegistry() as registry:
        tmp = Path(tmp_name)
        key = make_key(tmp)
        images = push_signed(tmp, registry, key, 3 + 3 * cold_rounds)
        server = start_server(tmp, write_policy(tmp, registry, key), EXTRA)
        tls, ca = make_certs(tmp)
        bare_port = free_port()
        bare = subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / "_bare_webhook.py"), *tls, "--port", str(bare_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        urls = {"sealgate": f"{server.url}/validate", "bare": f"https://127.0.0.1:{bare_port}/validate"}
        try:
            wait_ready(f"https://127.0.0.1:{bare_port}/healthz", ca, bare)
            body = tmp / "pod.json"
            body.write_text(json.dumps(review(with_images(shape("pod"), images[:3]))))
            script = tmp / "post.lua"
            script.write_text(LUA.format(body=body))
            with httpx.Client(verify=ca) as client:
                answer = client.post(urls["sealgate"], content=body.read_bytes())
                if not answer.json()["response"]["allowed"]:
                    print(f"setup broken: {answer.text}")
                    return 1

                samples: dict[str, list[dict[str, float]]] = {"sealgate": [], "bare": []}
                for _ in range(rounds):
                    for name in ("sealgate", "bare"):
                        samples[name].append(_wrk(urls[name], script, seconds, connections))

                cold_ms = []
                for r in range(cold_rounds):
                    fresh = review(with_images(shape("pod"), images[3 + 3 * r : 6 + 3 * r]))
                    started = time.perf_counter()
                    answer = client.post(urls["sealgate"], json=fresh)
                    cold_ms.append((time.perf_counter() - started) * 1000)
                    if not answer.json()["response"]["allowed"]:
                        print(f"cold request denied: {answer.text}")
                        return 1
        finally:
            server.stop()
            bare.terminate()
            bare.wait(10)

    def agg(name: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[name])

    print(f"\nload: wrk, {connections} connections, {seconds}s x {rounds} rounds each, alternating; medians")
    print(f"{'':10} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'non-2xx':>8} {'wrong':>6}")
    missed: list[str] = []
    for name in ("sealgate", "bare"):
        errors = sum(s["errors"] for s in samples[name])
        wrong = sum(s["wrong"] for s in samples[name])
        print(
            f"{name:10} {agg(name, 'rps'):10.0f} {agg(name, 'p50'):9.2f} {agg(name, 'p99'):9.2f} {errors:8.0f} "
            f"{wrong:6.0f}"
        )
        if errors or wrong:
            missed.append(f"{name}: {errors:.0f} non-2xx and {wrong:.0f} answers that were not the expected allow")
    ratio = agg("sealgate", "rps") / agg("bare", "rps")
    print(f"ratio sealgate/bare req/s: {ratio:.2f} (target >= {TARGET_RATIO})")
    if ratio < TARGET_RATIO:
        missed.append(f"req/s ratio {ratio:.2f} below {TARGET_RATIO}")
    cold_median = statistics.median(cold_ms)
    print(
        f"cold pod of 3 uncached signed images: median {cold_median:.1f} ms, "
        f"max {max(cold_ms):.1f} ms over {cold_rounds} pods (target median < {TARGET_COLD_MS:g} ms)"
    )
    if cold_median >= TARGET_COLD_MS:
        missed.append(f"cold pod median {cold_median:.1f} ms not under {TARGET_COLD_MS:g} ms")
    for line in missed:
        print(f"MISSED: {line}")
    print("webhook benchmark: " + ("targets missed" if missed else "all targets met"))
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cold-rounds", type=int, default=5)
    args = parser.parse_args()
    return run(args.seconds, args.connections, args.rounds, args.cold_rounds)


if __name__ == "__main__":
    sys.exit(main())
