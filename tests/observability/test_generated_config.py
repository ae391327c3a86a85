"""Issue 17, H3: untrusted names go into generated config through serializers; the results parse and round-trip.

Each generator gets names with newlines, quotes, `\"\"\"`, template braces and PromQL syntax, and its
output is parsed back with the consumer's own grammar where one is at hand (YAML, JSON, the
Prometheus exposition format) and, for PromQL and Go templates, checked for the one way out of a
literal: every string literal in an expression decodes to the name given, and no template action
starts inside a name. (The stage-19 pytest module has its own test with the stage-19 crew.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import AGENT, T0
from venturegate.crews.stage30 import monitoring
from venturegate.crews.stage30.haproxy import BACKEND, render_config
from venturegate.definitions.loader import load_workflow
from venturegate.engine import Engine
from venturegate.observability import grafana, promql, render

HOSTILE = [
    "line\nbreak: injected\n- also",
    'double " quote',
    "single ' quote",
    'triple """ quotes """',
    '{{ .Value }} {{ template "x" . }}',
    '"} or vector(1) or up{job="',
    "back\\slash \\n",
    "# comment\r\ncarriage",
    "$(touch /tmp/pwned) ${HOME} `id`",
    "tab\tand unicode é ✓",
]
_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')


def _literals(expr: str) -> list[str]:
    return [json.loads(m.group()) for m in _LITERAL.finditer(expr)]


def _strip_literals(expr: str) -> str:
    return _LITERAL.sub('""', expr)


@pytest.mark.parametrize("name", HOSTILE)
def test_promql_literals_hold_the_name(name: str) -> None:
    sel = promql.selector(job=name, proxy="be")
    assert _literals(sel) == [name, "be"]
    assert _strip_literals(sel) == '{job="",proxy=""}'
    text = promql.template_text(name)
    assert "{{" not in text.replace('{{ "{{" }}', "")


@pytest.mark.parametrize("name", HOSTILE)
def test_stage30_alert_rules_and_dashboard(tmp_path: Path, name: str) -> None:
    got = monitoring.monitoring_setup(
        name + " svc", tmp_path, job=name, haproxy_job=name + "-hp", db_job=name + "-db", channels=("slack",)
    )
    rules = yaml.safe_load(got.rules_path.read_text(encoding="utf-8"))
    assert monitoring.check_rules(rules) == 4
    for rule in rules["groups"][0]["rules"]:
        assert rule["labels"]["service"] == name + " svc"  # a YAML string, whatever it holds
        assert set(_literals(rule["expr"])) <= {name, name + "-hp", name + "-db", "5xx", BACKEND}
        skeleton = _strip_literals(rule["expr"])
        assert "\n" not in skeleton and "vector" not in skeleton and "#" not in skeleton
        summary = rule["annotations"]["summary"]
        assert "{{" not in summary.replace('{{ "{{" }}', "")  # no template action from the name
    board = json.loads(got.dashboard_path.read_text(encoding="utf-8"))
    assert monitoring.check_dashboard(board) == 4
    assert board["title"] == f"venturegate · {name} svc · production"
    for panel in board["panels"]:
        got_literals = set(_literals(panel["targets"][0]["expr"]))
        assert got_literals and got_literals <= {name, name + "-hp", name + "-db", "5xx", BACKEND}


def test_grafana_export_round_trips_hostile_workflow_text(tmp_path: Path) -> None:
    doc = f"""
workflow: {{id: hostile, version: "1"}}
stages:
  - id: 1
    title: {json.dumps(HOSTILE[3])}
    description: {json.dumps(HOSTILE[0] + HOSTILE[4])}
    substages: [{{id: "1.1", title: T, done_when: [Done]}}]
    metrics:
      odd_metric: {{unit: count, description: {json.dumps(HOSTILE[5])}}}
"""
    path = tmp_path / "wf.yaml"
    path.write_text(doc)
    wf = load_workflow(path).workflow
    (exported,) = grafana.export(wf, tmp_path / "out")
    board = json.loads(exported.path.read_text(encoding="utf-8"))
    assert board["title"].endswith(HOSTILE[3])
    assert board["panels"][0]["description"].endswith(HOSTILE[5])
    expr = board["panels"][0]["targets"][0]["expr"]
    assert _literals(expr)[:2] == ["1", "odd_metric"]


def test_metrics_exposition_escapes_venture_names(tiny: Engine) -> None:
    for i, name in enumerate(n for n in HOSTILE if not n.strip().isdigit()):
        tiny.create_venture(f"{name} {i}", "b2b_smb", 2, actor=AGENT, now=T0)
        tiny.record_sample(f"{name} {i}", "quality", float(i), actor=AGENT, now=T0)
    families = {f.name: f for f in text_string_to_metric_families(render(tiny, now=T0).decode())}
    seen = {s.labels["venture"] for s in families["venturegate_metric_latest"].samples}
    assert seen == {f"{n} {i}" for i, n in enumerate(HOSTILE)}


@pytest.mark.parametrize(
    ("host", "socket"),
    [("127.0.0.1\n    server evil 1.2.3.4:80", "/tmp/s"), ("127.0.0.1", "/tmp/a b"), ("127.0.0.1", "/tmp/x\nglobal")],
)
def test_haproxy_config_refuses_what_it_cannot_write(host: str, socket: str) -> None:
    with pytest.raises(ValueError):
        render_config(frontend_port=8000, ports={"blue": 8001, "green": 8002}, socket_path=Path(socket), host=host)
    ok = render_config(frontend_port=8000, ports={"blue": 8001, "green": 8002}, socket_path=Path("/tmp/s"))
    assert [line.split()[1] for line in ok.splitlines() if line.startswith("    server ")] == ["blue", "green"]
