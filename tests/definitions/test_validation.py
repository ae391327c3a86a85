"""Cross-reference checks: every problem located at file:line:column, all of them reported at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.definitions.helpers import Src, assert_problems, one_problem, write
from venturegate.definitions.model import ConditionCheck

HEAD = 'workflow: {id: t, version: "1"}\n'


def stages(tmp_path: Path, body: str, head: str = HEAD) -> Src:
    """A workflow file whose `stages:` list is `body` (indented as list items)."""
    return write(tmp_path, "wf.yaml", head + "stages:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "  "))


# --------------------------------------------------------------------------------------------------
# One file, many different problems: every one of them is reported, each exactly where it is.

MANY = """
workflow: {id: many, version: "1"}
roles: [chairman, lead, agent]
defaults:
  escalation_role: boss
config:
  limit: {type: int, default: 150, min: 0, max: 100}
  tone: {type: enum, default: loud, allowed: [quiet, calm]}
stages:
  - id: 1
    title: Idea
    owner: founder
    depends_on: [3]
    substages:
      - {id: "1.1", title: Brief}
      - {id: "1.1", title: Brief again}
    inputs: [pitch_deck]
    artifacts:
      brief: {schema: {type: object, properties: {title: {type: strung}}}}
    metrics:
      score: {unit: score, direction: higher_is_better, alert: 9, threshold: 6, target: 8}
      latency: {unit: ms, direction: lower_is_better, target: 200, threshold: 500,
                segments: {b2c_mass: {threshold: 100}}}
      nps: {unit: score}
    config:
      retries: {type: "list[int]", default: [1, 50], min: 1, max: 10}
    gates:
      exit:
        - check: "avg(score, 1h) >= threshold.scor"
        - check: "median(score, 1h) > 1"
        - check: "p95(latency) < 300"
        - check: "score >= (1"
        - check: "age(score) > 5"
        - check: "latency < config.max_latency"
        - check: "nps >= target.nps"
        - artifact: brief_v2
        - approval: investor
    triggers:
      - {id: T-1, kind: recursion, when: "score < 1", action: {go_to: "1.7"}}
      - {id: T-2, kind: recursion, when: "score < 2", action: {go_to: 2}, for: config.limit}
      - {id: T-3, kind: alert, when: "score < 3", cooldown: config.nope, role: intern}
  - id: 2
    title: Build
    depends_on: [1, 42]
    triggers:
      - {id: T-1, kind: recursion, when: "latency > 1", action: {go_to: 77}}
  - id: 3
    title: Launch
    title: Launch again
    depends_on: [2]
  - id: 4
    title: Ops
    owner: nobody
    metrics:
      uptime: {unit: percent, treshold: 99, window: 1 hour}
    triggers:
      - {id: T-4, kind: alert, when: "uptime < 1", for: 5 minutes}
