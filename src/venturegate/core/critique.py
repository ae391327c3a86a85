"""Critique: score a stage definition on the studio's nine rubric dimensions, from the definition itself.

Each dimension starts from a base and gains a point per property the definition has (capped at 5);
every point comes with the reason that earned or missed it. Overall is the plain mean. The rules are
documented in docs/critique.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from venturegate.definitions.model import (
    ApprovalCheck,
    ArtifactCheck,
    AttestCheck,
    ConditionCheck,
    CustomerCheck,
    GateCheck,
    Stage,
    SubstagesDoneCheck,
    Workflow,
)

DIMENSIONS = (
    "Clarity",
    "Feasibility",
    "Testability",
    "Risk Exposure",
    "Automation Leverage",
    "Data Readiness",
    "Security/Compliance",
    "UX/Customer Signal",
    "Recursion Readiness",
)


@dataclass(frozen=True)
class Score:
    """One dimension's score and the reasons behind it (`+` earned, `-` missed)."""

    dimension: str
    score: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Critique:
    """A stage's scores on every dimension and their mean."""

    stage: int
    title: str
    scores: tuple[Score, ...]

    @property
    def overall(self) -> float:
        """The plain mean of the dimension scores, rounded to one decimal."""
        return round(sum(s.score for s in self.scores) / len(self.scores), 1)

    def as_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "stage": self.stage,
            "title": self.title,
            "overall": self.overall,
            "scores": {s.dimension: {"score": s.score, "reasons": list(s.reasons)} for s in self.scores},
        }


class _Tally:
    def __init__(self, base: int, why: str) -> None:
        self.score = base
        self.reasons = [f"base {base}: {why}"]

    def point(self, earned: bool, text: str) -> None:
        if earned:
            self.score += 1
        self.reasons.append(("+ " if earned else "- ") + text)

    def result(self, dimension: str) -> Score:
        return Score(dimension, max(0, min(5, self.score)), tuple(self.reasons))


_MACHINE = (ConditionCheck, ArtifactCheck, SubstagesDoneCheck, CustomerCheck, ApprovalCheck)


def _machine_share(checks: list[GateCheck]) -> float:
    return sum(isinstance(c, _MACHINE) for c in checks) / len(checks) if checks else 0.0


def _artifacts_with_schema(st: Stage, wf: Workflow) -> tuple[int, int]:
    names = [*st.inputs, *st.outputs]
    typed = 0
    for name in names:
        decl = wf.artifact(name)
        schema = decl.json_schema if decl else None
        if schema and (schema.get("properties") or schema.get("required")):
            typed += 1
    return typed, len(names)


def _clarity(st: Stage, wf: Workflow) -> Score:
    t = _Tally(1, "the stage is defined")
    t.point(bool(st.description), "has a description")
    t.point(bool(st.substages) and all(s.done_when for s in st.substages), "every substage lists done-when items")
    t.point(bool(st.gates.entry) and bool(st.gates.exit), "entry and exit gates are both defined")
    typed, total = _artifacts_with_schema(st, wf)
    t.point(total > 0 and typed == total, f"inputs and outputs have JSON Schemas ({typed}/{total})")
    share = _machine_share(st.gates.exit)
    t.point(share >= 0.5, f"{share:.0%} of exit checks are judged from data")
    return t.result("Clarity")


def _feasibility(st: Stage, wf: Workflow) -> Score:
    t = _Tally(3, "a manual procedure exists (substages with done-when items)" if st.substages else "no substages")
    if not st.substages:
        t.score = 1
    served = {sid for a in (st.crew.agents if st.crew else []) for sid in a.substages}
    t.point(bool(st.substages) and all(s.id in served for s in st.substages), "a crew agent serves every substage")
    ranged = [p for p in st.config.values() if p.min is not None or p.allowed]
    t.point(len(ranged) >= 3, f"{len(ranged)} configuration parameters with ranges")
    cats = {e.category for e in st.errors}
    t.point(len(cats) >= 2, f"error recovery defined for {len(cats)} categories")
    return t.result("Feasibility")


