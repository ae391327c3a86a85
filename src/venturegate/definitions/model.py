"""The workflow definition models: what a YAML workflow file turns into.

Pure data (pydantic only): the core imports these, so nothing here may read files or the clock.
Field docstrings are the reference text of docs/workflow-format.md; a test keeps the two in step.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

Segment = Literal["b2b_enterprise", "b2b_smb", "b2c_mass", "b2c_premium"]
SEGMENTS: tuple[Segment, ...] = ("b2b_enterprise", "b2b_smb", "b2c_mass", "b2c_premium")
Mode = Literal["manual", "assisted", "auto"]
Direction = Literal["higher_is_better", "lower_is_better", "informational"]
Unit = Literal[
    "percent",
    "ratio",
    "score",
    "count",
    "number",
    "ms",
    "seconds",
    "minutes",
    "hours",
    "days",
    "per_second",
    "per_week",
    "currency",
]
LevelKind = Literal["target", "threshold", "alert"]
TriggerKind = Literal["recursion", "rollback", "advance", "alert"]
ParamType = Literal[
    "int",
    "number",
    "bool",
    "string",
    "duration",
    "enum",
    "list[int]",
    "list[number]",
    "list[string]",
]
ErrorCategory = Literal["api", "network", "configuration", "performance", "provisioning", "data", "approval", "crew"]
RecoveryAction = Literal["retry", "refresh_credentials", "raise_timeout", "recurse", "escalate", "fallback", "abort"]
RollbackAction = Literal["wait_and_retry", "fix_forward", "rollback", "rollback_and_recurse", "abort"]
Severity = Literal["P0", "P1", "P2", "P3"]

DURATION_RE = re.compile(r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$")
SUBSTAGE_RE = re.compile(r"^\d+\.\d+$")


class _Model(BaseModel):
    # defer_build: the validators are built on first validation, so a command that reads a cached workflow
    # (unpickled, never validated) does not pay for building them; a model-typed default is a factory, not
    # an instance, for the same reason. Field docstrings become descriptions only where they are read
    # (`definitions.reference`): pydantic's `use_attribute_docstrings` would parse this file on every import.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _duration(value: str) -> str:
    if not DURATION_RE.match(value.strip()):
        raise ValueError(f"'{value}' is not a duration; write e.g. 30s, 5m, 2h, 1d, 1w")
    return value.strip()


def _duration_or_config(value: str) -> str:
    value = value.strip()
    if value.startswith("config."):
        return value
    return _duration(value)


Duration = Annotated[str, AfterValidator(_duration)]
DurationRef = Annotated[str, AfterValidator(_duration_or_config)]
"""A duration, or `config.<key>` naming a `duration` parameter (resolved per venture)."""
Target = int | str
"""A stage (an integer) or a substage (a string such as "28.2")."""


class WorkflowInfo(_Model):
    """Which workflow this is and its declared version."""

    id: str
    """Short machine name of the workflow, e.g. `studio-lifecycle`."""
    version: str
    """Declared version; together with the content hash it pins ventures to the definitions they started on."""
    title: str = ""
    """Human title."""
    description: str = ""
    """What the workflow is for."""


class Levels(_Model):
    """Per-segment override of a metric's levels."""

    target: float | None = None
    """Where the metric should be."""
    threshold: float | None = None
    """The gate level: worse than this fails."""
    alert: float | None = None
    """Worse than this raises an alert."""