"""


def test_one_file_with_many_problems_reports_them_all_at_once(tmp_path: Path) -> None:
    src = write(tmp_path, "many.yaml", MANY)
    f = src.file
    found = src.problems()
    assert_problems(
        found,
        [
            (f, src.at("boss"), "unknown role 'boss'"),
            (f, src.at("150"), "default 150 is above the maximum 100"),
            (f, src.at("loud"), "default 'loud' is not one of quiet, calm"),
            (f, src.at("founder"), "stage 1: unknown role 'founder'"),
            (f, src.at('"1.1"', nth=2), "stage 1: duplicate substage id '1.1'"),
            (f, src.at("pitch_deck"), "unknown artifact 'pitch_deck'"),
            (f, src.at("strung"), "invalid JSON Schema at properties/title/type"),
            (f, src.at("{unit: score, direction"), "metric 'score' levels contradict higher_is_better"),
            (f, src.at("{threshold: 100}"), "metric 'latency' levels contradict lower_is_better for b2c_mass"),
            (f, src.at("[1, 50]"), "default 50 is above the maximum 10"),
            (f, src.at("threshold.scor"), "unknown metric 'scor'"),
            (f, src.at("median"), "unknown function 'median'"),
            (f, src.at("p95(latency)"), "p95() takes 2 arguments, got 1"),
            (f, src.at("score >= (1", shift=11), "condition:"),
            (f, src.at("> 5"), "cannot compare a duration with a number"),
            (f, src.at("config.max_latency"), "unknown config parameter 'max_latency'"),
            (f, src.at("target.nps"), "metric 'nps' has no target level"),
            (f, src.at("brief_v2"), "unknown artifact 'brief_v2'"),
            (f, src.at("investor"), "unknown role 'investor'"),
            (f, src.at('"1.7"'), "unknown substage '1.7'"),
            (f, src.at("{go_to: 2}", shift=8), "recursion goes back, but stage 2 comes after stage 1"),
            (f, src.at("config.limit"), "config parameter 'limit' is int, expected duration"),
            (f, src.at("config.nope"), "unknown config parameter 'nope'"),
            (f, src.at("intern"), "unknown role 'intern'"),
            (f, src.at("42"), "stage 2: depends on unknown stage 42"),
            (f, src.at("T-1", nth=2), "duplicate trigger id 'T-1' (also in stage 1)"),
            (f, src.at("77"), "stage 2: unknown stage 77"),
            (f, src.at("title: Launch again"), "duplicate key 'title'"),
            (f, src.at("[1, 42]"), "dependency cycle: "),
            (f, src.at("nobody"), "stage 4: unknown role 'nobody'"),
            (f, src.at("99"), "unknown field 'treshold'"),
            (f, src.at("1 hour"), "stage 4.metrics.uptime.window: '1 hour' is not a duration"),
            (f, src.at("5 minutes"), "stage 4.triggers.0.for: '5 minutes' is not a duration"),
        ],
    )
    assert len(found) == 33
    by_message = {p.message: p for p in found}
    assert by_message["stage 4.metrics.uptime.treshold: unknown field 'treshold'"].hint == "did you mean 'threshold'?"
    cycle = next(p for p in found if "cycle" in p.message)
    assert cycle.message == "stage 2: dependency cycle: 1 → 3 → 2 → 1"


def test_problems_are_sorted_and_formatted_as_file_line_column(tmp_path: Path) -> None:
    src = write(tmp_path, "many.yaml", MANY)
    found = src.problems()
    assert found == sorted(found, key=lambda p: (p.file, p.line, p.column, p.message))
    boss = next(p for p in found if "boss" in p.message)
    line, column = src.at("boss")
    assert str(boss) == f"{src.file}:{line}:{column}: unknown role 'boss' (hint: roles: agent, chairman, lead)"
    plain = next(p for p in found if "duplicate substage" in p.message)
    assert str(plain) == f"{src.file}:15:14: stage 1: duplicate substage id '1.1'"


# --------------------------------------------------------------------------------------------------
# Each kind of problem on its own, with exact positions and hints.


def test_unknown_stage_in_depends_on_and_in_a_trigger(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - id: 1
          title: A
        - id: 2
          title: B
          depends_on: [1, 9]
          triggers:
            - {id: R, kind: recursion, when: "days_in_stage() > 3", action: {go_to: 8}}
        """,
    )
    assert_problems(
        src.problems(),
        [
            (src.file, (7, 21), "stage 2: depends on unknown stage 9"),
            (src.file, src.at("go_to: 8", shift=7), "stage 2: unknown stage 8"),
        ],
    )


@pytest.mark.parametrize(
    ("target", "message", "hint"),
    [
        ('"2.5"', "unknown substage '2.5'", "did you mean '2.1'?"),
        ('"3.1"', "recursion goes back, but substage 3.1 comes after stage 2", ""),
        ("3", "recursion goes back, but stage 3 comes after stage 2", ""),
        ('"x.1"', "unknown substage 'x.1'", "did you mean '2.1'?"),
    ],
)
def test_trigger_targets_that_do_not_exist_or_lie_ahead(tmp_path: Path, target: str, message: str, hint: str) -> None:
    src = stages(
        tmp_path,
        f"""
        - id: 2
          title: B
          substages: [{{id: "2.1", title: S}}]
          triggers:
            - id: R
              kind: recursion
              when: "days_in_stage() > 3"
              action: {{go_to: {target}}}
        - id: 3
          title: C
          substages: [{{id: "3.1", title: S}}]
        """,
    )
    problem = one_problem(src)
    assert (problem.line, problem.column) == src.at(f"go_to: {target}", shift=7)
    assert problem.message == f"stage 2: {message}"
    assert problem.hint == hint


