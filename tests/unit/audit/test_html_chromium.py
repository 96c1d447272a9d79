"""The HTML report in real headless Chromium (Debian's): the summary numbers, the three charts, and that the
table sorts and filters. A test script is appended to the page; its results are read from --dump-dom.
SEALGATE_WRITE_DOCS=1 also writes docs/audit-report.png for the README."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from verifier.audit import AuditReport, ClusterSummary, Finding, Severity, Workload, render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DOCS = Path(__file__).resolve().parents[3] / "docs"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

PROBE = """<script>
(function(){
  var out={}, table=document.getElementById('findings'), body=table.tBodies[0];
  function col(i){return Array.prototype.filter.call(body.rows,function(r){return r.style.display!=='none'})
                  .map(function(r){return r.cells[i].textContent.trim()})}
  out.cards={};
  Array.prototype.forEach.call(document.querySelectorAll('.card'),function(c){
    out.cards[c.childNodes[1].textContent.trim()]=parseInt(c.querySelector('b').textContent,10)});
  out.charts={};
  ['chart-severity','chart-namespace','chart-rule'].forEach(function(id){
    out.charts[id]={};
    Array.prototype.forEach.call(document.querySelectorAll('#'+id+' rect.bar'),function(b){
      out.charts[id][b.getAttribute('data-label')]=[parseInt(b.getAttribute('data-value'),10),
                                                   parseInt(b.getAttribute('width'),10)]})});
  var heads=table.tHead.rows[0].cells;
  heads[3].click(); out.byNamespaceAsc=col(3);
  heads[3].click(); out.byNamespaceDesc=col(3);
  heads[0].click(); out.bySeverityAsc=col(0);
  var f=document.getElementById('filter'); f.value='batch'; f.dispatchEvent(new Event('input'));
  out.filtered=col(4); out.shown=document.getElementById('shown').textContent;
  f.value=''; f.dispatchEvent(new Event('input'));
  var s=document.getElementById('severity'); s.value='medium'; s.dispatchEvent(new Event('change'));
  out.medium=col(0);
  var pre=document.createElement('pre'); pre.id='probe'; pre.textContent=JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script></body>"""


def _report() -> AuditReport:
    def f(rule: str, sev: Severity, ns: str, kind: str, name: str, container: str, image: str, msg: str) -> Finding:
        return Finding(rule, sev, "prod", ns, Workload(kind, name), container, "containers", image, msg,
                       None, {"fieldPath": "spec.containers[0].image", "source": "pod"}, (f"{name}-0",))

    findings = [
        f("SG003", Severity.CRITICAL, "shop", "Deployment", "web", "web", "reg.test/shop/web@sha256:" + "a" * 64,
          "spec pins sha256:aaaa… but sha256:bbbb… runs"),
        f("SG002", Severity.HIGH, "shop", "StatefulSet", "db", "db", "reg.test/shop/db:15",
          "tag '15' now resolves to sha256:cccc…, but sha256:dddd… runs"),
        f("SG004", Severity.HIGH, "batch", "CronJob", "report", "report", "reg.test/batch/report:2.0",
          'policy "signed": no signatures found'),
        f("SG001", Severity.MEDIUM, "batch", "CronJob", "report", "report", "reg.test/batch/report:2.0",
          "reg.test/batch/report:2.0 is referenced by tag '2.0', not by digest"),
        f("SG001", Severity.MEDIUM, "shop", "StatefulSet", "db", "db", "reg.test/shop/db:15",
          "reg.test/shop/db:15 is referenced by tag '15', not by digest"),
        f("SG007", Severity.MEDIUM, "ops", "DaemonSet", "agent", "agent", "docker.io/library/busybox:1.36",
          "no policy matches docker.io/library/busybox"),
        f("SG011", Severity.INFO, "ops", "Pod", "debug", "debug", "reg.test/tools/debug:1",
          "container 'debug' reports no imageID yet"),
    ]
    summary = ClusterSummary("prod", "https://127.0.0.1:6443", "audited", None, 3, 41, 12, 9)
    return AuditReport("2026-12-05T11:00:00Z", "0.1.0", [summary], sorted(findings, key=lambda x: x.sort_key()),
                       images=9, digests=8, policies=("signed", "sbom"))


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make setup installs it)")
def test_summary_charts_sorting_and_filtering_in_chromium(tmp_path):
    page = render(_report(), "html")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE, 1))
    run = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', run.stdout, re.S)
    assert found, run.stderr[-2000:]
    out = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert out["cards"] == {"findings": 7, "critical": 1, "high": 2, "medium": 3, "low": 0, "info": 1,
                            "images": 9, "digests verified": 8}
    severity = out["charts"]["chart-severity"]
    assert {k: v[0] for k, v in severity.items()} == {"critical": 1, "high": 2, "medium": 3, "low": 0, "info": 1}
    assert severity["medium"][1] == 200 and severity["critical"][1] < severity["high"][1] < 200  # bars scale
    assert {k: v[0] for k, v in out["charts"]["chart-namespace"].items()} == {"shop": 3, "batch": 2, "ops": 2}
    assert out["charts"]["chart-rule"]["SG001 mutable-tag"][0] == 2
    assert out["byNamespaceAsc"] == sorted(out["byNamespaceAsc"]) and out["byNamespaceAsc"][0] == "batch"
    assert out["byNamespaceDesc"] == sorted(out["byNamespaceDesc"], reverse=True)
    assert out["bySeverityAsc"] == ["info", "medium", "medium", "medium", "high", "high", "critical"]
    assert out["filtered"] == ["CronJob/report", "CronJob/report"] and out["shown"] == "2"
    assert out["medium"] == ["medium", "medium", "medium"]

    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", "--window-size=1280,860",
         "--hide-scrollbars", f"--screenshot={shot}", _page(tmp_path, page)],
        capture_output=True, timeout=120, check=False,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("SEALGATE_WRITE_DOCS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS / "audit-report.png")


def _page(tmp_path: Path, page: str) -> str:
    path = tmp_path / "report.html"
    path.write_text(page)
    return path.as_uri()