class Metric(_Model):
    """A declared measurement with its levels."""

    title: str = ""
    """Human name of the metric."""
    description: str = ""
    """What is measured and how."""
    unit: Unit
    """Unit of a sample; `percent` samples must lie in 0–100, durations and counts must be non-negative."""
    min: float | None = None
    """Smallest value a sample may have (e.g. 1 for a 1–5 survey answer); a sample below it is refused."""
    max: float | None = None
    """Largest value a sample may have; a sample above it is refused."""
    direction: Direction = "higher_is_better"
    """Which way is better; the loader checks that the levels agree with it."""
    target: float | None = None
    """Default target level."""
    threshold: float | None = None
    """Default threshold (gate) level."""
    alert: float | None = None
    """Default alert level."""
    frequency: str = "per_run"
    """How often it is measured: `continuous`, `per_run`, `hourly`, `daily`, `weekly` or a duration."""
    window: Duration = "1h"
    """Default window for window functions that omit one, and for dashboards."""
    segments: dict[Segment, Levels] = {}
    """Per-segment overrides of target / threshold / alert."""
    explained_by: str | None = None
    """An artifact whose latest version records how the metric's latest value was computed (its components);
    gate explanations show it beside every check that reads the metric."""

    def levels_for(self, segment: str | None) -> Levels:
        """The levels for a segment: the override where given, else the default."""
        base = Levels(target=self.target, threshold=self.threshold, alert=self.alert)
        over = next((lv for seg, lv in self.segments.items() if seg == segment), None)
        if over is None:
            return base
        return Levels(
            target=over.target if over.target is not None else base.target,
            threshold=over.threshold if over.threshold is not None else base.threshold,
            alert=over.alert if over.alert is not None else base.alert,
        )


ParamValue = int | float | bool | str | list[int] | list[float] | list[str]


class ConfigParam(_Model):
    """A typed, ranged configuration parameter."""

    type: ParamType
    """Value type; `duration` values are strings such as `5m`, `enum` values must be in `allowed`."""
    default: ParamValue
    """Workflow default."""
    min: float | None = None
    """Smallest allowed value (numbers, and each item of a numeric list)."""
    max: float | None = None
    """Largest allowed value."""
    allowed: list[str] | None = None
    """Allowed values for `enum` and `list[string]`."""
    unit: str = ""
    """Unit the value is expressed in (free text, e.g. `percent`, `ms`)."""
    description: str = ""
    """What the parameter controls."""
    segments: dict[Segment, ParamValue] = {}
    """Per-segment defaults, between the workflow default and a venture override."""
    approval_role: str | None = None
    """Role that must approve changes to this parameter (e.g. exit-gate thresholds); none: any writer."""


class ArtifactDef(_Model):
    """A named JSON document a stage consumes or produces."""

    title: str = ""
    """Human name of the artifact."""
    description: str = ""
    """What the document holds."""
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    """JSON Schema (Draft 2020-12) the content must satisfy; written as `schema:`. None accepts any JSON object."""


class ConditionCheck(_Model):
    """Gate check: a condition that must be true."""

    check: str
    """A condition in the condition language that must be true."""
    name: str = ""
    """Label shown in explanations; defaults to the condition text."""
    on_fail: str = ""
    """What to do when it fails (advice shown in the explanation)."""


class ArtifactCheck(_Model):
    """Gate check: an artifact present and schema-valid."""

    artifact: str
    """Name of an artifact that must be present and schema-valid."""
    name: str = ""
    """Label shown in explanations."""
    on_fail: str = ""
    """Advice shown when it fails."""


class ApprovalCheck(_Model):
    """Gate check: an approval granted by a role."""

    approval: str
    """Role whose approval is required; its timeout and bypass policy come from `approvals`."""
    name: str = ""
    """Label shown in explanations."""
    on_fail: str = ""
    """Advice shown when it fails."""


class AttestCheck(_Model):
    """Gate check: a written criterion a person attests."""

    attest: str
    """A written criterion a person must attest to."""
    role: str | None = None
    """Role that may attest; none means any human."""
    name: str = ""
    """Label shown in explanations; defaults to the criterion."""
    on_fail: str = ""
    """Advice shown when it fails."""


class SubstagesDoneCheck(_Model):
    """Gate check: every substage complete (`- substages_done`)."""

    substages_done: bool = True
    """All substages of the stage are complete."""
    name: str = ""
    """Label shown in explanations."""
    on_fail: str = ""
    """Advice shown when it fails."""