def test_recursion_to_an_earlier_stage_or_own_substage_is_fine(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - id: 1
          title: A
        - id: 2
          title: B
          substages: [{id: "2.1", title: S}]
          triggers:
            - {id: R1, kind: recursion, when: "days_in_stage() > 3", action: {go_to: 1}}
            - {id: R2, kind: recursion, when: "days_in_stage() > 4", action: {go_to: "2.1"}}
        """,
    )
    assert [t.id for t in src.load().workflow.stages[1].triggers] == ["R1", "R2"]


def test_unknown_roles_everywhere_they_can_appear(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - id: 1
          title: A
          owner: r_owner
          approvals:
            r_policy: {timeout: 2h, bypass: {roles: [r_bypass]}}
          gates:
            exit:
              - approval: r_approval
              - {attest: Done, role: r_attest}
          triggers:
            - {id: T, kind: alert, when: "days_in_stage() > 1", role: r_trigger, action: {notify: [r_notify]}}
        """,
        head=HEAD + "defaults: {loop_prevention: {role: r_loop}}\n",
    )
    f = src.file
    assert_problems(
        src.problems(),
        [
            (f, src.at("r_loop"), "unknown role 'r_loop'"),
            (f, src.at("r_owner"), "stage 1: unknown role 'r_owner'"),
            (f, src.at("{timeout: 2h"), "stage 1: unknown role 'r_policy'"),
            (f, src.at("[r_bypass]"), "stage 1: unknown role 'r_bypass'"),
            (f, src.at("r_approval"), "stage 1: unknown role 'r_approval'"),
            (f, src.at("r_attest"), "stage 1: unknown role 'r_attest'"),
            (f, src.at("r_trigger"), "stage 1: unknown role 'r_trigger'"),
            (f, src.at("[r_notify]"), "stage 1: unknown role 'r_notify'"),
        ],
    )


def test_unknown_role_hint_suggests_a_close_one(tmp_path: Path) -> None:
    src = stages(tmp_path, "- {id: 1, title: A, owner: chairmann}")
    problem = one_problem(src)
    assert (problem.line, problem.column) == (3, 30)
    assert problem.hint == "did you mean 'chairman'?"


def test_unknown_artifacts_and_artifacts_declared_twice(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - id: 1
          title: A
          artifacts: {market_report: {}, shared: {}}
          outputs: [market_report, markt_report]
        - id: 2
          title: B
          artifacts: {shared: {}}
          inputs: [market_report, ghost]
          gates: {exit: [{artifact: market_reprt}]}
        """,
        head=HEAD + "artifacts: {global_doc: {}}\n",
    )
    found = src.problems()
    f = src.file
    assert_problems(
        found,
        [
            (f, src.at("markt_report"), "stage 1: unknown artifact 'markt_report'"),
            (f, src.at("{}", nth=4), "stage 2: artifact 'shared' is already declared (stage 1)"),
            (f, src.at("ghost"), "stage 2: unknown artifact 'ghost'"),
            (f, src.at("market_reprt"), "stage 2: unknown artifact 'market_reprt'"),
        ],
    )
    hints = {p.message.rsplit(" ", 1)[-1]: p.hint for p in found}
    assert hints["'markt_report'"] == "did you mean 'market_report'?"
    assert hints["'market_reprt'"] == "did you mean 'market_report'?"


def test_duplicate_ids(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - id: 1
          title: A
          substages:
            - {id: "1.1", title: S}
            - {id: "1.1", title: T}
            - {id: "2.1", title: U}
          triggers:
            - {id: DUP, kind: alert, when: "days_in_stage() > 1"}
          errors:
            - {id: E1, category: api, recovery: {action: retry}}
            - {id: E1, category: network, recovery: {action: abort}}
        - id: 2
          title: B
          triggers:
            - {id: DUP, kind: alert, when: "days_in_stage() > 2"}
        - id: 2
          title: C
        """,
    )
    f = src.file
    assert_problems(
        src.problems(),
        [
            (f, src.at('"1.1"', nth=2), "stage 1: duplicate substage id '1.1'"),
            (f, src.at('"2.1"'), "stage 1: substage '2.1' does not belong to stage 1"),
            (f, src.at("E1", nth=2), "stage 1: duplicate error rule id 'E1'"),
            (f, src.at("DUP", nth=2), "stage 2: duplicate trigger id 'DUP' (also in stage 1)"),
            (f, src.at("2\n    title: C"), "stage 2: duplicate stage id 2"),
        ],
    )


