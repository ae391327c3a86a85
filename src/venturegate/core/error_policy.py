"""The pure error-policy decision: classify an error by the stage's taxonomy, its recovery chain in words.

No I/O, no clock; `engine/error_recovery.py` records errors and runs the chain.

Matching (docs/decisions.md, "Error classification"): rules are tried in order and the first that
matches wins. A rule matches when at least one of the criteria it lists matches the error — an
exception type (the error's class or a base class), an HTTP status, or the message pattern — and
no listed criterion rules it out. Only the status rules out: a rule that lists statuses never
matches an error that carries a different status (a 500 saying "unauthorized" is not an auth
failure). An error that no rule matches falls to the default rule `unclassified`: category `api`
when it carries an HTTP status, `network` for connection, timeout, DNS and TLS exceptions, `crew`
otherwise, and the recovery "escalate to the stage owner".
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

from venturegate.core.durations import parse_duration
from venturegate.definitions.model import ErrorCategory, ErrorRule, Recovery, Stage

CATEGORIES: tuple[str, ...] = get_args(ErrorCategory)
"""The taxonomy's categories, in the order runbooks list them."""

DEFAULT_RULE_ID = "unclassified"
NEEDS_OPERATION = frozenset({"retry", "refresh_credentials", "raise_timeout"})
"""Recovery actions that call the failed operation again (they are skipped when there is none)."""
TERMINAL = frozenset({"recurse", "escalate", "abort"})
"""Recovery actions that end a chain: they change the venture rather than retry the work."""
_NETWORK_TYPES = frozenset({"ConnectionError", "TimeoutError", "socket.gaierror", "ssl.SSLError"})
_STATUS_ATTRS = ("status", "status_code")


@dataclass(frozen=True)
class ErrorInfo:
    """What is known about one error: the explicit descriptor form of an exception."""

    types: tuple[str, ...] = ()
    """Exception class names, most specific first, base classes included (`module.Name`, builtins bare)."""
    status: int | None = None
    """HTTP status, when the error came from an HTTP response."""
    message: str = ""
    """The error's message."""

    @property
    def type_name(self) -> str:
        """The most specific exception type, or "" for a descriptor without one."""
        return self.types[0] if self.types else ""

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"types": list(self.types), "status": self.status, "message": self.message}


