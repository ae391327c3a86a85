"""The Performance Optimization crew: 28.1 PerformanceProfiler → 28.2 CacheArchitect → 28.3 CodeOptimizer, with the
BottleneckAnalyst checking each step and judging the exit gate; all writes go through the engine (`CrewRun`).

Every change to the service (the cache design, each index, each tunable) is first written to the
venture's versioned configuration (`cache.routes`, `deployment.indexes`, `deployment.tunables`), then
applied, then measured against the load before it; a change that does not help is undone by an engine
rollback to the version before it, whose handlers (declared in `hooks()`) drop the index, restore the
previous configuration and flush the cached keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psutil
import redis

from venturegate.crews.base import AgentSpec, Crew, CrewContext, CrewHooks, CrewResult
from venturegate.crews.paths import crew_root
from venturegate.crews.runtime import CrewRun, Stop
from venturegate.crews.stage28 import cache, database, optimizer, profiler
from venturegate.crews.stage28.report import Report, write_report
from venturegate.crews.stage28.rollback import flush_cache, restore_cache, undo_deployment
from venturegate.crews.stage28.target import (
    KEY_PREFIX,
    Target,
    TargetError,
    forget_live,
    parse_tunables,
    read_target,
    register_live,
)
from venturegate.crews.stage28.traffic import Request, Workload
from venturegate.engine.exceptions import BadInput, NotFound
from venturegate.engine.secrets import KEYS as SECRET_KEYS
from venturegate.engine.secrets import SecretGrant

STAGE = 28
PROFILER, ARCHITECT, OPTIMIZER, ANALYST = "PerformanceProfiler", "CacheArchitect", "CodeOptimizer", "BottleneckAnalyst"


@dataclass
class _State:
    """What the run found and did, for the artifacts and the report."""

    target: dict[str, Any] = field(default_factory=dict)
    baseline: profiler.Measurement | None = None
    advice: list[database.IndexAdvice] = field(default_factory=list)
    design: cache.CacheDesign | None = None
    cache_run: profiler.Measurement | None = None
    stale_checks: list[cache.StaleCheck] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    final: profiler.Measurement | None = None
    gate: dict[str, Any] = field(default_factory=dict)
    rollbacks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class PerformanceOptimizationCrew(Crew):
    """Stage 28: profile the service and its database, prove and apply a cache and indexes, keep what helps."""

    name = "PerformanceOptimizationCrew"
    stage = STAGE
    agents = (
        AgentSpec(PROFILER, "Baseline load, pg_stat_statements, EXPLAIN, N+1, py-spy, hypopg index advice", ("28.1",)),
        AgentSpec(
            ARCHITECT, "Cache design from the access trace, one-pass hit-rate curve, Redis measurement", ("28.2",)
        ),
        AgentSpec(OPTIMIZER, "Applies indexes and tunables one at a time, keeps only measured improvements", ("28.3",)),
        AgentSpec(
            ANALYST, "Before/after statistics, rollbacks, the exit gate and the report", ("28.1", "28.2", "28.3")
        ),
    )

    def hooks(self) -> CrewHooks:
        """Rollback handlers for the stage's scopes: indexes and tunables, the cache design, the cached data."""
        return CrewHooks(rollback={"deployment": undo_deployment, "cache": restore_cache, "cache_data": flush_cache})

    def run(self, ctx: CrewContext) -> CrewResult:
        """28.1 → 28.2 → 28.3 → gate and report; stops early when an error or a trigger sends the venture back."""
        ctx.options = _with_last_target(ctx)
        run = CrewRun.begin(ctx, stage=STAGE)
        state = _State()
        venture = ctx.engine.venture(ctx.venture).name
        try:
            target = self._preflight(run)
            state.target = target.describe()
            register_live(venture, target)
            rate = float(ctx.option("rate", 25.0))
            seconds = float(ctx.option("seconds", 20.0))
            workload = Workload(
                target.endpoints,
                seed=int(ctx.option("seed", 28)),
                write_share=float(ctx.option("write_share", 0.01)),
            )
            requests = workload.take(max(16, math.ceil(rate * seconds)))
            if _verifying(run):
                self._verify(run, target, requests, rate, state)
            else:
                self._profile(run, target, requests, rate, state)
                self._cache(run, target, requests, rate, state, workload)
                self._optimize(run, target, requests, rate, state)
        except Stop:
            pass
        finally:
            forget_live(venture)
            self._report(run, state)
            if run.status == "failed":
                run.summary["error"] = run.outcome  # the job's error column shows why
        return run.result()

    # -- pre-flight: every check before anything is measured or changed ----------------------------
    def _preflight(self, run: CrewRun) -> Target:
        run.step(f"28.1 {PROFILER}", 0, 6, "checking the service, its database and its cache")
        try:
            grant = SecretGrant.from_settings({k: run.setting(k) for k in SECRET_KEYS})
            target = read_target(run.ctx.options, root=crew_root(run.ctx.output_root), grant=grant)
        except BadInput as exc:
            run.error(f"profiler not configured: {exc.message} ({exc.where})")
            raise run.stop("failed", exc.message) from None
        except TargetError as exc:
            run.error(f"profiling run failed: {exc}")
            raise run.stop("failed", str(exc)) from None
        try:
            with database.connect(target.database_url) as conn:
                database.check_extensions(conn)
        except database.DatabaseSetupError as exc:
            run.error(f"profiler not configured: {exc}")
            raise run.stop("failed", str(exc)) from None
        if target.redis_url is not None:
            client = cache.redis_client(target.redis_url)
            try:
                client.ping()
            except redis.exceptions.RedisError as exc:
                run.error(f"redis cache unreachable: connection refused or timed out ({type(exc).__name__})")
                raise run.stop("failed", f"the cache at ${target.redis_env} is unreachable") from None
            finally:
                client.close()
        if target.config_file is None:
            run.error("profiler not configured: no config_file option, so no change could be applied or undone")
        return target

    # -- verification: one more reading of what was kept, for the triggers --------------------------
    def _verify(self, run: CrewRun, target: Target, requests: list[Request], rate: float, state: _State) -> None:
        """Measure the service as it is now (nothing changed, the cache left warm) and record the stage's readings.

        PERF-004 advances the venture once its readings stay green for `advance.all_green_duration`; a run
        takes one reading, so a person (or a scheduler) runs it every `profiling_interval_seconds` until then.
        """
        run.step(f"28.3 {ANALYST}", 5, 6, f"verification reading: {len(requests)} requests at {rate:g}/s")
        try:
            state.final = profiler.measure(target, requests, rate)
        except (OSError, RuntimeError, psutil.Error) as exc:  # a service restarted since: its old pid is gone
            run.error(f"profiling run failed: {type(exc).__name__}: {exc}")
            raise run.stop("failed", str(exc)) from None
        state.notes.append("verification run: 28.1-28.3 are done, so the service was only measured, not changed")
        self._record(run, state.final, "verify", cache_rate=True)
        if state.final.cache is not None and (state.final.cache.hits + state.final.cache.misses):
            state.cache_run = state.final
        run.summary["verified"] = _snapshot(state.final)
        run.summary["advance"] = _advance_state(run)
        self._stop_if_sent_back(run, state)

    # -- 28.1 -----------------------------------------------------------------------------------------
    def _profile(self, run: CrewRun, target: Target, requests: list[Request], rate: float, state: _State) -> None:
        run.step(f"28.1 {PROFILER}", 1, 6, f"baseline: {len(requests)} requests at {rate:g}/s")
        try:
            base = profiler.measure(target, requests, rate, profile_to=run.path("py-spy.txt"))
        except (OSError, RuntimeError) as exc:
            run.error(f"profiling run failed: {exc}")
            raise run.stop("failed", str(exc)) from None
        state.baseline = base
        s = base.summary
        if base.trace.accesses == [] or s["error_rate"] >= 50:
            run.error(f"profiling run failed: service unreachable or failing ({s['error_rate']}% errors)")
        with database.connect(target.database_url) as conn:
            for stat in base.statements[:5]:
                database.explain(conn, stat, large_table_rows=int(run.ctx.option("large_table_rows", 10000)))
            state.advice = database.advise_indexes(
                conn, base.statements, min_factor=float(run.setting("index_advice.min_cost_factor"))
            )
        run.write_json("baseline-trace-summary.json", s)
        run.write_json("slow-queries.json", [q.as_dict() for q in base.statements])
        run.write_json("index-advice.json", [a.as_dict() for a in state.advice])
        if base.profile is not None:
            run.write_json("py-spy-hot-paths.json", base.profile.as_dict())
        ranked = profiler.hot_paths(base, state.advice)
        baseline_ref = run.put("performance_baseline", profiler.baseline_artifact(base))
        analysis_ref = run.put(
            "bottleneck_analysis",
            {
                "generated_at": datetime.now(UTC).isoformat(),
                "hot_paths": ranked,
                "slow_queries": [
                    {
                        "fingerprint": q.query[:500],
                        "avg_ms": round(q.mean_ms, 3),
                        "calls": q.calls,
                        "missing_index": any(q.query in a.queries for a in state.advice),
                    }
                    for q in base.statements
                ],
            },
            derived=[baseline_ref],
        )
        state.notes.append(f"baseline stored as {baseline_ref}, bottlenecks as {analysis_ref}")
        run.write_json(
            "targets.json",
            {
                k: run.setting(k)
                for k in (
                    "api_p50_target_ms",
                    "api_p95_target_ms",
                    "api_p99_target_ms",
                    "cache_hit_rate_target",
                    "cpu_utilization_warning",
                    "memory_utilization_warning",
                )
            },
        )
        self._record(run, base, "baseline", cache_rate=False)
        run.record({"hot_path_execution_count": float(sum(r["executions"] for r in ranked))}, suffix=":baseline")
        self._stop_if_sent_back(run, state)
        run.complete("28.1")

    # -- 28.2 -----------------------------------------------------------------------------------------
    def _cache(
        self, run: CrewRun, target: Target, requests: list[Request], rate: float, state: _State, workload: Workload
    ) -> None:
        assert state.baseline is not None
        run.step(f"28.2 {ARCHITECT}", 2, 6, "designing the cache from the access trace")
        if target.redis_url is None:
            run.error("no cache layer: the service has no Redis (cache not provisioned)")
            return
        requirements = self._requirements(run, state)
        staleness = {str(c["name"]): int(c["max_staleness_seconds"]) for c in requirements.get("candidates", [])}
        ttls = (
            int(run.setting("cache.ttl_short")),
            int(run.setting("cache.ttl_medium")),
            int(run.setting("cache.ttl_long")),
        )
        design = cache.design(
            state.baseline.trace,
            target.endpoints,
            ttls=ttls,
            staleness=staleness,
            strategy=str(run.setting("cache.invalidation_strategy")),
            delay_ms=int(run.setting("cache.invalidation_delay_ms")),
            min_p50_ms=float(run.ctx.option("cache_min_p50_ms", 5.0)),
            min_hit_rate=float(run.ctx.option("cache_min_hit_rate", 0.3)),
        )
        state.design = design
        run.write_json("cache-design.json", design.as_dict())
        if not design.cached:
            state.notes.append("no endpoint is worth caching: the cache design is empty")
            run.complete("28.2")
            return
        run.step(f"28.2 {ARCHITECT}", 3, 6, f"applying the cache to {len(design.cached)} route(s) and measuring")
        previous = target.read_config().get("cache")
        applied = run.engine.set_config(
            run.venture,
            "cache.routes",
            design.config_entries(),
            actor=run.ctx.actor,
            reason=f"stage-28 cache design ({run.run_id})",
        )
        before_version = applied.version - 1
        target.write_config(cache=design.target_config())
        client = cache.redis_client(target.redis_url)
        try:
            cache.flush_keys(client, KEY_PREFIX)
        finally:
            client.close()
        measured = profiler.measure(target, requests, rate)
        state.cache_run = measured
        verdict = self._judge(run, state.baseline, measured)
        change = {
            "hot_path": ", ".join(d.endpoint for d in design.cached),
            "technique": "caching",
            "config_diff": {"cache.routes": {"before": previous, "after": design.config_entries()}},
            **_effect(verdict, state.baseline, measured),
        }
        # The invalidation proof: a write must never be followed by a stale read beyond the allowed delay.
        writes = {e.name: e for e in target.endpoints if not e.is_read}
        for d in design.cached:
            for w in d.invalidated_by:
                path = next((a.path for a in measured.trace.accesses if a.route == d.route), None)
                body = next((r.body for r in workload.take(200) if r.endpoint.name == w and r.body), None)
                if path is not None and body is not None:
                    state.stale_checks.append(
                        cache.invalidation_test(
                            target.base_url, path, d.route, writes[w], body, delay_ms=design.delay_ms
                        )
                    )
        stale = [c for c in state.stale_checks if not c.fresh]
        if stale or verdict.verdict != "kept":
            why = "stale_cache" if stale else ("regression" if verdict.verdict == "regression" else "no effect")
            change["kept"], change["verdict"] = False, f"rolled back ({why})"
            state.changes.append(change)
            self._undo(run, target, before_version, ["cache", "cache_data"], why, state)
            if stale:
                run.error(f"stale cache read: {stale[0].detail}")
            return
        state.changes.append(change)
        assert measured.cache is not None
        run.put(
            "cache_layer",
            {
                "layers": [
                    {
                        "layer": "application",
                        "technology": "redis",
                        "pattern": "cache-aside",
                        "key_namespace": f"{KEY_PREFIX}c:{d.route}:",
                        "ttl_seconds": d.ttl_seconds,
                    }
                    for d in design.cached
                ],
                "invalidation": {
                    "strategy": design.strategy,
                    "delay_ms": design.delay_ms,
                    "events": sorted({w for d in design.cached for w in d.invalidated_by}),
                },
            },
            derived=[r for r in (run.latest("performance_baseline"), run.latest("bottleneck_analysis")) if r],
        )
        values = {"cache_hit_rate": measured.cache.hit_rate}
        if measured.cache.miss_penalty_ms is not None:
            values["cache_miss_penalty"] = max(0.0, measured.cache.miss_penalty_ms)
        run.record(values, suffix=":cache")
        self._stop_if_sent_back(run, state)
        run.complete("28.2")

    def _requirements(self, run: CrewRun, state: _State) -> dict[str, Any]:
        """The venture's cache_requirements, or ones derived from the baseline trace (stored, so 28.2 may open)."""
        try:
            return dict(run.engine.artifact(run.venture, "cache_requirements").content)
        except NotFound:
            pass
        assert state.baseline is not None
        content = profiler.requirements_artifact(state.baseline, int(run.setting("cache.ttl_medium")))
        run.put("cache_requirements", content, derived=[r for r in [run.latest("performance_baseline")] if r])
        state.notes.append("no cache_requirements were given: derived from the baseline (staleness = cache.ttl_medium)")
        return content

    # -- 28.3 -----------------------------------------------------------------------------------------
    def _optimize(self, run: CrewRun, target: Target, requests: list[Request], rate: float, state: _State) -> None:
        assert state.baseline is not None
        current: profiler.Measurement = state.baseline
        if state.cache_run is not None and state.changes and state.changes[-1]["kept"]:
            current = state.cache_run
        candidates: list[tuple[str, Any]] = [("index", a) for a in state.advice]
        candidates += [("tunable", (k, v)) for k, v in target.tunables.items()]
        for n, (kind, item) in enumerate(candidates):
            run.step(f"28.3 {OPTIMIZER}", 4, 6, f"change {n + 1}/{len(candidates)}: {_label(kind, item)}")
            change, before_version = self._apply(run, target, kind, item)
            self._flush(target)
            after = profiler.measure(target, requests, rate)
            verdict = self._judge(run, current, after)
            change.update(_effect(verdict, current, after))
            if verdict.verdict == "kept":
                current = after
            else:
                why = "regression" if verdict.verdict == "regression" else "no effect"
                change["verdict"] = f"rolled back ({why})"
                self._undo(run, target, before_version, ["deployment"], why, state)
            state.changes.append(change)
        run.step(f"28.3 {OPTIMIZER}", 5, 6, "final measurement")
        self._flush(target)
        state.final = profiler.measure(target, requests, rate)
        run.put(
            "optimized_code",
            {
                "changes": state.changes
                or [
                    {
                        "hot_path": "none",
                        "technique": "other",
                        "before_ms": 0,
                        "after_ms": 0,
                        "kept": False,
                        "verdict": "no change was proposed",
                    }
                ],
            },
            derived=[r for r in (run.latest("bottleneck_analysis"), run.latest("cache_layer")) if r],
        )
        self._record(run, state.final, "final", cache_rate=True)
        run.put("performance_report", self._performance_report(run, state))
        self._stop_if_sent_back(run, state)
        if any(c["kept"] for c in state.changes):
            run.complete("28.3")
        else:
            state.notes.append("no change helped: 28.3 stays open")

    def _apply(self, run: CrewRun, target: Target, kind: str, item: Any) -> tuple[dict[str, Any], int]:
        """Write the change to the versioned configuration, then apply it; the change and the version before it."""
        actor, reason = run.ctx.actor, f"stage-28 change ({run.run_id})"
        if kind == "index":
            advice: database.IndexAdvice = item
            built = list(run.setting("deployment.indexes") or [])
            got = run.engine.set_config(
                run.venture, "deployment.indexes", [*built, advice.name], actor=actor, reason=reason
            )
            with database.connect(target.database_url) as conn:
                database.build_index(conn, advice)
            change = {
                "hot_path": advice.queries[0][:300],
                "technique": "index",
                "ddl": advice.ddl,
                "config_diff": {"deployment.indexes": {"before": built, "after": [*built, advice.name]}},
            }
            return change, got.version - 1
        name, value = item
        entries = [e for e in (run.setting("deployment.tunables") or []) if not str(e).startswith(f"{name}=")]
        previous = target.read_config().get(name)
        got = run.engine.set_config(
            run.venture, "deployment.tunables", [*entries, f"{name}={value}"], actor=actor, reason=reason
        )
        new = parse_tunables([f"{name}={value}"])
        target.write_config(**new)
        change = {
            "hot_path": f"service configuration {name}={value}",
            "technique": "configuration",
            "config_diff": {name: {"before": previous, "after": new[name]}},
        }
        return change, got.version - 1

    def _undo(self, run: CrewRun, target: Target, version: int, scope: list[str], why: str, state: _State) -> None:
        """Roll the configuration back to `version` through the engine; its handlers undo the change outside."""
        record = run.engine.rollback(
            run.venture,
            version,
            actor=run.ctx.actor,
            scope=scope,
            cause="regression" if why == "regression" else "",
            reason=f"stage-28 change rolled back: {why}",
        )
        detail = "; ".join(f"{h.scope}: {h.detail}" for h in record.handlers)
        state.rollbacks.append(f"rollback #{record.id} to v{version} ({why}): {detail}")
        failed = [h for h in record.handlers if not h.ok]
        if failed:
            raise run.stop("failed", f"rollback handler failed: {failed[0].detail}")

    def _flush(self, target: Target) -> None:
        if target.redis_url is not None:
            client = cache.redis_client(target.redis_url)
            try:
                cache.flush_keys(client, KEY_PREFIX)
            finally:
                client.close()

    def _judge(self, run: CrewRun, before: profiler.Measurement, after: profiler.Measurement) -> optimizer.Judgement:
        def by_endpoint(m: profiler.Measurement) -> dict[str, list[float]]:
            return {e["endpoint"]: m.trace.latencies(e["endpoint"]) for e in m.summary["endpoints"]}

        return optimizer.judge(
            by_endpoint(before),
            by_endpoint(after),
            min_effect_percent=float(run.setting("optimization.min_effect_percent")),
            significance=float(run.setting("optimization.significance")),
            regression_margin_percent=float(run.setting("optimization.regression_margin_percent")),
        )

    # -- samples, gate, report ---------------------------------------------------------------------------
    def _record(self, run: CrewRun, m: profiler.Measurement, label: str, *, cache_rate: bool) -> None:
        s = m.summary
        values = {
            "api_response_time_p50": s["p50_ms"],
            "api_response_time_p95": s["p95_ms"],
            "api_response_time_p99": s["p99_ms"],
            "cpu_utilization": m.resources["cpu_percent_avg"],
            "memory_utilization": m.resources["memory_percent_avg"],
            "db_connection_pool_usage": m.pool_usage,
            "slow_query_count": float(m.slow_queries),
        }
        if cache_rate and m.cache is not None and (m.cache.hits + m.cache.misses):
            values["cache_hit_rate"] = m.cache.hit_rate
        run.record(values, suffix=f":{label}")

    def _stop_if_sent_back(self, run: CrewRun, state: _State) -> None:
        """Stop when a recursion or rollback acted; an assisted one only proposed waits for its role (noted)."""
        acted = [f for f in run.acted if f.outcome != "proposed"]
        for f in run.acted:
            if f.outcome == "proposed" and f"{f.trigger}: {f.detail}" not in state.notes:
                state.notes.append(f"{f.trigger}: {f.detail}")
        if acted:
            what = "; ".join(f"{f.trigger} {f.detail or f.outcome}" for f in acted)
            raise run.stop("recursed", f"recursed: {what}")

    def _performance_report(self, run: CrewRun, state: _State) -> dict[str, Any]:
        assert state.baseline is not None and state.final is not None
        p95_target = float(run.setting("api_p95_target_ms"))
        hit_target = float(run.setting("cache_hit_rate_target"))
        before, after = _snapshot(state.baseline), _snapshot(state.final)
        passed = after["api_p95_ms"] <= p95_target and after["cache_hit_rate_percent"] >= hit_target
        return {
            "generated_at": datetime.now(UTC).isoformat(),
            "before": before,
            "after": after,
            "targets": {
                "api_p50_ms": float(run.setting("api_p50_target_ms")),
                "api_p95_ms": p95_target,
                "api_p99_ms": float(run.setting("api_p99_target_ms")),
                "cache_hit_rate_percent": hit_target,
            },
            "load_test": {
                "tool": "other",
                "duration_seconds": max(1, round(state.final.trace.seconds)),
                "error_rate_percent": min(100.0, state.final.summary["error_rate"]),
            },
            "verdict": "pass" if passed else "fail",
            "recommendations": _recommendations(state),
        }

    def _report(self, run: CrewRun, state: _State) -> None:
        v = run.engine.venture(run.venture)
        if v.stage == STAGE:
            gate = run.engine.check_gate(run.venture, "exit")
            state.gate = {"passed": gate.passed, "checks": [c.as_dict() for c in gate.checks]}
        else:
            state.gate = {"passed": False, "checks": [], "note": f"the venture is at stage {v.stage} now"}
        try:
            paths = write_report(Report.of(v.name, run, state), run)
        except Exception as exc:  # the report must never hide how the run ended
            run.summary["report_error"] = f"{type(exc).__name__}: {exc}"
            return
        run.summary.update(_figures(state))
        run.summary["report"] = str(paths["html"])


