"""IntegrationReporter: one report (Markdown and HTML) with the exit gate's explanation, per-integration results,
a per-endpoint latency chart (SVG) and the files the run generated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from venturegate.crews.stage19._svg import latency_chart

_MD = """\
# Stage 19 integration report — {{ venture }}

Run {{ run_id }} · outcome: **{{ outcome }}**{% if fired %} · triggers: {{ fired | join(", ") }}{% endif %}
· seed {{ seed }} (re-run with `-o seed={{ seed }}` or `pytest test_integrations.py` for the same requests)
{% if input_error %}
**Input problem:** {{ input_error }}
{% endif %}
## Findings ({{ findings | length }})

{% if findings %}| kind | operation | finding | found by | reproduce |
|---|---|---|---|---|
{% for f in findings -%}
| {{ f.kind }} | {{ f.method }} {{ f.path }} | {{ f.title }}: {{ f.detail | replace("\\n", " ") | replace("|", "/") \
| truncate(160) }} | {{ f.source }} | \
{% if f.curl %}`{{ f.curl | replace("\\n", " ") | replace("|", "\\\\|") }}`{% endif %} |
{% endfor %}{% else %}None.
{% endif %}
## Exit gate: {{ "passed" if gate.passed else "not passed" }}

| check | verdict | observed | expected | why |
|---|---|---|---|---|
{% for c in gate.checks -%}
| {{ c.name }} | {{ c.verdict }} | {{ c.observed }} | {{ c.expected }} | {{ c.reason | replace("|", "/") }} |
{% endfor %}
## Integrations
{% for i in tests %}
### {{ i.name }}

{{ i.tests_passed }} of {{ i.tests_total }} tests passed; {{ i.covered_operations }} of \
{{ i.documented_operations }} operations covered; data flow {{ "verified" if i.data_flow and \
(i.data_flow | rejectattr("ok") | list | length == 0) else "NOT verified" }}.
Error handling: {% for k, v in i.error_handling.items() %}{{ k }} {{ v }}{% if not loop.last %}, {% endif %}\
{% endfor %}.

| operation | mode | cases | passed | first failure |
|---|---|---|---|---|
{% for o in i.operations -%}
| {{ o.method }} {{ o.path }} | {{ o.mode }} | {{ o.cases }} | {{ o.passed }} | \
{% if o.failures %}{{ o.failures[0].title }} (HTTP {{ o.failures[0].status }}){% endif %} |
{% endfor %}
{% for s in i.data_flow %}- chain: {{ s.name }} — {{ "ok" if s.ok else "FAILED" }} ({{ s.detail }})
{% endfor %}{% for x in i.excluded %}- not checked: {{ x }}
{% endfor %}{% for h in i.errors_handled %}- error {{ h.rule }}: {{ h.status }} — {{ h.resolution }}
{% endfor %}{% endfor %}
{% if perf %}## Performance

![latency p50/p95/p99 per endpoint, ms (red: the p95 SLA)]({{ chart }})

| integration | endpoint | req/s offered | p50 ms | p95 ms | p99 ms | errors % | good req/s | SLA |
|---|---|---|---|---|---|---|---|---|
{% for p in perf %}{% for e in p.endpoints -%}
| {{ p.name }} | {{ e.label }} | {{ e.rate }} | {{ "%.1f" % (e.p50_ms or 0) }} | {{ "%.1f" % (e.p95_ms or 0) }} \
| {{ "%.1f" % (e.p99_ms or 0) }} | {{ e.error_rate }} | {{ e.throughput }} | {{ "MISSED" if e.slow else "ok" }} |
{% endfor %}{% endfor %}
| integration | sustained req/s | reliability % | declared limit req/s | measured limit req/s | bracket | header limit \
| Retry-After s |
|---|---|---|---|---|---|---|---|
{% for p in perf -%}
{% set d = p.limits.discovery or {} -%}
| {{ p.name }} | {{ p.sustained_rate }} | {{ p.reliability }} | {{ p.limits.declared_req_sec }} \
| {{ d.limit_req_sec or "none found" }} | {{ d.bracket or "—" }} | {{ d.header_limit_req_sec or "—" }} \
| {{ d.retry_after_s or "—" }} |
{% endfor %}
{% for p in perf %}{% for x in p.excluded %}- not measured ({{ p.name }}): {{ x }}
{% endfor %}{% endfor %}{% endif %}
{% if plan %}## Load settings used

| setting | value |
|---|---|
{% for k, v in plan.items() -%}
| {{ k }} | {{ v }} |
{% endfor %}{% endif %}
{% if fallbacks %}## Fallbacks

| integration | breaker opened after | closed after recovery | retries | cache TTL s |
|---|---|---|---|---|
{% for f in fallbacks -%}
| {{ f.name }} | {{ f.circuit_breaker.verified.opened_after_failures }} | \
{{ f.circuit_breaker.verified.auto_reset }} | {{ f.retry.max_retries }} | {{ f.cache_fallback.ttl_seconds }} |
{% endfor %}{% endif %}
## Generated files

