"""Request and response bodies of the REST API (the OpenAPI document is generated from these).

Responses are the engine's records themselves (frozen dataclasses, which FastAPI serialises): a field is
declared once, in the engine, and the API, the CLI's `--json` and the dashboard show the same keys. Only
shapes the engine has no record for (a venture with its visits, a gate's explanation, counts) are declared
here. Requests refuse what the store cannot hold (NUL characters, times outside years 1–9999 in UTC, numbers that
are not finite) so that bad input is a 422 that names the field, never a database error.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    WithJsonSchema,
    model_validator,
)
from pydantic.dataclasses import dataclass

from venturegate.crews.base import AgentSpec
from venturegate.engine import (
    SampleIn,
    configuration,
    error_recovery,
    escalations,
    jobs,
    outbox,
    records,
    rollbacks,
    stats,
)
from venturegate.engine.approvals import ReviewedApproval

MAX_BATCH = 10_000
"""Most samples one `POST /api/metrics` takes."""
CONFIG_REF = r"^([0-9]{1,18}|[A-Za-z][A-Za-z0-9._-]{0,119})$"
"""A configuration version number, a snapshot name, or `current`."""
SNAPSHOT_NAME = r"^[A-Za-z][A-Za-z0-9._-]{0,119}$"
"""What names a snapshot (the engine's rule, less the names it reserves)."""
MAX_ID = 2**63 - 1
MAX_VERSION = 2**31 - 1
"""Versions (artifacts, configuration) are 32-bit integers in the store."""
"""Largest id a path or query accepts (the store's BIGINT)."""


NUL_MESSAGE = "text cannot contain NUL (\\u0000) characters"


def no_nul(text: str) -> str:
    """Refuse NUL characters (PostgreSQL cannot store them in text)."""
    if "\x00" in text:
        raise ValueError(NUL_MESSAGE)
    return text


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None


# Text rules as regular expressions, so that the OpenAPI document states exactly what is validated. They use
# only what JSON Schema (ECMA 262), Python's `re` and pydantic's Rust engine read alike: classes and alternation.
_SPACE = r"\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""What `str.strip()` removes (the characters `str.isspace()` holds)."""
_ANY = r"[^\x00]"
_SOLID = rf"[^\x00{_SPACE}]"
"""A character that is neither NUL nor white space."""
_WORD = rf"[^\x000-9{_SPACE}]"
"""A character that is neither NUL, white space nor an ASCII digit."""
NO_NUL = rf"^{_ANY}*$"
"""Any text the store can hold (no NUL)."""
NOT_BLANK = rf"^{_ANY}*{_SOLID}{_ANY}*$"
"""Text with something besides white space (and no NUL)."""
VENTURE_NAME = rf"^(?:{_WORD}|{_WORD}{_ANY}*{_SOLID}|{_SOLID}{_ANY}*{_WORD}|{_SOLID}{_ANY}*[^\x000-9]{_ANY}*{_SOLID})$"
"""A venture name: no white space at either end, and not only ASCII digits (digits name a venture by id)."""


def check_ref(text: str) -> str:
    """A venture reference, white space around it removed: a name, or ASCII digits naming an id."""
    text = text.strip()
    if not text:
        raise ValueError("give a venture id or name")
    return text


NoNul = StringConstraints(pattern=NO_NUL)
"""Text the store can hold, as a constraint the OpenAPI document states (`pattern`)."""
Text = Annotated[str, NoNul]
"""Any text the store can hold."""
Reason = Annotated[str, Field(max_length=2000, pattern=NO_NUL, description="Why (recorded on the event).")]
NeededReason = Annotated[
    str, Field(min_length=1, max_length=2000, pattern=NOT_BLANK, description="Why (required, recorded on the event).")
]
When = Annotated[AwareDatetime, AfterValidator(_utc)]
"""An ISO 8601 time with a zone (`Z` or `+02:00`)."""
Finite = Annotated[float, Field(allow_inf_nan=False)]
SampleValue = Annotated[float, Field(allow_inf_nan=False, strict=True)]
"""A JSON number: `true` or `"3"` is the wrong JSON type for a sample value, not 1.0 or 3.0."""
VentureRef = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=NOT_BLANK, description="Venture id or name."),
    AfterValidator(check_ref),
]


