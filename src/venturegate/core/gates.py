"""Gate evaluation: judge each check of a gate from the facts the engine gathered, and explain it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from venturegate.core.conditions import DataAccess, Explanation, evaluate, format_value, parse, references
from venturegate.core.conditions.data import ConfigValue
from venturegate.core.conditions.nodes import Expr
from venturegate.core.durations import format_duration, format_time, parse_duration
from venturegate.definitions.model import (
    ApprovalCheck,
    ArtifactCheck,
    AttestCheck,
    ConditionCheck,
    CustomerCheck,
    GateCheck,
    Stage,
    SubstagesDoneCheck,
)

Verdict = Literal["pass", "fail", "unknown"]
GateName = Literal["entry", "exit"]
JSONValue = str | int | float | bool | None | list["JSONValue"] | dict[str, "JSONValue"]


@dataclass(frozen=True)
class ApprovalFact:
    """The newest approval request for a role in the current stage visit."""

    id: int
    status: Literal["pending", "approved", "rejected", "expired", "bypassed"]
    expires_at: datetime | None
    decided_by: str | None = None
    reason: str | None = None
    """The decision's reason (for a bypass, why it could not wait)."""


@dataclass(frozen=True)
class GateFacts:
    """Everything a gate may look at, gathered by the engine for one venture at one moment."""

    data: DataAccess
    substages: Mapping[str, bool] = field(default_factory=dict)
    artifacts: Mapping[str, int] = field(default_factory=dict)
    approvals: Mapping[str, ApprovalFact] = field(default_factory=dict)
    attested: frozenset[str] = frozenset()
    evidence: Mapping[str, JSONValue] = field(default_factory=dict)
    """Metric → the latest version of the artifact its definition names in `explained_by` (name, version,
    content), for the metrics the gate's checks read."""


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict with what was observed, what was expected and why."""

    name: str
    kind: str
    verdict: Verdict
    observed: JSONValue
    expected: JSONValue
    reason: str
    explanation: Explanation | None = None
    evidence: dict[str, JSONValue] | None = None
    """Metric → the recorded breakdown of its latest value (see `GateFacts.evidence`), for the metrics read."""

    def as_dict(self) -> dict[str, JSONValue]:
        """The stable JSON shape documented for `gate check --json`."""
        out: dict[str, JSONValue] = {
            "name": self.name,
            "kind": self.kind,
            "verdict": self.verdict,
            "observed": self.observed,
            "expected": self.expected,
            "reason": self.reason,
        }
        if self.explanation is not None:
            out["explanation"] = self.explanation.to_dict()  # type: ignore[assignment]
        if self.evidence:
            out["evidence"] = self.evidence
        return out


@dataclass(frozen=True)
class GateResult:
    """A gate's checks; it passes only when every check passes (unknown is not a pass)."""

    stage: int
    gate: str
    checks: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(c.verdict == "pass" for c in self.checks)

    def failing(self) -> list[CheckResult]:
        """Checks that did not pass."""
        return [c for c in self.checks if c.verdict != "pass"]


_PARSED: dict[str, Expr] = {}


def parsed(text: str) -> Expr:
    """Parse a condition once per process (definitions are validated at load, so this cannot fail)."""
    expr = _PARSED.get(text)
    if expr is None:
        expr = _PARSED[text] = parse(text)
    return expr


def remember(conditions: Mapping[str, Expr]) -> None:
    """Take conditions parsed elsewhere (a cached workflow carries its own), so `parsed` need not parse them."""
    _PARSED.update(conditions)


def _condition(chk: ConditionCheck, facts: GateFacts, now: datetime) -> CheckResult:
    expl = evaluate(parsed(chk.check), facts.data, now)
    verdict = expl.verdict
    if expl.op is not None:
        observed: JSONValue = expl.left
        duration = any(child.kind == "duration" for child in expl.children)
        expected: JSONValue = f"{expl.op} {format_value(expl.right, duration)}"
    else:
        observed = expl.value
        expected = True
    # Say where the observed value came from (latest sample at …, avg of n samples in …) when it is known;
    # for a compound condition, list the comparisons it made.
    source = expl.children[0].reason if expl.op is not None and expl.children else ""
    reason = expl.reason or source or "; ".join(_comparisons(expl)) or f"{chk.check} is {verdict}"
    evidence = {m: e for m, e in facts.evidence.items() if m in metrics_read(chk.check)} or None
    return CheckResult(chk.name or chk.check, "condition", verdict, observed, expected, reason, expl, evidence)


