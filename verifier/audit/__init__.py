"""``sealgate audit``: what a cluster runs (or a manifest would run), checked image by image.

    from verifier.audit import Target, run_audit, render
    report = await run_audit([Target("prod", connect=lambda: KubeClient.from_kubeconfig(path, "prod"))],
                             policies, registry_client)
    print(render(report, "table"))
    exit_code = report_exit_code(report, Severity.HIGH)          # 1 when a finding is high or critical

Rules (stable ids, see :data:`RULES`): SG001 mutable-tag ... SG011 not-running. Reports: table, JSON
(``schemas/audit-report.schema.json``), SARIF 2.1.0, self-contained HTML and wgpolicyk8s.io PolicyReports.
"""

from ._model import REPORT_API_VERSION, RULES, AuditReport, ClusterSummary, Finding, Rule, Severity, Workload
from ._policyreport import policyreport_documents
from ._render import FORMATS, render, report_exit_code
from ._run import Progress, Target, run_audit
from ._write import ReportsWritten, write_policyreports

__all__ = [
    "FORMATS",
    "REPORT_API_VERSION",
    "RULES",
    "AuditReport",
    "ClusterSummary",
    "Finding",
    "Progress",
    "ReportsWritten",
    "Rule",
    "Severity",
    "Target",
    "Workload",
    "render",
    "report_exit_code",
    "policyreport_documents",
    "run_audit",
    "write_policyreports",
]