JSON_SCHEMA: dict[str, Any] = {
    "description": "Any JSON value; its strings and object keys hold no NUL.",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": {"$ref": "#/components/schemas/Json"}},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {"$ref": "#/components/schemas/Json"},
        },
    ],
}
"""The `Json` component of the OpenAPI document: what `LimitsMiddleware` lets through as a free JSON value."""
JSON_MARK = "x-venturegate-json"
Json = Annotated[Any, WithJsonSchema({JSON_MARK: True})]
"""A free JSON value (artifact content, a configuration value); NUL is refused anywhere in a body at the edge.
Its schema in the document is a reference to the `Json` component (`api.app` puts it in place of the mark)."""


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- responses that are engine records, under the names the API documents ------------------------
Venture = records.Venture
Visit = records.Visit
Substage = records.SubstageState
Approval = ReviewedApproval
SampleResult = records.SampleResult
Fired = records.Fired
Artifact = records.Artifact
ConfigSetting = configuration.ConfigSetting
ConfigChange = configuration.ConfigChange
DiffEntry = configuration.DiffEntry
ConfigDiff = configuration.ConfigDiff
Snapshot = configuration.Snapshot
HandlerResult = rollbacks.HandlerResult
Rollback = rollbacks.RollbackRecord
RollbackPlan = rollbacks.RollbackPlanReport
Event = records.Event
Escalation = escalations.Escalation
ErrorRecord = error_recovery.ErrorRecord
CategoryFigures = error_recovery.CategoryFigures
ErrorSummary = error_recovery.ErrorReport
StageStats = stats.StageStats
OutboxEntry = outbox.OutboxEntry
Delivery = outbox.DeliveryReport
Job = jobs.Job
StoredSample = records.StoredSample
MetricLevel = records.MetricLevel


# -- ventures ------------------------------------------------------------------------------------
class VentureCreate(_In):
    """A new venture, pinned to the workflow the server runs."""

    name: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            pattern=VENTURE_NAME,
            description="Unique name: not only digits, no white space at either end.",
        ),
    ]
    segment: Literal["b2b_enterprise", "b2b_smb", "b2c_mass", "b2c_premium"]
    stage: Annotated[int, Field(ge=1, le=10_000, description="Stage to start in.")] = 1


class StatusChange(_In):
    """Pause, resume or kill."""

    reason: Reason = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class VentureDetail(records.Venture):
    """A venture with its visits, current substages and pending approvals."""

    visits: list[records.Visit]
    substages: list[records.SubstageState]
    pending_approvals: list[ReviewedApproval]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Advanced(records.Venture):
    """The venture after an advance, and the stage it left."""

    from_stage: int


class Check(_Out):
    """One gate check: observed value, expected level, verdict, reason, and the condition's explanation tree."""

    name: str
    kind: str
    verdict: Literal["pass", "fail", "unknown"]
    observed: Any = None
    expected: Any = None
    reason: str
    explanation: dict[str, Any] | None = None
    evidence: dict[str, Any] | None = None
    """Metric read → the latest version of the artifact that records its breakdown (`{artifact, version, content}`)."""


class Gate(_Out):
    """A gate's verdict, check by check."""

    venture: str
    stage: int
    gate: str
    passed: bool
    checks: list[Check]


class AdvanceIn(_In):
    """Advance only if the venture is still in `expected_stage` (when given)."""

    expected_stage: Annotated[int | None, Field(ge=0, le=10_000)] = None


class SubstageComplete(_In):
    """The done-when items attested (all of them when omitted)."""

    items: list[Annotated[Text, Field(max_length=500)]] | None = Field(default=None, max_length=200)


