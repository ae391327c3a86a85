"""Versioned venture configuration and snapshots.

A venture's configuration is its set of overrides on top of the workflow default and the segment
default. Every change is a new version (rows in `config_versions`, never updated or deleted); the
state at version N is the fold of the rows up to N. `ventures.config_version` holds the latest
version, so the override lookup that every trigger evaluation makes is a dictionary hit.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import PendingRollbackError

from venturegate.core.durations import format_time, parse_duration
from venturegate.core.settings import LEVEL_KINDS, Source, level_param, split_level_key
from venturegate.definitions.model import ConfigParam, ParamValue, Workflow
from venturegate.engine import secrets
from venturegate.engine.actors import Actor
from venturegate.engine.base import as_id
from venturegate.engine.exceptions import BadInput, Conflict, Forbidden, NotFound
from venturegate.engine.plumbing import Plumbing
from venturegate.engine.records import _Record
from venturegate.store import configuration as store
from venturegate.store.configuration import ConfigVersionRow, SnapshotRow
from venturegate.store.trigger_states import VentureRow

_WRITTEN = "venturegate.config_written"
"""`Connection.info` key: (venture, version) pairs written by the open transaction (not cacheable yet)."""
_CACHE_LIMIT = 4096
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,119}$")
_AUTO_RE = re.compile(r"^pre-stage-\d+$")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}

Overrides = dict[str, tuple[ParamValue, int]]
"""Key → (value, version that set it): a venture's overrides at one version."""


@dataclass(frozen=True)
class ConfigSetting(_Record):
    """A parameter's effective value for a venture, where it came from, and what it may be."""

    key: str
    value: ParamValue
    source: Source
    version: int | None
    stage: int | None
    type: str
    default: ParamValue
    unit: str
    min: float | None
    max: float | None
    allowed: list[str] | None
    description: str


@dataclass(frozen=True)
class ConfigChange(_Record):
    """One key changed in one configuration version (`set` by a person or agent, or `rollback`)."""

    version: int
    key: str
    scope: str
    value: ParamValue | None
    unset: bool
    previous: ParamValue | None
    change: str
    stage: int
    actor: str
    actor_role: str | None
    reason: str
    at: datetime


@dataclass(frozen=True)
class DiffEntry(_Record):
    """A key whose venture override differs between two versions, with the effective values."""

    key: str
    scope: str
    before: ParamValue | None
    after: ParamValue | None
    before_source: str
    after_source: str


@dataclass(frozen=True)
class ConfigDiff(_Record):
    """What changes from configuration A to configuration B."""

    venture: str
    a: str
    a_version: int
    b: str
    b_version: int
    changes: list[DiffEntry]


@dataclass(frozen=True)
class Snapshot(_Record):
    """A named configuration version (`pre-stage-N` is taken on entering stage N)."""

    id: int
    venture_id: int
    name: str
    version: int
    stage: int
    auto: bool
    actor: str
    reason: str
    created_at: datetime


def scope_of(key: str) -> str:
    """A key's rollback scope: its first dotted part (`traffic.canary_steps` → `traffic`)."""
    return key.split(".", 1)[0]


def allowed_text(param: ConfigParam) -> str:
    """The values a parameter accepts, in words (used in every refusal)."""
    unit = f" {param.unit}" if param.unit else ""
    if param.type == "bool":
        return "true or false"
    if param.type == "duration":
        return "a duration such as 30s, 5m, 2h, 1d"
    if param.allowed:
        kind = "a list of " if param.type.startswith("list") else "one of "
        return kind + ", ".join(param.allowed)
    what = {"int": "an integer", "number": "a number", "string": "text"}.get(param.type, f"a {param.type}")
    if param.type.startswith("list["):
        what = f"a list of {'integers' if param.type == 'list[int]' else 'numbers'} (e.g. 10,50,100)"
    if param.min is not None and param.max is not None:
        return f"{what} from {_num(param.min)} to {_num(param.max)}{unit}"
    if param.min is not None:
        return f"{what} of at least {_num(param.min)}{unit}"
    if param.max is not None:
        return f"{what} of at most {_num(param.max)}{unit}"
    return what + unit


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def parse_value(key: str, param: ConfigParam, raw: object) -> ParamValue:
    """Check a value (or the text of one) against the parameter's type and range; BadInput names the range."""

    def bad(why: str) -> BadInput:
        return BadInput(f"{why}; allowed: {allowed_text(param)}", where=key, hint="nothing was changed")

    if param.type.startswith("list["):
        items = _list_items(raw)
        if items is None:
            raise bad(f"'{raw}' is not a list")
        return [_scalar(key, param, param.type[5:-1], item, bad) for item in items]  # type: ignore[return-value]
    return _scalar(key, param, param.type, raw, bad)


