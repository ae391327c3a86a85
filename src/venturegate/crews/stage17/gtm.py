"""The GTM Strategist crew: 17.1 MarketingAnalyst → 17.2 CampaignManager + ContentGenerator → 17.3
WorkflowOrchestrator, writing samples, artifacts, substage completions and errors through the engine only.

The studio's approvals sit between the substages (17.2 starts after LEAD approves the strategy; 17.3 after PLAN
and LEAD approve the campaign): when one is missing the run ends `waiting` and says who must attest what; run the
crew again after the attestation and it picks up where it stopped (outputs of earlier substages are reused, not
regenerated, so what was approved is what ships).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from venturegate.crews.base import AgentSpec, Crew, CrewContext, CrewHooks, CrewResult
from venturegate.crews.paths import crew_root
from venturegate.crews.runtime import CrewRun, Stop
from venturegate.crews.stage17 import live
from venturegate.crews.stage17.budget import AllocationError, Observed
from venturegate.crews.stage17.campaigns import CampaignSpec, build_campaign
from venturegate.crews.stage17.content import (
    TEMPLATES,
    ContentError,
    ContentProvider,
    OpenAIProvider,
    TemplateProvider,
)
from venturegate.crews.stage17.strategy import ADAPTER, StrategyError, encode
from venturegate.crews.stage17.workflows import WorkflowError, nurture_workflow, validate
from venturegate.definitions.model import AttestCheck
from venturegate.engine.exceptions import ArtifactInvalid, BadInput, NotFound

STAGE = 17
INPUTS = ("market_strategy", "customer_segments", "marketing_channels")
FALLBACK_TO_TEMPLATES = "use-default-templates"
CONTENT_ENV = {"base_url": "VENTUREGATE_CONTENT_BASE_URL", "model": "VENTUREGATE_CONTENT_MODEL"}
KEY_ENV = "VENTUREGATE_CONTENT_API_KEY"


def _fallback_to_templates(_ctx: Any) -> str:
    """The error policy's fallback for a failed content-model call: the default template provider."""
    return FALLBACK_TO_TEMPLATES