class AttestIn(_In):
    """A written gate criterion of the current stage, exactly as defined."""

    criterion: Annotated[Text, Field(min_length=1, max_length=500)]


class Attested(_Out):
    """An attestation recorded (a repeated one changes nothing)."""

    venture: str
    criterion: str
    attested: bool


class TriggerStatus(_Out):
    """A trigger of the current stage: its state and counts."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    trigger: str
    kind: str
    when: str
    for_: str = Field(alias="for")
    mode: str
    max: int | None
    state: str
    since: str | None
    last_evaluated_at: str | None
    last_value: Any = None
    fired: int
    acted: int


# -- samples -----------------------------------------------------------------------------------
# A batch of 10,000 is validated straight into the engine's `SampleIn` (no model to convert), and its text checks
# (NUL, venture reference) run once per batch in `sample_errors` rather than as four validator calls per sample.
@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class SampleBody(SampleIn):
    """One sample."""

    venture: Annotated[str, Field(min_length=1, max_length=200, pattern=NOT_BLANK, description="Venture id or name.")]
    metric: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
    value: SampleValue
    at: When | None = Field(default=None, description="When it was measured (default: now).")
    key: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)] | None = Field(
        default=None, description="Idempotency key: a retry with the same key (per venture) records nothing."
    )


class SampleBatch(_In):
    """Up to 10,000 samples, recorded in one transaction (any invalid sample rejects the batch, naming its index)."""

    samples: Annotated[list[SampleBody], Field(min_length=1, max_length=MAX_BATCH)]


def sample_errors(samples: list[SampleBody]) -> tuple[list[SampleBody], list[tuple[int, str, str]]]:
    """The checks `SampleBody`'s fields leave to the batch: the samples (venture references trimmed) and what is
    wrong as (index, field, message), the message worded as a field validator's."""
    refs: dict[str, str | ValueError] = {}
    for ref in {x.venture for x in samples}:
        try:
            refs[ref] = check_ref(no_nul(ref))
        except ValueError as exc:
            refs[ref] = exc
    texts = [x.metric for x in samples] + [x.key for x in samples if x.key is not None]
    if all(isinstance(r, str) and r == ref for ref, r in refs.items()) and "\x00" not in "".join(texts):
        return samples, []  # the usual case: nothing to report or change
    out, errors = [], []
    for i, x in enumerate(samples):
        got = refs[x.venture]
        if isinstance(got, ValueError):
            errors.append((i, "venture", f"Value error, {got}"))
        for field, text in (("metric", x.metric), ("key", x.key)):
            if text is not None and "\x00" in text:
                errors.append((i, field, f"Value error, {NUL_MESSAGE}"))
        out.append(replace(x, venture=got) if isinstance(got, str) and got != x.venture else x)
    return out, errors


