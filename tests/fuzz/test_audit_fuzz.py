"""Hostile objects for `sealgate audit --from-file` (what a workload's owner writes is what the audit reads):
real object shapes of every kind (tests/assets/k8s, from `kubectl create --dry-run=client -o json`) with values
anywhere swapped for hostile ones, rendered in every report format. Each run ends in a report (exit 0, with
--fail-on never) or a usage error (exit 2), never an internal error; and an untouched Deployment beside them
running a mutable tag is always reported: no neighbour hides it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz._support import examples, json_paths, swap_values
from tests.fuzz.conftest import COUNTS
from verifier.audit import FORMATS
from verifier.cli import main

MANIFESTS = examples(500)
FUZZ = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck), print_blob=True)
ASSETS = Path(__file__).resolve().parents[1] / "assets" / "k8s"
KINDS = ("pod", "deployment", "replicaset", "daemonset", "job", "cronjob", "replicationcontroller")
BASES = [json.loads((ASSETS / f"{kind}.json").read_text()) for kind in KINDS]
WITNESS = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "witness", "namespace": "audit-fuzz"},
    "spec": {"template": {"spec": {"containers": [{"name": "w", "image": "registry.example.com/witness:latest"}]}}},
}
NASTY: list[Any] = [
    None, "", " ", "/", "@", ":", "..", "\u202e", "\x00", "a" * 3000, "x:y@sha256:zz", "Pod", "v1", "apps/v1",
    "registry.example.com/x@sha256:" + "0" * 64, "docker-pullable://x@sha256:" + "a" * 64, "witness", "audit-fuzz",
    -1, 10**30, 1.5, True, [], {}, [None], {"a": None}, [{"kind": "Deployment", "name": "witness", "controller": True}],
]  # fmt: skip


PATHS = [json_paths(base, per_list=20) for base in BASES]


def _hostile(index: int, swaps: list[tuple[int, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(json.dumps(BASES[index]))
    swap_values(obj, PATHS[index], swaps)
    return obj


def _parsed(fmt: str, text: str) -> None:
    if fmt in ("json", "sarif"):
        json.loads(text)
    elif fmt == "policyreport":
        assert all(doc["kind"] in ("PolicyReport", "ClusterPolicyReport") for doc in yaml.safe_load_all(text))
    elif fmt == "html":
        assert text.lstrip().lower().startswith("<!doctype html>")


def test_hostile_objects_end_in_a_report_and_never_hide_their_neighbour(tmp_path: Path) -> None:
    count = 0
    outcomes: dict[int, int] = {}
    manifest, report = tmp_path / "objects.json", tmp_path / "report"

    @settings(FUZZ, max_examples=MANIFESTS)
    @given(
        st.lists(st.tuples(st.integers(0, len(BASES) - 1), st.lists(st.tuples(st.integers(0, 1 << 16),
                 st.sampled_from(NASTY)), min_size=1, max_size=4)), min_size=1, max_size=3),
        st.sampled_from(FORMATS),
    )  # fmt: skip
    def prop(objects: list[tuple[int, list[tuple[int, Any]]]], fmt: str) -> None:
        nonlocal count
        count += 1
        items = [_hostile(i, swaps) for i, swaps in objects] + [WITNESS]
        manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        code = main(["audit", "--from-file", str(manifest), "--output", fmt, "-o", str(report), "--fail-on", "never",
                     "--quiet"])  # fmt: skip
        outcomes[code] = outcomes.get(code, 0) + 1
        assert code in (0, 2), code
        if code == 0:
            text = report.read_text()
            _parsed(fmt, text)
            assert "witness" in text, "the untouched Deployment must be reported"
            report.unlink()

    prop()
    COUNTS["audit manifests"] = count
    assert count >= MANIFESTS
    assert outcomes.get(0, 0) > MANIFESTS // 2, outcomes


@pytest.fixture(autouse=True)
def _no_internal_error(capsys: pytest.CaptureFixture[str]) -> Any:
    yield
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err, err[-2000:]