class GTMStrategistCrew(Crew):
    """Stage 17: strategy and budget, campaigns with checked content and A/B plans, workflows tested on leads."""

    name = "GTMStrategistCrew"
    stage = STAGE
    agents = (
        AgentSpec("MarketingAnalyst", "Encodes the strategy, picks channels, allocates the budget", ("17.1",)),
        AgentSpec("CampaignManager", "Templates, launch calendar and A/B test plans", ("17.2",)),
        AgentSpec("ContentGenerator", "Copy and variants from a content provider, checked by brand rules", ("17.2",)),
        AgentSpec("WorkflowOrchestrator", "Workflows and triggers, tested end to end on synthetic leads", ("17.3",)),
    )

    def hooks(self) -> CrewHooks:
        return CrewHooks(rollback=dict(live.HANDLERS), fallback={"agent-api-failure": _fallback_to_templates})

    def run(self, ctx: CrewContext) -> CrewResult:
        """Run 17.1 → 17.2 → 17.3 (each skipped when done), then report; stops at a missing approval or error."""
        run = CrewRun.begin(ctx, stage=STAGE)
        notes: dict[str, Any] = {"provider": "template"}
        try:
            try:
                self._steps(run, notes)
            except ArtifactInvalid as exc:  # an output that breaks its schema is the crew's failure, not a crash
                run.error(f"crew task: {exc}")
        except Stop:
            pass
        finally:
            self._report(run, notes)
        return run.result()

    # -- steps ---------------------------------------------------------------------------------
    def _steps(self, run: CrewRun, notes: dict[str, Any]) -> None:
        v = run.engine.venture(run.venture)
        if v.stage != STAGE:
            raise run.stop("failed", f"the venture is at stage {v.stage}, not {STAGE}")
        done = run.done()
        self._provider(run)  # a content endpoint the options may not name is refused before anything is done
        run.step("17.1 MarketingAnalyst", 0, 4, "encoding the strategy and allocating the budget")
        config_ref = self._strategy(run, notes, redo="17.1" not in done or bool(run.ctx.option("reallocate", False)))
        if "17.1" not in done:
            run.complete("17.1")
        if "17.2" not in done:
            self._wait_for_entry(run, "17.2")
        run.step("17.2 CampaignManager", 1, 4, "campaign, content and A/B test plans")
        campaign_ref = self._campaigns(run, notes, config_ref, redo="17.2" not in done)
        if "17.2" not in done:
            run.complete("17.2")
            self._wait_for_entry(run, "17.3")
        run.step("17.3 WorkflowOrchestrator", 2, 4, "workflows tested on synthetic leads")
        self._automation(run, notes, campaign_ref, redo="17.3" not in done)
        if "17.3" not in done:
            run.complete("17.3")
        run.step("report", 3, 4, "checking the exit gate")
        asked = [
            a
            for a in run.engine.approvals(run.venture)
            if a.role == "lead" and a.stage == STAGE and a.status in ("pending", "approved")
        ]
        if not asked and not run.engine.check_gate(run.venture, "exit").passed:
            run.engine.request_approval(
                run.venture, "lead", actor=run.ctx.actor, reason="GTM agent, campaign and workflows ready for review"
            )

    def _wait_for_entry(self, run: CrewRun, substage: str) -> None:
        """Stop `waiting` when the substage's written approvals (its entry attestations) are not all given yet.

        Checked before the substage's work, as the studio does it: 17.2 starts on the approved strategy, 17.3 on
        the approved campaign. Attestations count from the current visit of the stage only.
        """
        stage = run.engine.workflow.workflow.stage(STAGE)
        sub = stage.substage(substage) if stage is not None else None
        wanted = [(c.attest, c.role) for c in (sub.entry if sub is not None else []) if isinstance(c, AttestCheck)]
        visit = [vi for vi in run.engine.visits(run.venture) if vi.stage == STAGE][-1]
        given = {
            e.reason
            for e in run.engine.events(run.venture, kind="criterion.attested", limit=10_000)
            if e.stage == STAGE and e.at >= visit.entered_at
        }
        missing = [f"{(role or 'someone').upper()} attests '{text}'" for text, role in wanted if text not in given]
        if missing:
            raise run.stop("waiting", f"{substage} waits for approval: {'; '.join(missing)}, then run the crew again")

    def _inputs(self, run: CrewRun) -> dict[str, Any]:
        got = {}
        for name in INPUTS:
            try:
                got[name] = run.engine.artifact(run.venture, name)
            except NotFound:
                run.error(f"crew task 17.1: input artifact {name} is missing (put it before running the crew)")
        return got

    def _observed(self, run: CrewRun) -> dict[str, Observed]:
        try:
            doc = run.engine.artifact(run.venture, "gtm_experiments").content
        except NotFound:
            return {}
        return {
            name: Observed(float(c["spend_usd"]), int(c["conversions"]), int(c["leads"]))
            for name, c in doc.get("channels", {}).items()
        }

    def _strategy(self, run: CrewRun, notes: dict[str, Any], *, redo: bool) -> str:
        if not redo:
            art = run.engine.artifact(run.venture, "gtm_agent_config")
            notes["config"] = art.content
            self._status(run)
            return f"{art.name}@{art.version}"
        arts = self._inputs(run)
        settings = {
            key: run.setting(key)
            for key in (
                "primary_channels",
                "budget_allocation",
                "total_budget_usd_monthly",
                "brand_voice",
                "objectives",
                "campaign_type",
                "roas_target",
            )
        }
        try:
            previous = run.engine.artifact(run.venture, "gtm_agent_config")
            version = int(previous.content["version"]) + 1
        except NotFound:
            version = 1
        name = str(run.engine.venture(run.venture).name)
        try:
            enc = encode(
                name,
                arts["market_strategy"].content,
                arts["customer_segments"].content,
                arts["marketing_channels"].content,
                settings,
                self._observed(run),
                version=version,
                seed=int(run.ctx.option("seed", 17)),
            )
        except AllocationError as exc:
            # "over budget" is what the stage's taxonomy knows a broken split by (budget-overspend)
            run.error(f"over budget: {exc}" if "adds up" in str(exc) else f"crew task 17.1: {exc}")
            raise run.stop("failed", f"17.1 could not be configured: {exc}") from exc  # the policy had no remedy
        except StrategyError as exc:
            run.error(f"crew task 17.1: {exc}")
            raise run.stop("failed", f"could not continue: {exc}") from exc
        ref = run.put("gtm_agent_config", enc.config, [f"{a.name}@{a.version}" for a in arts.values()])
        live.deploy(run.engine.venture(run.venture).id, enc.config, live_root=crew_root(run.ctx.output_root))
        notes["config"] = enc.config
        notes["segment"] = dict(enc.segment)
        notes["proposition"] = enc.proposition
        self._status(run)
        return ref

    def _status(self, run: CrewRun) -> None:
        """Ask the deployed agent for its status (its config through the engine, its live state) and time it."""
        started = time.perf_counter()
        venture = run.engine.venture(run.venture)
        config = run.engine.artifact(run.venture, "gtm_agent_config").content
        state = live.status(venture.id, live_root=crew_root(run.ctx.output_root))
        ok = state.get("agent") == "deployed" and state.get("active_config") == config["version"]
        elapsed = time.perf_counter() - started
        if not ok:
            run.error(f"crew task 17.1: the GTM agent does not answer with config version {config['version']}")
        run.record({"gtm_agent_response_time": round(elapsed, 4)}, suffix=f":{run.elapsed:.3f}")
        self._stop_if_sent_back(run)

    def _stop_if_sent_back(self, run: CrewRun) -> None:
        if run.sent_back:
            acted = "; ".join(f"{f.trigger} {f.detail or f.outcome}" for f in run.acted)
            raise run.stop("recursed", f"recursed: {acted}")

    # -- 17.2 ----------------------------------------------------------------------------------
    def _provider(self, run: CrewRun) -> ContentProvider:
        """The operator's endpoint (environment, with its key), or a loopback one named by option (no key).

        Options come from whoever starts the job: they may point at a local model server, never at a host that
        would receive the operator's key or turn the server into a proxy.
        """
        model = str(run.ctx.option("content_model", os.environ.get(CONTENT_ENV["model"], "default")))
        timeout = float(run.ctx.option("content_timeout", 30.0))
        given = run.ctx.options.get("content_base_url")
        if given is not None:
            host = urlsplit(str(given)).hostname or ""
            if urlsplit(str(given)).scheme not in ("http", "https") or host not in ("127.0.0.1", "localhost", "::1"):
                raise BadInput(
                    f"option content_base_url {str(given)[:80]!r} is not a loopback URL",
                    where="option content_base_url",
                    hint=f"a hosted endpoint is the operator's choice: set {CONTENT_ENV['base_url']}",
                )
            return OpenAIProvider(str(given), model, "", timeout=timeout)
        base_url = os.environ.get(CONTENT_ENV["base_url"], "")
        if not base_url:
            return TemplateProvider()
        return OpenAIProvider(base_url, model, os.environ.get(KEY_ENV, ""), timeout=timeout)

    def _templates(self, run: CrewRun) -> dict[str, str]:
        return {k: str(run.ctx.option(f"template_{k}", v)) for k, v in TEMPLATES.items()}

    def _campaigns(self, run: CrewRun, notes: dict[str, Any], config_ref: str, *, redo: bool) -> str:
        if not redo or self._derived_from(run, "campaign_templates", config_ref):
            art = run.engine.artifact(run.venture, "campaign_templates")
            notes["campaign"] = art.content["campaigns"][0]
            return f"{art.name}@{art.version}"
        config = notes["config"]
        if "segment" not in notes:
            notes.update(self._segment_notes(run, config))
        provider = self._provider(run)
        notes["provider"] = provider.name
        state = {"provider": provider}

        def call(op: Callable[[], Any]) -> Any:
            if state["provider"].name == "template":
                return op()
            try:
                return op()
            except (TimeoutError, ConnectionError, ContentError) as exc:
                got = run.engine.handle_error(run.venture, STAGE, exc, operation=op, actor=run.ctx.actor)
                if not got.resolved:
                    raise run.stop(
                        "failed", f"{got.record.status}: {got.record.rule_id} {got.record.resolution}"
                    ) from None
                if got.result == FALLBACK_TO_TEMPLATES:
                    state["provider"] = TemplateProvider()
                    notes["provider"] = f"{provider.name} → template (fallback after error #{got.record.id})"
                    raise _Switch() from None
                return got.result

        spec = self._spec(run, config, notes)
        try:
            try:
                built = build_campaign(spec, provider, call=call)
            except _Switch:
                built = build_campaign(spec, state["provider"], call=call)
        except ContentError as exc:
            run.error(f"crew task 17.2: {exc}")
            raise run.stop("failed", f"could not continue: {exc}") from exc
        built.campaign["content_review"] = {
            "provider": notes["provider"],
            "rules": "length, call to action, banned words and claims, readability band, UTM on every link",
            "rejected": built.rejections,
        }
        notes["campaign"] = built.campaign
        ref = run.put(
            "campaign_templates", {"venture_id": config["venture_id"], "campaigns": [built.campaign]}, [config_ref]
        )
        run.write_json("campaign.json", built.campaign)
        run.record(
            {
                "configured_campaigns": 1.0,
                "ab_variants_per_element": float(built.min_variants),
                "launch_calendar_weeks": float(built.campaign["schedule"]["calendar_weeks"]),
                "content_brand_voice_score": built.brand_voice_score,
            }
        )
        self._stop_if_sent_back(run)
        return ref

    def _segment_notes(self, run: CrewRun, config: dict[str, Any]) -> dict[str, Any]:
        segs = run.engine.artifact(run.venture, "customer_segments").content["segments"]
        strategy = run.engine.artifact(run.venture, "market_strategy").content
        top_id = config.get("segments_ranked", [{}])[0].get("id")
        top = next((s for s in segs if s["id"] == top_id), segs[0])
        props = {p["segment"]: p["proposition"] for p in strategy["value_propositions"]}
        return {"segment": top, "proposition": props.get(top["id"], props.get(top["name"], ""))}

    def _spec(self, run: CrewRun, config: dict[str, Any], notes: dict[str, Any]) -> CampaignSpec:
        seg = notes["segment"]
        budget = config["budget"]
        channels = [config["channels"]["primary"], *config["channels"]["secondary"]]
        cta = str(run.setting("cta_type"))
        conv = float(run.setting("conversion_target")) / 100
        return CampaignSpec(
            venture=str(config["venture_id"]),
            campaign_type=str(run.setting("campaign_type")),
            segment_type=str(config["target_segment"]),
            segment_name=str(seg["name"]),
            voice=str(config["brand_voice"]),
            cta=cta,
            positioning=str(config.get("positioning", "")),
            proposition=str(notes.get("proposition", "")),
            pain_points=tuple(str(p) for p in seg.get("pain_points", [])),
            sequence_length=int(run.setting("email_sequence_length")),
            variants=int(run.setting("ab_test_variants")),
            delay_hours=int(run.setting("email_delay_hours")),
            words={
                "email": int(run.setting("content_length_words.email")),
                "ad": int(run.setting("content_length_words.ad")),
                "landing": int(run.setting("content_length_words.blog")),
            },
            utm=dict(config["tracking"]["utm"]),
            channels=tuple(channels),
            budget_usd=float(budget["total_usd_monthly"]),
            landing_url=str(
                run.ctx.option("landing_url", f"https://{config['tracking']['utm']['source']}.example/start")
            ),
            start=_next_monday(datetime.now(UTC).date()),
            baseline_rate=max(0.005, min(0.5, conv)),
            mde_relative=float(run.ctx.option("mde", 0.2)),
            daily_traffic=float(run.ctx.option("daily_traffic", 2000.0)),
            templates=self._templates(run),
        )

    def _derived_from(self, run: CrewRun, name: str, parent: str) -> bool:
        """Whether the newest `name` was made from `parent` (then it is reused, as approved)."""
        try:
            art = run.engine.artifact(run.venture, name)
        except NotFound:
            return False
        return parent in [str(p) for p in art.derived_from]

    # -- 17.3 ----------------------------------------------------------------------------------
    def _automation(self, run: CrewRun, notes: dict[str, Any], campaign_ref: str, *, redo: bool) -> None:
        if not redo or self._derived_from(run, "automation_workflows", campaign_ref):
            notes["workflows"] = run.engine.artifact(run.venture, "automation_workflows").content
            return
        from venturegate.crews.stage17.automation import Timing, run_workflow_tests, synthetic_leads
        from venturegate.crews.stage17.sandbox import Faults

        config = notes["config"]
        retry = {"retry_3x": 3, "retry_5x": 5, "fail_fast": 0}.get(str(run.setting("error_handling_strategy")), 3)
        trigger = str(run.setting("workflow_trigger_type"))
        try:
            workflows = self._workflows(run, int(run.setting("email_delay_hours")), trigger, retry)
            for wf in workflows:
                validate(wf)
                for step in wf["steps"]:
                    if step.get("kind") == "action" and step["channel"] not in set(ADAPTER.values()):
                        raise WorkflowError(f"workflow {wf['id']} step {step['id']}: no adapter")
        except WorkflowError as exc:
            run.error(f"crew task 17.3: {exc}")
            raise run.stop("failed", f"could not continue: {exc}") from exc
        n = max(5, int(run.ctx.option("test_leads", 8)))
        leads = synthetic_leads(str(config["target_segment"]), n, seed=int(run.ctx.option("seed", 17)))
        inject = bool(run.ctx.option("inject_faults", True))
        faults = Faults(crm_fail_first=2 if inject else 0, crm_fail_emails={leads[-1]["email"]} if inject else set())
        templates = self._email_templates(notes)
        report = asyncio.run(
            run_workflow_tests(
                workflows,
                leads,
                templates,
                faults=faults,
                timing=Timing(hour_s=float(run.ctx.option("hour_seconds", 0.002))),
                sender=f"gtm@{config['tracking']['utm']['source']}.example",
            )
        )
        passed_all = report.pass_rate == 100.0
        for wf in workflows:
            wf["status"] = "active" if passed_all else "failed"
        content = {
            "venture_id": config["venture_id"],
            "workflows": workflows,
            "test_report": {
                "leads_tested": len(report.runs),
                "passed": report.passed,
                "failed": len(report.runs) - report.passed,
                "max_latency_s": report.max_latency_s,
                "rollback_test_passed": bool(report.rollback["passed"]),
                "test_data_cleaned": True,
                "retries": report.retries,
                "dead_letters": report.dead_letters,
                "rollback_checks": report.rollback["checks"],
                "runs": [
                    {"lead": r.lead, "path": r.path, "attempts": r.attempts, "verified": r.verified, "detail": r.detail}
                    for r in report.runs
                ],
            },
        }
        notes["workflows"] = content
        if passed_all:
            run.put("automation_workflows", content, [campaign_ref])
            live.activate(run.engine.venture(run.venture).id, workflows, live_root=crew_root(run.ctx.output_root))
        run.write_json("workflow-test.json", content)
        run.record(
            {
                "workflow_test_leads": float(len(leads)),
                "workflow_test_pass_rate": report.pass_rate,
                "workflow_latency": report.max_latency_s,
                "trigger_fire_latency": report.max_trigger_latency_s,
                "active_tested_workflows": float(len(workflows) if passed_all else 0),
                "rollback_test_pass_rate": 100.0 if report.rollback["passed"] else 0.0,
            }
        )
        self._stop_if_sent_back(run)
        if not passed_all:
            failed = [f"{r.lead}: {r.detail}" for r in report.runs if not r.verified]
            run.error(f"crew task 17.3: workflow test failed for {len(failed)} lead(s): {'; '.join(failed[:3])}")

    def _workflows(self, run: CrewRun, delay: int, trigger: str, retry: int) -> list[dict[str, Any]]:
        given = run.ctx.options.get("workflows_json")
        if given is None:
            return [nurture_workflow(delay, 120, trigger, retry)]
        try:
            data = json.loads(str(given))
        except ValueError as exc:
            raise WorkflowError(f"option workflows_json is not JSON: {exc}") from None
        if not isinstance(data, list) or not data or not all(isinstance(w, dict) for w in data):
            raise WorkflowError("option workflows_json must be a non-empty list of workflow objects")
        for wf in data:
            wf.setdefault("platform", "native")
            wf.setdefault("status", "configured")
            wf.setdefault("retry", {"attempts": retry})
            wf.setdefault("test_execution_count", 0)
        return data

    def _email_templates(self, notes: dict[str, Any]) -> dict[str, str]:
        out = {}
        for c in notes["campaign"]["content"]:
            if c["element"].startswith("email_"):
                out[c["element"]] = str(c["variants"][0]["body"])
        return out

    # -- report --------------------------------------------------------------------------------
    def _report(self, run: CrewRun, notes: dict[str, Any]) -> None:
        from venturegate.crews.stage17.report import write_report

        v = run.engine.venture(run.venture)
        gate: dict[str, Any] = {"passed": False, "checks": [], "note": f"the venture is at stage {v.stage}"}
        if v.stage == STAGE:
            result = run.engine.check_gate(run.venture, "exit")
            gate = {"passed": result.passed, "checks": [c.as_dict() for c in result.checks]}
        run.summary.update(
            {
                "provider": notes.get("provider"),
                "rejected_copy": len((notes.get("campaign") or {}).get("content_review", {}).get("rejected", [])),
                "allocation": (notes.get("config") or {}).get("budget", {}).get("channels"),
                "gate_passed": gate["passed"],
            }
        )
        run.write("report.md", write_report(v.name, run.run_id, run.status, run.outcome, notes, gate, run.fired))
        if v.stage == STAGE and v.status == "active" and run.status in ("completed", "waiting"):
            run.record({"crew_execution_time": round(run.elapsed / 60, 4)}, suffix=":time")


class _Switch(Exception):
    """The content provider failed and the error policy fell back to the templates: start the campaign again."""


def _next_monday(today: date) -> date:
    return today + timedelta(days=(7 - today.weekday()) % 7 or 7)