def _check_grant(key: str, value: ParamValue, actor: Actor) -> None:
    """A secrets grant is a person's decision, and each entry must be well-formed."""
    if actor.kind != "human":
        raise Forbidden(f"{key} grants credentials; only a person may change it ({actor.name} is an {actor.kind})")
    for item in value if isinstance(value, list) else [value]:
        why = secrets.check_grant_entry(key, str(item))
        if why is not None:
            raise BadInput(why, where=key, hint="nothing was changed")


def _list_items(raw: object) -> list[object] | None:
    if isinstance(raw, list | tuple):
        return list(raw)
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, list) else None
    return [part.strip() for part in text.split(",") if part.strip()]


def _scalar(key: str, param: ConfigParam, kind: str, raw: object, bad: Any) -> int | float | bool | str:
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        raise bad(f"'{raw}' is not true or false")
    if kind in ("int", "number"):
        value = _number(raw, kind == "int")
        if value is None:
            raise bad(f"'{raw}' is not {'an integer' if kind == 'int' else 'a number'}")
        if (param.min is not None and value < param.min) or (param.max is not None and value > param.max):
            raise bad(f"{_num(value)} is out of range")
        return value
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise bad(f"'{raw}' is not text")
    text = str(raw).strip()
    if kind == "duration":
        try:
            parse_duration(text)
        except ValueError:
            raise bad(f"'{raw}' is not a duration") from None
    if param.allowed is not None and text not in param.allowed:
        raise bad(f"'{raw}' is not allowed")
    return text


def _number(raw: object, integer: bool) -> int | float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        value: float = raw
    else:
        try:
            value = float(str(raw).strip())
        except ValueError:
            return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    if integer:
        return int(value) if float(value).is_integer() else None
    return int(value) if isinstance(raw, int) else float(value)


def _level_param(wf: Workflow, key: str, stage_id: int) -> tuple[ConfigParam, int | None]:
    """The parameter behind `level.<metric>.<kind>`, or NotFound saying which part is wrong."""
    metric, kind = split_level_key(key) or ("", "")
    param = level_param(wf, key, stage_id)
    if param is not None:
        stage = wf.stage(stage_id)
        if stage is not None and metric in stage.metrics:
            return param, stage_id
        return param, next((s.id for s in wf.stages if metric in s.metrics), None)
    metrics = sorted({name for st in wf.stages for name in st.metrics})
    if wf.metric(metric, stage_id) is None:
        close = difflib.get_close_matches(metric, metrics, n=1)
        raise NotFound(
            f"no metric '{metric}' in '{key}'",
            where="KEY",
            hint=f"did you mean 'level.{close[0]}.{kind}'?"
            if close
            else "`venturegate workflow show` lists the metrics",
        )
    if kind not in LEVEL_KINDS:
        raise NotFound(
            f"'{kind}' is not a level in '{key}'",
            where="KEY",
            hint=f"use level.{metric}.threshold, level.{metric}.target or level.{metric}.alert",
        )
    raise NotFound(
        f"metric '{metric}' declares no default {kind}, so a venture cannot override it",
        where="KEY",
        hint="override a level the metric declares (`venturegate workflow show` lists them)",
    )


def _forget_written(conn: Connection) -> None:
    # A connection that died mid-transaction takes its info with it: let the original error through.
    with contextlib.suppress(PendingRollbackError):
        conn.info.pop(_WRITTEN, None)


