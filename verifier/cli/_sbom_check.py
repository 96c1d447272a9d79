"""``sealgate sbom check SBOM --policy P``: the SBOM rules of a policy on a local SBOM file (CI runs it before
pushing), with the lines and exit codes of ``verify`` (0 pass, 1 denied, 2 usage or unreadable input)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import orjson

from verifier.errors import UsageError
from verifier.limits import DEFAULT_LIMITS
from verifier.oci import Reference
from verifier.policy import load_policy_files
from verifier.sbomrules import SbomInvalidError, read_sbom

__all__ = ["run"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sealgate sbom check",
        description="Evaluate the SBOM rules of the policies in --policy on a local CycloneDX or SPDX JSON file "
        "(a plain document, or an in-toto statement whose predicate is one). With --image, only the policies "
        "that match that image; else every policy with SBOM rules. Exit 0 when nothing is denied (warn rules "
        "print warnings), 1 when a rule denies, 2 for usage errors or an SBOM that cannot be read.",
    )
    parser.add_argument("sbom", metavar="SBOM", help="the SBOM file (CycloneDX or SPDX JSON)")
    parser.add_argument("--policy", action="append", required=True, metavar="FILE", help="policy file or folder")
    parser.add_argument("--image", metavar="REF", help="check only the policies that apply to this image")
    return parser


def _document(path: str) -> object:
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(DEFAULT_LIMITS.max_sbom_bytes + 1)
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data  # read_sbom says what is wrong with it (size, encoding, JSON)
    if isinstance(doc, dict) and isinstance(doc.get("predicate"), dict) and "predicateType" in doc:
        return doc["predicate"]  # an in-toto statement
    return doc


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    policies = load_policy_files(args.policy)
    chosen = policies.policies
    if args.image:
        ref = Reference.parse(args.image)
        chosen = tuple(p for p in chosen if p.matches_image(ref))
    rules = [(p, a.name, a.sbom) for p in chosen for a in p.attestations if a.sbom is not None]
    if not rules:
        raise UsageError("no policy with SBOM rules" + (f" applies to {args.image}" if args.image else ""))
    try:
        document = read_sbom(_document(args.sbom))
    except SbomInvalidError as exc:
        raise UsageError(f"{args.sbom}: {exc.message}") from None
    now = dt.datetime.now(dt.UTC)
    denied = False
    for policy, name, sbom in rules:
        verdict = sbom.evaluate(document, now=now, attested=False)
        for finding in verdict.findings:
            line = f'policy "{policy.name}": {finding.message}'
            if finding.mode == "warn" or policy.mode == "warn":
                print(f"warning: {line}", file=sys.stderr)
            else:
                denied = True
                print(f"FAIL {line}")
        if not verdict.findings:
            print(f'PASS policy "{policy.name}": SBOM rules of "{name}" ({len(document.components)} components)')
    return 1 if denied else 0