def _verifying(run: CrewRun) -> bool:
    """Whether this run only takes a reading: option `verify` (`auto`: when 28.1, 28.2 and 28.3 are all done)."""
    raw = str(run.ctx.option("verify", "auto")).strip().lower()
    if raw == "auto":
        return {"28.1", "28.2", "28.3"} <= run.done()
    if raw in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return raw in ("1", "true", "yes", "on")
    raise BadInput(f"option verify={raw!r} is not auto, true or false", where="--option", hint="verify=true")


def _with_last_target(ctx: CrewContext) -> dict[str, Any]:
    """The run's options; without `base_url`, those of the venture's newest stage-28 job that had one (the
    service and the load's shape, not `tunables` or `verify`), so that a run started from the dashboard, which
    passes no options, measures the same service the same way."""
    if "base_url" in ctx.options:
        return dict(ctx.options)
    for job in ctx.engine.jobs(ctx.venture, limit=50):
        if job.stage == STAGE and job.id != ctx.job_id and "base_url" in (job.options or {}):
            kept = {k: v for k, v in job.options.items() if k not in ("tunables", "verify")}
            return {**kept, **ctx.options}
    return dict(ctx.options)


def _advance_state(run: CrewRun) -> dict[str, Any]:
    """PERF-004's state after the reading: inactive (a reading is not green), pending since, or fired."""
    got = next((t for t in run.engine.trigger_status(run.venture) if t["trigger"] == "PERF-004"), None)
    if got is None:
        return {"state": "moved on", "detail": f"the venture is at stage {run.engine.venture(run.venture).stage}"}
    return {"state": got["state"], "since": got["since"], "for": run.setting("advance.all_green_duration")}


