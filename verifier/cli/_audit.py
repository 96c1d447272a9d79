"""``sealgate audit``: audit live clusters (or manifests) for unsigned, unverifiable and mutable images."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verifier.cli._common import add_registry_options, registry_client
from verifier.errors import UsageError

if TYPE_CHECKING:
    from verifier.audit import Target
    from verifier.policy import PolicySet

__all__ = ["register"]

_SEVERITIES = ("info", "low", "medium", "high", "critical")
_OUTPUTS = ("table", "json", "sarif", "html", "policyreport")


def register(commands: argparse._SubParsersAction[Any]) -> None:
    audit = commands.add_parser(
        "audit",
        help="audit running clusters (or manifests) for unsigned, drifting and mutable images",
        description="List Pods and workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, "
        "ReplicationController) and check every container image: mutable tags, tag drift, running digest vs "
        "pinned digest, signatures and attestations under the policies, images no policy covers, images that "
        "could not be checked. Exit 0 when no finding is at or above --fail-on, 1 when one is, 2 for usage or "
        "configuration errors, 3 for internal errors.",
    )
    where = audit.add_argument_group("what to audit (default: the kubeconfig's current context, all namespaces)")
    where.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    contexts = where.add_mutually_exclusive_group()
    contexts.add_argument(
        "--context", action="append", default=[], metavar="NAME", help="kubeconfig context to audit; repeatable"
    )
    contexts.add_argument("--all-contexts", action="store_true", help="audit every context of the kubeconfig")
    spaces = where.add_mutually_exclusive_group()
    spaces.add_argument(
        "-n", "--namespace", action="append", default=[], type=_namespace, metavar="NS", help="namespace; repeatable"
    )
    spaces.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace (the default)")
    where.add_argument(
        "--from-file",
        action="append",
        default=[],
        metavar="FILE",
        help="audit manifests or `kubectl get -o json` output instead of a cluster (YAML/JSON, multi-document); "
        "repeatable",
    )
    audit.add_argument(
        "--policy", action="append", default=[], metavar="FILE", help="policy file or folder; repeatable"
    )
    audit.add_argument("--output", choices=_OUTPUTS, default="table", help="report format (default: table)")
    audit.add_argument("-o", "--output-file", metavar="FILE", help="write the report to FILE instead of stdout")
    audit.add_argument(
        "--fail-on",
        choices=(*_SEVERITIES, "never"),
        default="low",
        help="exit 1 when a finding is at least this severe (default: low); never: exit 0 whatever was found "
        "(the audit CronJob: findings go to its reports, a failed Job means the audit itself failed)",
    )
    audit.add_argument(
        "--write-reports",
        action="store_true",
        help="also server-side apply the wgpolicyk8s.io/v1alpha2 PolicyReports into each audited cluster "
        "(needs the PolicyReport CRDs and list/create/patch on them; reports of namespaces without "
        "findings any more are emptied)",
    )
    audit.add_argument("--quiet", action="store_true", help="no progress bar")
    add_registry_options(audit)
    audit.set_defaults(func=_run)


def _namespace(text: str) -> str:
    from verifier.kubeapi import is_namespace_name

    if not is_namespace_name(text):
        raise argparse.ArgumentTypeError(f"{text[:80]!r} is not a namespace name (an RFC 1123 label)")
    return text


def _run(args: argparse.Namespace) -> int:
    from verifier.audit import Severity, render, report_exit_code, run_audit

    policies = _policies(args.policy)
    targets = _targets(args)
    if args.write_reports and args.from_file:
        raise UsageError("--write-reports writes into audited clusters: it does not apply to --from-file")
    bar = None if args.quiet or not sys.stderr.isatty() else _bar()

    async def go() -> Any:
        async with registry_client(args, insecure=policies.settings.insecure_registries) as client:
            return await run_audit(targets, policies, client, bar)

    try:
        report = asyncio.run(go())
    finally:
        if bar is not None:
            bar.stop()
    to_file = bool(args.output_file)
    text = render(report, args.output, color=not to_file and args.output == "table" and sys.stdout.isatty())
    if to_file:
        try:
            Path(args.output_file).write_text(text)
        except OSError as exc:
            raise UsageError(f"-o {args.output_file}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
    if args.write_reports:
        _write_reports(report, targets)
    return report_exit_code(report, None if args.fail_on == "never" else Severity.parse(args.fail_on))


def _write_reports(report: Any, targets: list[Target]) -> None:
    """Apply each audited cluster's PolicyReports into it (unreachable clusters are skipped: nothing to say)."""
    from verifier.audit import policyreport_documents, write_policyreports

    documents = policyreport_documents(report)
    status = {c.name: c.status for c in report.clusters}
    for target in targets:
        if target.connect is None or status.get(target.name) == "unreachable":
            continue
        mine = [d for d in documents if d["metadata"]["annotations"].get("sealgate.dev/cluster") == target.name]
        client = target.connect()
        try:
            done = write_policyreports(
                client, mine, namespaces=target.namespaces, complete=status.get(target.name) == "audited"
            )
        finally:
            client.close()
        print(
            f"{target.name}: wrote {done.written} PolicyReports, emptied {done.emptied} without findings",
            file=sys.stderr,
        )