def _change(r: ConfigVersionRow) -> ConfigChange:
    return ConfigChange(
        r.version,
        r.key,
        r.scope,
        None if r.unset else r.value,
        r.unset,
        r.previous,
        r.change,
        r.stage,
        r.actor,
        r.actor_role,
        r.reason,
        r.created_at,
    )


def _snapshot(r: SnapshotRow) -> Snapshot:
    return Snapshot(*r)


class Configuration:
    """Configuration versions per venture (default → segment → venture override) and named snapshots: the
    engine's `configuration` component.

    It fills three of the plumbing's hooks, through `Engine`: `overrides` (what conditions and gates read, cached
    per venture version), `stage_entered` (the `pre-stage-N` snapshot) and `transaction_ended`.
    """

    def __init__(self, plumbing: Plumbing) -> None:
        self.plumbing = plumbing
        self._override_cache: dict[tuple[int, int], dict[str, ParamValue]] = {}

    # -- the plumbing's hooks ------------------------------------------------------------------
    @staticmethod
    def transaction_ended(conn: Connection) -> None:
        """A transaction ends: forget which versions it wrote (they are cacheable once committed)."""
        _forget_written(conn)

    def overrides(self, conn: Connection, row: VentureRow) -> dict[str, ParamValue]:
        """The venture's overrides at its latest version: no query unless its configuration changed."""
        version = row.config_version
        if version == 0:
            return {}
        key = (row.id, version)
        found = self._override_cache.get(key)
        if found is not None:
            return found
        values = {k: v for k, (v, _) in self.state_at(conn, row.id, version).items()}
        if key not in conn.info.get(_WRITTEN, ()):  # a version this open transaction wrote may still roll back
            if len(self._override_cache) >= _CACHE_LIMIT:
                self._override_cache.clear()
            self._override_cache[key] = values
        return values

    def stage_entered(self, conn: Connection, row: VentureRow, stage_id: int, actor: Actor, now: datetime) -> None:
        """Take the `pre-stage-N` snapshot (the `stage.entered` event records the entry itself)."""
        stage = self.plumbing.pinned(conn, row.workflow_digest).workflow.stage(stage_id)
        if stage is None or not stage.rollback.snapshot_on_entry:
            return
        name, reason = f"pre-stage-{stage_id}", f"entered stage {stage_id}"
        store.insert_auto_snapshot(conn, row.id, name, row.config_version, stage_id, actor.name, reason, now)

    # -- reading -------------------------------------------------------------------------------
    def config(self, ref: str | int, key: str | None = None) -> list[ConfigSetting]:
        """The venture's effective configuration at its current stage (plus any key it overrides), or one key."""
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref)
            wf = self.plumbing.pinned(conn, row.workflow_digest).workflow
            state = self.state_at(conn, row.id, row.config_version)
            if key is not None:
                return [self._setting(wf, row, key, state)]
            stage = wf.stage(row.stage)
            keys = list(wf.config) + list(stage.config if stage else {})
            keys += sorted(k for k in state if k not in keys)
            return [self._setting(wf, row, k, state) for k in keys]

    def setting(self, ref: str | int, key: str) -> ConfigSetting:
        """One parameter's effective value for a venture (what crews read)."""
        return self.config(ref, key)[0]

    def config_history(self, ref: str | int, key: str | None = None) -> list[ConfigChange]:
        """Every configuration change of a venture, newest first (optionally of one key)."""
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref)
            return [_change(r) for r in store.history(conn, row.id, key)]

    def config_diff(self, ref: str | int, a: str, b: str = "current") -> ConfigDiff:
        """What differs between two configurations, each a version number, a snapshot name or `current`."""
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref)
            a_version = self.resolve(conn, row, a, "A")
            b_version = self.resolve(conn, row, b, "B")
            return ConfigDiff(row.name, a, a_version, b, b_version, self.diff(conn, row, a_version, b_version))

    def snapshots(self, ref: str | int) -> list[Snapshot]:
        """The venture's snapshots, newest first."""
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref)
            return [_snapshot(r) for r in store.snapshot_rows(conn, row.id)]

    # -- writing -------------------------------------------------------------------------------
    def set_config(
        self,
        ref: str | int,
        key: str,
        value: object,
        *,
        actor: Actor,
        reason: str,
        now: datetime | None = None,
    ) -> ConfigChange:
        """Validate a value against the parameter's type and range and write it as the next version."""
        now = self.plumbing.when(now)
        if not reason.strip():
            raise BadInput(
                "a reason is required for a configuration change",
                where="--reason",
                hint='say why, e.g. --reason "slower checkout after the CDN move"; it is recorded',
            )
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref, lock=True)
            if row.status in ("killed", "completed"):
                raise Conflict(f"venture '{row.name}' is {row.status}; its configuration is frozen")
            wf = self.plumbing.pinned(conn, row.workflow_digest).workflow
            param, _ = self._param(wf, key, row.stage)
            if param.approval_role and actor.role != param.approval_role:
                raise Forbidden(
                    f"{key} may only be changed by {param.approval_role}; {actor.name} acts as {actor.role}"
                )
            parsed = parse_value(key, param, value)
            if key in secrets.KEYS:
                _check_grant(key, parsed, actor)
            if split_level_key(key) is not None and actor.kind != "human":
                raise Forbidden(
                    f"{key} moves a gate level; only a person may change it ({actor.name} is an {actor.kind})"
                )
            state = self.state_at(conn, row.id, row.config_version)
            previous = self._setting(wf, row, key, state).value
            version = row.config_version + 1
            self.write_version(conn, row, version, {key: parsed}, state, "set", actor, reason, now)
            self.plumbing._event(
                conn,
                row,
                "config.changed",
                actor,
                now,
                reason=reason,
                data={"key": key, "value": parsed, "previous": previous, "version": version},
            )
            return _change(store.change(conn, row.id, version, key))

    def snapshot(
        self, ref: str | int, name: str, *, actor: Actor, reason: str = "", now: datetime | None = None
    ) -> Snapshot:
        """Name the venture's current configuration version (names are unique; `pre-stage-N` is reserved)."""
        now = self.plumbing.when(now)
        name = name.strip()
        if not _NAME_RE.match(name):
            raise BadInput(
                f"'{name}' cannot name a snapshot",
                where="NAME",
                hint="start with a letter; letters, digits, . _ - only; pre-stage-N and current are reserved",
            )
        if _AUTO_RE.match(name) or name == "current":
            raise Conflict(f"the snapshot name '{name}' is reserved (pre-stage-N and current name the system's own)")
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref, lock=True)
            taken = store.snapshot_taken_at(conn, row.id, name)
            if taken is not None:
                raise Conflict(f"snapshot '{name}' already exists (taken {format_time(taken)}); pick a new name")
            sid = store.insert_snapshot(
                conn,
                venture_id=row.id,
                name=name,
                version=row.config_version,
                stage=row.stage,
                actor=actor.name,
                reason=reason,
                now=now,
            )
            self.plumbing._set(conn, row, now)
            self.plumbing._event(
                conn,
                row,
                "snapshot.taken",
                actor,
                now,
                reason=reason,
                data={"name": name, "version": row.config_version},
            )
            return _snapshot(store.snapshot(conn, sid))

    # -- helpers shared with rollbacks ---------------------------------------------------------
    def state_at(self, conn: Connection, vid: int, version: int) -> Overrides:
        """The venture's overrides as of a version: each key's latest row up to it, unset rows removing it."""
        if version <= 0:
            return {}
        state: Overrides = {}
        for r in store.changes_up_to(conn, vid, version):
            if r.unset:
                state.pop(r.key, None)
            elif r.value is not None:
                state[r.key] = (r.value, r.version)
        return state

    def write_version(
        self,
        conn: Connection,
        row: VentureRow,
        version: int,
        changes: dict[str, ParamValue | None],
        before: Overrides,
        change: str,
        actor: Actor,
        reason: str,
        now: datetime,
    ) -> None:
        """Write one version (a None value removes the override) and move the venture to it."""
        wf = self.plumbing.pinned(conn, row.workflow_digest).workflow
        store.insert_version(
            conn,
            [
                {
                    "venture_id": row.id,
                    "version": version,
                    "key": key,
                    "scope": scope_of(key),
                    "value": value,
                    "unset": value is None,
                    "previous": self._setting(wf, row, key, before).value if self._known(wf, key) else None,
                    "change": change,
                    "stage": row.stage,
                    "actor": actor.name,
                    "actor_role": actor.role,
                    "reason": reason,
                    "created_at": now,
                }
                for key, value in sorted(changes.items())
            ],
        )
        self.plumbing._set(conn, row, now, config_version=version)
        conn.info.setdefault(_WRITTEN, set()).add((row.id, version))

    def resolve(self, conn: Connection, row: VentureRow, text: str, where: str) -> int:
        """A version number, `current`, or the newest snapshot of that name, as a version."""
        text = str(text).strip()
        latest = row.config_version
        if text == "current":
            return latest
        if text.isascii() and text.isdigit():
            number = as_id(text)
            if number is None or number > latest:
                raise NotFound(f"version {text} does not exist (latest is {latest})", where=where)
            return number
        found = store.snapshot_version(conn, row.id, text)
        if found is None:
            names = store.snapshot_names(conn, row.id)
            raise NotFound(
                f"no version or snapshot '{text}'",
                where=where,
                hint="versions 0–" + str(latest) + "; snapshots: " + (", ".join(names) or "none"),
            )
        return found

    def diff(
        self, conn: Connection, row: VentureRow, a: int, b: int, scope: list[str] | None = None
    ) -> list[DiffEntry]:
        """Keys whose override differs between versions a and b (limited to scopes when given)."""
        wf = self.plumbing.pinned(conn, row.workflow_digest).workflow
        before, after = self.state_at(conn, row.id, a), self.state_at(conn, row.id, b)
        out: list[DiffEntry] = []
        for key in sorted(set(before) | set(after)):
            if scope is not None and scope_of(key) not in scope:
                continue
            if key in before and key in after and before[key][0] == after[key][0]:
                continue
            b_set, a_set = self._setting(wf, row, key, before), self._setting(wf, row, key, after)
            out.append(DiffEntry(key, scope_of(key), b_set.value, a_set.value, b_set.source, a_set.source))
        return out

    @staticmethod
    def _known(wf: Workflow, key: str) -> bool:
        return key in wf.config or any(key in s.config for s in wf.stages) or level_param(wf, key) is not None

    def _param(self, wf: Workflow, key: str, stage_id: int) -> tuple[ConfigParam, int | None]:
        """The parameter and the stage declaring it (None: workflow-wide); visible from the stage first.

        `level.<metric>.<kind>` stands for a metric's level, declared by the stage that declares the metric.
        """
        if split_level_key(key) is not None:
            return _level_param(wf, key, stage_id)
        stage = wf.stage(stage_id)
        if stage is not None and key in stage.config:
            return stage.config[key], stage.id
        if key in wf.config:
            return wf.config[key], None
        for other in wf.stages:
            if key in other.config:
                return other.config[key], other.id
        keys = list(wf.config) + [k for s in wf.stages for k in s.config]
        close = difflib.get_close_matches(key, keys, n=1)
        raise NotFound(
            f"no configuration parameter '{key}'",
            where="KEY",
            hint=f"did you mean '{close[0]}'?" if close else "`venturegate config get VENTURE` lists them",
        )

    def _setting(self, wf: Workflow, row: VentureRow, key: str, state: Overrides) -> ConfigSetting:
        param, stage_id = self._param(wf, key, row.stage)
        value, version = param.default, None
        source: Source = "default"
        for seg, seg_value in param.segments.items():
            if seg == row.segment:
                value, source = seg_value, "segment"
        if key in state:
            value, version = state[key]
            source = "venture"
        return ConfigSetting(
            key,
            value,
            source,
            version,
            stage_id,
            param.type,
            param.default,
            param.unit,
            param.min,
            param.max,
            param.allowed,
            param.description,
        )
