"""The stage-14 run report: what each substage did, the findings, the plan, and the exit gate explained with
the readiness score's breakdown next to its check."""

from __future__ import annotations

from typing import Any


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return out


def markdown(venture: str, run_id: str, summary: dict[str, Any], gate: dict[str, Any], files: list[str]) -> str:
    """The report as Markdown."""
    lines = [
        f"# Stage 14 — development preparation: {venture}",
        "",
        f"Run `{run_id}`: **{summary.get('outcome')}**",
        "",
    ]
    env = summary.get("environment") or {}
    if env:
        lines += ["## 14.1 Environment setup", ""]
        ver = env.get("verification") or {}
        lines.append(
            f"Tools that ran: {', '.join(sorted(ver.get('ran', {})))}; checkov checks: {ver.get('checks', {})}."
        )
        findings = ver.get("findings", [])
        if findings:
            lines += [
                "",
                *_table(
                    ["tool", "file:line", "rule", "level", "blocks", "message"],
                    [
                        [
                            f["tool"],
                            f"{f['file']}:{f['line']}",
                            f["rule"],
                            f["level"],
                            "yes" if f["blocking"] else "no",
                            f["message"],
                        ]
                        for f in findings
                    ],
                ),
            ]
        else:
            lines.append("No findings.")
        lines += ["", "Provisioning: " + "; ".join(env.get("attempts", [])) or "-"]
        for e in env.get("environments", []):
            lines.append(
                f"- `{e['name']}`: database `{e['database']}`, Redis `{e['redis_url']}`, service {e['url']}, "
                f"{e['logins_verified']}/{len(e['logins'])} developer logins verified"
            )
        if env.get("stability") is not None:
            lines.append(f"- stability over the probing window: {env['stability']}% ({env.get('probes')})")
        if env.get("torn_down"):
            lines.append(f"- torn down after failures: {', '.join(env['torn_down'])}")
        lines.append("")
    team = summary.get("team") or {}
    if team:
        lines += [
            "## 14.2 Team formation",
            "",
            f"Roles filled: {team.get('roles_filled_percent')}% · unavailable skills: "
            f"{', '.join(team.get('unavailable_skills', [])) or 'none'} · solver: {team.get('solver')}",
            "",
        ]
        lines += _table(["role", "person"], [[r, p] for r, p in team.get("assignment", {}).items()])
        lines += ["", "RACI matrix:", ""]
        lines += _table(
            ["activity", "R", "A", "C", "I"],
            [
                [
                    r["activity"],
                    ", ".join(r["responsible"]),
                    r["accountable"],
                    ", ".join(r.get("consulted", [])),
                    ", ".join(r.get("informed", [])),
                ]
                for r in team.get("raci", [])
            ],
        )
        problems = team.get("raci_violations", [])
        lines += ["", "RACI rules: " + ("; ".join(problems) if problems else "all pass"), ""]
    sprint = summary.get("sprint") or {}
    if sprint:
        plan, vel, fc = sprint.get("plan", {}), sprint.get("velocity", {}), sprint.get("forecast", {})
        lines += [
            "## 14.3 Sprint planning",
            "",
            f"{sprint.get('backlog', {}).get('stories')} stories, {plan.get('sprints_used')} sprints "
            f"({plan.get('method')}, {plan.get('status')}, gap {plan.get('gap')}), utilisation "
            f"{plan.get('utilisation_percent')}%.",
            f"Velocity {vel.get('story_points')} points/sprint ({vel.get('source')}); benchmark band "
            f"{vel.get('benchmark_band')}, deviation {vel.get('benchmark_deviation')}%.",
            f"Forecast ({fc.get('method')}): P50 {fc.get('dates', {}).get('p50')}, P85 "
            f"{fc.get('dates', {}).get('p85')}, P95 {fc.get('dates', {}).get('p95')}; deadline "
            f"{fc.get('deadline')} (on time with probability {fc.get('on_time_probability')}).",
            "",
            "![forecast](forecast.svg)",
            "",
        ]
        ambiguous = sprint.get("backlog", {}).get("ambiguous", {})
        if ambiguous:
            lines += ["Ambiguous acceptance criteria:", ""] + [f"- `{k}`: {'; '.join(v)}" for k, v in ambiguous.items()]
            lines.append("")
    score = summary.get("readiness") or {}
    lines += ["## Exit gate", ""]
    if gate.get("checks"):
        rows = []
        for c in gate["checks"]:
            rows.append([c.get("verdict"), c.get("name"), c.get("observed"), c.get("expected")])
        lines += _table(["verdict", "check", "observed", "expected"], rows)
    else:
        lines.append(gate.get("note", "not judged"))
    if score:
        lines += [
            "",
            f"### Readiness score {score.get('score')} (breakdown)",
            "",
            "Sections: " + ", ".join(f"{k} {v}" for k, v in score.get("sections", {}).items()),
            "",
        ]
        lines += _table(
            ["section", "part", "weight", "fraction", "points", "from"],
            [
                [p["section"], p["part"], p["weight"], p["fraction"], p["points"], p["from"]]
                for p in score.get("parts", [])
            ],
        )
        if score.get("unknown"):
            lines.append(f"\nNot measured (counted 0): {', '.join(score['unknown'])}")
    lines += [
        "",
        "## Not checked",
        "",
        "- Tools reachable via SSO: no SSO provider here; `tool_access_rate` counts the local toolchain that ran.",
        "- The generated workflow is linted, not run on GitHub; CI smoke = each environment answering its health "
        "probes.",
        "- Cloud providers: only the `local` provisioner exists.",
        "",
        "## Files",
        "",
    ]
    lines += [f"- {f}" for f in files]
    return "\n".join(lines) + "\n"