def test_stages_sharing_an_id_keep_their_own_locations(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - id: 1
          title: A
          owner: first_owner
        - id: 1
          title: B
          owner: second_owner
        """,
    )
    f = src.file
    assert_problems(
        src.problems(),
        [
            (f, src.at("first_owner"), "unknown role 'first_owner'"),
            (f, src.at("second_owner"), "unknown role 'second_owner'"),
            (f, src.at("1\n    title: B"), "duplicate stage id 1"),
        ],
    )


@pytest.mark.parametrize(
    ("deps", "cycle", "where"),
    [
        ({1: [1]}, "1 → 1", 1),
        ({1: [2], 2: [1]}, "1 → 2 → 1", 2),
        ({1: [3], 2: [1], 3: [2]}, "1 → 3 → 2 → 1", 2),
    ],
)
def test_dependency_cycles_are_reported_once(
    tmp_path: Path, deps: dict[int, list[int]], cycle: str, where: int
) -> None:
    body = "\n".join(f"- {{id: {i}, title: S{i}, depends_on: {deps.get(i, [])}}}" for i in (1, 2, 3))
    src = stages(tmp_path, body)
    problem = one_problem(src)
    assert problem.message == f"stage {where}: dependency cycle: {cycle}"
    assert (problem.line, problem.column) == src.at(f"S{where}, depends_on: ", shift=len(f"S{where}, depends_on: "))


def test_a_chain_of_dependencies_is_no_cycle(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - {id: 1, title: A}
        - {id: 2, title: B, depends_on: [1]}
        - {id: 3, title: C, depends_on: [1, 2]}
        """,
    )
    assert [s.depends_on for s in src.load().workflow.stages] == [[], [1], [1, 2]]


# --------------------------------------------------------------------------------------------------
# Metric levels against their direction.


@pytest.mark.parametrize(
    ("direction", "levels", "bad"),
    [
        ("higher_is_better", "alert: 50, threshold: 70, target: 80", None),
        ("higher_is_better", "alert: 70, threshold: 70, target: 70", None),
        ("higher_is_better", "threshold: 90, target: 80", "threshold 90 should be ≤ target 80"),
        ("higher_is_better", "alert: 75, threshold: 70", "alert 75 should be ≤ threshold 70"),
        ("higher_is_better", "alert: 95, target: 80", "alert 95 should be ≤ target 80"),
        ("lower_is_better", "alert: 900, threshold: 500, target: 200", None),
        ("lower_is_better", "threshold: 100, target: 200", "threshold 100 should be ≥ target 200"),
        ("lower_is_better", "alert: 400, threshold: 500", "alert 400 should be ≥ threshold 500"),
        ("informational", "alert: 1, threshold: 5, target: 3", None),
    ],
)
def test_metric_levels_against_direction(tmp_path: Path, direction: str, levels: str, bad: str | None) -> None:
    src = stages(
        tmp_path,
        f"""
        - id: 1
          title: A
          metrics:
            m: {{unit: number, direction: {direction}, {levels}}}
        """,
    )
    if bad is None:
        assert src.load().workflow.stages[0].metrics["m"].direction == direction
        return
    problem = one_problem(src)
    assert problem.message == f"stage 1: metric 'm' levels contradict {direction}: {bad}"
    assert (problem.line, problem.column) == (6, 10)
    sign = "≤" if direction == "higher_is_better" else "≥"
    assert problem.hint == f"for {direction.replace('_', '-')}: alert {sign} threshold {sign} target"


