"""The demo's beats: what people and crews do hour by hour, the stage-19 gates and the stage-28 PERF-002 recursions."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from venturegate.cli import render
from venturegate.cli.context import out
from venturegate.core.gates import GateResult
from venturegate.demo import data
from venturegate.demo.rollback_scene import RollbackScene
from venturegate.demo.story import CHAIRMAN, EXEC, LEAD, C, K, L, Q, T
from venturegate.demo.telemetry import Telemetry


class Beats(RollbackScene, Telemetry):
    """The people's and crews' steps after each hour's data, and the notes on what happened in the world."""

    def notes(self, hour: int) -> None:
        """What happened out in the world during the hour, told before its data arrives."""
        when = self.at(hour)
        lumen = {
            25: "a catalogue re-import evicted the hot keys; the hour's 12 cache readings average {avg} "
            "(PERF-002 wants 70% over an hour)",
            26: "readings back at {avg}: PERF-002's condition turns false, so a later breach is a new episode",
            27: "a price import cleared the cache again: {avg} over the hour",
            28: "back at {avg}",
            29: "{avg} again — PERF-002 has already sent it back twice, and its limit is 2",
            30: "{avg} on Valkey: the hit rate holds",
        }
        if hour in lumen:
            self.say(when, f"[bold]{L}[/bold]: " + lumen[hour].format(avg=f"{self.cache_level(L, hour):.1f}%"))
        if hour == 24:
            self.say(
                when,
                f"[bold]{C}[/bold]: crew-19 runs the full integration suite: 36 of 39 pass (92.3%) — Shippo answered "
                "429 under load. Any other segment would accept that; b2c_mass needs 95%.",
            )
        if hour == 26:
            self.say(when, f"[bold]{K}[/bold]: daily report — readiness 71 (was 66), 87.5% of roles filled")
        if hour == 31:
            self.say(
                when,
                f"[bold]{Q}[/bold]: an hour of per-minute load data — p95 ~168 ms, CPU ~50%, memory ~62%, cache ~84%",
            )
        if hour == 32:
            self.say(when, f"[bold]{Q}[/bold]: another green hour")

    def beats(self, hour: int) -> None:
        """The people's and crews' steps after the hour's data arrived."""
        steps = {
            1: self.hour_1,
            2: self.hour_2,
            3: self.hour_3,
            5: self.hour_5,
            6: self.hour_6,
            24: self.cartwheel_regression,
            25: self.perf_002_first,
            27: self.perf_002_second,
            29: self.perf_002_escalates,
            30: self.deployment,
            32: self.quarry_notified,
        }
        step = steps.get(hour)
        if step is not None:
            step(hour)

    def hour_1(self, hour: int) -> None:
        """19.1 and 28.1 done."""
        self.complete(T, "19.1", self.at(hour, 5), "61 of 63 integration tests pass (96.8%)")
        self.complete(L, "28.1", self.at(hour, 10), "profiled; an N+1 catalogue query is the top hot path")
        self.complete(Q, "28.1", self.at(hour, 12), "profiled; the tonnage query scans weighbridge_readings")

    def hour_2(self, hour: int) -> None:
        """Cartwheel's load test."""
        self.complete(C, "19.2", self.at(hour, 5), "load test: p95 410 ms, 180 req/s sustained")

    def hour_3(self, hour: int) -> None:
        """Tally's load test; both caches built."""
        when = self.at(hour, 5)
        results = data.integration_test_results(
            "tally-run-1", self.at(1, -3), data.TALLY_INTEGRATIONS, latency_p95=640, throughput=150
        )
        ref = self.put(
            T, "integration_test_results", results, when, ["integration_requirements@1", "api_documentation@1"]
        )
        self.complete(T, "19.2", when, f"load test: p95 640 ms, 150 req/s; stored {ref}")
        for name in (L, Q):
            when = self.at(hour, 20 if name == L else 25)
            ref = self.put(name, "cache_layer", data.cache_layer(name, 1), when, ["cache_requirements@1"])
            self.complete(name, "28.2", when, f"{data.cache_note(name, 1)}; stored {ref}")

    def hour_5(self, hour: int) -> None:
        """Tally's fallbacks; Keystone's environments."""
        when = self.at(hour, 5)
        refs = [
            self.put(T, "api_configurations", data.api_configurations(data.TALLY_INTEGRATIONS), when, []),
            self.put(T, "fallback_strategies", data.fallback_strategies(data.TALLY_INTEGRATIONS), when, []),
        ]
        self.complete(T, "19.3", when, f"breakers open after 5 failures and reset; stored {', '.join(refs)}")
        when = self.at(hour, 30)
        ref = self.put(K, "development_environment", data.development_environment(when), when, [])
        self.complete(K, "14.1", when, f"dev and staging up, CI green again; stored {ref}")

    def hour_6(self, hour: int) -> None:
        """Cartwheel's fallbacks; both stage-28 ventures optimised and reported."""
        when = self.at(hour, 5)
        refs = [
            self.put(C, "api_configurations", data.api_configurations(data.CARTWHEEL_INTEGRATIONS), when, []),
            self.put(C, "fallback_strategies", data.fallback_strategies(data.CARTWHEEL_INTEGRATIONS), when, []),
        ]
        self.complete(C, "19.3", when, f"fallbacks and breakers verified; stored {', '.join(refs)}")
        for name in (L, Q):
            when = self.at(hour, 20 if name == L else 30)
            before, after = self.before(name), self.after(name)
            code = self.put(name, "optimized_code", data.optimized_code(name, before, after), when, [])
            report = data.performance_report(before, after, when)
            rep = self.put(name, "performance_report", report, when, ["performance_baseline@1", code])
            self.complete(name, "28.3", when, f"p95 {before.p95:g} → {after.p95:g} ms; stored {code} and {rep}")
        when = self.at(hour, 40)
        criterion = "Best practices applied: lint passes and the changes follow the studio's optimisation patterns"
        self.engine.attest(Q, criterion, actor=EXEC, now=when)
        self.say(when, f'[bold]{Q}[/bold]: ivy (exec) attests "Best practices applied"')

    def cartwheel_regression(self, hour: int) -> None:
        """The failing run's results, the reopened substages, and the tick that fires the pending alert."""
        when = self.at(hour, 2)
        results = data.integration_test_results("cartwheel-run-1", self.at(hour, -2), data.CARTWHEEL_INTEGRATIONS)
        ref = self.put(C, "integration_test_results", results, when, ["integration_requirements@1"])
        self.say(when, f"[bold]{C}[/bold]: crew-19 stores {ref}; substages now {self.substage_line(C)}")
        when = self.at(hour, 5)
        report = self.engine.tick(now=when)
        self.say(
            when,
            f"[bold]tick[/bold] at {when:%H:%M}: {report.timers} timer due — the wake-up the pending alert scheduled",
        )
        self.fired(when, report.fired)
        self.gates(hour)

    def gates(self, hour: int) -> None:
        """One stage-19 exit gate passes (and the venture advances), one does not."""
        out.rule("4 · Gates explain themselves")
        e = self.engine
        when = self.at(hour, 10)
        self.say(when, f"[bold]{T}[/bold]: ivy (exec) checks the stage-19 exit gate")
        self.gate(T, e.check_gate(T, "exit", now=when))
        when = self.at(hour, 12)
        v = e.advance(T, actor=EXEC, now=when, expected_stage=19)
        self.stage[T] = v.stage
        entry = e.check_gate(T, "entry", now=when)
        self.say(
            when,
            f"[bold]{T}[/bold]: ivy advances it 19 → {v.stage}: [yellow]{v.status}[/yellow] until "
            + " and ".join(f'"{c.name}"' for c in entry.failing())
            + " are attested",
        )
        when = self.at(hour, 15)
        for c in entry.failing():
            e.attest(T, c.name, actor=EXEC, now=when)
        self.say(when, f"[bold]{T}[/bold]: ivy attests both → {self.status(T)} at stage {e.venture(T).stage}")
        when = self.at(hour, 20)
        self.say(when, f"[bold]{C}[/bold]: the same gate for cartwheel")
        self.gate(C, e.check_gate(C, "exit", now=when))

    def gate(self, venture: str, result: GateResult) -> None:
        """Print a gate's explanation with the engine's renderer."""
        render.gate_result(result, self.engine.venture(venture))

    def substage_line(self, venture: str) -> str:
        """`✓ 28.1  · 28.2  · 28.3` for the current visit."""
        return "  ".join(
            f"[green]✓ {s.id}[/green]" if s.status == "done" else f"· {s.id}" for s in self.engine.substages(venture)
        )

    def approve_proposal(self, hour: int, trigger: str, reason: str) -> None:
        """Lee (lead) approves the trigger's pending proposal; the venture goes back to 28.2."""
        e = self.engine
        when = self.at(hour, 15)
        for a in e.approvals(L, "pending"):
            if (a.payload or {}).get("trigger") == trigger:
                e.decide_approval(a.id, True, actor=LEAD, reason=reason, now=when)
                self.say(when, f"[bold]{L}[/bold]: lee (lead) approves #{a.id} ({escape(a.reason)}): {reason}")
        self.say(when, f"[bold]{L}[/bold]: back in 28.2 — substages {self.substage_line(L)}")

    def rework(self, hour: int, version: int, start: int = 40) -> None:
        """The cache architect reworks the cache and the code optimiser re-checks the hot paths."""
        when = self.at(hour, start)
        parents = ["cache_requirements@1", f"cache_layer@{version - 1}"]
        ref = self.put(L, "cache_layer", data.cache_layer(L, version), when, parents)
        self.complete(L, "28.2", when, f"{data.cache_note(L, version)}; stored {ref}")
        self.complete(L, "28.3", self.at(hour, start + 10), "hot paths re-checked against the new cache")

    def perf_002_first(self, hour: int) -> None:
        """The first proposal, approved."""
        self.approve_proposal(hour, "PERF-002", "version the keys by catalogue revision")
        self.rework(hour, 2)

    def perf_002_second(self, hour: int) -> None:
        """The second proposal, approved."""
        self.approve_proposal(hour, "PERF-002", "add TTL jitter and a warm-up job after imports")
        self.rework(hour, 3)

    def perf_002_escalates(self, hour: int) -> None:
        """The third breach escalates; the chairman resolves it."""
        e = self.engine
        esc = e.escalations(ref=L)[0]
        table = Table(title=f"Escalation {esc.code}", title_justify="left", show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        table.add_row("status", esc.status)
        table.add_row("owner", f"{esc.role} (or the chairman)")
        table.add_row("trigger", esc.trigger_id or "—")
        table.add_row("reason", esc.reason)
        table.add_row("venture", f"{L} is {self.status(L)}; the escalation keeps its last {len(esc.history)} events")
        out.print(table)
        when = self.at(hour, 20)
        done = e.resolve_escalation(
            esc.code,
            "28.2",
            actor=CHAIRMAN,
            reason="Cache tool review: move the catalogue cache to Valkey with LFU eviction",
            now=when,
        )
        self.say(
            when,
            f"[bold]{L}[/bold]: ada (chairman) resolves {done.code}: review the cache tool itself, resume at "
            f"{done.resume_at} → {self.status(L)}; substages {self.substage_line(L)}",
        )
        self.rework(hour, 4, start=35)

    def quarry_notified(self, hour: int) -> None:
        """PERF-004 fired in manual mode."""
        self.say(
            self.at(hour, 1),
            f"[bold]{Q}[/bold]: its exit gate passes; stage 28 is promoted to assisted after 5 clean runs, "
            "and then PERF-004 will propose the advance itself",
        )