def metrics_read(condition: str) -> frozenset[str]:
    """The metrics a condition reads."""
    return references(parsed(condition)).metrics


def _comparisons(expl: Explanation) -> list[str]:
    if expl.op in ("<", "<=", ">", ">=", "==", "!="):
        left = expl.children[0].text if expl.children else "?"
        return [f"{left} {format_value(expl.left)} {expl.op} {format_value(expl.right)}: {expl.verdict}"]
    return [line for child in expl.children for line in _comparisons(child)]


def _artifact(chk: ArtifactCheck, facts: GateFacts) -> CheckResult:
    version = facts.artifacts.get(chk.artifact)
    if version is None:
        return CheckResult(
            chk.name or f"artifact {chk.artifact}",
            "artifact",
            "fail",
            None,
            "present and valid",
            f"no valid '{chk.artifact}' artifact yet; add one with `artifact put`",
        )
    return CheckResult(
        chk.name or f"artifact {chk.artifact}",
        "artifact",
        "pass",
        f"version {version}",
        "present and valid",
        f"'{chk.artifact}' version {version} is stored and schema-valid",
    )


def _approval(chk: ApprovalCheck, facts: GateFacts, now: datetime) -> CheckResult:
    name = chk.name or f"approval by {chk.approval}"
    fact = facts.approvals.get(chk.approval)
    if fact is None:
        return CheckResult(name, "approval", "fail", None, "approved", f"no approval requested from {chk.approval}")
    status = fact.status
    if status == "pending" and fact.expires_at is not None and now >= fact.expires_at:
        status = "expired"
    if status in ("approved", "bypassed"):
        by = f" by {fact.decided_by}" if fact.decided_by else ""
        why = f": {fact.reason}" if status == "bypassed" and fact.reason else ""
        return CheckResult(name, "approval", "pass", status, "approved", f"request #{fact.id} {status}{by}{why}")
    if status == "pending":
        until = f" until {format_time(fact.expires_at)}" if fact.expires_at else ""
        return CheckResult(
            name,
            "approval",
            "unknown",
            status,
            "approved",
            f"request #{fact.id} awaits {chk.approval}{until}",
        )
    return CheckResult(name, "approval", "fail", status, "approved", f"request #{fact.id} was {status}")


def _attest(chk: AttestCheck, facts: GateFacts) -> CheckResult:
    done = chk.attest in facts.attested
    return CheckResult(
        chk.name or chk.attest,
        "attestation",
        "pass" if done else "fail",
        done,
        True,
        "attested" if done else f'not attested yet: a person attests it (`venturegate attest VENTURE "{chk.attest}"`)',
    )


def _substages(chk: SubstagesDoneCheck, facts: GateFacts) -> CheckResult:
    open_ = [sid for sid, done in facts.substages.items() if not done]
    done = len(facts.substages) - len(open_)
    return CheckResult(
        chk.name or "all substages done",
        "substages",
        "fail" if open_ else "pass",
        f"{done}/{len(facts.substages)}",
        f"{len(facts.substages)}/{len(facts.substages)}",
        ("open: " + ", ".join(open_)) if open_ else "every substage is complete",
    )


@dataclass(frozen=True)
class _Setting:
    """A customer check's number or switch, with where it came from (said in the explanation)."""

    value: ConfigValue | None
    source: str


def _setting(value: float | bool | str, facts: GateFacts) -> _Setting:
    """A literal from the stage definition, or the venture's effective value of a `config.<key>` reference."""
    if isinstance(value, str) and value.startswith("config."):
        key = value.removeprefix("config.")
        return _Setting(facts.data.config(key), f"config {key}")
    return _Setting(value, "the stage definition")