def test_segment_levels_are_checked_against_direction_with_the_defaults(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - id: 1
          title: A
          metrics:
            m:
              unit: percent
              direction: higher_is_better
              target: 80
              threshold: 70
              segments:
                b2b_smb: {threshold: 75}
                b2c_mass: {threshold: 85}
                b2c_premium: {target: 90, alert: 95}
        """,
    )
    f = src.file
    assert_problems(
        src.problems(),
        [
            (f, src.at("{threshold: 85}"), "for b2c_mass: threshold 85 should be ≤ target 80"),
            (f, src.at("{target: 90"), "for b2c_premium: alert 95 should be ≤ threshold 70"),
        ],
    )


# --------------------------------------------------------------------------------------------------
# Configuration parameters: defaults within range and type.


@pytest.mark.parametrize(
    ("param", "needle", "message"),
    [
        ("{type: int, default: 0, min: 1, max: 5}", "0,", "default 0 is below the minimum 1"),
        ("{type: number, default: 5.5, max: 5}", "5.5", "default 5.5 is above the maximum 5"),
        ("{type: int, default: 2.5}", "2.5", "default 2.5 is not an integer"),
        ("{type: bool, default: 1}", "1}", "default 1 is not true or false"),
        ("{type: duration, default: 5 min}", "5 min", "default '5 min' is not a duration"),
        ("{type: enum, default: c, allowed: [a, b]}", "c,", "default 'c' is not one of a, b"),
        ("{type: enum, default: a}", "{type", "an enum parameter needs `allowed` values"),
        ('{type: "list[int]", default: [1, 20], max: 10}', "[1, 20]", "default 20 is above the maximum 10"),
        ('{type: "list[string]", default: x}', "x}", "default 'x' is not a list"),
        ("{type: int, default: 3, min: 5, max: 1}", "5,", "min 5.0 is larger than max 1.0"),
        (
            "{type: int, default: 3, segments: {b2c_mass: 99}, max: 10}",
            "99",
            "b2c_mass default 99 is above the maximum",
        ),
    ],
)
def test_config_defaults_outside_their_range(tmp_path: Path, param: str, needle: str, message: str) -> None:
    src = stages(tmp_path, f"- id: 1\n  title: A\n  config:\n    p: {param}\n")
    found = src.problems()
    # `min > max` also makes the default fall outside the range; the first problem is the one asserted here.
    problem = next(p for p in found if message in p.message)
    assert (problem.line, problem.column) == src.at(needle)
    assert problem.message.startswith("stage 1: ")


def test_workflow_wide_config_is_checked_too(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "wf.yaml",
        """
        workflow: {id: t, version: "1"}
        config:
          canary: {type: "list[int]", default: [10, 50, 150], min: 1, max: 100, approval_role: ceo}
        """,
    )
    f = src.file
    assert_problems(
        src.problems(),
        [
            (f, src.at("[10, 50, 150]"), "default 150 is above the maximum 100 (allowed 1–100)"),
            (f, src.at("ceo"), "unknown role 'ceo'"),
        ],
    )


def test_config_values_inside_their_range_load(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - id: 1
          title: A
          config:
            steps: {type: "list[int]", default: [10, 50, 100], min: 1, max: 100}
            window: {type: duration, default: 2m}
            mode: {type: enum, default: fast, allowed: [fast, slow], segments: {b2c_mass: slow}}
            ratio: {type: number, default: 0.5, min: 0, max: 1}
        """,
    )
    config = src.load().workflow.stages[0].config
    assert config["steps"].default == [10, 50, 100]
    assert config["mode"].segments == {"b2c_mass": "slow"}


# --------------------------------------------------------------------------------------------------
# JSON Schemas.


@pytest.mark.parametrize(
    ("schema", "needle", "where"),
    [
        ("{type: objekt}", "objekt", "type"),
        ("{type: object, required: yes}", "yes", "required"),
        ("{type: object, properties: {a: {minLength: -1}}}", "-1", "properties/a/minLength"),
    ],
)
def test_invalid_json_schemas_are_located_at_the_bad_keyword(
    tmp_path: Path, schema: str, needle: str, where: str
) -> None:
    src = stages(tmp_path, f"- id: 1\n  title: A\n  artifacts:\n    doc: {{schema: {schema}}}\n")
    problem = one_problem(src)
    assert problem.message.startswith(f"stage 1: invalid JSON Schema at {where}: ")
    assert (problem.line, problem.column) == src.at(needle)
    assert "json-schema.org" in problem.hint


def test_workflow_wide_artifact_schema_is_checked(tmp_path: Path) -> None:
    src = write(tmp_path, "wf.yaml", 'workflow: {id: t, version: "1"}\nartifacts:\n  doc: {schema: {type: 12}}\n')
    problem = one_problem(src)
    assert (problem.line, problem.column) == (3, 24)
    assert problem.message.startswith("invalid JSON Schema at type:")


