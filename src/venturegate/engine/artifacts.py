"""Artifacts: JSON documents validated against their schema, versioned, with lineage."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from venturegate.engine.actors import Actor
from venturegate.engine.exceptions import ArtifactInvalid, BadInput, Conflict, NotFound
from venturegate.engine.plumbing import Plumbing
from venturegate.engine.records import Artifact
from venturegate.engine.secrets import SecretGrant, secret_ref_errors
from venturegate.engine.triggers import Triggers
from venturegate.store import artifacts as store
from venturegate.store.artifacts import ArtifactRow

_REF = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)@(?P<version>\d+)$")


def content_hash(content: Any) -> str:
    """SHA-256 of the canonical JSON form."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def schema_errors(schema: dict[str, Any] | None, content: Any) -> list[tuple[str, str]]:
    """Every (JSON pointer, reason) where `content` breaks `schema`, in document order."""
    if schema is None:
        return [] if isinstance(content, dict) else [("", "an artifact must be a JSON object")]
    from jsonschema import Draft202012Validator  # on first use: most commands store no artifact

    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    out = []
    for err in sorted(validator.iter_errors(content), key=lambda e: [str(p) for p in e.absolute_path]):
        pointer = "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in err.absolute_path)
        out.append((pointer, err.message))
    return out


def _artifact(row: ArtifactRow) -> Artifact:
    return Artifact(
        row.id,
        row.name,
        row.version,
        row.content,
        row.content_hash,
        list(row.derived_from),
        row.stage,
        row.actor,
        row.created_at,
    )


class Artifacts:
    """Storing and reading artifacts (the engine's `artifact_versions` component).

    Depends on the plumbing and the triggers (a stored artifact is a fact that triggers and gates read).
    """

    def __init__(self, plumbing: Plumbing, triggers: Triggers) -> None:
        self.plumbing = plumbing
        self.triggers = triggers

    def put(
        self,
        ref: str | int,
        name: str,
        content: Any,
        *,
        actor: Actor,
        derived_from: list[str] | None = None,
        now: datetime | None = None,
    ) -> Artifact:
        """Validate and store a new version (identical content to the newest version stores nothing)."""
        now = self.plumbing.when(now)
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref, lock=True)
            if row.status == "killed":
                raise Conflict(f"venture '{row.name}' is killed; it takes no more artifacts")
            wf = self.plumbing.pinned(conn, row.workflow_digest).workflow
            decl = wf.artifact(name)
            if decl is None:
                known = sorted({n for st in wf.stages for n in st.artifacts} | set(wf.artifacts))
                import difflib

                close = difflib.get_close_matches(name, known, n=1)
                raise NotFound(
                    f"unknown artifact '{name}'",
                    where="NAME",
                    hint=f"did you mean '{close[0]}'?" if close else "`venturegate workflow show STAGE` lists them",
                )
            errors = schema_errors(decl.json_schema, content)
            if not errors:
                grant = SecretGrant.from_settings(
                    {k: s.value for k, s in self.plumbing._effective(conn, wf, row).items()}
                )
                errors = secret_ref_errors(decl.json_schema, content, grant)
            if errors:
                raise ArtifactInvalid(name, errors)
            parents = [self._parent(conn, row.id, text) for text in (derived_from or [])]
            digest = content_hash(content)
            newest = self._newest(conn, row.id, name)
            if newest is not None and newest.content_hash == digest and list(newest.derived_from) == parents:
                return _artifact(newest)
            version = 1 + (newest.version if newest is not None else 0)
            aid = store.insert_artifact(
                conn,
                venture_id=row.id,
                name=name,
                version=version,
                content=content,
                content_hash=digest,
                derived_from=parents,
                stage=row.stage,
                actor=actor.name,
                created_at=now,
            )
            self.plumbing._set(conn, row, now)
            self.plumbing._event(
                conn,
                row,
                "artifact.stored",
                actor,
                now,
                reason=f"{name}@{version}",
                data={"name": name, "version": version, "hash": digest, "derived_from": parents},
            )
            self.plumbing._recheck_entry(conn, self.plumbing._row(conn, row.id), actor, now)
            self.triggers.facts_changed(conn, self.plumbing._row(conn, row.id), now)
            return _artifact(store.by_id(conn, aid))

    def _parent(self, conn: Connection, venture_id: int, text: str) -> str:
        m = _REF.match(text.strip())
        if m is None:
            raise BadInput(
                f"'{text}' is not NAME@VERSION",
                where="--derived-from",
                hint="e.g. api_documentation@2",
            )
        if not store.artifact_exists(conn, venture_id, m["name"], int(m["version"])):
            raise NotFound(f"artifact {text} does not exist for this venture", where="--derived-from")
        return f"{m['name']}@{int(m['version'])}"

    def _newest(self, conn: Connection, venture_id: int, name: str) -> ArtifactRow | None:
        return store.newest(conn, venture_id, name)

    def get(self, ref: str | int, name: str, version: int | None = None) -> Artifact:
        """One version of an artifact (the newest by default)."""
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref)
            found = store.newest(conn, row.id, name) if version is None else store.version(conn, row.id, name, version)
            if found is None:
                at = f" version {version}" if version is not None else ""
                raise NotFound(f"venture '{row.name}' has no artifact '{name}'{at}", where="NAME")
            return _artifact(found)

    def listing(self, ref: str | int) -> list[Artifact]:
        """Every stored artifact version of a venture."""
        with self.plumbing.tx() as conn:
            row = self.plumbing._row(conn, ref)
            return [_artifact(r) for r in store.all_versions(conn, row.id)]

    def lineage(self, ref: str | int, name: str, version: int | None = None) -> list[tuple[int, Artifact]]:
        """The artifact and everything it was derived from, depth first, as (depth, artifact)."""
        root = self.get(ref, name, version)
        out: list[tuple[int, Artifact]] = []
        seen: set[str] = set()

        def walk(art: Artifact, depth: int) -> None:
            key = f"{art.name}@{art.version}"
            if key in seen:
                return
            seen.add(key)
            out.append((depth, art))
            for parent in art.derived_from:
                pname, _, pver = parent.partition("@")
                walk(self.get(ref, pname, int(pver)), depth + 1)

        walk(root, 0)
        return out
