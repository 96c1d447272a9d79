"""`sealgate audit` end to end: the Kubernetes API double (real list API, kubeconfig, TLS, RBAC) and the real
registry with signed, unsigned, retagged (drift) and attested images. Every finding found, nothing false."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.support.k8sobjects import pod, workload
from tests.support.kubeapi import KubeAPIDouble
from tools import build_image, push_image
from verifier.cli import main

pytestmark = pytest.mark.integration

NOT_HERE = "registry.example.com/elsewhere/app@sha256:" + "ab" * 32


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class World:
    """Images in the registry, policies, and a cluster in the double that uses them."""

    def __init__(self, tmp: Path, registry: Any) -> None:
        self.tmp = tmp
        self.host = registry.host
        self.registry = registry
        self.n = 0

    def push(self, repo: str, tag: str) -> str:
        self.n += 1
        layout = build_image(self.tmp, name=f"audit-{self.n}", files={"id.txt": f"{repo}:{tag}:{self.n}".encode()})
        return push_image(layout, self.registry, repo, tag)

    def sign(self, ref: str) -> None:
        assert main(["sign", "--key", str(self.tmp / "ci.key"), ref]) == 0

    def attest(self, ref: str) -> None:
        predicate = self.tmp / "sbom.json"
        predicate.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}))
        assert main(["attest", "--key", str(self.tmp / "ci.key"), "--type", "cyclonedx",
                     "--predicate", str(predicate), ref]) == 0


@pytest.fixture(scope="module")
def world(tmp_path_factory, registry, request):
    tmp = tmp_path_factory.mktemp("audit")
    mp = pytest.MonkeyPatch()
    request.addfinalizer(mp.undo)
    mp.setenv("COSIGN_PASSWORD", "pw")
    assert main(["keygen", "--output-key-prefix", str(tmp / "ci")]) == 0
    w = World(tmp, registry)
    h = w.host
    w.signed = w.push("audit/signed", "v1")
    w.sign(f"{h}/audit/signed:v1")
    w.other = w.push("audit/signed", "v2")  # unsigned, same repository: a pod runs it under a pinned spec
    w.unsigned = w.push("audit/unsigned", "v1")
    w.drift_old = w.push("audit/drift", "v1")
    w.sign(f"{h}/audit/drift:v1")
    w.drift_new = w.push("audit/drift", "v1")  # the tag moves on; the pod still runs the old digest
    w.sign(f"{h}/audit/drift:v1")
    w.attested = w.push("audit/sbom/good", "v1")
    w.sign(f"{h}/audit/sbom/good:v1")
    w.attest(f"{h}/audit/sbom/good:v1")
    w.bare = w.push("audit/sbom/bare", "v1")
    w.sign(f"{h}/audit/sbom/bare:v1")
    w.down = f"127.0.0.1:{_closed_port()}"
    key = (tmp / "ci.pub").read_text()
    policies = tmp / "policies.yaml"
    policies.write_text(
        "\n---\n".join(
            json.dumps(doc)
            for doc in (
                {"apiVersion": "sealgate.dev/v1alpha1", "kind": "ImagePolicy", "metadata": {"name": "signed"},
                 "spec": {"images": [f"{h}/audit/**", f"{w.down}/**"],
                          "authorities": [{"name": "ci", "key": {"data": key}}]}},
                {"apiVersion": "sealgate.dev/v1alpha1", "kind": "ImagePolicy", "metadata": {"name": "sbom"},
                 "spec": {"images": [f"{h}/audit/sbom/**"],
                          "authorities": [{"name": "ci", "key": {"data": key}}],
                          "attestations": [{"name": "sbom", "predicateType": "cyclonedx", "authorities": ["ci"]}]}},
            )
        )
    )
    w.policies = str(policies)
    return w


def _cluster(w: World, api: KubeAPIDouble) -> None:
    h = w.host
    signed, other, unsigned = w.signed, w.other, w.unsigned
    api.add_namespace("shop", {"env": "prod"})
    api.add(
        workload("Deployment", "shop", "web", [("web", f"{h}/audit/signed:v1")], replicas=2),
        workload("ReplicaSet", "shop", "web-5d4f", [("web", f"{h}/audit/signed:v1")], owner=("Deployment", "web")),
        *[pod("shop", f"web-5d4f-{i}", [("web", f"{h}/audit/signed:v1")], owner=("ReplicaSet", "web-5d4f"),
              image_ids={"web": f"{h}/audit/signed@{signed}"}) for i in range(2)],
        # pinned, signed, runs what it pins: clean
        pod("shop", "pinned", [("app", f"{h}/audit/signed@{signed}")], image_ids={"app": f"{h}/audit/signed@{signed}"}),
        # pinned to the signed digest, but the node runs another (unsigned) one
        pod("shop", "swapped", [("app", f"{h}/audit/signed@{signed}")],
            image_ids={"app": f"docker-pullable://{h}/audit/signed@{other}"}),
        # the tag moved on after the pod started
        workload("StatefulSet", "shop", "db", [("db", f"{h}/audit/drift:v1")]),
        pod("shop", "db-0", [("db", f"{h}/audit/drift:v1")], owner=("StatefulSet", "db"),
            image_ids={"db": f"{h}/audit/drift@{w.drift_old}"}),
    )
    api.add_namespace("batch")
    api.add(
        # a CronJob between runs and a Deployment scaled to 0: checked from their templates
        workload("CronJob", "batch", "report", [("report", f"{h}/audit/unsigned:v1")]),
        workload("Deployment", "batch", "idle", [("idle", f"{h}/audit/sbom/bare@{w.bare}")], replicas=0),
        # a Job's pod with an init container (attested, clean) and an ephemeral debug container from elsewhere
        workload("Job", "batch", "migrate", [("migrate", f"{h}/audit/sbom/good@{w.attested}")]),
        pod("batch", "migrate-x1", [("migrate", f"{h}/audit/sbom/good@{w.attested}")],
            init=[("init", f"{h}/audit/unsigned@{unsigned}")], ephemeral=[("debug", NOT_HERE)],
            owner=("Job", "migrate"),
            image_ids={"migrate": f"{h}/audit/sbom/good@{w.attested}", "init": f"{h}/audit/unsigned@{unsigned}",
                       "debug": NOT_HERE}),
    )
    api.add_namespace("odd")
    api.add(
        pod("odd", "weird", [("empty", ""), ("bad", "Not A Ref"), ("bare-digest", "@sha256:" + "cd" * 32),
                             ("down", f"{w.down}/team/app@sha256:{'ef' * 32}"),
                             ("pulling", f"{h}/audit/signed@{signed}"), ("local", f"{h}/audit/signed@{signed}")],
            image_ids={"empty": None, "bad": None, "bare-digest": None, "down": f"{w.down}/team/app@sha256:{'ef' * 32}",
                       "pulling": None, "local": "docker://sha256:" + "12" * 32}),
    )
    api.add_namespace("secret")
    api.add(
        pod("secret", "hidden", [("x", f"{h}/audit/unsigned:v1")], image_ids={"x": f"{h}/audit/unsigned@{unsigned}"})
    )


def _keys(report: dict[str, Any]) -> set[tuple[str, str, str, str, str]]:
    return {
        (f["rule"], f["namespace"], f"{f['workload']['kind']}/{f['workload']['name']}", f["container"], f["cluster"])
        for f in report["findings"]
    }


def _audit(capsys, *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["audit", "--output", "json", "--quiet", *argv])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_every_finding_and_nothing_false(world, tmp_path, capsys):
    with KubeAPIDouble(tls=True) as api:
        _cluster(world, api)
        api.namespaced_only.add("auditor")  # may not list cluster-wide: goes namespace by namespace
        api.forbidden["auditor"] = {"secret"}
        config = api.kubeconfig(tmp_path / "config", {"auditor": api.token_user("auditor")})
        code, report = _audit(capsys, "--kubeconfig", config, "--policy", world.policies)
    assert code == 1
    c = "auditor"
    expected = {
        ("SG001", "shop", "Deployment/web", "web", c),  # tag, but signed and no drift
        ("SG003", "shop", "Pod/swapped", "app", c),
        ("SG004", "shop", "Pod/swapped", "app", c),  # what runs there is unsigned
        ("SG001", "shop", "StatefulSet/db", "db", c),
        ("SG002", "shop", "StatefulSet/db", "db", c),
        ("SG001", "batch", "CronJob/report", "report", c),
        ("SG004", "batch", "CronJob/report", "report", c),
        ("SG005", "batch", "Deployment/idle", "idle", c),  # signed, no SBOM attestation
        ("SG004", "batch", "Job/migrate", "init", c),
        ("SG007", "batch", "Job/migrate", "debug", c),
        ("SG009", "odd", "Pod/weird", "empty", c),
        ("SG009", "odd", "Pod/weird", "bad", c),
        ("SG009", "odd", "Pod/weird", "bare-digest", c),
        ("SG008", "odd", "Pod/weird", "down", c),
        ("SG011", "odd", "Pod/weird", "pulling", c),
        ("SG011", "odd", "Pod/weird", "local", c),  # an imageID without a registry digest
        ("SG010", "secret", "Namespace/secret", "", c),
    }
    assert _keys(report) == expected
    by = {(f["rule"], f["workload"]["name"], f["container"]): f for f in report["findings"]}
    drift = by[("SG002", "db", "db")]
    assert drift["evidence"]["resolved"] == world.drift_new and drift["digest"] == world.drift_old
    assert by[("SG003", "swapped", "app")]["evidence"] == {
        "fieldPath": "spec.containers[0].image", "source": "pod", "pinned": world.signed, "running": world.other
    }
    assert "no signatures found" in by[("SG004", "swapped", "app")]["message"]
    assert by[("SG001", "web", "web")]["pods"] == ["web-5d4f-0", "web-5d4f-1"]
    assert by[("SG004", "report", "report")]["evidence"]["source"] == "template"
    assert "attestation" in by[("SG005", "idle", "idle")]["message"]
    assert by[("SG008", "weird", "down")]["evidence"]["code"] == "REGISTRY_UNAVAILABLE"
    assert "forbidden" in by[("SG010", "secret", "")]["message"]
    assert by[("SG003", "swapped", "app")]["severity"] == "critical"
    assert by[("SG011", "weird", "local")]["evidence"]["imageID"] == "docker://sha256:" + "12" * 32
    assert by[("SG011", "weird", "pulling")]["message"] == "container 'pulling' reports no imageID yet"
    clusters = report["clusters"]
    assert [(x["name"], x["status"]) for x in clusters] == [("auditor", "partial")]


def test_contexts_client_certificates_and_failures_are_named(world, tmp_path, capsys):
    """--all-contexts: a certificate user and a token user audit; an expired token and an unreachable
    server are reported as not audited, and the audit goes on."""
    with KubeAPIDouble(tls=True) as api:
        h = world.host
        api.add_namespace("shop")
        api.add(pod("shop", "one", [("app", f"{h}/audit/unsigned:v1")],
                    image_ids={"app": f"{h}/audit/unsigned@{world.unsigned}"}))
        users = {"cert": api.cert_user("alice"), "token": api.token_user("bob"), "expired": {"token": "expired"}}
        config = api.kubeconfig(tmp_path / "config", users)
        code, report = _audit(capsys, "--kubeconfig", config, "--all-contexts", "--policy", world.policies)
    assert code == 1
    statuses = {c["name"]: c["status"] for c in report["clusters"]}
    assert statuses == {"cert": "audited", "token": "audited", "expired": "unreachable"}
    keys = _keys(report)
    for cluster in ("cert", "token"):
        assert ("SG004", "shop", "Pod/one", "app", cluster) in keys
    expired = [f for f in report["findings"] if f["cluster"] == "expired"]
    assert [f["rule"] for f in expired] == ["SG010"]
    assert "HTTP 401" in expired[0]["message"]


def test_unreachable_cluster_and_missing_context(world, tmp_path, capsys):
    config = tmp_path / "config"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": f"http://127.0.0.1:{_closed_port()}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
    }))
    code, report = _audit(capsys, "--kubeconfig", str(config), "--policy", world.policies)
    assert code == 1
    assert report["clusters"][0]["status"] == "unreachable"
    assert "Kubernetes API unavailable" in report["findings"][0]["message"]
    assert main(["audit", "--kubeconfig", str(config), "--context", "nope"]) == 2
    assert "has no context 'nope'" in capsys.readouterr().err


def test_from_file_reads_kubectl_lists_and_manifests(world, tmp_path, capsys):
    h = world.host
    listing = {"apiVersion": "v1", "kind": "List", "items": [
        workload("Deployment", "shop", "web", [("web", f"{h}/audit/unsigned:v1")]),
    ]}
    second = {"apiVersion": "v1", "kind": "List", "items": [
        workload("CronJob", "shop", "nightly", [("job", f"{h}/audit/signed@{world.signed}")]),
    ]}
    (tmp_path / "get.json").write_text(json.dumps(listing, indent=2) + "\n" + json.dumps(second))
    (tmp_path / "chart.yaml").write_text(
        "---\n# Source: chart/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
        f"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: agent, namespace: ops}}\nspec:\n  template:\n"
        f"    spec:\n      containers:\n      - name: agent\n        image: {h}/audit/drift:v1\n"
    )
    code, report = _audit(capsys, "--from-file", str(tmp_path / "get.json"), "--from-file",
                          str(tmp_path / "chart.yaml"), "--policy", world.policies, "--fail-on", "high")
    assert code == 1
    assert _keys(report) == {
        ("SG001", "shop", "Deployment/web", "web", "manifests"),
        ("SG004", "shop", "Deployment/web", "web", "manifests"),
        ("SG001", "ops", "DaemonSet/agent", "agent", "manifests"),
    }
    assert main(["audit", "--from-file", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_each_digest_is_verified_once(world, tmp_path, capsys):
    """Many pods and namespaces over few images: one verification per distinct digest."""
    import asyncio

    from verifier.audit import Target, run_audit
    from verifier.kubeapi import KubeClient
    from verifier.policy import load_policy_files
    from verifier.registry import RegistryClient

    h = world.host
    with KubeAPIDouble() as api:
        for n in range(6):
            for i in range(5):
                api.add(pod(f"ns{n}", f"p{i}", [("a", f"{h}/audit/signed:v1"), ("b", f"{h}/audit/unsigned:v1")],
                            image_ids={"a": f"{h}/audit/signed@{world.signed}",
                                       "b": f"{h}/audit/unsigned@{world.unsigned}"}))
        config = api.kubeconfig(tmp_path / "config", {"admin": api.token_user("admin")})
        policies = load_policy_files([world.policies])

        async def go():
            async with RegistryClient() as client:
                target = Target("admin", connect=lambda: KubeClient.from_kubeconfig(config, "admin"))
                report = await run_audit([target], policies, client)
                return report, client.request_count

        report, requests = asyncio.run(go())
    assert report.digests == 2
    rules = sorted({(f.rule, f.namespace) for f in report.findings})
    assert rules == sorted({("SG001", f"ns{n}") for n in range(6)} | {("SG004", f"ns{n}") for n in range(6)})
    # two tags resolved once each, two digests' attachments discovered once each: a handful of requests
    assert requests < 20


def test_namespace_labels_select_policies_even_without_listing_namespaces(world, tmp_path, capsys):
    """A policy that selects namespaces by label: labels come from the namespace list, or, for a user who may
    only GET the namespaces asked for (-n), one by one. The unsigned image is judged in prod, not in dev."""
    h = world.host
    key = (world.tmp / "ci.pub").read_text()
    policy = tmp_path / "labels.yaml"
    policy.write_text(json.dumps({
        "apiVersion": "sealgate.dev/v1alpha1", "kind": "ImagePolicy", "metadata": {"name": "prod-only"},
        "spec": {"images": [f"{h}/audit/**"], "namespaces": {"matchLabels": {"env": "prod"}},
                 "authorities": [{"name": "ci", "key": {"data": key}}]},
    }) + "\n---\n" + json.dumps({"apiVersion": "sealgate.dev/v1alpha1", "kind": "Settings",
                                  "spec": {"noMatch": "allow"}}))
    with KubeAPIDouble() as api:
        api.add_namespace("prod", {"env": "prod"})
        api.add_namespace("dev", {"env": "dev"})
        for ns in ("prod", "dev"):
            api.add(pod(ns, "app", [("app", f"{h}/audit/unsigned@{world.unsigned}")],
                        image_ids={"app": f"{h}/audit/unsigned@{world.unsigned}"}))
        api.no_namespace_list.add("narrow")
        users = {"wide": api.token_user("wide"), "narrow": api.token_user("narrow")}
        config = api.kubeconfig(tmp_path / "config", users)
        _, wide = _audit(capsys, "--kubeconfig", config, "--context", "wide", "--policy", str(policy))
        _, narrow = _audit(capsys, "--kubeconfig", config, "--context", "narrow", "-n", "prod", "-n", "dev",
                           "--policy", str(policy))
    for report, cluster in ((wide, "wide"), (narrow, "narrow")):
        keys = _keys(report)
        assert ("SG004", "prod", "Pod/app", "app", cluster) in keys
        assert not [k for k in keys if k[1] == "dev" and k[0] in ("SG004", "SG008")]


def test_write_reports_applies_policyreports_and_empties_stale_ones(world, tmp_path, capsys):
    """`--write-reports` server-side applies one PolicyReport per namespace with findings and the cluster's
    ClusterPolicyReport; a later run in which a namespace is clean empties that namespace's report."""
    with KubeAPIDouble() as api:
        _cluster(world, api)
        config = api.kubeconfig(tmp_path / "config", {"admin": api.token_user("admin")})
        code, _ = _audit(capsys, "--kubeconfig", config, "--policy", world.policies, "--write-reports")
        assert code == 1
        reports = dict(api.reports)
        assert set(reports) == {
            ("", "ClusterPolicyReport", "sealgate-admin-audit"),
            *{(ns, "PolicyReport", "sealgate-audit") for ns in ("shop", "batch", "odd", "secret")},
        }
        shop, query = reports[("shop", "PolicyReport", "sealgate-audit")]
        assert query == {"fieldManager": "sealgate", "force": "true"}
        assert shop["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "sealgate"}
        assert {r["rule"] for r in shop["results"]} == {"SG001", "SG002", "SG003", "SG004"}
        assert shop["summary"]["fail"] == len(shop["results"]) > 0
        assert "PATCH /apis/wgpolicyk8s.io/v1alpha2/namespaces/shop/policyreports/sealgate-audit" in api.requests
        # the next run finds nothing in "odd" (its pod is gone): its report is emptied, not left stale
        with api._lock:
            api._objects = {k: v for k, v in api._objects.items() if k[2] != "odd"}
        main(["audit", "--quiet", "--kubeconfig", config, "--policy", world.policies, "--write-reports"])
        err = capsys.readouterr().err
        odd, _ = api.reports[("odd", "PolicyReport", "sealgate-audit")]
        assert odd["results"] == [] and odd["summary"]["fail"] == 0
        assert api.reports[("shop", "PolicyReport", "sealgate-audit")][0]["results"]
        assert "admin: wrote 4 PolicyReports, emptied 1 without findings" in err


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param(lambda api: setattr(api, "report_crds", False), "PolicyReport CRDs are not installed",
                     id="CRDs missing"),
        pytest.param(lambda api: setattr(api, "report_writers", set()), "needs list, create and patch",
                     id="RBAC forbids writing"),
    ],
)
def test_write_reports_failures_are_named(world, tmp_path, capsys, setup, message):
    with KubeAPIDouble() as api:
        _cluster(world, api)
        setup(api)
        config = api.kubeconfig(tmp_path / "config", {"admin": api.token_user("admin")})
        code = main(["audit", "--quiet", "--kubeconfig", config, "--policy", world.policies, "--write-reports"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert not api.reports


def test_write_reports_refuses_files(world, capsys, tmp_path):
    manifest = tmp_path / "pod.yaml"
    manifest.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: y}\nspec: {containers: []}\n")
    assert main(["audit", "--quiet", "--from-file", str(manifest), "--write-reports"]) == 2
    assert "--write-reports writes into audited clusters" in capsys.readouterr().err


@pytest.mark.parametrize("namespace", ["../kube-system", "prod/pods", "Prod", "a?watch=true"])
def test_a_namespace_that_is_not_a_name_is_a_usage_error(namespace, capsys):
    """-n values become URL path segments: anything Kubernetes would not accept as a namespace is refused
    before any request, with the option named and exit code 2."""
    with pytest.raises(SystemExit) as exc:
        main(["audit", "-n", namespace, "--policy", "unused"])
    assert exc.value.code == 2
    assert "is not a namespace name" in capsys.readouterr().err


def test_on_error_allow_does_not_hide_an_image_the_audit_could_not_check(world, tmp_path, capsys):
    """`onError: allow` admits at the webhook when a registry is down; the audit still reports the image as not
    checked (SG008 with the registry's reason), never as passing."""
    policies = tmp_path / "policies.yaml"
    settings = {"apiVersion": "sealgate.dev/v1alpha1", "kind": "Settings", "spec": {"onError": "allow"}}
    policies.write_text(Path(world.policies).read_text() + "\n---\n" + json.dumps(settings))
    with KubeAPIDouble() as api:
        _cluster(world, api)
        config = api.kubeconfig(tmp_path / "config", {"admin": api.token_user("admin")})
        _, report = _audit(capsys, "--kubeconfig", config, "--policy", str(policies))
    down = [f for f in report["findings"] if f["container"] == "down"]
    assert [(f["rule"], f["evidence"]["code"]) for f in down] == [("SG008", "REGISTRY_UNAVAILABLE")]
