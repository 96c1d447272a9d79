"""The import graph of ``verifier`` and ``webhook`` has no forbidden arrow (issue 9: "one judge, one reader").

Read statically with ``ast`` from the source, every import counted: module level, inside functions and under
``TYPE_CHECKING`` (a function-level import hides an arrow from the interpreter, not from this test).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("verifier", "webhook")

#: the two CLI sub-commands that start or serve the webhook (``sealgate serve``, ``sealgate certs``): the CLI is
#: the entry point above both verifier and webhook, and these are the only places verifier/ may name webhook/
WEBHOOK_ENTRY_POINTS = frozenset({"verifier.cli._serve", "verifier.cli._certs"})
#: the registry client: anything in this package (transport, auth, breaker, deadlines, SSRF guard)
REGISTRY_CLIENT = "verifier.registry"
#: the one place cosign material meets a registry (issue 9): it reads and writes through the protocols of
#: verifier.oci, so cosign/ and sigstore/ stay pure (bytes in, verdicts out)
ATTACHMENTS = "verifier.attachments"
#: the edges that construct or hold the registry client: the CLI, the engine (its caches and deadlines), the audit
#: and SBOM fetchers, and the webhook; every other package takes a verifier.oci protocol
REGISTRY_CLIENT_TAKERS = (
    "verifier.cli",
    "verifier.engine",
    "verifier.audit",
    "verifier.sbom",
    "webhook",
)
#: top-level modules that do I/O (network, TLS, processes, an event loop): the pure values in verifier.oci
#: (references, digests, media types, manifests) import none of them, directly or through what they import
IO_MODULES = frozenset(
    {
        *("httpx", "httpcore", "anyio", "asyncio", "certifi", "kubernetes"),
        *("socket", "ssl", "subprocess", "urllib.request", "http.client"),
    }
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


@cache
def modules() -> dict[str, Path]:
    return {_module_name(p): p for root in ROOTS for p in sorted((REPO / root).rglob("*.py"))}


def _imports(name: str, path: Path) -> Iterator[tuple[str, str | None, int]]:
    """``(imported module, imported name or None, line)`` for every import statement in the module."""
    package = name if _is_package(path) else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if submodule in modules():
                    yield submodule, None, node.lineno
                else:
                    yield target, alias.name, node.lineno


@cache
def edges() -> tuple[tuple[str, str, str | None, int], ...]:
    """Every ``(importer, imported module, name, line)`` whose imported module is ours."""
    found = []
    for name, path in modules().items():
        for target, imported, line in _imports(name, path):
            if target.split(".")[0] in ROOTS:
                found.append((name, target, imported, line))
    return tuple(found)


def _under(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _arrows(source: tuple[str, ...], forbidden: tuple[str, ...], *, entry_points: bool = True) -> list[str]:
    return sorted(
        {
            f"{importer}:{line} imports {target}"
            for importer, target, _, line in edges()
            if _under(importer, *source)
            and _under(target, *forbidden)
            and (entry_points or importer not in WEBHOOK_ENTRY_POINTS)
        }
    )


def _component(module: str) -> str:
    """``verifier.cosign._verify`` -> ``verifier.cosign``; top-level modules are their own component."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_the_graph_is_read() -> None:
    """A parser that found nothing would pass every rule below."""
    assert len(modules()) > 100
    assert ("verifier.cli._bundle", "verifier.sigstore", "verify_bundle") in {e[:3] for e in edges()}
    assert any(e[0] == "webhook.app" and _under(e[1], "verifier.engine") for e in edges())
    assert any(e[0] == "webhook.app" and _under(e[1], REGISTRY_CLIENT) for e in edges())
    assert any(_under(e[0], REGISTRY_CLIENT) and _under(e[1], "verifier.oci") for e in edges())


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        (("verifier.engine",), ("webhook", "verifier.cli")),
        (("verifier.cosign", "verifier.sigstore", "verifier.policy", "verifier.crypto"), ("webhook", "verifier.cli")),
        (("verifier",), ("webhook",)),
        (("verifier.audit",), ("webhook",)),
        (("verifier.crypto",), ("verifier.cosign", "verifier.sigstore", "verifier.oci", REGISTRY_CLIENT)),
        (("verifier.oci",), (REGISTRY_CLIENT,)),
        (("verifier.policy", "verifier.sigstore", "verifier.crypto", "verifier.sbomrules"), (REGISTRY_CLIENT,)),
        (("verifier.cosign", "verifier.sigstore"), (REGISTRY_CLIENT, ATTACHMENTS)),
        ((ATTACHMENTS,), (REGISTRY_CLIENT,)),
    ],
    ids=[
        "the engine imports neither the webhook nor the CLI",
        "formats and policies import neither the webhook nor the CLI",
        "verifier never imports webhook (but for the serve and certs sub-commands)",
        "audit never imports the webhook",
        "keys, signatures and DSSE sit below cosign, sigstore and the registry",
        "the OCI values do not reach the registry client",
        "policies, sigstore, crypto and SBOM rules do not take the registry client",
        "cosign and sigstore are pure: neither the registry client nor the attachments reader/writer",
        "the attachments reader/writer takes the verifier.oci protocols, not the registry client",
    ],
)
def test_no_forbidden_arrow(source: tuple[str, ...], forbidden: tuple[str, ...]) -> None:
    assert _arrows(source, forbidden, entry_points=False) == []


