"""Every report format from one :class:`AuditReport`; the exit code that ``--fail-on`` asks for."""

from __future__ import annotations

import orjson

from ._model import AuditReport, Severity

__all__ = ["FORMATS", "render", "report_exit_code"]

FORMATS = ("table", "json", "sarif", "html", "policyreport")


def render(report: AuditReport, output: str, *, color: bool = False) -> str:
    if output == "table":
        from ._table import render_table

        return render_table(report, color=color)
    if output == "json":
        return orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"
    if output == "sarif":
        from ._sarif import render_sarif

        return render_sarif(report)
    if output == "html":
        from ._html import render_html

        return render_html(report)
    if output == "policyreport":
        from ._policyreport import render_policyreports

        return render_policyreports(report)
    raise ValueError(f"unknown output {output!r}")


def report_exit_code(report: AuditReport, fail_on: Severity | None) -> int:
    """0 when no finding is at or above ``fail_on`` (or ``fail_on`` is None: never), else 1."""
    return 1 if fail_on is not None and any(f.severity >= fail_on for f in report.findings) else 0