class CustomerSpec(_Model):
    """What counts as enough customer feedback; each number may be `config.<key>`, so that ventures set it."""

    metric: str
    """Metric holding customer feedback samples (survey or NPS scores)."""
    min_count: int | str = 5
    """How many responses are needed; `config.<key>` reads an `int` parameter (e.g. `config.customer.min_count`)."""
    min_value: float | str | None = None
    """Lowest acceptable mean of the responses, if any; `config.<key>` reads a number parameter."""
    window: DurationRef = "30d"
    """How far back responses count; `config.<key>` reads a `duration` parameter."""
    required: bool | str = True
    """Whether the check applies; `config.<key>` reads a `bool` parameter, so a venture can switch it on or off."""

    @field_validator("min_count", "min_value", "required", mode="before")
    @classmethod
    def _value_or_config(cls, value: Any, info: ValidationInfo) -> Any:
        kind = {"min_count": "whole number", "min_value": "number", "required": "true/false"}[str(info.field_name)]
        if isinstance(value, str) and (not value.strip().startswith("config.") or value.strip() == "config."):
            raise ValueError(f"'{value}' is neither a {kind} nor config.<key> (e.g. config.customer.{info.field_name})")
        if isinstance(value, str):
            return value.strip()
        if info.field_name == "min_count" and isinstance(value, int) and (isinstance(value, bool) or value < 1):
            raise ValueError(f"min_count must be a whole number of at least 1, not {value}")
        return value


class CustomerCheck(_Model):
    """Gate check: a customer checkpoint."""

    customer: CustomerSpec
    """A customer checkpoint: enough recorded customer feedback."""
    name: str = ""
    """Label shown in explanations."""
    on_fail: str = ""
    """Advice shown when it fails."""


CHECK_KINDS: dict[str, type[_Model]] = {
    "check": ConditionCheck,
    "artifact": ArtifactCheck,
    "approval": ApprovalCheck,
    "attest": AttestCheck,
    "substages_done": SubstagesDoneCheck,
    "customer": CustomerCheck,
}


def _check_kind(value: Any) -> str | None:
    """The kind key of a raw or parsed gate check (None makes pydantic report the union)."""
    if isinstance(value, dict):
        kinds = [k for k in CHECK_KINDS if k in value]
        return kinds[0] if len(kinds) == 1 else None
    for kind, cls in CHECK_KINDS.items():
        if isinstance(value, cls):
            return kind
    return None


GateCheck = Annotated[
    Annotated[ConditionCheck, Tag("check")]
    | Annotated[ArtifactCheck, Tag("artifact")]
    | Annotated[ApprovalCheck, Tag("approval")]
    | Annotated[AttestCheck, Tag("attest")]
    | Annotated[SubstagesDoneCheck, Tag("substages_done")]
    | Annotated[CustomerCheck, Tag("customer")],
    Discriminator(
        _check_kind,
        custom_error_type="gate_check",
        custom_error_message=(
            "a gate check needs exactly one of the keys "
            + ", ".join(CHECK_KINDS)
            + ' (a written criterion is `- attest: "..."`)'
        ),
    ),
]


def _shorthand_check(value: Any) -> Any:
    """`- substages_done` is shorthand for `- substages_done: true`."""
    if value == "substages_done":
        return {"substages_done": True}
    return value


class Gates(_Model):
    """A stage's entry and exit gates."""

    entry: list[GateCheck] = []
    """Checks that must pass to enter the stage."""
    exit: list[GateCheck] = []
    """Checks that must pass to leave the stage."""

    @field_validator("entry", "exit", mode="before")
    @classmethod
    def _checks(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_shorthand_check(v) for v in value]
        return value


class Substage(_Model):
    """A step of a stage with its done-when items."""

    id: str
    """`<stage>.<n>`, e.g. `19.1`."""
    title: str
    """Human name."""
    done_when: list[str] = []
    """Items that must all be attested when the substage is completed."""
    agent: str | None = None
    """Agent of the stage's crew that does this substage's work."""
    entry: list[GateCheck] = []
    """Checks that must pass before work on the substage starts (e.g. an approval before a cutover)."""

    @field_validator("entry", mode="before")
    @classmethod
    def _checks(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_shorthand_check(v) for v in value]
        return value

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not SUBSTAGE_RE.match(value):
            raise ValueError(f"substage id '{value}' must look like 19.1")
        return value


