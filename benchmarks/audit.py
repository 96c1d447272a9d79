"""`sealgate audit` at scale: 10,000 pods in 200 namespaces over 500 distinct signed images.

The cluster is the Kubernetes API double (tests/support/kubeapi.py, its own process, bearer token through a
real kubeconfig); the images are on the loopback docker-registry. The audit runs in a child process of its
own so its peak RSS is its alone. Prints wall time, Kubernetes API and registry requests, registry requests
per distinct image, signature look-ups per distinct digest and peak RSS, beside the listing floor: the time
`kubectl get pods -A -o json` takes against the same double (or, without kubectl, a plain paginated httpx
listing, and it says so). Targets: under 15 s, each distinct digest looked up once, RSS under 300 MB; exits 1
on a miss.

    python benchmarks/audit.py [--pods 10000] [--namespaces 200] [--images 500]
    BENCH_PROFILE=1 python benchmarks/audit.py ...    # also print the audit's cProfile (cumulative)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import orjson  # noqa: E402

from tools.localregistry import LocalRegistry  # noqa: E402
from verifier.attachments import sign_image  # noqa: E402
from verifier.cosign import generate_signing_key, public_key_pem  # noqa: E402
from verifier.oci import OCI_MANIFEST, Reference  # noqa: E402
from verifier.registry import RegistryClient  # noqa: E402

TARGET_SECONDS = 15.0
TARGET_RSS_MB = 300.0
PER_DEPLOYMENT = 10


async def _push_images(host: str, count: int) -> list[tuple[str, str]]:
    """``count`` distinct signed images: (``host/repo:tag``, digest)."""
    key = generate_signing_key()
    out: list[tuple[str, str]] = []
    gate = asyncio.Semaphore(16)
    async with RegistryClient() as client:
        layer_bytes = b"sealgate audit benchmark layer\n" * 64

        async def one(n: int) -> tuple[str, str]:
            ref = Reference.parse(f"{host}/bench/svc{n // 10}:v{n % 10}")
            async with gate:
                layer = await client.push_blob(ref, layer_bytes, media_type="application/vnd.oci.image.layer.v1.tar")
                config = await client.push_blob(ref, orjson.dumps({"architecture": "amd64", "os": "linux", "n": n}),
                                                media_type="application/vnd.oci.image.config.v1+json")
                manifest = orjson.dumps({
                    "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": config.media_type, "digest": str(config.digest), "size": config.size},
                    "layers": [{"mediaType": layer.media_type, "digest": str(layer.digest), "size": layer.size}],
                })
                digest = await client.put_manifest(ref, manifest, OCI_MANIFEST)
                await sign_image(client, ref, key)
            return str(ref), str(digest)

        out = list(await asyncio.gather(*(one(n) for n in range(count))))
    (Path(os.environ["BENCH_TMP"]) / "cosign.pub").write_bytes(public_key_pem(key.public_key()))
    return out


def _serve_double(images: list[tuple[str, str]], pods: int, namespaces: int, config: Path, conn: Any) -> None:
    """Child process: the API double (TLS) with the cluster; writes the kubeconfig, sends its URL and token,
    then (asked to stop) its request count."""
    from tests.support.k8sobjects import pod, workload
    from tests.support.kubeapi import KubeAPIDouble

    api = KubeAPIDouble(tls=True)
    deployments = pods // PER_DEPLOYMENT
    per_ns = max(1, deployments // namespaces)
    for d in range(deployments):
        ns = f"team-{d // per_ns:03d}"
        image, digest = images[d % len(images)]
        repo = image.rpartition(":")[0]
        name = f"svc-{d}"
        api.add(workload("Deployment", ns, name, [("app", image)], replicas=PER_DEPLOYMENT))
        api.add(workload("ReplicaSet", ns, f"{name}-7c9d", [("app", image)], owner=("Deployment", name),
                         replicas=PER_DEPLOYMENT))
        api.add(*[pod(ns, f"{name}-7c9d-{i:05d}", [("app", image)], owner=("ReplicaSet", f"{name}-7c9d"),
                      image_ids={"app": f"{repo}@{digest}"}) for i in range(PER_DEPLOYMENT)])
    api.start()
    user = api.token_user("bench")
    api.kubeconfig(config, {"bench": user})
    conn.send((api.url, user["token"]))
    conn.recv()  # stop
    conn.send(len(api.requests))
    api.stop()


def _child(config: str, policy: str) -> None:
    """Runs in its own process: the audit alone, then its numbers as JSON on stdout."""
    from verifier.audit import Progress, Target, run_audit
    from verifier.kubeapi import KubeClient
    from verifier.policy import load_policy_files

    policies = load_policy_files([policy])
    clients: list[KubeClient] = []

    def connect() -> KubeClient:
        clients.append(KubeClient.from_kubeconfig(config, "bench"))
        return clients[-1]

    marks: dict[str, float] = {}

    class Phases(Progress):
        def listing(self, cluster: str) -> None:
            marks["listing"] = time.perf_counter()

        def start(self, cluster: str, total: int) -> None:
            marks["checking"] = time.perf_counter()

    async def go() -> tuple[Any, int]:
        async with RegistryClient() as client:
            report = await run_audit([Target("bench", connect=connect)], policies, client, Phases())
            return report, client.request_count

    start = time.perf_counter()
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        with cProfile.Profile() as prof:
            report, registry_requests = asyncio.run(go())
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    else:
        report, registry_requests = asyncio.run(go())
    end = time.perf_counter()
    wall = end - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "wall": wall, "list": marks["checking"] - marks["listing"], "check": end - marks["checking"],
        "rss_mb": rss_mb, "registry_requests": registry_requests, "api_requests": clients[0].requests,
        "pods": report.clusters[0].pods, "namespaces": report.clusters[0].namespaces, "images": report.images,
        "digests": report.digests, "verifications": report.verifications, "findings": len(report.findings),
        "rules": report.by_rule(),
    }))


def _floor(config: str, url: str, token: str) -> tuple[str, float]:
    kubectl = shutil.which("kubectl")
    start = time.perf_counter()
    if kubectl:
        subprocess.run([kubectl, "--kubeconfig", config, "get", "pods", "-A", "-o", "json"],
                       stdout=subprocess.DEVNULL, check=True)
        return "kubectl get pods -A -o json", time.perf_counter() - start
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, verify=False) as client:  # noqa: S501 - the double on loopback
        cont = ""
        while True:
            page = orjson.loads(client.get(f"{url}/api/v1/pods", params={"limit": 500, "continue": cont}).content)
            cont = page["metadata"].get("continue", "")
            if not cont:
                break
    return "paginated httpx listing of /api/v1/pods (kubectl is not installed)", time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--child", nargs=2, metavar=("KUBECONFIG", "POLICY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return 0
    with tempfile.TemporaryDirectory() as tmp, LocalRegistry() as registry:
        os.environ["BENCH_TMP"] = tmp
        t0 = time.perf_counter()
        images = asyncio.run(_push_images(registry.host, args.images))
        print(f"set-up: {len(images)} signed images pushed in {time.perf_counter() - t0:.1f} s", flush=True)
        policy = Path(tmp) / "policy.yaml"
        policy.write_text(json.dumps({
            "apiVersion": "sealgate.dev/v1alpha1", "kind": "ImagePolicy", "metadata": {"name": "signed"},
            "spec": {"images": [f"{registry.host}/bench/**"],
                     "authorities": [{"name": "ci", "key": {"data": (Path(tmp) / "cosign.pub").read_text()}}]},
        }))
        parent, child = multiprocessing.Pipe()
        config = Path(tmp) / "kubeconfig"
        server = multiprocessing.get_context("fork").Process(
            target=_serve_double, args=(images, args.pods, args.namespaces, config, child), daemon=True
        )
        server.start()
        url, token = parent.recv()
        floor_what, floor = _floor(str(config), url, token)
        run = subprocess.run([sys.executable, __file__, "--child", str(config), str(policy)],
                             capture_output=True, text=True, check=False)
        parent.send("stop")
        api_total = parent.recv()
        server.join(5)
        if os.environ.get("BENCH_PROFILE"):
            print(run.stderr[-12000:], file=sys.stderr)
        if run.returncode != 0:
            print(run.stderr[-3000:], file=sys.stderr)
            return 1
        r = json.loads(run.stdout.strip().splitlines()[-1])
    misses = []
    if r["wall"] >= TARGET_SECONDS:
        misses.append(f"wall {r['wall']:.1f} s >= {TARGET_SECONDS:g} s")
    if r["verifications"] > r["digests"] or r["digests"] != args.images:
        misses.append(f"{r['verifications']} signature look-ups for {r['digests']} distinct digests")
    if r["rss_mb"] >= TARGET_RSS_MB:
        misses.append(f"peak RSS {r['rss_mb']:.0f} MB >= {TARGET_RSS_MB:g} MB")
    if r["pods"] != args.pods:
        misses.append(f"{r['pods']} pods audited, not {args.pods}")
    print(f"cluster: {r['pods']} pods in {r['namespaces']} namespaces over {r['images']} image references, "
          f"{r['digests']} distinct digests; findings {r['findings']} {r['rules']}")
    print(f"{'sealgate audit -A (list + verify)':48s} {r['wall']:7.2f} s   target < {TARGET_SECONDS:g} s")
    print(f"  of which listing and inventory / checking   {r['list']:7.2f} s / {r['check']:.2f} s")
    print(f"{floor_what[:48]:48s} {floor:7.2f} s   (listing floor; ratio {r['wall'] / floor:.1f}x)")
    print(f"Kubernetes API requests (audit / all)            {r['api_requests']:7d} / {api_total}")
    print(f"registry requests                                {r['registry_requests']:7d}   "
          f"({r['registry_requests'] / max(1, r['digests']):.2f} per distinct image)")
    print(f"signature look-ups / distinct digests            {r['verifications']:7d} / {r['digests']}   target: 1 each")
    print(f"peak RSS of the audit process                    {r['rss_mb']:7.0f} MB  target < {TARGET_RSS_MB:g} MB")
    if misses:
        print("MISSED: " + "; ".join(misses))
        return 1
    print("all targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
