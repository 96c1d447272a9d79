"""SBOM rules at admission: the decision for an image whose attested 5,000-component SBOM is checked against 100
rules, beside the same image under the same policy without SBOM rules, in one run on the loopback registry.

Prints median milliseconds per decision cold (a new engine: discover, verify, read and evaluate the SBOM) and
warm (the verdict cache), for both policies, and the ratio rules / no rules. Target: warm within 1.1x (the
cache keeps the evaluated verdict, so rules cost nothing once judged); cold is printed, with the evaluation's
own share. Exits non-zero when the warm target is missed.

    python benchmarks/sbom_rules.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import make_key, push_image_named, sign  # noqa: E402
from tools.localregistry import LocalRegistry  # noqa: E402
from verifier.cli import main as sealgate  # noqa: E402
from verifier.engine import Engine  # noqa: E402
from verifier.policy import PolicySet, load_policy_files  # noqa: E402
from verifier.registry import RegistryClient  # noqa: E402
from verifier.sbomrules import read_sbom  # noqa: E402

TARGET_WARM_RATIO = 1.1
COMPONENTS = 5000
RULES = 100
WARM_BATCH = 500


def _sbom() -> bytes:
    components = [
        {"type": "library", "name": f"dep-{i}", "version": f"1.{i % 50}.{i % 7}",
         "purl": f"pkg:npm/dep-{i}@1.{i % 50}.{i % 7}",
         "licenses": [{"license": {"id": "MIT" if i % 3 else "Apache-2.0"}}]}
        for i in range(COMPONENTS)
    ]  # fmt: skip
    return json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": components}).encode()


def _policy(folder: Path, host: str, rules: bool) -> PolicySet:
    folder.mkdir(exist_ok=True)
    (folder / "ci.pub").write_bytes((folder.parent / "ci.pub").read_bytes())
    sbom = ""
    if rules:
        deny = "\n".join(
            f'          - {{name: r{i}, purl: "pkg:npm/dep-{i * 37}", versions: "vers:npm/<1.3.0"}}'
            for i in range(RULES)
        )
        sbom = f"      sbom:\n        deny:\n{deny}\n        licenses: {{allow: [MIT, Apache-2.0], unknown: deny}}\n"
    (folder / "p.yaml").write_text(
        "apiVersion: sealgate.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: bench}\n"
        f'spec:\n  images: ["{host}/bench/**"]\n  authorities: [{{name: ci, key: {{path: ci.pub}}}}]\n'
        f"  attestations:\n    - name: sbom\n      predicateType: cyclonedx\n{sbom}"
    )
    return load_policy_files([str(folder)])


async def _decide(
    policies: PolicySet, image: str, client: RegistryClient, engine: Engine | None = None
) -> tuple[float, Engine]:
    """One decision's time; the rules policy must deny by its SBOM rules, the plain one admit."""
    engine = engine or Engine(policies, client)
    start = time.perf_counter()
    decision = await engine.decide(image)
    elapsed = time.perf_counter() - start
    expected = "SBOM_DENIED" if any(a.sbom for p in policies.policies for a in p.attestations) else "OK"
    if decision.code != expected:
        raise SystemExit(f"unexpected decision ({decision.code}, wanted {expected}): {decision.reason}")
    return elapsed, engine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name, LocalRegistry() as registry:
        tmp = Path(tmp_name)
        key = make_key(tmp)
        image = push_image_named(tmp, registry, "bench/sbom")
        sign(key, image)
        (tmp / "sbom.json").write_bytes(_sbom())
        if sealgate(["attest", "--key", str(key), "--type", "cyclonedx", "--predicate", str(tmp / "sbom.json"), image]):
            raise SystemExit("attest failed")
        with_rules = _policy(tmp / "rules", registry.host, rules=True)
        without = _policy(tmp / "plain", registry.host, rules=False)
        cold: dict[str, list[float]] = {"rules": [], "plain": []}
        warm: dict[str, list[float]] = {"rules": [], "plain": []}

        async def rounds() -> None:
            async with RegistryClient() as client:
                for _ in range(args.rounds):
                    engines = {}
                    for name, policies in (("rules", with_rules), ("plain", without)):
                        seconds, engines[name] = await _decide(policies, image, client)
                        cold[name].append(seconds)
                    for _ in range(5):  # warm batches interleaved, so machine noise hits both alike
                        for name, policies in (("rules", with_rules), ("plain", without)):
                            batch = 0.0
                            for _ in range(WARM_BATCH):  # a batch per sample: one cached decision is ~1 us
                                seconds, _ = await _decide(policies, image, client, engines[name])
                                batch += seconds
                            warm[name].append(batch / WARM_BATCH)

        asyncio.run(rounds())
        # the evaluation alone: the rules on the parsed document
        compiled = with_rules.policies[0].attestations[0].sbom
        if compiled is None:
            raise SystemExit("the rules policy compiled without SBOM rules")
        document = read_sbom(_sbom())
        start = time.perf_counter()
        verdict = compiled.evaluate(document, now=dt.datetime.now(dt.UTC))
        evaluation = time.perf_counter() - start

    def ms(values: list[float]) -> float:
        return statistics.median(values) * 1000

    warm_ratio = ms(warm["rules"]) / ms(warm["plain"])
    print(
        f"SBOM of {COMPONENTS} components, {RULES} deny rules + a licence allow-list ({len(verdict.findings)} findings)"
    )
    print(f"cold: rules {ms(cold['rules']):.1f} ms, no rules {ms(cold['plain']):.1f} ms, "
          f"ratio {ms(cold['rules']) / ms(cold['plain']):.2f} "
          f"(evaluation alone {evaluation * 1000:.1f} ms)")  # fmt: skip
    rules_us, plain_us = ms(warm["rules"]) * 1000, ms(warm["plain"]) * 1000
    print(f"warm: rules {rules_us:.2f} us, no rules {plain_us:.2f} us, ratio {warm_ratio:.2f} "
          f"(target <= {TARGET_WARM_RATIO})")  # fmt: skip
    return 0 if warm_ratio <= TARGET_WARM_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
