"""Data in: metric samples (one or a batch of up to 10,000) and artifacts (put, show, lineage)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.exceptions import RequestValidationError

from venturegate.api import schemas as s
from venturegate.api.deps import EngineDep, Reader, VentureRef, require
from venturegate.engine import Actor, BadInput

router = APIRouter(prefix="/api", tags=["data"])
ArtifactName = Annotated[str, Path(min_length=1, max_length=200, description="Artifact name."), s.NoNul]
Version = Annotated[int | None, Query(ge=1, le=s.MAX_VERSION, description="Version (default: the newest).")]


@router.post("/metrics", response_model=s.Ingested)
def record_metrics(
    body: Annotated[
        s.Samples,
        Body(description='One sample, or `{"samples": [...]}` with up to 10,000 (one transaction).'),
    ],
    engine: EngineDep,
    actor: Annotated[Actor, require("write_samples")],
) -> dict[str, Any]:
    """Record samples idempotently and judge, before answering, the triggers that read them; lists what fired."""
    single = isinstance(body, s.SampleBody)
    batch = _checked([body] if isinstance(body, s.SampleBody) else body.samples, single)
    try:
        got = engine.record_samples(batch, actor=actor)
    except BadInput as exc:  # the engine names `sample 3.value`; the API names the body's field
        where = re.sub(r"^sample (\d+)", r"body.samples[\1]", exc.where) if not single else exc.where
        raise type(exc)(exc.message, where=where.replace("sample.", "body.", 1), hint=exc.hint) from None
    dup_keys = [r.key for r in got.samples if r.duplicate and r.key is not None]
    return {
        "recorded": len(got.samples) - len(dup_keys),
        "duplicates": len(dup_keys),
        "duplicate_keys": dup_keys,
        "fired": [f.as_dict() for f in got.fired],
        "sample": got.samples[0].as_dict() if single else None,
    }


def _checked(samples: list[s.SampleBody], single: bool) -> list[s.SampleBody]:
    """The samples after the checks their model leaves to the batch; a 422 naming each field that fails one."""
    batch, errors = s.sample_errors(samples)
    if errors:
        raise RequestValidationError(
            [
                {"type": "value_error", "loc": ("body", field) if single else ("body", "samples", i, field), "msg": msg}
                for i, field, msg in errors
            ]
        )
    return batch


@router.get("/ventures/{venture}/samples", response_model=list[s.StoredSample])
def list_samples(
    venture: s.VentureRef,
    engine: EngineDep,
    _: Reader,
    metric: Annotated[
        str | None, Query(min_length=1, max_length=120, pattern=s.NO_NUL, description="Only this metric.")
    ] = None,
    since: Annotated[s.When | None, Query(description="Only samples measured after this time.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many, newest first.")] = 100,
) -> list[dict[str, Any]]:
    """A venture's stored samples, newest first (what `venturegate metric list` shows)."""
    return [x.as_dict() for x in engine.stored_samples(venture, metric, since=since, limit=limit)]


@router.get("/ventures/{venture}/levels", response_model=list[s.MetricLevel])
def list_levels(venture: VentureRef, engine: EngineDep, _: Reader) -> list[dict[str, Any]]:
    """The current stage's metric levels for the venture (definition → segment → `level.<metric>.<kind>` override)."""
    return [x.as_dict() for x in engine.levels(venture)]


@router.get("/ventures/{venture}/artifacts", response_model=list[s.Artifact])
def list_artifacts(venture: VentureRef, engine: EngineDep, _: Reader) -> list[dict[str, Any]]:
    """The newest version of each of the venture's artifacts."""
    return [a.as_dict() for a in engine.artifacts(venture)]


@router.post("/ventures/{venture}/artifacts/{name}", response_model=s.Artifact, status_code=201)
def put_artifact(
    venture: VentureRef,
    name: ArtifactName,
    body: s.ArtifactIn,
    engine: EngineDep,
    actor: Annotated[Actor, require("write_artifacts")],
) -> dict[str, Any]:
    """Validate content against the artifact's JSON Schema and store it as a new version."""
    art = engine.put_artifact(venture, name, body.content, actor=actor, derived_from=body.derived_from)
    return art.as_dict()


@router.get("/ventures/{venture}/artifacts/{name}", response_model=s.Artifact)
def show_artifact(
    venture: VentureRef, name: ArtifactName, engine: EngineDep, _: Reader, version: Version = None
) -> dict[str, Any]:
    """One version of an artifact with its content."""
    return engine.artifact(venture, name, version).as_dict()


@router.get("/ventures/{venture}/artifacts/{name}/lineage", response_model=list[s.LineageItem])
def lineage(
    venture: VentureRef, name: ArtifactName, engine: EngineDep, _: Reader, version: Version = None
) -> list[dict[str, Any]]:
    """What an artifact was derived from, transitively (depth 0 is the artifact itself)."""
    return [
        {
            "depth": d,
            "name": a.name,
            "version": a.version,
            "derived_from": a.derived_from,
            "content_hash": a.content_hash,
        }
        for d, a in engine.lineage(venture, name, version)
    ]
