"""The stage's entry inputs, measured: a venture enters stage 28 blocked until `performance_baseline` and
`bottleneck_analysis` exist (and 28.2 needs `cache_requirements`). Where a team has no earlier
measurement of its service, `put_entry_inputs` takes a short one with the crew's own instruments
and stores the three inputs as the person who asked for it — real figures, never made up.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from venturegate.crews.stage28 import database, profiler
from venturegate.crews.stage28.target import read_target
from venturegate.crews.stage28.traffic import Workload

if TYPE_CHECKING:
    from venturegate.engine import Actor, Engine


def put_entry_inputs(
    engine: Engine,
    venture: str | int,
    options: dict[str, Any],
    *,
    actor: Actor,
    root: Path | None = None,
    requests: int = 60,
    rate: float = 20.0,
    staleness_seconds: int = 3600,
) -> list[str]:
    """Measure the service briefly and store the three stage-28 inputs; returns their `NAME@VERSION`."""
    target = read_target(options, root=root)
    with database.connect(target.database_url) as conn:
        database.check_extensions(conn)
    m = profiler.measure(target, Workload(target.endpoints, seed=2028).take(requests), rate)
    refs = []
    base = engine.put_artifact(venture, "performance_baseline", profiler.baseline_artifact(m), actor=actor)
    refs.append(f"{base.name}@{base.version}")
    analysis = {"generated_at": datetime.now(UTC).isoformat(), "hot_paths": profiler.hot_paths(m, [])}
    got = engine.put_artifact(venture, "bottleneck_analysis", analysis, actor=actor, derived_from=refs[:1])
    refs.append(f"{got.name}@{got.version}")
    req = engine.put_artifact(
        venture, "cache_requirements", profiler.requirements_artifact(m, staleness_seconds), actor=actor
    )
    refs.append(f"{req.name}@{req.version}")
    return refs


def grant_target(engine: Engine, venture: str | int, database_url: str, redis_url: str | None, *, actor: Actor) -> None:
    """What a lead does before the first run: grant the crew the two variables and approve their hosts."""
    from venturegate.crews.stage28.target import DATABASE_ENV, REDIS_ENV
    from venturegate.engine.secrets import ENV_KEY, HOSTS_KEY, host_port

    why = "stage-28 crew: the service's database and cache"
    engine.set_config(venture, ENV_KEY, [DATABASE_ENV, REDIS_ENV], actor=actor, reason=why)
    hosts = [host_port(database_url)] + ([host_port(redis_url)] if redis_url else [])
    engine.set_config(venture, HOSTS_KEY, hosts, actor=actor, reason=why)
