"""Read policy files: YAML (several documents per file), files or folders, every problem collected."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from verifier.crypto import read_key_file
from verifier.errors import PolicyError
from verifier.limits import DEFAULT_LIMITS
from verifier.policy._compile import Document, KeyLoader, PolicySet, compile_problems
from verifier.policy._problems import one_line

__all__ = ["load_policy_files", "parse_policy_text", "read_policy_documents"]

_logger = logging.getLogger(__name__)

_SUFFIXES = (".yaml", ".yml")
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _TooDeep(Exception):
    """A document nests deeper than ``max_policy_depth``."""


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (PyYAML keeps the last silently) and
    nesting deeper than ``max_policy_depth`` (PyYAML composes recursively: a deep document would otherwise
    be bounded only by the interpreter's recursion limit, which other code may raise)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > DEFAULT_LIMITS.max_policy_depth:
                raise _TooDeep
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                first = seen[key].start_mark
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key_node.value!r} given twice in one mapping (first on line {first.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _too_big(doc: Any) -> bool:
    """Does ``doc`` expand to more than ``max_policy_nodes`` values (alias bombs)? Stops counting at the cap."""
    count, stack = 0, [doc]
    while stack:
        item = stack.pop()
        count += 1
        if count > DEFAULT_LIMITS.max_policy_nodes:
            return True
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _yaml_problem(source: str, exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "invalid YAML"
        if mark is not None:
            return f"{source}: line {mark.line + 1}, column {mark.column + 1}: {reason}"
        return f"{source}: {reason}"
    return f"{source}: invalid YAML: {exc}"


def _read_file(path: Path, source: str, problems: list[str]) -> list[Document]:
    try:
        with open(path, "rb") as handle:
            data = handle.read(DEFAULT_LIMITS.max_policy_file_bytes + 1)
    except OSError as exc:
        problems.append(f"{source}: cannot read: {(exc.strerror or type(exc).__name__).lower()}")
        return []
    if len(data) > DEFAULT_LIMITS.max_policy_file_bytes:
        problems.append(f"{source}: larger than {DEFAULT_LIMITS.max_policy_file_bytes // 1024} KiB")
        return []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"{source}: not UTF-8 (byte {exc.start})")
        return []
    return parse_policy_text(text, source, problems)


def parse_policy_text(text: str, source: str, problems: list[str]) -> list[Document]:
    """The non-empty YAML documents in ``text``, numbered from 1; YAML errors go to ``problems``."""
    docs: list[Document] = []
    number = 0
    try:
        for doc in yaml.load_all(text, Loader=_StrictLoader):  # noqa: S506 - a SafeLoader subclass
            number += 1
            if doc is None:
                continue
            if _too_big(doc):
                problems.append(
                    f"{source}: document {number}: expands to more than {DEFAULT_LIMITS.max_policy_nodes} YAML values"
                )
                continue
            docs.append((source, number, doc))
    except yaml.YAMLError as exc:
        problems.append(_yaml_problem(source, exc))
    except (_TooDeep, RecursionError):
        problems.append(f"{source}: document {number + 1}: nested too deeply")
    return docs


def _read_all(paths: Sequence[str | Path], problems: list[str]) -> tuple[list[Document], list[str]]:
    docs: list[Document] = []
    files: list[str] = []
    if not paths:
        problems.append("no policy files given")
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES and p.is_file())
            if not found:
                problems.append(f"{given}: no *.yaml or *.yml files in this folder")
            for file in found:
                files.append(str(file))
                docs.extend(_read_file(file, str(file), problems))
        elif path.exists():
            files.append(str(given))
            docs.extend(_read_file(path, str(given), problems))
        else:
            problems.append(f"{given}: no such file or folder")
    return docs, files


def read_policy_documents(paths: Sequence[str | Path], problems: list[str]) -> list[Document]:
    """Every document in ``paths`` (files, or folders whose ``*.yaml``/``*.yml`` are read in name order)."""
    return _read_all(paths, problems)[0]


def _by_file(problems: list[str], files: list[str]) -> list[str]:
    """``problems`` grouped by file in reading order (stable: each file's problems keep their order)."""
    order: dict[str, int] = {}
    for file in files:
        order.setdefault(file, len(order))

    def rank(problem: str) -> int:
        source = problem.split(": ", 1)[0]
        return order.get(source, -1 if source == problem else len(order))

    return sorted(problems, key=rank)


def load_policy_files(paths: Sequence[str | Path], *, key_loader: KeyLoader = read_key_file) -> PolicySet:
    """Read, validate and compile the policy files in ``paths`` into one :class:`PolicySet`.

    Each path is a file or a folder (its ``*.yaml`` and ``*.yml`` files, sorted, not recursive). Every problem
    in every file is collected and raised together as one :class:`~verifier.errors.PolicyError`: nothing broken
    is ever skipped.
    """
    problems: list[str] = []
    docs, files = _read_all(paths, problems)
    result, compile_errors = compile_problems(docs, key_loader)
    problems = _by_file([one_line(p) for p in [*problems, *compile_errors]], files)
    if problems or result is None:
        raise PolicyError(problems)
    _logger.debug("loaded %d policies from %s", len(result.policies), ", ".join(map(str, paths)))
    return result