class Action(_Model):
    """What a trigger does when it fires."""

    go_to: Target | None = None
    """Recursion target: a substage of this stage (`"28.2"`) or an earlier stage (`14`)."""
    rollback_to: str | None = None
    """Rollback target: a snapshot name such as `pre-stage-30`, or a config version."""
    scope: list[str] = []
    """Rollback scopes whose handlers run (e.g. `traffic`, `campaigns`)."""
    advance: bool = False
    """Advance to the next stage when the exit gate passes."""
    severity: Severity = "P2"
    """Severity of the notification the action sends."""
    notify: list[str] = []
    """Roles notified when the trigger fires."""


class Trigger(_Model):
    """A rule that watches data and acts: condition, `for` duration, action, mode and limits."""

    id: str
    """Unique id, e.g. `PERF-002`; escalations and `recursions("ID")` name it."""
    kind: TriggerKind
    """`recursion`, `rollback`, `advance` or `alert`."""
    when: str
    """Condition (condition language) that makes the trigger pending."""
    for_: DurationRef = Field(default="0s", alias="for")
    """How long the condition must stay true before the trigger fires (`for:` in YAML)."""
    action: Action = Field(default_factory=Action)
    """What firing does."""
    mode: Mode = "auto"
    """`auto` acts, `assisted` asks `role` to approve the action, `manual` only notifies."""
    max: int | None = Field(default=None, ge=1)
    """How many times it may act for one venture before it escalates instead; none means no limit."""
    cooldown: DurationRef = "0s"
    """Quiet period after firing during which it does not fire again."""
    role: str = "lead"
    """Role that approves an assisted action and owns escalations."""
    description: str = ""
    """Why the trigger exists, in words."""

    @model_validator(mode="after")
    def _action_fits_kind(self) -> Trigger:
        if self.kind == "recursion" and self.action.go_to is None:
            raise ValueError("a recursion trigger needs action.go_to (a substage or an earlier stage)")
        if self.kind == "advance" and not self.action.advance:
            raise ValueError("an advance trigger needs action.advance: true")
        return self


class BypassPolicy(_Model):
    """Who may bypass an approval in an emergency."""

    roles: list[str] = ["chairman"]
    """Roles that may bypass the approval in an emergency."""
    reason_required: bool = True
    """A written reason is mandatory."""


class ApprovalPolicy(_Model):
    """How approvals for a role behave: timeout, expiry, bypass."""

    timeout: DurationRef = "24h"
    """How long a request stays open."""
    on_timeout: Literal["expire", "escalate"] = "expire"
    """What expiry does: the request expires (the gate stays closed), or it also escalates."""
    bypass: BypassPolicy | None = Field(default_factory=BypassPolicy)
    """Emergency bypass policy; null forbids bypass."""
    description: str = ""
    """What is being approved."""


class ErrorMatch(_Model):
    """How an error is recognised."""

    exception: list[str] = []
    """Exception class names that match (e.g. `TimeoutError`)."""
    status: list[int] = []
    """HTTP status codes that match."""
    message: str | None = None
    """Regular expression searched in the error message."""

    @field_validator("message")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"message pattern is not a valid regular expression: {exc}") from exc
        return value


class Recovery(_Model):
    """What is done about a classified error."""

    action: RecoveryAction
    """retry, refresh_credentials, raise_timeout, recurse, escalate, fallback or abort."""
    attempts: int = Field(default=3, ge=1)
    """Attempts before giving up and moving to `then`."""
    backoff: Duration = "1s"
    """Initial backoff between attempts (exponential, with jitter)."""
    max_backoff: Duration = "30s"
    """Backoff cap."""
    go_to: Target | None = None
    """Stage or substage for `recurse`."""
    role: str | None = None
    """Role for `escalate`."""
    then: Recovery | None = None
    """What to do when this recovery is exhausted."""


