"""The terminal report: a summary and one row per finding (rich), colour only on a terminal."""

from __future__ import annotations

import io
import shutil

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._model import AuditReport, Severity

__all__ = ["render_table"]

#: widest a name column (cluster, namespace, workload, container) grows before its text wraps
_NAME_WIDTH = 40

_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def render_table(report: AuditReport, *, color: bool = False, width: int | None = None) -> str:
    buffer = io.StringIO()
    if width is None:  # a terminal's own width; 160 columns in files and pipes
        width = shutil.get_terminal_size((160, 40)).columns if color else 160
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False)
    many = len(report.clusters) > 1
    for cluster in report.clusters:
        line = f"cluster {cluster.name} ({cluster.server}): {cluster.status}"
        if cluster.status != "unreachable":
            line += f", {cluster.namespaces} namespaces, {cluster.pods} pods, {cluster.workloads} workloads"
        console.print(line, markup=False)
    if not report.findings:
        console.print(f"no findings ({report.images} images, {report.digests} digests checked)", markup=False)
        return buffer.getvalue()
    table = Table(show_lines=False, header_style="bold", expand=False)
    table.add_column("SEVERITY", no_wrap=True)
    table.add_column("RULE", no_wrap=True)
    # names come from the cluster (whoever owns a workload writes them): a long one wraps in its column rather
    # than squeezing every other column, and so every other row, out of the table
    for header in (["CLUSTER"] if many else []) + ["NAMESPACE", "WORKLOAD", "CONTAINER"]:
        table.add_column(header, overflow="fold", max_width=_NAME_WIDTH)
    table.add_column("IMAGE", overflow="fold")
    table.add_column("FINDING", overflow="fold")
    for f in sorted(report.findings, key=lambda f: f.sort_key()):
        row = [
            Text(f.severity.label.upper(), style=_STYLE[f.severity]),
            Text(f"{f.rule} {f.rule_info.name}"),
        ]
        if many:
            row.append(Text(f.cluster))
        row += [
            Text(f.namespace or "-"),
            Text(f"{f.workload.kind}/{f.workload.name}"),
            Text(f.container or "-"),
            Text(f.image or "-"),
            Text(f.message),
        ]
        table.add_row(*row)
    console.print(table)
    counts = ", ".join(f"{n} {label}" for label, n in report.counts().items() if n)
    console.print(
        f"{len(report.findings)} findings ({counts}); {report.images} images, {report.digests} digests checked",
        markup=False,
    )
    return buffer.getvalue()
