"""The house's walls, checked statically: which package may import which.

Every import in ``verifier/`` and ``webhook/`` is read with ``ast`` (module level and inside functions, where a
cycle likes to hide) and each arrow is checked against the rules of the architecture:

- the core never reaches its edges: nothing in ``verifier/`` but the CLI (the entry point that starts the
  server) imports ``webhook``; only ``verifier.cli`` imports the CLI; the engine, policies, formats and audit
  never import the webhook or the CLI;
- formats stay below the engine: ``cosign``, ``sigstore``, ``policy``, ``oci`` and ``sbom`` never import the
  engine or the audit;
- no cycle between the packages of ``verifier`` -- except the ones listed in ``KNOWN_CYCLES``, which issue 9
  removes, and which may shrink but never grow;
- signature formats do not talk to registries: the modules of ``cosign``/``sigstore`` that still use the
  registry client are listed in ``KNOWN_REGISTRY_USERS`` (issue 9 moves them into one registry reader); the
  list may shrink, never grow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: names of the registry client (I/O) that ``verifier.oci`` re-exports beside its pure values
REGISTRY_CLIENT_NAMES = frozenset({"RegistryClient", "RegistryConfig", "RegistryTransport"})
REGISTRY_CLIENT_MODULES = frozenset(
    f"verifier.oci.{m}" for m in ("_client", "_transport", "_auth", "_authenticator", "_breaker", "_ssrf")
)

#: the entry points: they may import the edges the rules below keep the core away from
ENTRY_POINTS = ("verifier.cli",)
#: package -> packages it must never import (prefix match on dotted names)
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "verifier": ("webhook",),
    "verifier.engine": ("verifier.cli", "verifier.audit"),
    "verifier.policy": ("verifier.cli", "verifier.engine", "verifier.audit"),
    "verifier.cosign": ("verifier.cli", "verifier.engine", "verifier.audit", "verifier.policy"),
    "verifier.sigstore": ("verifier.cli", "verifier.engine", "verifier.audit", "verifier.policy"),
    "verifier.oci": ("verifier.cli", "verifier.engine", "verifier.audit", "verifier.policy", "verifier.cosign"),
    "verifier.sbom": ("verifier.cli", "verifier.engine", "verifier.audit"),
    "verifier.audit": ("verifier.cli",),
    "verifier.workloads": ("verifier.cli", "verifier.engine", "verifier.kubeapi"),
    "verifier.kubeapi": ("verifier.cli", "verifier.engine", "verifier.audit"),
}

#: cycles between packages of ``verifier`` that exist today (issue 9 breaks them); this set may only shrink
KNOWN_CYCLES = frozenset({frozenset({"verifier.cosign", "verifier.sigstore"})})

#: signature-format modules that still use the registry client (issue 9: one registry reader); only shrinks
KNOWN_REGISTRY_USERS = frozenset(
    {
        "verifier.cosign",  # the package face re-exports the registry-walking functions below
        "verifier.cosign._attest",
        "verifier.cosign._attest_check",
        "verifier.cosign._budget",
        "verifier.cosign._discover",
        "verifier.cosign._layout",
        "verifier.cosign._sign",
        "verifier.cosign._verify",
    }
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for top in ("verifier", "webhook") for p in sorted((ROOT / top).rglob("*.py"))}


def _imports(name: str, path: Path) -> Iterator[tuple[str, frozenset[str]]]:
    """(imported module, names imported from it) for every import statement in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, frozenset()
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = frozenset(alias.name for alias in node.names)
            yield base, names
            for alias in node.names:  # `from verifier.oci import _client` imports a module too
                yield f"{base}.{alias.name}", frozenset()


GRAPH = {name: list(_imports(name, path)) for name, path in _modules().items()}


def _is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _package_of(module: str) -> str:
    """The ``verifier`` sub-package (or top module) a module belongs to: ``verifier.cosign._sign`` -> cosign."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "verifier" and len(parts) > 1 else parts[0]


def test_the_graph_was_read() -> None:
    assert len(GRAPH) > 100
    assert any(_is_within(target, "verifier.oci") for target, _ in GRAPH["verifier.engine._engine"])


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_forbidden_arrow(package: str) -> None:
    bad = sorted(
        f"{module} imports {target}"
        for module, imports in GRAPH.items()
        if _is_within(module, package) and not any(_is_within(module, e) for e in ENTRY_POINTS)
        for target, _ in imports
        for forbidden in FORBIDDEN[package]
        if _is_within(target, forbidden)
    )
    assert not bad, "\n".join(bad)


def test_only_the_cli_imports_the_cli() -> None:
    bad = sorted(
        f"{module} imports {target}"
        for module, imports in GRAPH.items()
        if not _is_within(module, "verifier.cli")
        for target, _ in imports
        if _is_within(target, "verifier.cli")
    )
    assert not bad, "\n".join(bad)


def _package_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, imports in GRAPH.items():
        if not _is_within(module, "verifier"):
            continue
        source = _package_of(module)
        for target, _ in imports:
            if _is_within(target, "verifier") and target != "verifier":
                dest = _package_of(target)
                if dest != source:
                    edges.setdefault(source, set()).add(dest)
    return edges


def test_no_new_cycle_between_packages() -> None:
    edges = _package_edges()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(edges.get(node, ()))
        return False

    cycles = {frozenset({a, b}) for a, targets in edges.items() for b in targets if a != b and reaches(b, a)}
    assert cycles <= KNOWN_CYCLES, f"new cycles: {sorted(map(sorted, cycles - KNOWN_CYCLES))}"


def test_registry_client_users_among_the_formats_only_shrink() -> None:
    users = {
        module
        for module, imports in GRAPH.items()
        if _is_within(module, "verifier.cosign") or _is_within(module, "verifier.sigstore")
        for target, names in imports
        if target in REGISTRY_CLIENT_MODULES or (target == "verifier.oci" and names & REGISTRY_CLIENT_NAMES)
    }
    assert users <= KNOWN_REGISTRY_USERS, f"new registry users: {sorted(users - KNOWN_REGISTRY_USERS)}"
    assert not any(_is_within(u, "verifier.sigstore") for u in users)


def test_a_forbidden_arrow_is_seen(tmp_path: Path) -> None:
    """The reader itself: a function-level relative import of the webhook is found."""
    source = tmp_path / "verifier" / "engine" / "_x.py"
    source.parent.mkdir(parents=True)
    source.write_text("def f():\n    from ...webhook import app\n    from . import _judge\n")
    found = dict(_imports("verifier.engine._x", source))
    assert "webhook" in found and "verifier.engine._judge" in found