def test_the_oci_values_import_no_io_package() -> None:
    """verifier.oci is the pure half of the registry split: statically, none of its modules names an I/O package
    (at any depth: a function-level import counts)."""
    found = sorted(
        f"{name}:{line} imports {target}"
        for name, path in modules().items()
        if _under(name, "verifier.oci")
        for target, _, line in _imports(name, path)
        if _under(target, *IO_MODULES)
    )
    assert found == []


def test_importing_the_oci_values_loads_no_io_package() -> None:
    """... and at run time, nothing it imports (verifier.errors, orjson, ...) pulls one in either."""
    probe = (
        "import sys\nimport verifier.oci\nnames = sys.argv[1:]\n"
        "print(*sorted(m for m in sys.modules if any(m == n or m.startswith(n + '.') for n in names)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe, REGISTRY_CLIENT, *sorted(IO_MODULES)],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout.split()
    assert loaded == []
    check = subprocess.run(
        [sys.executable, "-c", probe.replace("import verifier.oci", "import verifier.registry"), "httpx"],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout.split()
    assert "httpx" in check, "the probe finds what the registry client loads"


def test_only_the_serving_sub_commands_name_the_webhook() -> None:
    importers = {arrow.partition(":")[0] for arrow in _arrows(("verifier",), ("webhook",))}
    assert importers == WEBHOOK_ENTRY_POINTS


def test_no_cycle_between_the_packages_of_verifier() -> None:
    graph: dict[str, set[str]] = {}
    for importer, target, _, _ in edges():
        a, b = _component(importer), _component(target)
        if a != b and _under(importer, "verifier") and _under(target, "verifier") and b != "verifier":
            graph.setdefault(a, set()).add(b)
    cycles = [scc for scc in _strongly_connected(graph) if len(scc) > 1]
    detail = {
        " <-> ".join(sorted(scc)): sorted(
            f"{importer}:{line} imports {target}"
            for importer, target, _, line in edges()
            if _component(importer) in scc and _component(target) in scc and _component(importer) != _component(target)
        )
        for scc in cycles
    }
    assert not cycles, detail


def test_only_the_edges_take_the_registry_client() -> None:
    """Issue 9: one registry reader for signature material. Outside the client itself, only the CLI, engine,
    audit, SBOM and webhook packages name ``verifier.registry``; everything else takes a ``verifier.oci`` protocol."""
    takers = sorted(
        f"{importer}:{line} imports {target}"
        for importer, target, _, line in edges()
        if _under(target, REGISTRY_CLIENT) and not _under(importer, REGISTRY_CLIENT, *REGISTRY_CLIENT_TAKERS)
    )
    assert takers == []
    assert any(_under(e[0], ATTACHMENTS) and e[1] == "verifier.oci" for e in edges()), "attachments was read"


def test_the_registry_protocol_module_is_pure() -> None:
    """``verifier.oci.Registry`` (what discovery and the engine take) names values and limits, never I/O."""
    path = modules()["verifier.oci._protocol"]
    imported = {target for target, _, _ in _imports("verifier.oci._protocol", path)}
    assert imported, "the module was read"
    assert imported <= {
        "__future__",
        "collections.abc",
        "typing",
        "verifier.limits",
        "verifier.oci._digest",
        "verifier.oci._mediatypes",
        "verifier.oci._models",
        "verifier.oci._reference",
    }, imported


def test_function_level_relative_and_type_checking_imports_count(tmp_path: Path) -> None:
    """The cycle this test exists for was hidden in a function body."""
    source = tmp_path / "_probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from verifier.registry import RegistryClient\n"
        "def f():\n    from verifier.sigstore import verify_bundle\n"
        "def g():\n    from . import _verify\n    from ._layout import attachment_tag\n"
    )
    assert sorted((t, n) for t, n, _ in _imports("verifier.cosign._probe", source)) == [
        ("typing", "TYPE_CHECKING"),
        ("verifier.cosign._layout", "attachment_tag"),
        ("verifier.cosign._verify", None),
        ("verifier.registry", "RegistryClient"),
        ("verifier.sigstore", "verify_bundle"),
    ]


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm (iterative enough for a graph of a few dozen nodes)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            scc: set[str] = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                scc.add(top)
                if top == node:
                    break
            result.append(scc)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result