def _unusable(setting: _Setting, kind: type | tuple[type, ...]) -> str:
    """Why a setting cannot be used (undeclared parameter, wrong type), or "" when it can."""
    if setting.value is None:
        return f"{setting.source} is not declared for this stage, so the check cannot be judged"
    if (isinstance(setting.value, bool) and kind is not bool) or not isinstance(setting.value, kind):
        return f"{setting.source} is {setting.value!r}, which this check cannot use"
    return ""


def _customer(chk: CustomerCheck, facts: GateFacts, now: datetime) -> CheckResult:
    spec = chk.customer
    name = chk.name or f"customer feedback ({spec.metric})"
    required = _setting(spec.required, facts)
    if required.value is False:
        why = f"not required for this venture ({required.source} is false)"
        return CheckResult(name, "customer", "pass", "not required", "not required", why)
    count, window = _setting(spec.min_count, facts), _setting(spec.window, facts)
    floor = _setting(spec.min_value, facts) if spec.min_value is not None else None
    problem = _unusable(required, bool) or _unusable(count, int) or _unusable(window, (int, float, str))
    problem = problem or (_unusable(floor, (int, float)) if floor is not None else "")
    if problem:
        return CheckResult(name, "customer", "unknown", None, None, problem)
    assert isinstance(count.value, int) and isinstance(window.value, int | float | str)  # checked by _unusable
    seconds = parse_duration(window.value) if isinstance(window.value, str) else float(window.value)
    span = window.value if isinstance(window.value, str) else _days(seconds)
    sources = f"minimum {count.value} from {count.source}, window {span} from {window.source}"
    least = None
    if floor is not None:
        assert isinstance(floor.value, int | float)
        least = float(floor.value)
        sources += f", mean {least:g} from {floor.source}"
    return _judge_feedback(name, spec.metric, facts.data, now, (seconds, span, count.value, least), sources)


def _days(seconds: float) -> str:
    """A window as people write it: whole days as `30d` (not `4w2d`), anything else as a duration."""
    return f"{int(seconds // 86400)}d" if seconds >= 86400 and seconds % 86400 == 0 else format_duration(seconds)


def _judge_feedback(
    name: str,
    metric: str,
    data: DataAccess,
    now: datetime,
    levels: tuple[float, str, int, float | None],
    sources: str,
) -> CheckResult:
    """Count the responses in the window (seconds, `span` as text) against the minimum, then their mean."""
    seconds, span, need, least = levels
    stats = data.stats(metric, now - timedelta(seconds=seconds), now)  # counted and summed by the store
    expected: JSONValue = f">= {need} responses in {span}" + (f", mean >= {least:g}" if least is not None else "")
    if stats.count < need or stats.count == 0:
        why = f"{stats.count} of {need} responses in the last {span} ({sources})"
        return CheckResult(name, "customer", "fail", stats.count, expected, why)
    mean = stats.total / stats.count
    if least is not None and mean < least:
        why = f"mean {mean:.2f} of {stats.count} responses is below {least:g} ({sources})"
        return CheckResult(name, "customer", "fail", round(mean, 4), expected, why)
    why = f"{stats.count} responses, mean {mean:.2f} ({sources})"
    return CheckResult(name, "customer", "pass", round(mean, 4), expected, why)


def evaluate_checks(checks: Sequence[GateCheck], facts: GateFacts, now: datetime) -> tuple[CheckResult, ...]:
    """Judge each check in order."""
    out: list[CheckResult] = []
    for chk in checks:
        if isinstance(chk, ConditionCheck):
            out.append(_condition(chk, facts, now))
        elif isinstance(chk, ArtifactCheck):
            out.append(_artifact(chk, facts))
        elif isinstance(chk, ApprovalCheck):
            out.append(_approval(chk, facts, now))
        elif isinstance(chk, AttestCheck):
            out.append(_attest(chk, facts))
        elif isinstance(chk, SubstagesDoneCheck):
            out.append(_substages(chk, facts))
        else:
            out.append(_customer(chk, facts, now))
    return tuple(out)


def evaluate_gate(stage: Stage, gate: GateName, facts: GateFacts, now: datetime) -> GateResult:
    """Judge a stage's entry or exit gate."""
    checks = stage.gates.entry if gate == "entry" else stage.gates.exit
    return GateResult(stage.id, gate, evaluate_checks(checks, facts, now))