def _label(kind: str, item: Any) -> str:
    return item.ddl if kind == "index" else f"{item[0]}={item[1]}"


def _effect(j: optimizer.Judgement, before: profiler.Measurement, after: profiler.Measurement) -> dict[str, Any]:
    """A change's measured effect for optimized_code: the deciding endpoint's p95 (else the service's)."""
    out: dict[str, Any] = {"kept": j.verdict == "kept", "verdict": j.verdict}
    if j.deciding is not None and j.endpoint is not None:
        kept = j.verdict == "kept"  # an improvement is judged on the median, a regression on p95
        out.update(
            measured_on=f"{j.endpoint} ({'median' if kept else 'p95'})",
            before_ms=round(j.deciding.before_p50 if kept else j.deciding.before_p95, 3),
            after_ms=round(j.deciding.after_p50 if kept else j.deciding.after_p95, 3),
            p_value=min(1.0, j.deciding.p_faster if kept else j.deciding.p_slower),
        )
    else:
        out.update(measured_on="all endpoints", before_ms=before.summary["p95_ms"], after_ms=after.summary["p95_ms"])
    out["endpoints"] = {k: c.as_dict() for k, c in j.comparisons.items()}
    return out


def _snapshot(m: profiler.Measurement) -> dict[str, Any]:
    s = m.summary
    return {
        "api_p50_ms": s["p50_ms"],
        "api_p95_ms": s["p95_ms"],
        "api_p99_ms": s["p99_ms"],
        "cache_hit_rate_percent": m.cache.hit_rate if m.cache is not None else 0.0,
        "cpu_percent_avg": min(100.0, m.resources["cpu_percent_avg"]),
        "memory_percent_avg": min(100.0, m.resources["memory_percent_avg"]),
        "slow_query_count": m.slow_queries,
    }


