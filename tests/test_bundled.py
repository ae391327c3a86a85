"""The bundled lifecycle: all 40 stages load with no arguments; the five detailed stages are complete."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from venturegate.core.durations import parse_duration
from venturegate.core.settings import effective_config
from venturegate.definitions.loader import load_workflow
from venturegate.definitions.model import ApprovalCheck, ConditionCheck, Workflow

DETAILED = (14, 17, 19, 28, 30)
STUDIO_TRIGGERS = {
    14: {"DEV-001", "DEV-002", "DEV-003"},
    17: {"GTM-001", "GTM-002", "GTM-003", "GTM-004"},
    19: {"INTEGRATION-001", "INTEGRATION-002", "INTEGRATION-003", "INTEGRATION-004", "INTEGRATION-ADVANCE-20"},
    28: {"PERF-001", "PERF-002", "PERF-003", "PERF-004"},
    30: {"DEPLOY-001", "DEPLOY-002", "DEPLOY-003", "DEPLOY-004"},
}


@pytest.fixture(scope="module")
def wf() -> Workflow:
    return load_workflow().workflow


def test_forty_stages_in_a_chain(wf: Workflow) -> None:
    assert [s.id for s in wf.stages] == list(range(1, 41))
    for s in wf.stages[1:]:
        assert s.id - 1 in s.depends_on, s.id
    assert all(s.substages and all(sub.done_when for sub in s.substages) for s in wf.stages)
    assert all(s.gates.exit for s in wf.stages)
    assert sum(len(s.substages) for s in wf.stages) >= 120


def test_loading_is_deterministic_and_pinned() -> None:
    a, b = load_workflow(), load_workflow()
    assert a.digest == b.digest and len(a.digest) == 64
    assert a.version == "1.0.0"


@pytest.mark.parametrize("sid", DETAILED)
def test_detailed_stage_is_complete(wf: Workflow, sid: int) -> None:
    st = wf.stage(sid)
    assert st is not None
    assert STUDIO_TRIGGERS[sid] <= {t.id for t in st.triggers}
    assert any(t.kind == "rollback" for t in st.triggers)
    assert len(st.inputs) == 3 and len(st.outputs) == 3
    for name in (*st.inputs, *st.outputs):
        decl = wf.artifact(name)
        assert decl is not None and decl.json_schema and decl.json_schema.get("properties"), name
        Draft202012Validator.check_schema(decl.json_schema)
    assert st.metrics and all(m.unit for m in st.metrics.values())
    assert sum(m.threshold is not None for m in st.metrics.values()) >= 3
    assert len(st.config) >= 10
    assert all(p.description for p in st.config.values())
    assert len({e.category for e in st.errors}) >= 2 and all(e.recovery for e in st.errors)
    assert len(st.rollback.decision_tree) >= 3
    assert st.crew is not None and all(sub.agent for sub in st.substages)
    assert sum(isinstance(c, ConditionCheck) for c in st.gates.exit) >= 3
    for trig in st.triggers:
        if trig.kind == "recursion" and trig.mode != "manual" and isinstance(trig.action.go_to, str):
            # Loops within a stage need a retry limit; loops to earlier stages are caught by loop prevention.
            assert trig.max is not None, trig.id


def test_stage_30_chairman_approval(wf: Workflow) -> None:
    st = wf.stage(30)
    assert st is not None
    sub = st.substage("30.2")
    assert sub is not None and any(isinstance(c, ApprovalCheck) and c.approval == "chairman" for c in sub.entry)
    policy = wf.approval_policy(30, "chairman")
    assert policy.bypass is not None and policy.bypass.roles == ["chairman"] and policy.bypass.reason_required
    timeout = effective_config(wf, 30, "b2b_smb")[policy.timeout.removeprefix("config.")].value
    assert parse_duration(str(timeout)) == 24 * 3600


def test_studio_numbers(wf: Workflow) -> None:
    cfg = effective_config(wf, 30, "b2b_smb")
    assert cfg["rollback.error_rate_threshold"].value == 5
    assert parse_duration(str(cfg["rollback.error_rate_duration"].value)) == 120
    assert cfg["traffic.canary_steps"].value == [10, 50, 100]
    deploy2 = next(t for t in wf.stage(30).triggers if t.id == "DEPLOY-002")  # type: ignore[union-attr]
    assert deploy2.kind == "rollback" and deploy2.mode == "auto"
    perf2 = next(t for t in wf.stage(28).triggers if t.id == "PERF-002")  # type: ignore[union-attr]
    assert (perf2.action.go_to, perf2.mode, perf2.max) == ("28.2", "assisted", 2)
    m = wf.metric("integration_success_rate")
    assert m is not None and m.threshold == 90
    conv = wf.metric("conversion_rate", 17)
    assert conv is not None
    assert conv.levels_for("b2b_enterprise") != conv.levels_for("b2c_mass")


def test_user_workflow_extends_the_bundled_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "studio.yaml"
    path.write_text(
        "extends: bundled\n"
        'workflow: {id: my-studio, version: "2.0"}\n'
        "stages:\n"
        "  - id: 19\n"
        "    metrics:\n"
        "      sdk_coverage: {unit: percent, direction: higher_is_better, threshold: 60}\n"
        "    triggers:\n"
        "      - id: INTEGRATION-001\n"
        "        kind: recursion\n"
        '        when: "integration_success_rate < 80"\n'
        '        action: {go_to: "19.1"}\n'
        "        max: 5\n"
    )
    loaded = load_workflow(path)
    wf = loaded.workflow
    st = wf.stage(19)
    assert st is not None and len(wf.stages) == 40
    assert "sdk_coverage" in st.metrics and "integration_success_rate" in st.metrics
    trig = next(t for t in st.triggers if t.id == "INTEGRATION-001")
    assert (trig.when, trig.max) == ("integration_success_rate < 80", 5)
    assert len(st.triggers) == len(load_workflow().workflow.stage(19).triggers)  # type: ignore[union-attr]
    assert loaded.digest != load_workflow().digest and wf.workflow.id == "my-studio"