def _testability(st: Stage, wf: Workflow) -> Score:
    if not st.gates.exit:
        t = _Tally(0, "no exit gate: completion cannot be tested")
    else:
        t = _Tally(3, "exit criteria are written down and can be checked by a person")
    share = _machine_share(st.gates.exit)
    with_levels = [m for m in st.metrics.values() if m.threshold is not None or m.target is not None]
    t.point(
        share >= 0.5 and len(with_levels) >= max(1, len(st.metrics) // 2),
        f"{share:.0%} of exit checks judged from data; {len(with_levels)}/{len(st.metrics)} metrics have levels",
    )
    conds = [c for c in st.gates.exit if isinstance(c, ConditionCheck)]
    leveled = [c for c in conds if any(k in c.check for k in ("threshold.", "target.", "alert.", "config."))]
    attest = sum(isinstance(c, AttestCheck) for c in st.gates.exit)
    t.point(
        bool(conds) and len(leveled) == len(conds) and attest <= 1,
        f"{len(leveled)}/{len(conds)} conditions read levels or config; {attest} exit checks need a person",
    )
    return t.result("Testability")


def _risk(st: Stage, wf: Workflow) -> Score:
    t = _Tally(2, "risks are named but controls are prose")
    t.point(
        len(st.rollback.decision_tree) >= 2, f"rollback decision tree with {len(st.rollback.decision_tree)} branches"
    )
    rb = [tr for tr in st.triggers if tr.kind == "rollback"]
    t.point(bool(rb), f"{len(rb)} rollback triggers watch the data")
    t.point(st.rollback.snapshot_on_entry and bool(st.rollback.scopes), "configuration snapshot on entry with scopes")
    return t.result("Risk Exposure")


def _automation(st: Stage, wf: Workflow) -> Score:
    prog = st.progression or wf.defaults.progression
    t = _Tally(2, "work is done by hand")
    t.point(bool(prog.promote_after), "progression manual → assisted → auto with promotion rules")
    t.point(st.crew is not None, "a crew automates the stage" if st.crew else "no crew")
    t.point(bool(st.substages) and all(s.agent for s in st.substages), "every substage names its agent")
    acting = [tr for tr in st.triggers if tr.mode in ("auto", "assisted")]
    t.point(len(acting) >= 2, f"{len(acting)} triggers act automatically or with one approval")
    return t.result("Automation Leverage")


def _data(st: Stage, wf: Workflow) -> Score:
    t = _Tally(1, "the stage names what it needs")
    t.point(len(st.metrics) >= 3, f"{len(st.metrics)} metrics declared")
    t.point(bool(st.metrics) and all(m.unit for m in st.metrics.values()), "every metric has a unit and cadence")
    leveled = [m for m in st.metrics.values() if m.threshold is not None]
    t.point(len(leveled) * 2 >= max(1, len(st.metrics)), f"{len(leveled)}/{len(st.metrics)} metrics have thresholds")
    typed, total = _artifacts_with_schema(st, wf)
    t.point(total > 0 and typed == total, f"{typed}/{total} inputs and outputs have schemas")
    t.point(any(m.segments for m in st.metrics.values()), "levels differ per segment where they should")
    return t.result("Data Readiness")


def _security(st: Stage, wf: Workflow) -> Score:
    t = _Tally(2, "roles own the stage")
    gated = bool(st.approvals) or any(isinstance(c, ApprovalCheck) for c in [*st.gates.entry, *st.gates.exit])
    t.point(gated, "decisions need an approval by a named role")
    controlled = [p for p in st.config.values() if p.approval_role]
    t.point(bool(controlled), f"{len(controlled)} parameters need an approval to change")
    auth = [e for e in st.errors if e.match.status and {401, 403} & set(e.match.status)]
    audited_bypass = all(p.bypass is None or p.bypass.reason_required for p in st.approvals.values())
    t.point(bool(auth) or (bool(st.approvals) and audited_bypass), "auth failures or bypasses are handled and audited")
    return t.result("Security/Compliance")


def _ux(st: Stage, wf: Workflow) -> Score:
    t = _Tally(1, "no customer signal by default")
    cust = [c for c in [*st.gates.entry, *st.gates.exit] if isinstance(c, CustomerCheck)]
    t.point(bool(cust), "a gate needs recorded customer feedback")
    t.point(bool(cust), "customer feedback is counted against a minimum")
    t.point(bool(st.customer_touchpoint), "a customer touchpoint is described")
    return t.result("UX/Customer Signal")


def _recursion(st: Stage, wf: Workflow) -> Score:
    t = _Tally(2 if st.depends_on else 1, "the stage can be re-entered from its dependencies")
    rec = [tr for tr in st.triggers if tr.kind == "recursion"]
    t.point(bool(rec), f"{len(rec)} recursion triggers")
    t.point(bool(rec) and all(tr.max is not None for tr in rec), "every recursion has a retry limit, then escalation")
    t.point(any(tr.kind == "advance" for tr in st.triggers), "an advance trigger moves the venture on when green")
    return t.result("Recursion Readiness")


_RULES: tuple[Callable[[Stage, Workflow], Score], ...] = (
    _clarity,
    _feasibility,
    _testability,
    _risk,
    _automation,
    _data,
    _security,
    _ux,
    _recursion,
)


def critique_stage(stage: Stage, workflow: Workflow) -> Critique:
    """Score one stage on all nine dimensions."""
    return Critique(stage.id, stage.title, tuple(rule(stage, workflow) for rule in _RULES))


def critique_workflow(workflow: Workflow) -> list[Critique]:
    """Score every stage."""
    return [critique_stage(s, workflow) for s in workflow.stages]