def _recommendations(state: _State) -> list[str]:
    out = []
    m = state.final or state.baseline
    if m is not None:
        for q in m.statements:
            if q.n_plus_one:
                out.append(
                    f"N+1 query still in the code ({q.calls_per_request:.1f} calls per request): "
                    f"fetch the rows in one query instead of `{q.query[:120]}` per row"
                )
        for q in m.statements:
            for scan in q.seq_scans:
                out.append(f"`{q.query[:120]}` still scans {scan['table']} ({scan['rows']} rows)")
    b = state.baseline
    if b is not None and b.profile is not None and b.profile.ok and b.profile.hot:
        h = b.profile.hot[0]
        out.append(
            f"Python hot path {h.function}: {h.self_samples} of {b.profile.samples} py-spy samples on-CPU "
            "in the function itself; precompute or cache its result"
        )
    for c in state.changes:
        if not c["kept"]:
            out.append(f"{c['technique']} change on {c['hot_path'][:80]} was rolled back ({c['verdict']})")
    return out[:20]


def _figures(state: _State) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if state.baseline is not None:
        out["baseline_p95_ms"] = state.baseline.summary["p95_ms"]
    if state.final is not None:
        out["final_p95_ms"] = state.final.summary["p95_ms"]
    if state.design is not None:
        out["predicted_hit_rate"] = state.design.predicted
    if state.cache_run is not None and state.cache_run.cache is not None:
        out["measured_hit_rate"] = state.cache_run.cache.hit_rate
    if state.baseline is not None and state.final is not None:
        after = {e["endpoint"]: e for e in state.final.summary["endpoints"]}
        out["endpoints"] = {
            e["endpoint"]: {
                "before_p50_ms": e["p50_ms"],
                "after_p50_ms": after[e["endpoint"]]["p50_ms"],
                "before_p95_ms": e["p95_ms"],
                "after_p95_ms": after[e["endpoint"]]["p95_ms"],
            }
            for e in state.baseline.summary["endpoints"]
            if e["endpoint"] in after
        }
    out["changes"] = [
        {k: c.get(k) for k in ("technique", "hot_path", "verdict", "measured_on", "before_ms", "after_ms")}
        for c in state.changes
    ]
    out["rollbacks"] = state.rollbacks
    out["index_advice"] = [a.as_dict() for a in state.advice]
    return out