# --------------------------------------------------------------------------------------------------
# Durations, and `config.KEY` where a duration may be configured.


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("trigger for", "5 minutes"),
        ("trigger cooldown", "10"),
        ("approval timeout", "1 day"),
        ("metric window", "an hour"),
        ("customer window", "30 days"),
        ("recovery backoff", "1sec"),
        ("rollback timeout", "-5m"),
    ],
)
def test_bad_durations(tmp_path: Path, field: str, value: str) -> None:
    parts = {
        "trigger for": f'triggers: [{{id: T, kind: alert, when: "days_in_stage() > 1", for: "{value}"}}]',
        "trigger cooldown": f'triggers: [{{id: T, kind: alert, when: "days_in_stage() > 1", cooldown: "{value}"}}]',
        "approval timeout": f'approvals: {{chairman: {{timeout: "{value}"}}}}',
        "metric window": f'metrics: {{m: {{unit: count, window: "{value}"}}}}',
        "customer window": f'gates: {{exit: [{{customer: {{metric: m, window: "{value}"}}}}]}}',
        "recovery backoff": f'errors: [{{id: E, category: api, recovery: {{action: retry, backoff: "{value}"}}}}]',
        "rollback timeout": f'rollback: {{timeout: "{value}"}}',
    }
    src = stages(tmp_path, f"- id: 1\n  title: A\n  {parts[field]}\n")
    problem = one_problem(src)
    assert f"'{value}' is not a duration" in problem.message
    assert (problem.line, problem.column) == src.at(f'"{value}"')


def test_duration_may_name_a_duration_config_parameter(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - id: 1
          title: A
          config:
            wait: {type: duration, default: 2m}
            count: {type: int, default: 3}
          approvals:
            chairman: {timeout: config.wait}
          triggers:
            - {id: T1, kind: alert, when: "days_in_stage() > 1", for: config.wait, cooldown: config.wait}
            - {id: T2, kind: alert, when: "days_in_stage() > 1", for: config.count}
            - {id: T3, kind: alert, when: "days_in_stage() > 1", cooldown: config.wiat}
        """,
    )
    found = src.problems()
    f = src.file
    assert_problems(
        found,
        [
            (f, src.at("config.count"), "stage 1: config parameter 'count' is int, expected duration"),
            (f, src.at("config.wiat"), "stage 1: unknown config parameter 'wiat'"),
        ],
    )
    assert next(p for p in found if "wiat" in p.message).hint == "did you mean 'wait'?"


def test_backoff_larger_than_max_backoff(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - id: 1
          title: A
          errors:
            - id: E
              category: api
              recovery: {action: retry, backoff: 1m, max_backoff: 30s, then: {action: recurse}}
        """,
    )
    f = src.file
    assert_problems(
        src.problems(),
        [
            (f, src.at("1m"), "backoff is larger than max_backoff"),
            (f, src.at("recurse"), "recovery 'recurse' needs go_to"),
        ],
    )


# --------------------------------------------------------------------------------------------------
# Conditions: parse errors and type errors located at the character, however the YAML is written.


def condition_file(tmp_path: Path, when: str) -> Src:
    return stages(
        tmp_path,
        f"""
        - id: 1
          title: A
          metrics:
            rate: {{unit: percent, threshold: 70}}
            speed: {{unit: ms, direction: lower_is_better}}
          config:
            floor: {{type: number, default: 10}}
            wait: {{type: duration, default: 5m}}
          triggers:
            - id: T
              kind: alert
              when: {when}
        """,
    )


@pytest.mark.parametrize(
    ("when", "needle", "message"),
    [
        ('"avg(rate, 1h) < floor"', "floor", "unknown metric 'floor'"),
        ('"avg(rate, 1h) < config.flor"', "config.flor", "unknown config parameter 'flor'"),
        ('"mean(rate, 1h) < 3"', "mean", "unknown function 'mean'"),
        ('"avg(rate) < 3"', "avg", "avg() takes 2 arguments, got 1"),
        ('"days_in_stage(rate) > 3"', "days_in_stage", "days_in_stage() takes 0 arguments, got 1"),
        ('"age(rate, 1h) > 5m"', "age", "age() takes 1 argument, got 2"),
        # a comparison of mismatched types is reported at its operator
        ('"age(rate) > 5"', ">", "cannot compare a duration with a number"),
        ('"speed > config.wait"', ">", "cannot compare a number with a duration"),
        ('"speed > threshold.speed"', "threshold.speed", "metric 'speed' has no threshold level"),
        ('"rate < (3"', "(3", "condition:"),
        ("'avg(rate, 1h) < floor'", "floor", "unknown metric 'floor'"),
        ("avg(rate, 1h) < floor", "floor", "unknown metric 'floor'"),
        ('"rate < 3 and"', "and", "condition:"),
    ],
)
def test_condition_problems_point_at_the_character(tmp_path: Path, when: str, needle: str, message: str) -> None:
    src = condition_file(tmp_path, when)
    problem = one_problem(src)
    assert message in problem.message
    assert problem.message.startswith("stage 1: condition: ")
    line, column = src.at(when)
    expected_column = column + when.index(needle)
    if needle == "(3":
        expected_column += 2  # the parser complains at the end of the text, after `(3`
    if needle == "and":
        expected_column += 3
    assert (problem.line, problem.column) == (line, expected_column)