def _sample_kind(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "samples" in value else "single"


UNION_TAGS = ("single", "batch")
"""Tags of `Samples`' alternatives (left out of the locations in validation errors)."""
Samples = Annotated[
    Annotated[SampleBody, Tag("single")] | Annotated[SampleBatch, Tag("batch")], Discriminator(_sample_kind)
]
"""One sample, or a batch: `{"samples": [...]}`."""


class Ingested(_Out):
    """Counts, the keys that were already recorded, what fired; `sample` for a single sample."""

    recorded: int
    duplicates: int
    duplicate_keys: list[str]
    fired: list[Fired]
    sample: SampleResult | None = None


# -- artifacts ---------------------------------------------------------------------------------
class ArtifactIn(_In):
    """An artifact version: JSON content validated against the artifact's schema."""

    content: Json = Field(description="The JSON document.")
    derived_from: list[Annotated[str, Field(max_length=300, pattern=r"^[A-Za-z0-9_.-]+@[0-9]{1,18}$")]] | None = Field(
        default=None, max_length=100, description="NAME@VERSION of the artifacts it was made from."
    )


class LineageItem(_Out):
    """One artifact in a lineage chain; depth 0 is the artifact asked for."""

    depth: int
    name: str
    version: int
    derived_from: list[str]
    content_hash: str


# -- approvals ---------------------------------------------------------------------------------
class ApprovalRequest(_In):
    """Ask a role for an approval of the current stage."""

    role: Annotated[Text, Field(min_length=1, max_length=40)]
    reason: Reason = ""


class Decision(_In):
    """An approval decision, and why."""

    reason: Reason = ""


class NeededDecision(_In):
    """A bypass or the review of one: why is required."""

    reason: NeededReason


# -- configuration -----------------------------------------------------------------------------
class ConfigSet(_In):
    """A new value (JSON, or text as on the command line: `10,50,100`) and why."""

    value: Json = Field(description="The new value.")
    reason: NeededReason


class SnapshotIn(_In):
    """Name the current configuration version (`pre-stage-N` and `current` are taken: 409)."""

    name: Annotated[
        str,
        Field(
            min_length=1,
            max_length=120,
            pattern=SNAPSHOT_NAME,
            description="Starts with a letter; letters, digits, `.`, `_`, `-`.",
        ),
    ]
    reason: Reason = ""


class RollbackIn(_In):
    """Restore a version or snapshot (`to`), or carry out the stage's plan for `cause` (one of them at least)."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["to"], "properties": {"to": {"type": "string"}}},
                {"required": ["cause"], "properties": {"cause": {"pattern": NOT_BLANK}}},
            ]
        }
    )

    to: Annotated[str, Field(pattern=CONFIG_REF, description="A version number or snapshot name.")] | None = None
    scope: list[Annotated[str, Field(min_length=1, max_length=80, pattern=NO_NUL)]] | None = Field(
        default=None, max_length=50
    )
    cause: Annotated[str, Field(max_length=120, pattern=NO_NUL)] = ""
    dry_run: bool = False
    reason: Reason = ""

    @model_validator(mode="after")
    def _says_what(self) -> RollbackIn:
        if self.to is None and not self.cause.strip():
            raise ValueError("say what to roll back to: a version or snapshot (to), or a cause")
        return self


# -- events, escalations, errors, figures --------------------------------------------------------
class EventPage(_Out):
    """A page of events, oldest first; pass `next_cursor` as `cursor` for the next page (null: no more now)."""

    events: list[Event]
    next_cursor: str | None


class EscalationResolve(_In):
    """Where the venture resumes: a stage (`14`) or a substage of its stage (`28.2`)."""

    resume_at: Annotated[
        str, Field(pattern=r"^[0-9]{1,5}(?:\.[0-9]{1,3})?$", description="A stage (`14`) or a substage (`28.2`).")
    ]
    reason: Reason = ""


class ErrorIn(_In):
    """An error reported by hand (at least one of status, message, types)."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["status"], "properties": {"status": {"type": "integer"}}},
                {"required": ["message"], "properties": {"message": {"pattern": NOT_BLANK}}},
                {"required": ["types"], "properties": {"types": {"minItems": 1}}},
            ]
        }
    )

    venture: VentureRef
    stage: Annotated[int | None, Field(ge=0, le=10_000, description="Stage whose taxonomy applies.")] = None
    status: Annotated[int | None, Field(ge=100, le=599, description="HTTP status, if any.")] = None
    message: Annotated[Text, Field(max_length=5000)] = ""
    types: list[Annotated[Text, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _says_what_failed(self) -> ErrorIn:
        if self.status is None and not self.message.strip() and not self.types:
            raise ValueError("say what failed: give status, message or types")
        return self


class Progression(_Out):
    """A stage-wide (venture_id null) or per-venture progression mode with its run counts."""

    stage: int
    venture_id: int | None
    mode: str
    successes: int
    failures: int


class ProgressionSet(_In):
    """A mode, stage-wide or for one venture; `default` drops a venture's override."""

    mode: Literal["manual", "assisted", "auto", "default"]
    venture: VentureRef | None = None


class Critique(_Out):
    """A stage's rubric scores (0–5) with reasons, and their mean."""

    stage: int
    title: str
    overall: float
    scores: dict[str, dict[str, Any]]


class WorkflowStageBrief(_Out):
    """A stage in the workflow overview."""

    id: int
    title: str
    substages: int
    metrics: int
    triggers: int


class WorkflowOverview(_Out):
    """The workflow the server runs: identity and stages in brief."""

    workflow: dict[str, Any]
    digest: str
    stages: list[WorkflowStageBrief]


class Tick(_Out):
    """What one run of the due timers did."""

    now: datetime
    timers: int
    fired: list[Fired]
    expired_approvals: list[int]
    stale: list[dict[str, Any]]
    next_due: datetime | None


class Me(_Out):
    """The token presented, and what its role may do."""

    name: str
    role: str
    permissions: list[str]


class Health(_Out):
    """The server answers and its database too."""

    status: Literal["ok"]
    workflow: str


# -- crew jobs -----------------------------------------------------------------------------------
JobStatus = jobs.JobStatus
CREW_NAME = r"^[\w.-]+$"
"""A crew's entry-point name."""
OPTION_KEY = r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$"
"""A crew option's name."""
MAX_OPTIONS = 50
FLOAT_MAX = sys.float_info.max
MAX_OPTION_TEXT = 2000


def _option_value(value: Any) -> str | int | float | bool:
    """A crew option's value: text, a whole number, a finite number or true/false, as the store can hold it."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if -MAX_ID - 1 <= value <= MAX_ID:
            return value
        try:  # beyond 64 bits: kept as a number, as the document's `number` says
            value = float(value)
        except OverflowError:
            raise ValueError("a number option must be finite") from None
    if isinstance(value, float):  # also a whole number beyond 64 bits, from above
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("a number option must be finite")
        return value
    if isinstance(value, str):
        if len(value) > MAX_OPTION_TEXT:
            raise ValueError(f"a text option has at most {MAX_OPTION_TEXT} characters")
        try:
            no_nul(value).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a text option must be valid Unicode (no lone surrogates)") from None
        return value
    kind = "null" if value is None else "a list" if isinstance(value, list) else "an object"
    raise ValueError(f"an option is text, a number or true/false, not {kind}")


OptionValue = Annotated[
    Any,
    Field(
        json_schema_extra={
            "anyOf": [
                {"type": "boolean"},
                {"type": "integer", "minimum": -(2**63), "exclusiveMaximum": 2**63},  # exact as floats too
                {"type": "number", "minimum": -FLOAT_MAX, "maximum": FLOAT_MAX},
                {"type": "string", "maxLength": MAX_OPTION_TEXT, "pattern": NO_NUL},
            ]
        }
    ),
    AfterValidator(_option_value),
]
"""Text, a whole number, a finite number or true/false (`ctx.option(key, default)` converts it)."""


class JobStart(_In):
    """Which crew runs (the one serving the stage, or `crew` by name) and its options."""

    stage: Annotated[
        int | None,
        Field(ge=0, le=10_000, description="The venture's current stage (the default): a crew runs only for it."),
    ] = None
    crew: Annotated[
        str | None,
        Field(min_length=1, max_length=100, pattern=CREW_NAME, description="A crew by entry-point name."),
    ] = None
    options: dict[Annotated[str, Field(pattern=OPTION_KEY)], OptionValue] = Field(
        default_factory=dict,
        max_length=MAX_OPTIONS,
        json_schema_extra={"additionalProperties": False},
        description="Crew options, as the CLI's `--option KEY=VALUE` (e.g. `max_examples`).",
    )


CrewAgent = AgentSpec


class Crew(_Out):
    """A crew found through the `venturegate.crews` entry points."""

    entry_point: str
    name: str
    stage: int
    agents: list[CrewAgent]