class ErrorRule(_Model):
    """One entry of a stage's error taxonomy."""

    id: str
    """Unique id within the stage."""
    category: ErrorCategory
    """Taxonomy category."""
    description: str = ""
    """What kind of failure this is."""
    match: ErrorMatch = Field(default_factory=ErrorMatch)
    """How an error is recognised; the first matching rule wins."""
    recovery: Recovery
    """What is done about it."""


class RollbackBranch(_Model):
    """One branch of a stage's rollback decision tree."""

    cause: str
    """Cause class this branch handles, e.g. `transient`, `configuration`, `systemic`."""
    description: str = ""
    """How to recognise the cause."""
    action: RollbackAction
    """wait_and_retry, fix_forward, rollback, rollback_and_recurse or abort."""
    go_to: Target | None = None
    """Stage or substage to recurse to after rolling back."""
    scope: list[str] = []
    """Rollback scopes this branch restores."""


class Rollback(_Model):
    """A stage's rollback scopes and decision tree."""

    snapshot_on_entry: bool = True
    """Take a `pre-stage-N` snapshot of the configuration on entering the stage."""
    scopes: list[str] = []
    """Names of the things a rollback of this stage can restore (handlers register per scope)."""
    decision_tree: list[RollbackBranch] = []
    """Branches tried in order; the first whose cause matches applies."""
    timeout: Duration = "5m"
    """A rollback still running after this escalates."""


class Agent(_Model):
    """One agent of a crew."""

    name: str
    """Agent name, e.g. `APITester`."""
    role: str = ""
    """What the agent does."""
    substages: list[str] = []
    """Substages it serves."""


class Crew(_Model):
    """The automation of a stage: a plugin and its agents."""

    name: str
    """Crew name, e.g. `IntegrationVerificationCrew`."""
    plugin: str = ""
    """Entry-point name in the `venturegate.crews` group that implements it."""
    agents: list[Agent] = []
    """Its agents, one or more per substage."""


class Progression(_Model):
    """Progression mode (manual → assisted → auto) and its promotion rules."""

    mode: Mode = "manual"
    """Starting progression mode of the stage."""
    promote_after: dict[Literal["manual", "assisted"], int] = {"manual": 5, "assisted": 10}
    """Successful runs after which the mode is promoted (manual → assisted → auto)."""
    demote_on_failure: bool = True
    """A failed run demotes the mode by one step."""


class LoopPrevention(_Model):
    """How many bounces between stages are allowed before escalation."""

    max_bounces: int = Field(default=3, ge=1)
    """How many times a venture may re-enter the same stage within `window` before it escalates."""
    window: Duration = "7d"
    """The window for counting bounces."""
    role: str = "chairman"
    """Role that owns loop escalations."""


class Stage(_Model):
    """A stage of the lifecycle."""

    id: int = Field(ge=1)
    """Stage number."""
    title: str
    """Human name."""
    description: str = ""
    """What the stage achieves, in a sentence or two."""
    owner: str | None = None
    """Role accountable for the stage."""
    depends_on: list[int] = []
    """Stages that must be complete before this one."""
    progression: Progression | None = None
    """Progression mode and promotion rules; the workflow default when omitted."""
    substages: list[Substage] = []
    """Its substages, in order."""
    inputs: list[str] = []
    """Artifacts the stage consumes (declared in some stage's `artifacts`)."""
    outputs: list[str] = []
    """Artifacts the stage produces."""
    artifacts: dict[str, ArtifactDef] = {}
    """Artifact declarations with their JSON Schemas."""
    gates: Gates = Field(default_factory=Gates)
    """Entry and exit gates."""
    metrics: dict[str, Metric] = {}
    """Metrics measured in this stage."""
    config: dict[str, ConfigParam] = {}
    """Typed configuration parameters of the stage (dotted names, e.g. `rollback.errorRateThreshold`)."""
    triggers: list[Trigger] = []
    """Rules that watch the data and act."""
    approvals: dict[str, ApprovalPolicy] = {}
    """Approval policies by role, used by approval checks and assisted triggers."""
    errors: list[ErrorRule] = []
    """Error taxonomy and recovery rules, tried in order."""
    rollback: Rollback = Field(default_factory=Rollback)
    """Rollback scopes and decision tree."""
    crew: Crew | None = None
    """The crew that automates the stage."""
    customer_touchpoint: str = ""
    """Where customers are asked for feedback in this stage, if anywhere."""

    def substage(self, substage_id: str) -> Substage | None:
        """The substage with that id, if it belongs to this stage."""
        return next((s for s in self.substages if s.id == substage_id), None)