{% for f in files %}- `{{ f }}`
{% endfor %}"""

_HTML = """\
<!doctype html><html><head><meta charset="utf-8"><title>Stage 19 report — {{ venture }}</title>
<style>body{font-family:sans-serif;max-width:60rem;margin:auto}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 6px}.fail{color:#b00}.pass{color:#070}</style></head><body>
<h1>Stage 19 integration report — {{ venture }}</h1>
<p>Run {{ run_id }} · outcome: <b>{{ outcome }}</b>{% if fired %} · triggers: {{ fired | join(", ") }}{% endif %}</p>
<p>Seed {{ seed }}{% if input_error %} · <b>Input problem:</b> {{ input_error }}{% endif %}</p>
<h2>Findings ({{ findings | length }})</h2>
<table><tr><th>kind</th><th>operation</th><th>finding</th><th>found by</th><th>reproduce</th></tr>
{% for f in findings %}<tr><td>{{ f.kind }}</td><td>{{ f.method }} {{ f.path }}</td>
<td>{{ f.title }}: {{ f.detail }}</td><td>{{ f.source }}</td><td><code>{{ f.curl }}</code></td></tr>{% endfor %}</table>
<h2>Exit gate: {{ "passed" if gate.passed else "not passed" }}</h2>
<table><tr><th>check</th><th>verdict</th><th>observed</th><th>expected</th><th>why</th></tr>
{% for c in gate.checks %}<tr><td>{{ c.name }}</td><td class="{{ c.verdict }}">{{ c.verdict }}</td>
<td>{{ c.observed }}</td><td>{{ c.expected }}</td><td>{{ c.reason }}</td></tr>{% endfor %}</table>
<h2>Integrations</h2>{% for i in tests %}<h3>{{ i.name }}</h3>
<p>{{ i.tests_passed }} of {{ i.tests_total }} tests passed.</p>
<table><tr><th>operation</th><th>mode</th><th>cases</th><th>passed</th><th>failures</th></tr>
{% for o in i.operations %}<tr><td>{{ o.method }} {{ o.path }}</td><td>{{ o.mode }}</td><td>{{ o.cases }}</td>
<td>{{ o.passed }}</td><td>{% for f in o.failures[:3] %}<div>{{ f.title }}: <code>{{ f.curl }}</code></div>{% endfor %}
</td></tr>{% endfor %}</table>{% endfor %}
{% if perf %}<h2>Performance</h2><img src="{{ chart }}" alt="latency p50/p95/p99 per endpoint in ms, with the p95 SLA">
<table><tr><th>integration</th><th>endpoint</th><th>req/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th>
<th>errors %</th><th>SLA</th></tr>
{% for p in perf %}{% for e in p.endpoints %}<tr><td>{{ p.name }}</td><td>{{ e.label }}</td><td>{{ e.rate }}</td>
<td>{{ "%.1f" % (e.p50_ms or 0) }}</td><td>{{ "%.1f" % (e.p95_ms or 0) }}</td><td>{{ "%.1f" % (e.p99_ms or 0) }}</td>
<td>{{ e.error_rate }}</td><td>{{ "MISSED" if e.slow else "ok" }}</td></tr>{% endfor %}{% endfor %}</table>
<table><tr><th>integration</th><th>sustained req/s</th><th>reliability %</th><th>declared limit</th>
<th>measured limit</th><th>bracket</th></tr>
{% for p in perf %}{% set d = p.limits.discovery or {} %}<tr><td>{{ p.name }}</td><td>{{ p.sustained_rate }}</td>
<td>{{ p.reliability }}</td><td>{{ p.limits.declared_req_sec }}</td><td>{{ d.limit_req_sec or "none found" }}</td>
<td>{{ d.bracket or "—" }}</td></tr>{% endfor %}</table>{% endif %}
{% if fallbacks %}<h2>Fallbacks</h2>
<table><tr><th>integration</th><th>breaker opened after</th><th>closed after recovery</th><th>retries</th>
<th>cache TTL s</th></tr>
{% for f in fallbacks %}<tr><td>{{ f.name }}</td><td>{{ f.circuit_breaker.verified.opened_after_failures }}</td>
<td>{{ f.circuit_breaker.verified.auto_reset }}</td><td>{{ f.retry.max_retries }}</td>
<td>{{ f.cache_fallback.ttl_seconds }}</td></tr>{% endfor %}</table>{% endif %}
<h2>Generated files</h2><ul>{% for f in files %}<li><code>{{ f }}</code></li>{% endfor %}</ul>
</body></html>
"""


@dataclass
class Report:
    """The report's inputs."""

    venture: str
    run_id: str
    outcome: str
    gate: dict[str, Any]
    """`passed` and `checks` (the JSON form of a gate result)."""
    tests: list[dict[str, Any]]
    perf: list[dict[str, Any]] = field(default_factory=list)
    fallbacks: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    p95_sla_ms: float | None = None
    seed: int = 0
    findings: list[dict[str, Any]] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)
    input_error: str = ""


def write_report(report: Report, out_dir: Path) -> dict[str, Path]:
    """Write report.md, report.html and (with performance data) latency.png; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "report.md", "html": out_dir / "report.html"}
    chart = ""
    rows = [
        (f"{p['name']}: {e['label']}", *(float(e.get(k) or 0.0) for k in ("p50_ms", "p95_ms", "p99_ms")))
        for p in report.perf
        for e in p.get("endpoints", [])
    ]
    if rows:
        paths["chart"] = out_dir / "latency.svg"
        title = f"Latency per endpoint under constant load — {report.venture}"
        paths["chart"].write_text(latency_chart(rows, report.p95_sla_ms, title), encoding="utf-8")  # type: ignore[arg-type]
        chart = "latency.svg"
    files = [*report.files, *(str(p) for p in paths.values())]
    data = {
        "venture": report.venture,
        "run_id": report.run_id,
        "outcome": report.outcome,
        "gate": report.gate,
        "tests": report.tests,
        "perf": report.perf,
        "fallbacks": report.fallbacks,
        "files": files,
        "fired": report.fired,
        "chart": chart,
        "seed": report.seed,
        "findings": report.findings,
        "plan": report.plan,
        "input_error": report.input_error,
    }
    md_env = Environment(autoescape=False, keep_trailing_newline=True)
    html_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    paths["markdown"].write_text(md_env.from_string(_MD).render(**data), encoding="utf-8")
    paths["html"].write_text(html_env.from_string(_HTML).render(**data), encoding="utf-8")
    return paths
