"""Cross-reference checks on a workflow whose parts each validated: names, targets, cycles, levels, conditions."""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from venturegate.core.conditions import (
    ConditionSchema,
    ConditionSyntaxError,
    analyze,
    parse,
)
from venturegate.core.durations import parse_duration
from venturegate.definitions._levels import LEVEL_KINDS, disagreements
from venturegate.definitions.model import (
    ENV_REF_RE,
    ApprovalCheck,
    ArtifactCheck,
    AttestCheck,
    ConditionCheck,
    ConfigParam,
    CustomerCheck,
    GateCheck,
    Metric,
    ParamValue,
    Recovery,
    Stage,
    Target,
    Workflow,
)
from venturegate.definitions.source import PathKey, Problem

if TYPE_CHECKING:
    from venturegate.definitions.loader import _Sourced

ConfigType = Literal["number", "duration", "string", "bool", "list"]
_CONFIG_TYPES: dict[str, ConfigType] = {
    "int": "number",
    "number": "number",
    "bool": "bool",
    "string": "string",
    "enum": "string",
    "duration": "duration",
    "list[int]": "list",
    "list[number]": "list",
    "list[string]": "list",
}


def _hint(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean '{close[0]}'?" if close else ""


class _Checker:
    def __init__(self, wf: Workflow, top: _Sourced, entries: list[_Sourced]) -> None:
        self.wf = wf
        self.top = top
        # By identity: with a duplicate stage id, each stage's problems must still point into its own source.
        self.entries = {id(st): entry for st, entry in zip(wf.stages, entries, strict=True)}
        self.problems: list[Problem] = []
        self.roles = set(wf.roles)
        self.stage_ids = {s.id for s in wf.stages}
        self.metrics: dict[str, Metric] = {}
        # Metrics declared in a file but left out because their declaration is invalid (already reported):
        # a condition naming one is not "unknown", else one typo in an extending file would bring a dozen
        # follow-on errors located in the base file, with a wrong did-you-mean.
        declared = {name for e in entries if isinstance(e.data.get("metrics"), dict) for name in e.data["metrics"]}
        self.invalid_metrics = frozenset(
            str(name) for name in declared if not any(name in st.metrics for st in wf.stages)
        )
        self.artifacts: set[str] = set(wf.artifacts)
        self._schemas: dict[int, ConditionSchema] = {}
        self._levels: dict[str, frozenset[str]] | None = None

    # -- helpers ---------------------------------------------------------------------------
    def at(self, stage: Stage | None, path: PathKey, message: str, hint: str = "") -> None:
        where = self.top if stage is None else self.entries[id(stage)]
        label = "" if stage is None else f"stage {stage.id}: "
        self.problems.append(where.locate(path, label + message, hint))

    def role(self, stage: Stage | None, path: PathKey, role: str | None) -> None:
        if role is not None and role not in self.roles:
            self.at(
                stage,
                path,
                f"unknown role '{role}'",
                _hint(role, self.roles) or "roles: " + ", ".join(sorted(self.roles)),
            )

    def target(self, stage: Stage, path: PathKey, target: Target | None, *, earlier: bool) -> None:
        if target is None:
            return
        if isinstance(target, int):
            if target not in self.stage_ids:
                self.at(stage, path, f"unknown stage {target}")
            elif earlier and target > stage.id:
                self.at(
                    stage,
                    path,
                    f"recursion goes back, but stage {target} comes after stage {stage.id}",
                )
            return
        found = self.wf.find_substage(target)
        if found is None:
            self.at(
                stage,
                path,
                f"unknown substage '{target}'",
                _hint(target, [s.id for s in stage.substages]),
            )
        elif earlier and found[0].id > stage.id:
            self.at(
                stage,
                path,
                f"recursion goes back, but substage {target} comes after stage {stage.id}",
            )

    def config_ref(self, stage: Stage | None, path: PathKey, value: str, want: ConfigType) -> None:
        if not value.startswith("config."):
            return
        key = value.removeprefix("config.")
        param = self.wf.config_param(key, stage.id if stage else None)
        if param is None:
            known = list(stage.config if stage else []) + list(self.wf.config)
            self.at(stage, path, f"unknown config parameter '{key}'", _hint(key, known))
        elif _CONFIG_TYPES[param.type] != want:
            self.at(stage, path, f"config parameter '{key}' is {param.type}, expected {want}")

    # -- checks ----------------------------------------------------------------------------
    def run(self) -> list[Problem]:
        self.collect()
        self.workflow_level()
        self.notifications()
        for stage in self.wf.stages:
            self.stage(stage)
        self.cycles()
        return self.problems

    def collect(self) -> None:
        seen: dict[int, Stage] = {}
        artifact_home: dict[str, int] = {}
        trigger_home: dict[str, int] = {}
        for stage in self.wf.stages:
            if stage.id in seen:
                self.at(stage, ("id",), f"duplicate stage id {stage.id}")
            seen[stage.id] = stage
            for name in stage.artifacts:
                if name in artifact_home or name in self.wf.artifacts:
                    self.at(
                        stage,
                        ("artifacts", name),
                        f"artifact '{name}' is already declared (stage {artifact_home.get(name, 'workflow')})",
                        "declare it once; list it in inputs/outputs elsewhere",
                    )
                artifact_home.setdefault(name, stage.id)
                self.artifacts.add(name)
            for name, metric in stage.metrics.items():
                prior = self.metrics.get(name)
                if prior is not None and prior.unit != metric.unit:
                    self.at(
                        stage,
                        ("metrics", name, "unit"),
                        f"metric '{name}' is declared elsewhere with unit {prior.unit}",
                    )
                self.metrics.setdefault(name, metric)
            for i, trig in enumerate(stage.triggers):
                if trig.id in trigger_home:
                    self.at(
                        stage,
                        ("triggers", i, "id"),
                        f"duplicate trigger id '{trig.id}' (also in stage {trigger_home[trig.id]})",
                    )
                trigger_home.setdefault(trig.id, stage.id)

    def workflow_level(self) -> None:
        d = self.wf.defaults
        self.role(None, ("defaults", "escalation_role"), d.escalation_role)
        self.role(None, ("defaults", "loop_prevention", "role"), d.loop_prevention.role)
        for r in d.approval.bypass.roles if d.approval.bypass else []:
            self.role(None, ("defaults", "approval", "bypass", "roles"), r)
        for key, param in self.wf.config.items():
            self.param(None, ("config", key), param)
        for name, art in self.wf.artifacts.items():
            self.schema(None, ("artifacts", name, "schema"), art.json_schema)

    def notifications(self) -> None:
        """Routes name declared channels; `$` in a channel setting is a well-formed `${NAME}` reference."""
        cfg = self.wf.notifications
        if cfg is None:
            return
        for i, route in enumerate(cfg.routes):
            for j, name in enumerate(route.channels):
                if name not in cfg.channels:
                    known = cfg.channels.keys()
                    hint = _hint(name, known) or ("channels: " + ", ".join(sorted(known)) if known else "")
                    self.at(None, ("notifications", "routes", i, "channels", j), f"unknown channel '{name}'", hint)
        for name, channel in cfg.channels.items():
            for key in ("url", "secret", "sender", "smtp_host", "smtp_port", "smtp_user", "smtp_password"):
                self.env_refs(("notifications", "channels", name, key), str(getattr(channel, key)))
            for j, to in enumerate(channel.to):
                self.env_refs(("notifications", "channels", name, "to", j), to)

    def env_refs(self, path: PathKey, value: str) -> None:
        if "$" in ENV_REF_RE.sub("", value):
            self.at(None, path, f"'{value}' has a `$` that is not a `${{NAME}}` reference", "write ${NAME}")

    def stage(self, st: Stage) -> None:
        self.role(st, ("owner",), st.owner)
        for i, dep in enumerate(st.depends_on):
            if dep not in self.stage_ids:
                self.at(st, ("depends_on", i), f"depends on unknown stage {dep}")
        seen_sub: set[str] = set()
        agents = {a.name for a in st.crew.agents} if st.crew else set()
        for i, sub in enumerate(st.substages):
            if sub.id in seen_sub:
                self.at(st, ("substages", i, "id"), f"duplicate substage id '{sub.id}'")
            seen_sub.add(sub.id)
            if sub.id.split(".")[0] != str(st.id):
                self.at(
                    st,
                    ("substages", i, "id"),
                    f"substage '{sub.id}' does not belong to stage {st.id}",
                    f"number it {st.id}.{i + 1}",
                )
            if sub.agent is not None and sub.agent not in agents:
                self.at(
                    st,
                    ("substages", i, "agent"),
                    f"unknown agent '{sub.agent}'",
                    _hint(sub.agent, agents) or "declare it under crew.agents",
                )
            self.gate(st, ("substages", i, "entry"), sub.entry)
        if st.crew is not None:
            for j, agent in enumerate(st.crew.agents):
                for k, sid in enumerate(agent.substages):
                    if sid not in seen_sub:
                        self.at(
                            st,
                            ("crew", "agents", j, "substages", k),
                            f"agent {agent.name} serves unknown substage '{sid}'",
                        )
        for key in ("inputs", "outputs"):
            for i, name in enumerate(getattr(st, key)):
                if name not in self.artifacts:
                    self.at(
                        st,
                        (key, i),
                        f"unknown artifact '{name}'",
                        _hint(name, self.artifacts) or "declare it under artifacts:",
                    )
        for name, art in st.artifacts.items():
            self.schema(st, ("artifacts", name, "schema"), art.json_schema)
        for name, metric in st.metrics.items():
            self.levels(st, name, metric)
        for key, param in st.config.items():
            self.param(st, ("config", key), param)
        self.gate(st, ("gates", "entry"), st.gates.entry)
        self.gate(st, ("gates", "exit"), st.gates.exit)
        for role, pol in st.approvals.items():
            self.role(st, ("approvals", role), role)
            self.config_ref(st, ("approvals", role, "timeout"), pol.timeout, "duration")
            for r in pol.bypass.roles if pol.bypass else []:
                self.role(st, ("approvals", role, "bypass", "roles"), r)
        for i, trig in enumerate(st.triggers):
            p: PathKey = ("triggers", i)
            self.condition(st, (*p, "when"), trig.when)
            self.config_ref(st, (*p, "for"), trig.for_, "duration")
            self.config_ref(st, (*p, "cooldown"), trig.cooldown, "duration")
            self.role(st, (*p, "role"), trig.role)
            for r in trig.action.notify:
                self.role(st, (*p, "action", "notify"), r)
            self.target(st, (*p, "action", "go_to"), trig.action.go_to, earlier=True)
            if trig.kind == "advance" and self.wf.next_stage(st.id) is None:
                self.at(st, (*p, "kind"), "an advance trigger on the last stage has nowhere to go")
            for sc in trig.action.scope:
                if sc not in st.rollback.scopes:
                    self.at(
                        st,
                        (*p, "action", "scope"),
                        f"unknown rollback scope '{sc}'",
                        "declare it under rollback.scopes",
                    )
        seen_err: set[str] = set()
        for i, rule in enumerate(st.errors):
            if rule.id in seen_err:
                self.at(st, ("errors", i, "id"), f"duplicate error rule id '{rule.id}'")
            seen_err.add(rule.id)
            self.recovery(st, ("errors", i, "recovery"), rule.recovery)
        for i, br in enumerate(st.rollback.decision_tree):
            self.target(st, ("rollback", "decision_tree", i, "go_to"), br.go_to, earlier=False)
            for sc in br.scope:
                if sc not in st.rollback.scopes:
                    self.at(
                        st,
                        ("rollback", "decision_tree", i, "scope"),
                        f"unknown rollback scope '{sc}'",
                    )
        prog = st.progression
        if prog is not None:
            for mode, runs in prog.promote_after.items():
                if runs < 1:
                    self.at(
                        st,
                        ("progression", "promote_after", mode),
                        "promotion needs at least 1 successful run",
                    )

    def recovery(self, st: Stage, path: PathKey, rec: Recovery) -> None:
        self.target(st, (*path, "go_to"), rec.go_to, earlier=False)
        self.role(st, (*path, "role"), rec.role)
        if rec.action == "recurse" and rec.go_to is None:
            self.at(st, (*path, "action"), "recovery 'recurse' needs go_to")
        if parse_duration(rec.backoff) > parse_duration(rec.max_backoff):
            self.at(st, (*path, "backoff"), "backoff is larger than max_backoff")
        if rec.then is not None:
            self.recovery(st, (*path, "then"), rec.then)

    def gate(self, st: Stage, path: PathKey, checks: list[GateCheck]) -> None:
        for i, chk in enumerate(checks):
            p = (*path, i)
            if isinstance(chk, ConditionCheck):
                self.condition(st, (*p, "check"), chk.check, gate=True)
            elif isinstance(chk, ArtifactCheck) and chk.artifact not in self.artifacts:
                self.at(
                    st,
                    (*p, "artifact"),
                    f"unknown artifact '{chk.artifact}'",
                    _hint(chk.artifact, self.artifacts),
                )
            elif isinstance(chk, ApprovalCheck):
                self.role(st, (*p, "approval"), chk.approval)
            elif isinstance(chk, AttestCheck):
                self.role(st, (*p, "role"), chk.role)
            elif isinstance(chk, CustomerCheck):
                if chk.customer.metric not in self.metrics and chk.customer.metric not in self.invalid_metrics:
                    self.at(
                        st,
                        (*p, "customer", "metric"),
                        f"unknown metric '{chk.customer.metric}'",
                        _hint(chk.customer.metric, self.metrics),
                    )
                wants: tuple[tuple[str, ConfigType], ...] = (
                    ("required", "bool"),
                    ("min_count", "number"),
                    ("min_value", "number"),
                    ("window", "duration"),
                )
                for name, want in wants:
                    value = getattr(chk.customer, name)
                    if isinstance(value, str):
                        self.config_ref(st, (*p, "customer", name), value, want)

    def levels(self, st: Stage, name: str, metric: Metric) -> None:
        if metric.explained_by is not None and metric.explained_by not in self.artifacts:
            self.at(
                st,
                ("metrics", name, "explained_by"),
                f"unknown artifact '{metric.explained_by}'",
                _hint(metric.explained_by, self.artifacts),
            )
        places: list[tuple[PathKey, str | None]] = [((), None)]
        places += [(("segments", seg), seg) for seg in metric.segments]
        better = "≤" if metric.direction == "higher_is_better" else "≥"
        for sub, seg in places:
            lv = metric.levels_for(seg)
            trio = [
                (k, v)
                for k, v in (("alert", lv.alert), ("threshold", lv.threshold), ("target", lv.target))
                if v is not None
            ]
            for (ka, va), (kb, vb) in itertools.pairwise(trio):
                if (metric.direction == "higher_is_better" and va > vb) or (
                    metric.direction == "lower_is_better" and va < vb
                ):
                    self.at(
                        st,
                        ("metrics", name, *sub),
                        f"metric '{name}' levels contradict {metric.direction}"
                        + (f" for {seg}" if seg else "")
                        + f": {ka} {va:g} should be {better} {kb} {vb:g}",
                        f"for {metric.direction.replace('_', '-')}: alert {better} threshold {better} target",
                    )
        if metric.frequency not in ("continuous", "per_run", "hourly", "daily", "weekly"):
            try:
                parse_duration(metric.frequency)
            except ValueError:
                self.at(
                    st,
                    ("metrics", name, "frequency"),
                    f"unknown frequency '{metric.frequency}'",
                    "continuous, per_run, hourly, daily, weekly or a duration",
                )

    def param(self, st: Stage | None, path: PathKey, param: ConfigParam) -> None:
        if param.min is not None and param.max is not None and param.min > param.max:
            self.at(st, (*path, "min"), f"min {param.min} is larger than max {param.max}")
        if param.type == "enum" and not param.allowed:
            self.at(st, (*path, "allowed"), "an enum parameter needs `allowed` values")
        self.role(st, (*path, "approval_role"), param.approval_role)
        err = param_value_error(param, param.default)
        if err:
            self.at(st, (*path, "default"), f"default {err}")
        for seg, value in param.segments.items():
            err = param_value_error(param, value)
            if err:
                self.at(st, (*path, "segments", seg), f"{seg} default {err}")

    def schema(self, st: Stage | None, path: PathKey, schema: dict[str, object] | None) -> None:
        if schema is None:
            return
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            where = "/".join(str(p) for p in exc.path) or "(root)"
            self.at(
                st,
                (*path, *exc.path),
                f"invalid JSON Schema at {where}: {exc.message}",
                "see https://json-schema.org/draft/2020-12",
            )

    def condition(self, st: Stage, path: PathKey, text: str, *, gate: bool = False) -> None:
        entry = self.entries[id(st)]
        offset = 1 if entry.quoted(path) else 0
        base = entry.locate(path, "")
        lines = text.split("\n")

        def place(line: int, column: int, message: str, hint: str) -> Problem:
            # A condition written over several lines (`>-`, `|`) is mapped back line by line.
            at = sum(len(t) + 1 for t in lines[: line - 1]) + column - 1
            hit = entry.text_position(path, at)
            if hit is not None:
                return Problem(hit[0], hit[1], hit[2], f"stage {st.id}: condition: {message}", hint)
            col = (base.column + offset + column - 1) if line == 1 else column
            return Problem(base.file, base.line + line - 1, col, f"stage {st.id}: condition: {message}", hint)

        try:
            expr = parse(text)
        except ConditionSyntaxError as exc:
            self.problems.append(place(exc.line, exc.column, exc.message, exc.hint))
            return
        found = analyze(expr, self.condition_schema(st))
        for prob in found:
            self.problems.append(place(prob.line, prob.column, prob.message, prob.hint))
        if gate and not found:
            metrics = {**self.metrics, **st.metrics}
            for d in disagreements(expr, metrics, {**self.wf.config, **st.config}):
                level = "none" if d.level is None else f"{d.level:g}"
                self.problems.append(
                    place(
                        d.line,
                        d.column,
                        f"the gate compares {d.metric} with {d.bound} ({d.value:g} for {d.segment}), but the "
                        f"metric's threshold for {d.segment} is {level}: the chart and the triggers would "
                        "draw a different line",
                        f"compare with threshold.{d.metric} (or target./alert.), and set per-segment levels "
                        f"under metrics.{d.metric}.segments",
                    )
                )

    def condition_schema(self, st: Stage) -> ConditionSchema:
        cached = self._schemas.get(st.id)
        if cached is not None:
            return cached
        if self._levels is None:
            self._levels = {
                name: frozenset(
                    k
                    for k in ("target", "threshold", "alert")
                    if any(getattr(m.levels_for(seg), k) is not None for seg in (None, *m.segments))
                )
                for name, m in self.metrics.items()
            }
        config = {**self.wf.config, **st.config}
        schema = self._schemas[st.id] = ConditionSchema(
            metrics=frozenset(self.metrics) | self.invalid_metrics,
            metric_levels={**dict.fromkeys(self.invalid_metrics, frozenset(LEVEL_KINDS)), **self._levels},
            config_types={k: _CONFIG_TYPES[p.type] for k, p in config.items()},
        )
        return schema

    def cycles(self) -> None:
        deps = {s.id: [d for d in s.depends_on if d in self.stage_ids] for s in self.wf.stages}
        state: dict[int, int] = {}

        def visit(node: int, trail: list[int]) -> None:
            state[node] = 1
            for nxt in deps[node]:
                if state.get(nxt) == 1:
                    cycle = [*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt]
                    stage = next(
                        (s for s in self.wf.stages if s.id == node and nxt in s.depends_on),
                        self.wf.stage(node),
                    )
                    self.at(stage, ("depends_on",), "dependency cycle: " + " → ".join(map(str, cycle)))
                elif state.get(nxt) is None:
                    visit(nxt, [*trail, nxt])
            state[node] = 2

        for sid in deps:
            if sid not in state:
                visit(sid, [sid])


def _fmt(value: float | None, missing: str) -> str:
    return missing if value is None else f"{value:g}"


def param_value_error(param: ConfigParam, value: ParamValue) -> str:
    """Why a value does not fit a parameter, or '' when it does."""
    t: str = param.type
    items: list[object] = list(value) if isinstance(value, list) else [value]
    if t.startswith("list["):
        if not isinstance(value, list):
            return f"{value!r} is not a list"
        t = t[5:-1]
    elif isinstance(value, list):
        return f"{value!r} is a list, expected {t}"
    for item in items:
        if t == "int" and (isinstance(item, bool) or not isinstance(item, int)):
            return f"{item!r} is not an integer"
        if t == "number" and (isinstance(item, bool) or not isinstance(item, int | float)):
            return f"{item!r} is not a number"
        if t == "bool" and not isinstance(item, bool):
            return f"{item!r} is not true or false"
        if t in ("string", "enum") and not isinstance(item, str):
            return f"{item!r} is not text"
        if t == "duration":
            try:
                parse_duration(str(item))
            except ValueError:
                return f"{item!r} is not a duration (e.g. 30s, 5m, 2h)"
        if isinstance(item, int | float) and not isinstance(item, bool):
            allowed = f"allowed {_fmt(param.min, '-∞')}–{_fmt(param.max, '∞')}"
            if param.min is not None and item < param.min:
                return f"{item!r} is below the minimum {param.min:g} ({allowed})"
            if param.max is not None and item > param.max:
                return f"{item!r} is above the maximum {param.max:g} ({allowed})"
        if param.allowed is not None and isinstance(item, str) and item not in param.allowed:
            return f"{item!r} is not one of {', '.join(param.allowed)}"
    return ""


def check_workflow(wf: Workflow, top: _Sourced, entries: list[_Sourced]) -> list[Problem]:
    """Every cross-reference problem in a workflow whose parts validated on their own."""
    return _Checker(wf, top, entries).run()