class Defaults(_Model):
    """Workflow-wide defaults."""

    progression: Progression = Field(default_factory=Progression)
    """Progression used by stages that do not set their own."""
    approval: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    """Approval policy for roles a stage does not list."""
    loop_prevention: LoopPrevention = Field(default_factory=LoopPrevention)
    """Bounce limit before a loop escalates."""
    escalation_role: str = "chairman"
    """Role that owns escalations when a trigger names none."""


class Workflow(_Model):
    """A versioned set of stage definitions."""

    workflow: WorkflowInfo
    """Identity and version."""
    roles: list[str] = ["chairman", "lead", "plan", "exec", "agent", "viewer"]
    """Roles that may appear in approvals, triggers and attestations."""
    defaults: Defaults = Field(default_factory=Defaults)
    """Workflow-wide defaults."""
    config: dict[str, ConfigParam] = {}
    """Workflow-wide configuration parameters, visible from every stage."""
    artifacts: dict[str, ArtifactDef] = {}
    """Workflow-wide artifact declarations."""
    stages: list[Stage] = []
    """The stages, in order."""
    notifications: Notifications | None = None
    """Notification channels and routing (README, "Notifications"); none: events notify nobody."""

    def stage(self, stage_id: int) -> Stage | None:
        """The stage with that id."""
        return next((s for s in self.stages if s.id == stage_id), None)

    def next_stage(self, stage_id: int) -> Stage | None:
        """The stage after this one in order, if any."""
        ids = [s.id for s in self.stages]
        if stage_id not in ids:
            return None
        i = ids.index(stage_id)
        return self.stages[i + 1] if i + 1 < len(self.stages) else None

    def artifact(self, name: str) -> ArtifactDef | None:
        """The declaration of an artifact, wherever it is declared."""
        if name in self.artifacts:
            return self.artifacts[name]
        for stage in self.stages:
            if name in stage.artifacts:
                return stage.artifacts[name]
        return None

    def metric(self, name: str, stage_id: int | None = None) -> Metric | None:
        """A metric's declaration, preferring the given stage's."""
        if stage_id is not None:
            st = self.stage(stage_id)
            if st is not None and name in st.metrics:
                return st.metrics[name]
        for stage in self.stages:
            if name in stage.metrics:
                return stage.metrics[name]
        return None

    def config_param(self, key: str, stage_id: int | None = None) -> ConfigParam | None:
        """A config parameter visible from a stage: the stage's own, else workflow-wide."""
        if stage_id is not None:
            st = self.stage(stage_id)
            if st is not None and key in st.config:
                return st.config[key]
        return self.config.get(key)

    def approval_policy(self, stage_id: int, role: str) -> ApprovalPolicy:
        """The approval policy for a role in a stage."""
        st = self.stage(stage_id)
        if st is not None and role in st.approvals:
            return st.approvals[role]
        return self.defaults.approval

    def progression_for(self, stage_id: int) -> Progression:
        """The progression rules of a stage."""
        st = self.stage(stage_id)
        if st is not None and st.progression is not None:
            return st.progression
        return self.defaults.progression

    def find_substage(self, substage_id: str) -> tuple[Stage, Substage] | None:
        """The stage and substage for an id like `19.2`."""
        head = substage_id.split(".", 1)[0]
        if not head.isdigit():
            return None
        st = self.stage(int(head))
        sub = st.substage(substage_id) if st is not None else None
        return (st, sub) if st is not None and sub is not None else None


