"""``sealgate policy check``: validate and compile policy files, print every problem with its path."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from verifier.errors import PolicyError
from verifier.policy import PolicySet, load_policy_files

__all__ = ["register"]

#: exit code when the files have problems (a configuration error, as everywhere in sealgate)
PROBLEMS_EXIT = 2


def register(commands: argparse._SubParsersAction[Any]) -> None:
    policy = commands.add_parser(
        "policy",
        help="work with policy files (check)",
        description="Work with sealgate policy files (ImagePolicy and Settings documents).",
    )
    sub = policy.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)
    check = sub.add_parser(
        "check",
        help="validate and compile policy files",
        description="Validate and compile policy files: schema, image globs, keys, unique names, at most one "
        "Settings document. Prints a summary and any warnings, exit 0; or every problem, one per line on "
        "standard error with its file, document and field path, exit 2.",
    )
    check.add_argument(
        "paths",
        nargs="+",
        metavar="FILE_OR_DIR",
        help="a policy file, or a folder whose *.yaml and *.yml files are read",
    )
    check.add_argument("--output", choices=("text", "json"), default="text", help="output format (default: text)")
    check.set_defaults(func=_check)


def _count_policies(count: int) -> str:
    return "1 policy" if count == 1 else f"{count} policies"


def _summary(policies: PolicySet) -> dict[str, Any]:
    settings = policies.settings
    return {
        "ok": True,
        "hash": policies.hash,
        "policies": [
            {
                "name": p.name,
                "source": p.source,
                "mode": p.mode,
                "requireDigest": p.require_digest,
                "threshold": p.threshold,
                "images": [g.text for g in p.images],
                "authorities": [a.name for a in p.authorities],
                "usesNamespaceLabels": p.uses_namespace_labels,
                "hash": p.hash,
            }
            for p in policies.policies
        ],
        "settings": {"source": settings.source, **settings.canonical()},
        "registries": policies.allowed_registries,
        "warnings": list(policies.warnings),
        "problems": [],
    }


def _check(args: argparse.Namespace) -> int:
    try:
        policies = load_policy_files(args.paths)
    except PolicyError as exc:
        if args.output == "json":
            print(json.dumps({"ok": False, "problems": exc.problems, "warnings": []}, indent=2))
        else:
            for problem in exc.problems:
                print(f"error: {problem}", file=sys.stderr)
        return PROBLEMS_EXIT
    if args.output == "json":
        print(json.dumps(_summary(policies), indent=2, sort_keys=True))
        return 0
    registries = ", ".join(policies.allowed_registries) or "none"
    settings = policies.settings.source or "defaults"
    print(
        f"OK: {_count_policies(len(policies.policies))}, settings from {settings}, registries reachable: {registries}"
    )
    for warning in policies.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0