def _qualified(cls: type) -> str:
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status from `.status`, `.status_code`, or the same on `.response` (aiohttp, requests, httpx)."""
    for holder in (exc, getattr(exc, "response", None)):
        for attr in _STATUS_ATTRS:
            value = getattr(holder, attr, None) if holder is not None else None
            if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
                return value
    return None


def describe(exc: BaseException) -> ErrorInfo:
    """An exception as an `ErrorInfo`: its class hierarchy, HTTP status (if any) and message."""
    types = tuple(_qualified(cls) for cls in type(exc).__mro__ if cls is not object)
    return ErrorInfo(types, _http_status(exc), str(exc))


def info_from(type_names: Sequence[str] = (), status: int | None = None, message: str = "") -> ErrorInfo:
    """An `ErrorInfo` from names given by hand; a built-in exception name brings its base classes along."""
    types: list[str] = []
    for name in (n.strip() for n in type_names):
        if not name:
            continue
        found = getattr(builtins, name, None)
        hierarchy = (
            [_qualified(c) for c in found.__mro__ if c is not object]
            if isinstance(found, type) and issubclass(found, BaseException)
            else [name]
        )
        types += [t for t in hierarchy if t not in types]
    if status is not None and not 100 <= status <= 599:
        raise ValueError(f"HTTP status {status} is not between 100 and 599")
    return ErrorInfo(tuple(types), status, message)


def type_matches(listed: str, qualified: str) -> bool:
    """Whether a rule's exception name denotes a class.

    A bare name (`ConnectionError`) matches a class of that name from any module; a dotted name
    (`aiohttp.ClientError`) matches that class in that module or in a submodule of its package
    (aiohttp defines it in `aiohttp.client_exceptions`).
    """
    if listed == qualified:
        return True
    module, _, name = qualified.rpartition(".")
    want_module, _, want_name = listed.rpartition(".")
    if name != want_name:
        return False
    return not want_module or module == want_module or module.startswith(want_module + ".")


@dataclass(frozen=True)
class RuleCheck:
    """One rule judged against one error: does it match, and the reasons either way."""

    rule_id: str
    matched: bool
    reasons: tuple[str, ...]


def check_rule(rule: ErrorRule, info: ErrorInfo) -> RuleCheck:
    """Judge one rule (see the module docstring for the semantics)."""
    m = rule.match
    hits: list[str] = []
    if m.status and info.status is not None:
        if info.status not in m.status:
            return RuleCheck(rule.id, False, (f"status {info.status} is not one of {m.status}",))
        hits.append(f"status {info.status} is listed")
    for listed in m.exception:
        found = next((t for t in info.types if type_matches(listed, t)), None)
        if found is not None:
            hits.append(f"exception {found} matches {listed}" if found != listed else f"exception {listed} is listed")
            break
    if m.message is not None and info.message and re.search(m.message, info.message):
        hits.append(f"message matches /{m.message}/")
    if hits:
        return RuleCheck(rule.id, True, tuple(hits))
    return RuleCheck(rule.id, False, ("none of its criteria matches",))


@dataclass(frozen=True)
class Classification:
    """The rule an error falls under, why, and why the rules before it did not apply."""

    rule: ErrorRule
    matched: bool
    """False when no rule matched and the default applies."""
    reasons: tuple[str, ...]
    passed_over: tuple[RuleCheck, ...]

    @property
    def category(self) -> str:
        """The taxonomy category."""
        return self.rule.category

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "rule": self.rule.id,
            "category": self.rule.category,
            "matched": self.matched,
            "why": list(self.reasons),
            "passed_over": [{"rule": c.rule_id, "why": list(c.reasons)} for c in self.passed_over],
        }


def default_category(info: ErrorInfo) -> ErrorCategory:
    """The category of an error no rule matched: api with an HTTP status, network for network exceptions, else crew."""
    if info.status is not None:
        return "api"
    if any(type_matches(listed, t) for listed in _NETWORK_TYPES for t in info.types):
        return "network"
    return "crew"


def default_rule(info: ErrorInfo, role: str) -> ErrorRule:
    """The rule for an error that no rule of the stage matches: escalate to `role` (the stage owner)."""
    return ErrorRule(
        id=DEFAULT_RULE_ID,
        category=default_category(info),
        description="No rule of the stage's taxonomy matches; a person looks at it.",
        recovery=Recovery(action="escalate", role=role, attempts=1),
    )


def classify(rules: Sequence[ErrorRule], info: ErrorInfo, default_role: str) -> Classification:
    """The first rule that matches the error, else the default rule (escalate to `default_role`)."""
    passed: list[RuleCheck] = []
    for rule in rules:
        result = check_rule(rule, info)
        if result.matched:
            return Classification(rule, True, result.reasons, tuple(passed))
        passed.append(result)
    reason = f"no rule matched; unmatched errors escalate to {default_role}"
    return Classification(default_rule(info, default_role), False, (reason,), tuple(passed))


def owner_role(stage: Stage, workflow_default: str) -> str:
    """Who gets escalations that name no role: the stage owner, else the workflow's escalation role."""
    return stage.owner or workflow_default


def chain(recovery: Recovery) -> list[Recovery]:
    """A recovery and everything after it through `then`, in order."""
    steps: list[Recovery] = []
    step: Recovery | None = recovery
    while step is not None:
        steps.append(step)
        step = step.then
    return steps


def time_cap(step: Recovery) -> float:
    """Seconds a retrying step may take in all: attempts × max_backoff (stamina's `timeout`)."""
    return step.attempts * parse_duration(step.max_backoff)


def raised_timeout(base: float, attempt: int) -> float:
    """The timeout for the n-th (1-based) attempt of `raise_timeout`: the one that ran out, doubled per attempt."""
    return base * 2.0**attempt


