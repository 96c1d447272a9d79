"""A self-contained HTML report for people: summary, inline-SVG charts by severity, namespace and rule, a
sortable and filterable table, each finding's evidence. No external asset: styles and script are inline."""

from __future__ import annotations

import html
import json

from ._model import RULES, AuditReport, Severity

__all__ = ["render_html"]

_COLOURS = {"critical": "#7f1d1d", "high": "#dc2626", "medium": "#d97706", "low": "#0284c7", "info": "#6b7280"}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#111}h1{font-size:22px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px}
.card b{display:block;font-size:22px}.charts{display:flex;gap:24px;flex-wrap:wrap;margin:16px 0}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #eee;padding:4px 6px;
text-align:left;vertical-align:top}th{cursor:pointer;background:#f6f6f6;user-select:none}
.sev{color:#fff;border-radius:3px;padding:1px 5px;font-size:11px}td.img{word-break:break-all}
pre{white-space:pre-wrap;margin:0;font-size:11px}#filter{padding:4px;width:320px;margin:8px 0}
"""

_SCRIPT = """
(function(){
  var table=document.getElementById('findings'),body=table.tBodies[0];
  var order={critical:4,high:3,medium:2,low:1,info:0};
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
    th.addEventListener('click',function(){
      var asc=th.getAttribute('data-dir')!=='asc';
      Array.prototype.forEach.call(table.tHead.rows[0].cells,function(c){c.removeAttribute('data-dir')});
      th.setAttribute('data-dir',asc?'asc':'desc');
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=a.cells[i].getAttribute('data-key')||a.cells[i].textContent,
            y=b.cells[i].getAttribute('data-key')||b.cells[i].textContent;
        if(i===0){x=order[x];y=order[y]}
        return (x<y?-1:x>y?1:0)*(asc?1:-1)});
      rows.forEach(function(r){body.appendChild(r)});
    })});
  function apply(){
    var q=document.getElementById('filter').value.toLowerCase(),s=document.getElementById('severity').value,n=0;
    Array.prototype.forEach.call(body.rows,function(r){
      var ok=(!q||r.textContent.toLowerCase().indexOf(q)>=0)&&(!s||r.getAttribute('data-severity')===s);
      r.style.display=ok?'':'none';if(ok)n++});
    document.getElementById('shown').textContent=n;
  }
  document.getElementById('filter').addEventListener('input',apply);
  document.getElementById('severity').addEventListener('change',apply);
})();
"""


def _bars(title: str, counts: dict[str, int], chart_id: str, colour_of: dict[str, str] | None = None) -> str:
    rows = list(counts.items())[:12]
    top = max((n for _, n in rows), default=0) or 1
    height = 22 * len(rows) + 28
    parts = [f'<svg id="{chart_id}" width="400" height="{height}" role="img" aria-label="{html.escape(title)}">',
             f'<text x="0" y="14" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    for i, (label, n) in enumerate(rows):
        y = 24 + i * 22
        width = int(200 * n / top)
        colour = (colour_of or {}).get(label, "#4b5563")
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{html.escape(label[:24])}</text>')
        parts.append(f'<rect class="bar" data-label="{html.escape(label)}" data-value="{n}" x="160" y="{y}" '
                     f'width="{max(width, 1)}" height="16" fill="{colour}"/>')
        parts.append(f'<text x="{166 + width}" y="{y + 13}" font-size="12">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: AuditReport) -> str:
    e = html.escape
    counts = report.counts()
    cards = [f'<div class="card" id="total"><b>{len(report.findings)}</b>findings</div>']
    cards += [f'<div class="card" id="count-{k}"><b>{v}</b>{k}</div>' for k, v in counts.items()]
    cards += [f'<div class="card"><b>{report.images}</b>images</div>',
              f'<div class="card"><b>{report.digests}</b>digests verified</div>']
    clusters = "".join(
        f"<li>{e(c.name)} ({e(c.server)}): {e(c.status)}"
        + (f" — {e(c.error)}" if c.error else f", {c.namespaces} namespaces, {c.pods} pods, {c.workloads} workloads")
        + "</li>"
        for c in report.clusters
    )
    by_rule = {f"{r} {RULES[r].name}": n for r, n in report.by_rule().items()}
    charts = (_bars("Findings by severity", counts, "chart-severity", _COLOURS)
              + _bars("Findings by namespace", report.by_namespace(), "chart-namespace")
              + _bars("Findings by rule", by_rule, "chart-rule"))
    rows = []
    for f in report.findings:
        evidence = json.dumps({**f.evidence, "digest": f.digest, "pods": list(f.pods)}, indent=1, sort_keys=True)
        sev = f.severity.label
        rows.append(
            f'<tr data-severity="{sev}"><td data-key="{sev}"><span class="sev" style="background:{_COLOURS[sev]}">'
            f"{sev}</span></td><td>{e(f.rule)} {e(f.rule_info.name)}</td><td>{e(f.cluster)}</td>"
            f"<td>{e(f.namespace or '-')}</td><td>{e(f.workload.kind)}/{e(f.workload.name)}</td>"
            f'<td>{e(f.container or "-")}</td><td class="img">{e(f.image or "-")}</td><td>{e(f.message)}'
            f"<details><summary>evidence</summary><pre>{e(evidence)}</pre></details></td></tr>"
        )
    options = "".join(f'<option value="{s.label}">{s.label}</option>' for s in sorted(Severity, reverse=True))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sealgate audit {e(report.generated_at)}</title>
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<style>{_STYLE}</style></head><body>
<h1>sealgate audit</h1><p>{e(report.generated_at)} · sealgate {e(report.version)} · policies:
{e(", ".join(report.policies) or "none")}</p><ul>{clusters}</ul>
<div class="cards">{"".join(cards)}</div><div class="charts">{charts}</div>
<input id="filter" placeholder="filter (namespace, image, rule, ...)"> <select id="severity"><option value="">all
severities</option>{options}</select> <span id="shown">{len(report.findings)}</span> shown
<table id="findings"><thead><tr><th>severity</th><th>rule</th><th>cluster</th><th>namespace</th><th>workload</th>
<th>container</th><th>image</th><th>finding</th></tr></thead><tbody>{"".join(rows)}</tbody></table>
<script>{_SCRIPT}</script></body></html>
"""
