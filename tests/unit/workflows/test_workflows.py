"""The GitHub Actions workflows: actionlint (with shellcheck on every script) and zizmor (offline) find nothing, and
the pipeline has its seven stages in order, pinned actions, least permissions, and names images by digest once
they are built. Each linter is also shown a broken copy, so a clean result means the linter ran and looked.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from verifier.cli import build_parser
from verifier.policy import load_policy_files

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
STAGES = ["preflight", "test", "build", "sign", "publish", "preview", "verify"]
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
SEVERITY = {"Unknown": 0, "Informational": 1, "Low": 2, "Medium": 3, "High": 4}


def tool(name: str) -> str:
    path = BIN / name
    assert path.is_file(), f"{name} is not installed in the virtualenv (make setup)"
    return str(path)


def load(name: str) -> dict[str, Any]:
    # yaml 1.1 reads the key `on` as True; give it back its name
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True)
    return data


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


# ---------------------------------------------------------------- linters


def test_shellcheck_is_there_so_actionlint_checks_every_script() -> None:
    assert shutil.which("shellcheck"), "shellcheck missing (Makefile APT_PACKAGES)"


def test_actionlint_finds_nothing() -> None:
    result = run(tool("actionlint"), "-format", "{{json .}}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout or "[]") == []


def test_zizmor_offline_finds_nothing_above_low() -> None:
    result = run(tool("zizmor"), "--offline", "--persona", "auditor", "--format", "json", str(WORKFLOWS))
    assert result.returncode in (0, 10, 11, 12, 13, 14), result.stderr  # 1x: findings, judged below
    findings = json.loads(result.stdout)
    above_low = [
        (f["ident"], f["determinations"]["severity"])
        for f in findings
        if SEVERITY[f["determinations"]["severity"]] > SEVERITY["Low"]
    ]
    assert above_low == []


def test_both_linters_bite_on_a_broken_copy(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows"
    broken.mkdir(parents=True)
    text = (WORKFLOWS / "pipeline.yml").read_text()
    text = text.replace(
        "actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd # v6.0.2", "actions/checkout@v6", 1
    ).replace("run: ruff check .", 'run: ruff check . "${{ github.event.pull_request.title }}"', 1)
    (broken / "pipeline.yml").write_text(text)
    (tmp_path / ".git").mkdir()  # actionlint looks for the repository root
    lint = run(tool("actionlint"), "-format", "{{json .}}", cwd=tmp_path)
    assert lint.returncode == 1 and "potentially untrusted" in lint.stdout
    audit = run(tool("zizmor"), "--offline", "--format", "json", str(broken))
    idents = {f["ident"] for f in json.loads(audit.stdout)}
    assert {"unpinned-uses", "template-injection"} <= idents


# ---------------------------------------------------------------- the pipeline's shape


def _needs(job: dict[str, Any]) -> set[str]:
    needs = job.get("needs", [])
    return {needs} if isinstance(needs, str) else set(needs)


def _ancestors(jobs: dict[str, Any], name: str) -> set[str]:
    seen: set[str] = set()
    todo = list(_needs(jobs[name]))
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(_needs(jobs[current]))
    return seen


def test_seven_stages_in_order_then_promotion() -> None:
    jobs = load("pipeline.yml")["jobs"]
    assert set(jobs) == {*STAGES, "promote"}
    for earlier, later in zip(STAGES, STAGES[1:], strict=False):
        assert earlier in _needs(jobs[later]), f"{later} must need {earlier}"
    for index, stage in enumerate(STAGES):
        assert _ancestors(jobs, stage) == set(STAGES[:index]), stage
    assert _ancestors(jobs, "promote") == set(STAGES)
    for index, stage in enumerate(STAGES, start=1):
        assert jobs[stage]["name"].startswith(f"{index} "), jobs[stage]["name"]


def test_stages_run_what_the_issue_names() -> None:
    jobs = load("pipeline.yml")["jobs"]

    def script(job: str) -> str:
        return "\n".join(step.get("run", "") for step in jobs[job]["steps"])

    assert all(
        word in script("preflight") for word in ("ruff check", "mypy", "pip-audit", "actionlint", "zizmor --offline")
    )
    assert "make test" in script("test")
    assert "buildah build" in script("build") and "sealgate sbom" in script("build")
    assert "sealgate sign --key" in script("sign") and "sealgate attest --key" in script("sign")
    assert "--type cyclonedx" in script("sign")
    sign_env = {k: v for step in jobs["sign"]["steps"] for k, v in step.get("env", {}).items()}
    assert sign_env["COSIGN_KEY"] == "${{ secrets.COSIGN_KEY }}"
    assert sign_env["COSIGN_PASSWORD"] == "${{ secrets.COSIGN_PASSWORD }}"
    assert "kind create cluster" in script("preview") and "helm install" in script("preview")
    assert '--set image.digest="$DIGEST"' in script("preview")
    assert "--dry-run=server" in script("preview") and "was admitted" in script("preview")
    # the audit CronJob writes PolicyReports: kind has none of their CRDs unless the stage installs them
    assert "--set audit.enabled=false" in script("preview") or "wgpolicyk8s.io" in script("preview")
    assert "sealgate verify --policy" in script("verify")


def test_pull_requests_stop_before_anything_is_pushed() -> None:
    jobs = load("pipeline.yml")["jobs"]
    assert jobs["build"]["if"] == "github.event_name == 'push'"
    assert jobs["promote"]["if"] == "startsWith(github.ref, 'refs/tags/v')"


# ---------------------------------------------------------------- pins and permissions


@pytest.mark.parametrize("name", ["pipeline.yml", "sign-image.yml"])
def test_actions_pinned_by_commit_with_the_version_named(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    uses = re.findall(r"^\s*-?\s*uses:\s*(\S+)(.*)$", text, flags=re.MULTILINE)
    assert uses
    for ref, comment in uses:
        assert SHA_PIN.match(ref), ref
        assert re.match(r"\s*# v\d+\.\d+\.\d+$", comment), f"{ref}: no version comment"


@pytest.mark.parametrize("name", ["pipeline.yml", "sign-image.yml"])
def test_least_permissions(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    writers = set()
    for job_name, job in workflow["jobs"].items():
        permissions = job["permissions"]
        assert isinstance(permissions, dict), f"{job_name}: permissions must be listed"
        assert set(permissions.values()) <= {"read", "write"}
        assert set(permissions) <= {"contents", "packages"}, job_name
        assert permissions.get("contents") != "write", job_name
        if permissions.get("packages") == "write":
            writers.add(job_name)
    if name == "pipeline.yml":
        assert writers == {"build", "sign", "preview", "promote"}
        # the signing key is only ever seen by the sign job
        for job_name, job in workflow["jobs"].items():
            if "secrets.COSIGN_KEY" in json.dumps(job):
                assert job_name == "sign"


# ---------------------------------------------------------------- digests after build


REFERENCE = re.compile(r"(?:docker://|--image=)\"?([^\s\"]+)")


def test_images_are_referenced_by_digest_once_built() -> None:
    jobs = load("pipeline.yml")["jobs"]
    after_build = [name for name in jobs if "build" in _ancestors(jobs, name)]
    assert set(after_build) == {"sign", "publish", "preview", "verify", "promote"}
    checked = 0
    for name in after_build:
        for step in jobs[name]["steps"]:
            for key, value in step.get("env", {}).items():
                if key == "IMAGE":
                    assert value == "${{ needs.build.outputs.repository }}@${{ needs.build.outputs.digest }}", name
                    checked += 1
            script = step.get("run", "")
            assigned = dict(re.findall(r'^\s*(\w+)="([^"]*)"$', script, flags=re.MULTILINE))
            for line in script.splitlines():
                for found in REFERENCE.findall(line):
                    reference = assigned.get(found.strip("${}"), found)  # a variable set earlier in the script
                    if line.lstrip().startswith("buildah push"):
                        continue  # the push that makes the (unsigned control) digest in the first place
                    by_digest = re.search(r"@(\$\{?DIGEST\}?|\$\(cat \w+\.txt\)|\$\{?IMAGE\}?$)", reference)
                    signature_tag = re.search(r":\$\{DIGEST/:/-\}\.\$\{suffix\}$", reference)
                    plain_image = reference in ("${IMAGE}", "$IMAGE")
                    assert by_digest or signature_tag or plain_image, f"{name}: {line.strip()}"
                    checked += 1
    assert checked >= 8
    assert jobs["publish"]["outputs"]["image"] == "${{ steps.references.outputs.image }}"


def test_reusable_workflow_outputs_a_digest_reference() -> None:
    workflow = load("sign-image.yml")
    call = workflow["on"]["workflow_call"]
    assert set(call["secrets"]) == {"cosign-key", "cosign-password", "registry-password"}
    assert all(secret["required"] for secret in call["secrets"].values())
    assert call["outputs"]["image"]["value"] == "${{ jobs.build-sign.outputs.image }}"
    steps = workflow["jobs"]["build-sign"]["steps"]
    script = "\n".join(step.get("run", "") for step in steps)
    assert 'echo "image=${REPOSITORY}@${digest}"' in script
    for command in ("sealgate sbom", "sealgate sign --key", "sealgate attest --key", "--type cyclonedx"):
        assert command in script
    signing = next(step for step in steps if "sealgate sign" in step.get("run", ""))
    assert signing["env"]["IMAGE"] == "${{ steps.push.outputs.image }}"
    assert signing["env"]["COSIGN_PASSWORD"] == "${{ secrets.cosign-password }}"


def test_release_policy_compiles(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    policy_dir = tmp_path / "sealgate"
    shutil.copytree(ROOT / ".github" / "sealgate", policy_dir)
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (policy_dir / "cosign.pub").write_bytes(pem)
    policies = load_policy_files([policy_dir / "release-policy.yaml"])
    assert [p.name for p in policies.policies] == ["sealgate-release"]


def _sealgate_commands(script: str) -> list[list[str]]:
    joined = script.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("sealgate "):
            # shell variables and command substitutions stand for one word each
            line = re.sub(r'"\$\([^)]*\)"|"\$\{?\w+\}?"|\$\{?\w+\}?', "VALUE", line.split(" > ")[0])
            commands.append(shlex.split(line)[1:])
    return commands


@pytest.mark.parametrize("name", ["pipeline.yml", "sign-image.yml"])
def test_every_sealgate_command_parses_with_sealgates_own_cli(name: str) -> None:
    parser = build_parser()
    subcommands = set(next(a for a in parser._actions if a.dest == "command").choices)  # noqa: SLF001
    workflow = load(name)
    commands = [
        cmd
        for job in workflow["jobs"].values()
        for step in job["steps"]
        for cmd in _sealgate_commands(step.get("run", ""))
    ]
    assert {cmd[0] for cmd in commands} >= {"sign", "attest", "sbom"}
    for argv in commands:
        if argv[0] not in subcommands:
            # `sealgate sbom` lands from its own branch; once merged this parses it too
            assert argv[0] == "sbom", argv
            continue
        try:
            parser.parse_args(argv)
        except SystemExit as exc:  # argparse's usage error
            pytest.fail(f"{name}: sealgate {' '.join(argv)} does not parse ({exc.code})")
