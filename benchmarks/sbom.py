"""`sealgate sbom` beside Trivy, syft and cdxgen on real images, scored against the tools' own ground truth.

The images are tools/sbomimages.py's (debootstrap minbase; and "mixed": + pip wheels, an npm tree, a Go binary and
a jar from Debian packages, whiteouts), each as docker-archive and oci-archive. Every tool runs in a fresh child
process per round (rounds interleaved); the wall time's median, the peak RSS (the child's rusage from wait4, its
own children included), the component count and recall/precision per ecosystem are printed side by side. A last
case times `sealgate sbom` pulling the mixed image from the loopback registry.

Targets (exit 1 on a miss, every miss printed): sealgate recall and precision 100% on every image and ecosystem;
>= 4x faster than syft, >= 10x faster than cdxgen, within 1.5x of Trivy; peak RSS < 200 MB. A peer that is not
installed (`make bench-deps`) or cannot run offline here is reported with the reason, and its target skipped.

    python benchmarks/sbom.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.localregistry import LocalRegistry  # noqa: E402
from tools.sbomimages import IMAGE_NAMES, SbomImages, build_sbom_images  # noqa: E402
from tools.sbomscore import ECOSYSTEMS, Score, components, score  # noqa: E402

BIN = Path(sys.executable).parent
CDXGEN = ROOT / ".bench-tools/node_modules/.bin/cdxgen"
TARGET_RSS_MB = 200.0
FASTER_THAN = {"syft": 4.0, "cdxgen": 10.0}
WITHIN_OF = {"trivy": 1.5}
KINDS = ("docker", "oci")

#: (tool, archive path or registry ref, kind, output file, scratch dir) -> argv
Command = Callable[[str, str, Path, Path], list[str]]


def _sealgate(source: str, kind: str, out: Path, scratch: Path) -> list[str]:
    ref = source if kind == "registry" else f"{kind}-archive:{source}"
    return [str(BIN / "sealgate"), "sbom", ref, "-o", str(out), "-q"]


def _trivy(source: str, kind: str, out: Path, scratch: Path) -> list[str]:
    # No Java DB offline (it comes from an OCI registry) and Trivy refuses to analyse any jar without it: jars are
    # skipped. It reads an OCI layout directory, not an oci-archive: it is given the archive unpacked.
    if kind == "oci":
        source = str(_unpacked(Path(source)))
    offline = ["--skip-db-update", "--skip-java-db-update", "--offline-scan", "--skip-version-check"]
    return [str(BIN / "trivy"), "image", "--input", source, "--format", "cyclonedx", "--output", str(out),
            "--cache-backend", "memory", "--cache-dir", str(scratch / "cache"), *offline,
            "--skip-files", "**/*.jar", "-q"]  # fmt: skip


def _syft(source: str, kind: str, out: Path, scratch: Path) -> list[str]:
    return [str(BIN / "syft"), f"{kind}-archive:{source}", "-o", f"cyclonedx-json={out}", "-q"]


def _cdxgen(source: str, kind: str, out: Path, scratch: Path) -> list[str]:
    return [str(CDXGEN), "-t", "docker", source, "-o", str(out), "--no-install-deps"]


TOOLS: dict[str, tuple[Command, Path]] = {
    "sealgate": (_sealgate, BIN / "sealgate"),
    "trivy": (_trivy, BIN / "trivy"),
    "syft": (_syft, BIN / "syft"),
    "cdxgen": (_cdxgen, CDXGEN),
}
_UNPACKED: dict[Path, Path] = {}


def _unpacked(archive: Path) -> Path:
    if archive not in _UNPACKED:
        target = Path(tempfile.mkdtemp(prefix="sbom-bench-oci-"))
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
        _UNPACKED[archive] = target
    return _UNPACKED[archive]


@dataclass
class Result:
    seconds: list[float] = field(default_factory=list)
    rss_mb: float = 0.0
    count: int = 0
    scores: dict[str, Score] = field(default_factory=dict)
    error: str = ""


def _env(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SYFT_CHECK_FOR_APP_UPDATE="false",
        FETCH_LICENSE="false",
        CDXGEN_TEMP_DIR=str(scratch),
        TMPDIR=str(scratch),
        NODE_NO_WARNINGS="1",
    )
    return env


def _run_once(tool: str, source: str, kind: str, truth: dict[str, list[dict[str, str]]], result: Result) -> None:
    command, _ = TOOLS[tool]
    with tempfile.TemporaryDirectory(prefix=f"sbom-bench-{tool}-") as tmp:
        scratch = Path(tmp)
        out = scratch / "sbom.json"
        argv = command(source, kind, out, scratch)
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(scratch))
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0 or not out.exists():
            lines = stderr.decode(errors="replace").strip().splitlines() or ["(no output)"]
            result.error = f"exit {proc.returncode}: {lines[-1][:300]}"
            return
        doc = json.loads(out.read_text())
    result.seconds.append(elapsed)
    result.rss_mb = max(result.rss_mb, usage.ru_maxrss / 1024)
    result.count = sum(1 for item in components(doc) if item.get("purl"))
    result.scores = score(truth, doc)


def _cell(s: Score) -> str:
    return f"{s.recall * 100:.0f}/{s.precision * 100:.0f}" if s.expected or s.found else "-"


def _report(case: str, results: dict[str, Result], truth: dict[str, list[dict[str, str]]]) -> list[str]:
    print(f"\n{case}  (ground truth: " + ", ".join(f"{e} {len(truth.get(e, []))}" for e in ECOSYSTEMS) + ")")
    print(f"  {'tool':9} {'median s':>9} {'peak RSS MB':>12} {'components':>11}  recall/precision % " + " ".join(
        f"{e:>7}" for e in ECOSYSTEMS))  # fmt: skip
    misses = []
    for tool, res in results.items():
        if res.error:
            print(f"  {tool:9} could not run: {res.error}")
            continue
        median = statistics.median(res.seconds)
        cells = " ".join(f"{_cell(res.scores[e]):>7}" for e in ECOSYSTEMS)
        print(f"  {tool:9} {median:9.2f} {res.rss_mb:12.0f} {res.count:11d}  {'':19}{cells}")
        for eco in ECOSYSTEMS:
            s = res.scores[eco]
            if tool != "sealgate" and (s.missing or s.extra):
                print(f"      {tool} {eco}: missing {list(s.missing)[:4]} extra {list(s.extra)[:4]}")
    ours = results["sealgate"]
    if ours.error:
        return [f"{case}: sealgate failed: {ours.error}"]
    mine = statistics.median(ours.seconds)
    for eco, s in ours.scores.items():
        if s.missing or s.extra:
            misses.append(f"{case}: sealgate {eco} recall {s.recall:.3f} precision {s.precision:.3f} "
                          f"missing {list(s.missing)} extra {list(s.extra)}")  # fmt: skip
    if ours.rss_mb >= TARGET_RSS_MB:
        misses.append(f"{case}: sealgate peak RSS {ours.rss_mb:.0f} MB >= {TARGET_RSS_MB:.0f} MB")
    for tool, factor in FASTER_THAN.items():
        peer = results.get(tool)
        if peer and not peer.error:
            ratio = statistics.median(peer.seconds) / mine
            print(f"  sealgate is {ratio:.1f}x faster than {tool} (target >= {factor:g}x)")
            if ratio < factor:
                misses.append(f"{case}: only {ratio:.1f}x faster than {tool} (target {factor:g}x)")
    for tool, factor in WITHIN_OF.items():
        peer = results.get(tool)
        if peer and not peer.error:
            ratio = mine / statistics.median(peer.seconds)
            print(f"  sealgate takes {ratio:.2f}x {tool}'s time (target <= {factor:g}x)")
            if ratio > factor:
                misses.append(f"{case}: {ratio:.2f}x {tool}'s time (target <= {factor:g}x)")
    return misses


def _available() -> list[str]:
    tools = []
    for tool, (_, path) in TOOLS.items():
        if path.exists():
            tools.append(tool)
        else:
            print(f"{tool}: not installed ({path}); `make bench-deps` installs the peers")
    return tools


def _compile_bytecode() -> None:
    """sealgate as installed: pip compiles a package's modules when it installs it, but the editable install here
    runs from the source tree, where nothing is compiled while PYTHONDONTWRITEBYTECODE is set (it is, on these
    machines), and every run would compile ~70 modules again (~35 ms) before it starts."""
    for package in ("verifier", "webhook"):
        if not compileall.compile_dir(ROOT / package, quiet=1):
            raise SystemExit(f"could not compile {package}/")
    print("sealgate's bytecode compiled, as a pip install does")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    started = time.monotonic()
    _compile_bytecode()
    images: SbomImages = build_sbom_images()
    print(f"images: {images.root} (ready in {time.monotonic() - started:.1f} s)")
    tools = _available()
    misses: list[str] = []
    for image in IMAGE_NAMES:
        truth = images.truth(image)
        for kind in KINDS:
            results = {tool: Result() for tool in tools}
            for _ in range(args.rounds):
                for tool in tools:
                    if not results[tool].error:
                        _run_once(tool, str(images.archive(image, kind)), kind, truth, results[tool])
            misses += _report(f"{image} {kind}-archive", results, truth)
    with LocalRegistry() as registry:
        ref = f"{registry.host}/bench/sbom-mixed:v1"
        _push(images, registry, ref)
        results = {"sealgate": Result()}
        for _ in range(args.rounds):
            _run_once("sealgate", ref, "registry", images.truth("mixed"), results["sealgate"])
        misses += _report(f"mixed pulled from the loopback registry ({ref})", results, images.truth("mixed"))
    for path in _UNPACKED.values():
        shutil.rmtree(path, ignore_errors=True)
    print()
    for miss in misses:
        print(f"MISS: {miss}")
    print("all targets met" if not misses else f"{len(misses)} target(s) missed")
    return 1 if misses else 0


def _push(images: SbomImages, registry: LocalRegistry, ref: str) -> None:
    with tempfile.TemporaryDirectory(prefix="sbom-bench-push-") as tmp:
        (Path(tmp) / "auth.json").write_text('{"auths":{}}')
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "TMPDIR": tmp}
        subprocess.run(
            ["skopeo", "--insecure-policy", "copy", "-q", "--dest-tls-verify=false", "--dest-no-creds",
             "--authfile", str(Path(tmp) / "auth.json"), images.source("mixed", "oci"), f"docker://{ref}"],
            check=True, capture_output=True, timeout=300, env=env,
        )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