def test_conditions_written_over_several_lines_are_located_line_by_line(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - id: 1
          title: A
          metrics:
            rate: {unit: percent, threshold: 70}
          triggers:
            - id: FOLDED
              kind: alert
              when: >-
                avg(rate, 1h) < threshold.rate
                and bogus_one > 3
            - id: LITERAL
              kind: alert
              when: |
                rate < 3
                or bogus_two > 3
            - id: BROKEN
              kind: alert
              when: >-
                rate < 3
                and (rate >
          gates:
            exit:
              - check: "rate > 1
                  and bogus_three < 2"
        """,
    )
    f = src.file
    assert_problems(
        src.problems(),
        [
            (f, src.at("bogus_one"), "unknown metric 'bogus_one'"),
            (f, src.at("bogus_two"), "unknown metric 'bogus_two'"),
            (f, src.at("and (rate >", shift=len("and (rate >")), "condition:"),
            (f, src.at("bogus_three"), "unknown metric 'bogus_three'"),
        ],
    )


def test_gate_and_substage_entry_conditions_are_checked(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - id: 1
          title: A
          substages:
            - id: "1.1"
              title: S
              entry: [{check: "nope_a > 1"}]
          gates:
            entry: [{check: "nope_b > 1"}]
            exit: [substages_done, {check: "nope_c > 1"}, {customer: {metric: nope_d}}]
        """,
    )
    f = src.file
    assert_problems(
        src.problems(),
        [
            (f, src.at("nope_a"), "unknown metric 'nope_a'"),
            (f, src.at("nope_b"), "unknown metric 'nope_b'"),
            (f, src.at("nope_c"), "unknown metric 'nope_c'"),
            (f, src.at("nope_d"), "unknown metric 'nope_d'"),
        ],
    )


def test_metrics_of_other_stages_and_workflow_config_are_known_to_conditions(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - id: 1
          title: A
          metrics: {signups: {unit: count, threshold: 10}}
        - id: 2
          title: B
          gates:
            exit: [{check: "sum(signups, 7d) >= threshold.signups and signups >= config.floor"}]
        """,
        head=HEAD + "config: {floor: {type: int, default: 10}}\n",  # agrees with the threshold (one line)
    )
    check = src.load().workflow.stages[1].gates.exit[0]
    assert isinstance(check, ConditionCheck) and check.check.startswith("sum(")


def test_metric_declared_twice_must_keep_its_unit(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - {id: 1, title: A, metrics: {m: {unit: percent}}}
        - {id: 2, title: B, metrics: {m: {unit: ms}}}
        """,
    )
    problem = one_problem(src)
    assert problem.message == "stage 2: metric 'm' is declared elsewhere with unit percent"
    assert (problem.line, problem.column) == src.at("ms")


def test_customer_check_config_references_are_checked_at_load(tmp_path: Path) -> None:
    src = stages(
        tmp_path,
        """
        - id: 1
          title: Listen
          metrics: {nps_response: {unit: score}}
          config:
            min_answers: {type: int, default: 5}
            window_days: {type: string, default: "30d"}
          gates:
            exit:
              - customer: {metric: nps_response, min_count: config.min_answers, window: config.window_days}
              - customer: {metric: nps_response, required: config.mandatory}
        """,
    )
    f = src.file
    assert_problems(
        src.problems(),
        [
            (f, src.at("config.window_days"), "stage 1: config parameter 'window_days' is string, expected duration"),
            (f, src.at("config.mandatory"), "stage 1: unknown config parameter 'mandatory'"),
        ],
    )