def step_words(step: Recovery, default_role: str) -> str:
    """One recovery step in words (without what follows it)."""
    times = "once" if step.attempts == 1 else f"up to {step.attempts} times"
    backoff = f"backoff {step.backoff} doubling up to {step.max_backoff}, with jitter"
    if step.action == "retry":
        return f"retry the call {times} ({backoff})"
    if step.action == "refresh_credentials":
        return f"refresh credentials through the registered hook and retry the call, {times}"
    if step.action == "raise_timeout":
        return f"retry the call with its timeout doubled each time, {times}"
    if step.action == "fallback":
        return f"switch to the registered fallback ({times})"
    if step.action == "recurse":
        where = f"substage {step.go_to}" if isinstance(step.go_to, str) else f"stage {step.go_to}"
        return f"send the venture back to {where}"
    if step.action == "escalate":
        return f"escalate to {step.role or default_role} (the venture pauses until the escalation is resolved)"
    return "abort the operation and record the error (no automatic recovery)"


def recovery_words(recovery: Recovery, default_role: str) -> str:
    """A recovery chain in words: each step, then what happens when it is exhausted."""
    steps = chain(recovery)
    text = "; if that fails, ".join(step_words(s, default_role) for s in steps)
    if steps[-1].action not in TERMINAL:
        text += f"; if that fails, escalate to {default_role}"
    return text[0].upper() + text[1:] + "."


def escalation_roles(recovery: Recovery, default_role: str) -> list[str]:
    """The roles a chain can escalate to (the default role when the chain ends without a terminal step)."""
    steps = chain(recovery)
    roles = [s.role or default_role for s in steps if s.action == "escalate"]
    if steps[-1].action not in TERMINAL or any(s.action == "recurse" for s in steps):
        # A recursion that cannot happen (venture moved on, loop limit) escalates too.
        roles.append(default_role)
    return list(dict.fromkeys(roles))


def match_words(rule: ErrorRule) -> str:
    """A rule's match criteria in words."""
    m = rule.match
    parts = []
    if m.exception:
        parts.append("exception " + ", ".join(f"`{e}`" for e in m.exception))
    if m.status:
        parts.append("HTTP status " + ", ".join(str(s) for s in m.status))
    if m.message is not None:
        parts.append(f"message matching `{m.message}`")
    if not parts:
        return "nothing (this rule never matches)"
    text = " or ".join(parts)
    if m.status:
        text += " (an error with any other HTTP status never matches)"
    return text


def runbook(stage: Stage, default_role: str, workflow_label: str = "") -> str:
    """The stage's error runbook in Markdown: per category, each rule's match, recovery chain and escalation."""
    owner = owner_role(stage, default_role)
    lines = [
        f"# Stage {stage.id} — {stage.title}: error runbook",
        "",
        f"Generated from the stage's error taxonomy{f' ({workflow_label})' if workflow_label else ''}. "
        "Rules are tried in the order below and the first that matches applies. A rule matches when any "
        "criterion it lists matches (exception type including base classes, HTTP status, message pattern); "
        "a listed status rules out errors that carry another status.",
        "",
        f"Stage owner: **{owner}**. `venturegate errors --stage {stage.id}` shows how these errors went.",
        "",
    ]
    for category in CATEGORIES:
        rules = [r for r in stage.errors if r.category == category]
        lines += [f"## {category}", ""]
        if not rules:
            lines += ["No rules: errors of this kind fall to *unmatched errors* below.", ""]
            continue
        for rule in rules:
            order = stage.errors.index(rule) + 1
            lines += [
                f"### {rule.id} (rule {order})",
                "",
                *([rule.description, ""] if rule.description else []),
                f"- **Matches:** {match_words(rule)}.",
                f"- **Recovery:** {recovery_words(rule.recovery, owner)}",
                f"- **Escalated to:** {', '.join(escalation_roles(rule.recovery, owner)) or 'nobody'}",
                "",
            ]
    lines += [
        "## Unmatched errors",
        "",
        f"An error no rule matches is recorded as `{DEFAULT_RULE_ID}` (category api when it carries an HTTP "
        f"status, network for connection, timeout, DNS or TLS exceptions, crew otherwise) and escalated to "
        f"**{owner}**.",
        "",
        "Escalations open as `SD-<STAGE>-ESCALATION-<n>`; `venturegate escalation resolve` closes them.",
        "",
    ]
    return "\n".join(lines)