ChannelType = Literal["slack", "email", "webhook"]
GroupBy = Literal["venture", "kind", "kind_prefix", "stage", "severity"]
ENV_REF_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""`${NAME}` in a channel setting: the environment variable NAME, read when a notification is delivered."""


class Channel(_Model):
    """A notification channel: a Slack incoming webhook, an SMTP mailbox or a signed JSON webhook."""

    type: ChannelType
    """`slack` (incoming webhook), `email` (SMTP) or `webhook` (JSON POST signed with HMAC-SHA256)."""
    url: str = ""
    """Slack webhook URL or webhook endpoint (`slack`, `webhook`); `${NAME}` reads an environment variable."""
    secret: str = ""
    """HMAC-SHA256 signing key of a `webhook` channel; write `${NAME}` so that it stays out of the file."""
    to: list[str] = []
    """Recipients of an `email` channel; each may be `${NAME}`."""
    sender: str = "venturegate@localhost"
    """From address of an `email` channel."""
    smtp_host: str = "localhost"
    """SMTP server of an `email` channel; may be `${NAME}`."""
    smtp_port: str | int = 25
    """SMTP port; may be `${NAME}`."""
    smtp_user: str = ""
    """SMTP login, if the server wants one; may be `${NAME}`."""
    smtp_password: str = ""
    """SMTP password; write `${NAME}`."""
    starttls: bool = False
    """Upgrade the SMTP connection with STARTTLS."""
    timeout: Duration = "10s"
    """How long one delivery attempt may take before it counts as failed."""

    @model_validator(mode="after")
    def _complete(self) -> Channel:
        if self.type in ("slack", "webhook") and not self.url:
            raise ValueError(f"a {self.type} channel needs `url` (e.g. ${{VENTUREGATE_SLACK_WEBHOOK}})")
        if self.type == "webhook" and not self.secret:
            raise ValueError("a webhook channel needs `secret` (the HMAC key, e.g. ${VENTUREGATE_WEBHOOK_SECRET})")
        if self.type == "email" and not self.to:
            raise ValueError("an email channel needs `to` (one or more recipients)")
        return self


class Route(_Model):
    """A routing rule: notifications of the events it matches go to its channels."""

    kinds: list[str] = ["*"]
    """Event kinds matched, as glob patterns (`rollback.*`, `approval.requested`, `*`)."""
    severity: list[Severity] = []
    """Severities matched (`[P0, P1]`); empty matches every severity."""
    stages: list[int] = []
    """Stages matched (the event's stage); empty matches every stage."""
    channels: list[str] = Field(min_length=1)
    """Names of channels (declared under `notifications.channels`) the notification goes to."""


class Notifications(_Model):
    """Where event notifications go: channels, routing rules, grouping and retries."""

    channels: dict[str, Channel] = {}
    """Channels by name."""
    routes: list[Route] = []
    """Routing rules; every rule that matches an event adds its channels (each channel gets an event once)."""
    severities: dict[str, Severity] = {}
    """Severity by event kind (glob patterns, first match wins), before the built-in mapping (README)."""
    group_wait: Duration = "30s"
    """Notifications with the same group key arriving within this time are sent as one message."""
    group_by: list[GroupBy] = ["venture", "kind_prefix"]
    """What, besides the channel, makes up the group key: venture, kind, kind_prefix (`rollback`), stage, severity."""
    max_attempts: int = Field(default=8, ge=1)
    """Delivery attempts before a notification is dead-lettered (`venturegate outbox --status dead`)."""
    backoff: Duration = "30s"
    """Wait after the first failed attempt; doubled after each further one."""
    max_backoff: Duration = "1h"
    """Longest wait between attempts."""
    lease: Duration = "10m"
    """How long a deliverer holds the notifications it claimed; if it dies, another sends them after this."""