def _policies(paths: list[str]) -> PolicySet:
    from verifier.policy import CompiledSettings, PolicySet, load_policy_files

    if paths:
        return load_policy_files(paths)
    return PolicySet.build([], CompiledSettings())


def _targets(args: argparse.Namespace) -> list[Target]:
    from verifier.audit import Target
    from verifier.kubeapi import KubeClient, default_kubeconfig, kubeconfig_contexts

    namespaces = list(dict.fromkeys(args.namespace)) or None
    if args.from_file:
        if args.context or args.all_contexts or args.kubeconfig:
            raise UsageError("--from-file audits files: drop --kubeconfig/--context/--all-contexts")
        return [Target("manifests", files=tuple(args.from_file))]
    path = args.kubeconfig or default_kubeconfig()
    first = path.split(os.pathsep)[0]
    if not args.kubeconfig and not Path(first).exists() and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return [Target("in-cluster", connect=KubeClient.in_cluster, namespaces=namespaces)]
    if not any(Path(p).is_file() for p in path.split(os.pathsep)):
        raise UsageError(f"kubeconfig {path}: no such file (give --kubeconfig, or --from-file for manifests)")
    names, current = kubeconfig_contexts(path)
    if args.all_contexts:
        chosen = names
    elif args.context:
        missing = [c for c in args.context if c not in names]
        if missing:
            raise UsageError(f"kubeconfig {path} has no context {missing[0]!r} (it has: {', '.join(names) or 'none'})")
        chosen = list(dict.fromkeys(args.context))
    else:
        if current is None:
            raise UsageError(f"kubeconfig {path} has no current-context: give --context or --all-contexts")
        chosen = [current]
    if not chosen:
        raise UsageError(f"kubeconfig {path} has no contexts")
    return [
        Target(name, connect=lambda n=name: KubeClient.from_kubeconfig(path, n), namespaces=namespaces)  # type: ignore[misc]
        for name in chosen
    ]


def _bar() -> Any:
    """A rich progress bar on standard error."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    from verifier.audit import Progress

    class Bar(Progress):
        def __init__(self) -> None:
            self._rich = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(stderr=True), transient=True,
            )
            self._task: Any = None
            self._rich.start()

        def listing(self, cluster: str) -> None:
            self._task = self._rich.add_task(f"{cluster}: listing", total=None)

        def start(self, cluster: str, total: int) -> None:
            if self._task is not None:
                self._rich.update(self._task, description=f"{cluster}: checking images", total=total, completed=0)

        def advance(self, n: int) -> None:
            if self._task is not None:
                self._rich.advance(self._task, n)

        def stop(self) -> None:
            self._rich.stop()

    return Bar()
