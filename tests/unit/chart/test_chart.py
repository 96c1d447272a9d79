"""The Helm chart, rendered by the real Helm engine (helm-python-sdk's libhelm) and checked three ways: ``helm lint``,
every object against the Kubernetes OpenAPI schemas (kubernetes-validate, strict) of 1.30 and of the newest release it
ships, and assertions on what matters for an admission webhook (its configuration, the pods' security context, RBAC).
The policy ConfigMap the chart renders is loaded by sealgate's own policy loader, the container arguments parsed by
sealgate's own CLI parser, so chart and program cannot drift apart.

Kinds from CRDs (cert-manager's Certificate and Issuer, the Prometheus operator's ServiceMonitor) have no schema in
kubernetes-validate: they are skipped by the schema check only (listed in CRD_KINDS) and asserted on directly.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from verifier.audit import AuditReport, ClusterSummary, Finding, Severity, Workload, policyreport_documents
from verifier.cli import build_parser
from verifier.policy import load_policy_files

CHART = Path(__file__).resolve().parents[3] / "charts" / "sealgate"
RELEASE, NAMESPACE = "sealgate", "sealgate-system"
CA_BUNDLE = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()
BASE: dict[str, Any] = {"tls": {"caBundle": CA_BUNDLE}}
KUBE_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
CRD_KINDS = {
    ("cert-manager.io/v1", "Certificate"),
    ("cert-manager.io/v1", "Issuer"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}
DIGEST = "sha256:" + "ab" * 32
PUBLIC_KEY = (
    ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
POLICY = {
    "name": "prod-signed",
    "spec": {
        "images": ["registry.example.com/team/**"],
        "authorities": [{"name": "ci", "key": {"data": PUBLIC_KEY}}],
    },
}

helm.disable_logging()


def merged(*overrides: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = copy.deepcopy(BASE)
    for override in overrides:
        _merge(out, override)
    return out


def _merge(into: dict[str, Any], override: dict[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    chart = helm.Chart.load(CHART)
    manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    docs = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def _report_name(kind: str) -> str:
    """The name sealgate's own code gives the in-cluster audit's PolicyReport or ClusterPolicyReport."""
    finding = Finding("SG001", Severity.MEDIUM, "in-cluster", "shop", Workload("Pod", "web"), "web", "containers",
                      "reg.test/app:v1", "tag not digest", None, {})
    report = AuditReport("2026-12-05T11:00:00Z", "0.1.0", [ClusterSummary("in-cluster", "")], [finding])
    docs = policyreport_documents(report)
    return next(d["metadata"]["name"] for d in docs if d["kind"].startswith(kind))


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[d['metadata']['name'] for d in found]}"
    return found[0]


def kinds(docs: list[dict[str, Any]]) -> set[str]:
    return {d["kind"] for d in docs}


MATRIX: dict[str, dict[str, Any]] = {
    "default values": {},
    "cert-manager makes the certificate": {"tls": {"caBundle": "", "certManager": {"enabled": True}}},
    "cert-manager with an existing ClusterIssuer": {
        "tls": {
            "caBundle": "",
            "certManager": {"enabled": True, "issuerRef": {"name": "corp", "kind": "ClusterIssuer"}},
        }
    },
    "opt-out namespace selector": {
        "webhook": {"namespaceSelection": {"mode": "opt-out", "excludeNamespaces": ["infra"]}}
    },
    "existing policy ConfigMap and key Secret": {
        "policy": {"existingConfigMap": "team-policies"},
        "keys": {"existingSecret": "team-keys"},
    },
    "policies and keys from values": {
        "policy": {"policies": [POLICY]},
        "keys": {"publicKeys": {"cosign.pub": PUBLIC_KEY}},
    },
    "audit CronJob": {"audit": {"enabled": True, "extraArgs": ["--quiet"]}},
    "audit CronJob printing its reports, failing on high": {
        "audit": {"enabled": True, "writeReports": False, "failOn": "high"}
    },
    "ServiceMonitor": {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}},
    "NetworkPolicy": {"networkPolicy": {"enabled": True}},
    "one replica": {"replicaCount": 1},
    "three replicas": {"replicaCount": 3},
    "namespace labels read from the API server": {"namespaceLabels": {"enabled": True}},
    "client certificates required": {"tls": {"clientCASecret": "apiserver-client-ca"}},
    "image by digest": {"image": {"digest": DIGEST}},
    "registry credentials for private registries": {
        "registryCredentials": {"secretName": "regcred"},
        "audit": {"enabled": True},
    },
    "everything on": {
        "tls": {"caBundle": "", "certManager": {"enabled": True}},
        "audit": {"enabled": True},
        "metrics": {"serviceMonitor": {"enabled": True}},
        "networkPolicy": {"enabled": True},
        "namespaceLabels": {"enabled": True},
        "replicaCount": 3,
    },
}


@pytest.fixture(scope="module", params=list(MATRIX), ids=list(MATRIX))
def case(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    values = merged(MATRIX[request.param])
    return request.param, values, render(values)


# ---------------------------------------------------------------- lint and schemas, every case


def test_helm_lint_is_clean(case: tuple[str, dict[str, Any], list[dict[str, Any]]]) -> None:
    _, values, _ = case
    report = helm.lint(CHART, values, strict=True, namespace=NAMESPACE, kube_version="v1.30.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # 1 is info ("icon is recommended")
    assert problems == [] and report["errors"] == []


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_every_object_is_valid_kubernetes(case: tuple[str, dict[str, Any], list[dict[str, Any]]], version: str) -> None:
    _, _, docs = case
    checked = 0
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
            continue  # no schema for CRD kinds in kubernetes-validate (module docstring)
        kubernetes_validate.validate(doc, version, strict=True)  # raises ValidationError with the field path
        checked += 1
    assert checked >= 5


def test_crd_kinds_are_the_only_ones_skipped(case: tuple[str, dict[str, Any], list[dict[str, Any]]]) -> None:
    _, _, docs = case
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
            continue
        with pytest.raises(kubernetes_validate.ValidationError):  # the schema check bites for every other kind
            kubernetes_validate.validate({**doc, "unexpectedField": 1}, KUBE_VERSIONS[0], strict=True)


def test_everything_is_namespaced_in_the_release_namespace(
    case: tuple[str, dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, _, docs = case
    cluster_scoped = {"ValidatingWebhookConfiguration", "ClusterRole", "ClusterRoleBinding"}
    for doc in docs:
        if doc["kind"] in cluster_scoped:
            assert "namespace" not in doc["metadata"]
        else:
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["kind"]


# ---------------------------------------------------------------- the webhook configuration


def test_webhook_configuration(case: tuple[str, dict[str, Any], list[dict[str, Any]]]) -> None:
    name, values, docs = case
    (hook,) = one(docs, "ValidatingWebhookConfiguration")["webhooks"]
    assert hook["admissionReviewVersions"] == ["v1"]
    assert hook["sideEffects"] == "None"
    assert hook["failurePolicy"] == "Fail"
    assert hook["timeoutSeconds"] == 10
    assert hook["matchPolicy"] == "Equivalent"
    covered = {
        (group, resource)
        for rule in hook["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        if set(rule["operations"]) == {"CREATE", "UPDATE"} and rule["scope"] == "Namespaced"
    }
    assert covered == {
        ("", "pods"),
        ("", "pods/ephemeralcontainers"),
        ("", "replicationcontrollers"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
    }
    service = one(docs, "Service")
    assert hook["clientConfig"]["service"] == {
        "name": service["metadata"]["name"],
        "namespace": NAMESPACE,
        "path": "/validate",
        "port": service["spec"]["ports"][0]["port"],
    }
    expressions = hook["namespaceSelector"]["matchExpressions"]
    by_name = next(e for e in expressions if e["key"] == "kubernetes.io/metadata.name")
    assert by_name["operator"] == "NotIn" and {NAMESPACE, "kube-system"} <= set(by_name["values"])
    label = next(e for e in expressions if e["key"] == "sealgate.dev/verify")
    if values.get("webhook", {}).get("namespaceSelection", {}).get("mode") == "opt-out":
        assert label == {"key": "sealgate.dev/verify", "operator": "NotIn", "values": ["disabled"]}
        assert "infra" in by_name["values"]
    else:
        assert label == {"key": "sealgate.dev/verify", "operator": "In", "values": ["enabled"]}


def test_tls_from_cert_manager_or_a_sealgate_certs_secret(
    case: tuple[str, dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, values, docs = case
    config = one(docs, "ValidatingWebhookConfiguration")
    client = config["webhooks"][0]["clientConfig"]
    deployment = one(docs, "Deployment")
    tls_volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls")
    if values["tls"].get("certManager", {}).get("enabled"):
        assert "caBundle" not in client
        serving = one(docs, "Certificate", f"{RELEASE}-serving")
        annotation = config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
        assert annotation == f"{NAMESPACE}/{RELEASE}-serving"
        assert serving["spec"]["secretName"] == tls_volume["secret"]["secretName"]
        assert f"{RELEASE}.{NAMESPACE}.svc" in serving["spec"]["dnsNames"]
        issuer_ref = values["tls"]["certManager"].get("issuerRef")
        if issuer_ref:
            assert serving["spec"]["issuerRef"] == issuer_ref and "Issuer" not in kinds(docs)
        else:
            ca = one(docs, "Certificate", f"{RELEASE}-ca")
            assert ca["spec"]["isCA"] is True
            assert (
                one(docs, "Issuer", serving["spec"]["issuerRef"]["name"])["spec"]["ca"]["secretName"]
                == ca["spec"]["secretName"]
            )
    else:
        assert client["caBundle"] == CA_BUNDLE
        assert "Certificate" not in kinds(docs)
        assert tls_volume["secret"]["secretName"] == f"{RELEASE}-tls"  # what certs/README.md tells people to create


# ---------------------------------------------------------------- the pods


def _container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return container


def test_security_context(case: tuple[str, dict[str, Any], list[dict[str, Any]]]) -> None:
    _, values, docs = case
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    containers = [(pod, c) for c in pod["containers"]]
    if values.get("audit", {}).get("enabled"):
        audit_pod = one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        containers += [(audit_pod, c) for c in audit_pod["containers"]]
    for pod_spec, container in containers:
        assert pod_spec["securityContext"]["runAsNonRoot"] is True
        assert pod_spec["securityContext"]["runAsUser"] == 65532
        assert pod_spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        ctx = container["securityContext"]
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["runAsNonRoot"] is True
        assert ctx["capabilities"] == {"drop": ["ALL"]}
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["resources"]["requests"] and container["resources"]["limits"]
    needs_token = bool(values.get("namespaceLabels", {}).get("enabled"))
    assert pod["automountServiceAccountToken"] is needs_token


def test_audit_cronjob_arguments_are_what_sealgate_audit_accepts(
    case: tuple[str, dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, values, docs = case
    if not values.get("audit", {}).get("enabled"):
        assert not [d for d in docs if d["kind"] == "CronJob"]
        return
    pod = one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = build_parser().parse_args(container["args"])
    assert args.command == "audit"
    assert args.output == "policyreport"
    assert args.write_reports is values["audit"].get("writeReports", True)
    assert args.fail_on == values["audit"].get("failOn", "never")  # findings alone do not fail (and retry) the Job
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    assert all(path in mounts for path in args.policy), (args.policy, mounts)


def test_container_arguments_are_what_sealgate_serve_accepts(
    case: tuple[str, dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, values, docs = case
    container = _container(docs)
    args = build_parser().parse_args(container["args"])
    assert args.command == "serve"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert args.policy == [mounts["policies"]]
    assert Path(args.tls_cert).parent == Path(args.tls_key).parent == Path(mounts["tls"])
    assert not any("subPath" in m for m in container["volumeMounts"])  # subPath mounts never see rotations
    assert container["ports"] == [{"name": "https", "containerPort": args.port, "protocol": "TCP"}]
    assert args.kube_api == ("in-cluster" if values.get("namespaceLabels", {}).get("enabled") else "")
    if values["tls"].get("clientCASecret"):
        assert args.client_ca == f"{mounts['client-ca']}/ca.crt"
        assert container["livenessProbe"] == {
            "tcpSocket": {"port": "https"},
            "periodSeconds": 10,
            "failureThreshold": 3,
        }
    else:
        assert args.client_ca is None
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            assert container[probe]["httpGet"] == {"path": path, "port": "https", "scheme": "HTTPS"}
    expected_image = (
        f"ghcr.io/sealgate/sealgate@{DIGEST}"
        if values.get("image", {}).get("digest")
        else "ghcr.io/sealgate/sealgate:0.1.0"
    )
    assert container["image"] == expected_image


def test_replicas_spread_and_disruption_budget(case: tuple[str, dict[str, Any], list[dict[str, Any]]]) -> None:
    _, values, docs = case
    deployment = one(docs, "Deployment")
    replicas = values.get("replicaCount", 2)
    assert deployment["spec"]["replicas"] == replicas
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    spec = deployment["spec"]["template"]["spec"]
    assert {c["topologyKey"] for c in spec["topologySpreadConstraints"]} == {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    }
    (anti,) = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert anti["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= pod_labels.items()
    if replicas > 1:
        pdb = one(docs, "PodDisruptionBudget")
        assert pdb["spec"]["minAvailable"] == 1
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    else:
        assert "PodDisruptionBudget" not in kinds(docs)  # a PDB over one pod would block every node drain
    service_selector = one(docs, "Service")["spec"]["selector"]
    assert service_selector.items() <= pod_labels.items()
    if values.get("audit", {}).get("enabled"):  # the Service must never route admission calls to audit pods
        audit_labels = one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        assert not service_selector.items() <= audit_labels.items()


# ---------------------------------------------------------------- RBAC, least privilege


def _rules(docs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = one(docs, "ClusterRole", name)["rules"]
    return rules


def test_rbac_is_least_privilege(case: tuple[str, dict[str, Any], list[dict[str, Any]]]) -> None:
    _, values, docs = case
    roles = {d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRole"}
    assert not any(d["kind"] in {"Role", "RoleBinding"} for d in docs)
    for doc in docs:
        if doc["kind"] == "ClusterRole":
            for rule in doc["rules"]:
                if rule["apiGroups"] == ["wgpolicyk8s.io"]:  # the audit writes its own reports, nothing else
                    assert rule["resources"] == ["policyreports", "clusterpolicyreports"]
                    if rule["verbs"] == ["patch"]:  # every apply; limited to the names sealgate writes in-cluster
                        assert rule["resourceNames"] == [_report_name("PolicyReport"), _report_name("Cluster")]
                    else:
                        assert rule["verbs"] == ["list", "create"] and "resourceNames" not in rule
                    continue
                assert set(rule["verbs"]) <= {"get", "list", "watch"} and "*" not in rule["resources"]
                assert "secrets" not in rule["resources"]
    expected = set()
    if values.get("namespaceLabels", {}).get("enabled"):
        expected.add(f"{RELEASE}-namespaces")
        assert _rules(docs, f"{RELEASE}-namespaces") == [
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}
        ]
        binding = one(docs, "ClusterRoleBinding", f"{RELEASE}-namespaces")
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}]
    if values.get("audit", {}).get("enabled"):
        expected.add(f"{RELEASE}-audit")
        writes = {("wgpolicyk8s.io", "policyreports"), ("wgpolicyk8s.io", "clusterpolicyreports")}
        granted = {
            (g, r) for rule in _rules(docs, f"{RELEASE}-audit") for g in rule["apiGroups"] for r in rule["resources"]
        }
        assert granted == {
            ("", "pods"),
            ("", "namespaces"),
            ("", "replicationcontrollers"),
            ("apps", "deployments"),
            ("apps", "replicasets"),
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
            ("batch", "jobs"),
            ("batch", "cronjobs"),
        } | (writes if values["audit"].get("writeReports", True) else set())
        binding = one(docs, "ClusterRoleBinding", f"{RELEASE}-audit")
        assert binding["subjects"][0]["name"] == f"{RELEASE}-audit"  # never the webhook's account
    assert roles == expected


# ---------------------------------------------------------------- policies, keys, optional objects


def test_policy_configmap_loads_with_sealgates_own_loader(
    case: tuple[str, dict[str, Any], list[dict[str, Any]]], tmp_path: Path
) -> None:
    _, values, docs = case
    volumes = {v["name"]: v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    existing = values.get("policy", {}).get("existingConfigMap")
    if existing:
        assert "ConfigMap" not in kinds(docs)
        assert volumes["policies"]["configMap"]["name"] == existing
        assert volumes["keys"]["secret"]["secretName"] == values["keys"]["existingSecret"]
        assert "Secret" not in kinds(docs)
        return
    config_map = one(docs, "ConfigMap")
    assert volumes["policies"]["configMap"]["name"] == config_map["metadata"]["name"]
    for file_name, text in config_map["data"].items():
        (tmp_path / file_name).write_text(text)
    policies = load_policy_files([tmp_path])
    assert policies.settings.deadline_seconds == 8
    assert [p.name for p in policies.policies] == [p["name"] for p in values.get("policy", {}).get("policies", [])]
    annotations = one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert {"checksum/policy", "checksum/keys"} <= set(annotations)  # a policy or key change rolls the pods
    secret = one(docs, "Secret")
    published = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    assert published == values.get("keys", {}).get("publicKeys", {})


def test_optional_objects_appear_only_when_enabled(case: tuple[str, dict[str, Any], list[dict[str, Any]]]) -> None:
    _, values, docs = case
    monitor = values.get("metrics", {}).get("serviceMonitor", {}).get("enabled", False)
    assert ("ServiceMonitor" in kinds(docs)) is monitor
    if monitor:
        endpoint = one(docs, "ServiceMonitor")["spec"]["endpoints"][0]
        assert endpoint["scheme"] == "https" and endpoint["path"] == "/metrics" and endpoint["port"] == "https"
        assert (
            one(docs, "ServiceMonitor")["spec"]["selector"]["matchLabels"].items()
            <= one(docs, "Service")["metadata"]["labels"].items()
        )
    network = values.get("networkPolicy", {}).get("enabled", False)
    assert ("NetworkPolicy" in kinds(docs)) is network
    if network:
        policy = one(docs, "NetworkPolicy")
        assert policy["spec"]["ingress"] == [{"ports": [{"port": 8443, "protocol": "TCP"}]}]
        egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
        assert egress_ports == {53, 443}
    audit = values.get("audit", {}).get("enabled", False)
    assert ("CronJob" in kinds(docs)) is audit
    if audit:
        (container,) = one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert container["args"] == [
            "audit", "-A", "--policy", "/etc/sealgate/policies", "--output", "policyreport",
            "--fail-on", values["audit"].get("failOn", "never"),
            *(["--write-reports"] if values["audit"].get("writeReports", True) else []),
            *values["audit"].get("extraArgs", []),
        ]  # fmt: skip


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("timeout", "deadline"),
    [(8, 8), (5, 8), (10, 10), (9, 9.5)],
    ids=[
        "timeout equal to the deadline",
        "timeout below it",
        "raised deadline, default timeout",
        "fractional deadline",
    ],
)
def test_timeout_at_or_below_the_servers_deadline_is_refused_at_render_time(timeout: int, deadline: float) -> None:
    values = merged({"webhook": {"timeoutSeconds": timeout}, "policy": {"settings": {"deadlineSeconds": deadline}}})
    with pytest.raises(
        helm.HelmRenderError, match=r"webhook\.timeoutSeconds .* must be above policy\.settings\.deadlineSeconds"
    ):
        render(values)


def test_timeout_above_the_deadline_renders() -> None:
    docs = render(merged({"webhook": {"timeoutSeconds": 9}, "policy": {"settings": {"deadlineSeconds": 8.5}}}))
    assert one(docs, "ValidatingWebhookConfiguration")["webhooks"][0]["timeoutSeconds"] == 9


def test_no_ca_bundle_and_no_cert_manager_is_refused() -> None:
    with pytest.raises(helm.HelmRenderError, match=r"tls\.caBundle is empty: set it to the caBundle `sealgate certs`"):
        render({})


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"replicaCount": 0}, "at '/replicaCount': minimum: got 0, want 1"),
        ({"webhook": {"failurePolicy": "Maybe"}}, "at '/webhook/failurePolicy': value must be one of 'Fail', 'Ignore'"),
        ({"webhook": {"timeoutSeconds": 31}}, "at '/webhook/timeoutSeconds': maximum: got 31, want 30"),
        ({"image": {"digest": "sha256:abc"}}, "at '/image/digest'"),
        ({"runAsUser": 0}, "at '/runAsUser': minimum: got 0, want 1"),
        ({"webhook": {"namespaceSelection": {"mode": "sometimes"}}}, "at '/webhook/namespaceSelection/mode'"),
        (
            {"keys": {"publicKeys": {"cosign.key": "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"}}},
            "at '/keys/publicKeys/cosign.key'",
        ),
        ({"replicas": 2}, "at '': additional properties 'replicas' not allowed"),
        (
            {"policy": {"settings": {"deadlineSeconds": 40}}},
            "at '/policy/settings/deadlineSeconds': maximum: got 40, want 29",
        ),
    ],
    ids=[
        "no replicas",
        "unknown failure policy",
        "timeout above the API server's limit",
        "short digest",
        "root user",
        "unknown selection mode",
        "a private key where public keys go",
        "misspelt key",
        "deadline above what sealgate allows",
    ],
)
def test_values_breaking_the_schema_are_rejected_with_the_field_named(override: dict[str, Any], message: str) -> None:
    values = merged(override)
    with pytest.raises(helm.HelmValuesError) as caught:
        render(values)
    assert "values don't meet the specifications of the schema" in str(caught.value)
    assert message in str(caught.value)
    report = helm.lint(CHART, values, strict=True)
    assert any(message in m["error"] and m["severity"] == 3 for m in report["messages"])


def test_values_yaml_documents_every_key() -> None:
    """values.yaml is documented line by line: every value has a comment above it, or sits inside a documented block
    (``resources`` documents its ``requests`` and their ``cpu`` and ``memory``)."""
    lines = [line for line in (CHART / "values.yaml").read_text().splitlines() if line.strip()]
    parents: list[tuple[int, bool]] = []  # (indent, documented) of the enclosing keys
    undocumented = []
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("#") or ":" not in stripped or stripped.startswith("-"):
            continue
        indent = len(line) - len(line.lstrip())
        while parents and parents[-1][0] >= indent:
            parents.pop()
        commented = lines[number - 1].strip().startswith("#") if number else False
        documented = commented or (bool(parents) and parents[-1][1])
        parents.append((indent, documented))
        is_block = stripped.endswith(":")
        if not documented and not is_block:
            undocumented.append(line)
    assert undocumented == []


def test_registry_credentials_become_docker_config(case: tuple[str, dict[str, Any], list[dict[str, Any]]]) -> None:
    _, values, docs = case
    secret = values.get("registryCredentials", {}).get("secretName")
    pods = [one(docs, "Deployment")["spec"]["template"]["spec"]]
    if values.get("audit", {}).get("enabled"):
        pods.append(one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    for pod in pods:
        (container,) = pod["containers"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        if secret:
            assert container["env"] == [{"name": "DOCKER_CONFIG", "value": "/etc/sealgate/docker"}]
            assert {"name": "docker-config", "mountPath": "/etc/sealgate/docker", "readOnly": True} in container[
                "volumeMounts"
            ]
            assert volumes["docker-config"]["secret"] == {
                "secretName": secret,
                "items": [{"key": ".dockerconfigjson", "path": "config.json"}],  # what sealgate reads in DOCKER_CONFIG
            }
        else:
            assert "env" not in container and "docker-config" not in volumes
