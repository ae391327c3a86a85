"""Loading workflow files: YAML errors, unknown fields, include, extends, digests, and garbage input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import MINI
from tests.definitions.helpers import Src, assert_problems, one_problem, write
from venturegate.definitions.loader import LoadedWorkflow, load_workflow, workflow_from_document
from venturegate.definitions.source import DefinitionError, Problem, parse_yaml

HEAD = 'workflow: {id: t, version: "1"}\n'


# --------------------------------------------------------------------------------------------------
# Malformed YAML: one located problem, never a traceback, and no follow-on noise.


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        (HEAD + "stages:\n  - id: 1\n\ttitle: A\n", (4, 1), "tab"),
        ('workflow: {id: t, version: "1"\nstages: []\n', (2, 1), "started at line 1, column 11"),
        (HEAD + "stages: [ {id: 1, title: A}\n", (3, 1), "started at line 2, column 9"),
        ('workflow: {id: "t, version: 1}\n', (2, 1), "while scanning a quoted scalar"),
        ("workflow:\n  id: t\n version: 1\n", (3, 2), "YAML syntax error"),
        (HEAD + "roles: [a, b]]\n", (2, 14), "YAML syntax error"),
        (HEAD + "a: b\n---\nc: d\n", (3, 1), "expected a single document"),
        (HEAD + "stages:\n  - id: 1\n    title: A\x07\n", (4, 13), "character #x0007 is not allowed"),
        ('workflow: {id: !!python/name:os.system x, version: "1"}\n', (1, 16), "could not determine a constructor"),
        ('workflow: {id: t, version: "1"}\nroles: &r [chairman, *r]\n', (2, 8), "an alias refers to itself"),
        ("workflow: {id: t, version: 2024-13-45}\n", (1, 28), "cannot read '2024-13-45' as timestamp: month must"),
        ("workflow: {id: t, version: !!int one}\n", (1, 28), "cannot read 'one' as int"),
        ("workflow: {id: t, version: !!bool maybe}\n", (1, 28), "cannot read 'maybe' as bool"),
    ],
)
def test_malformed_yaml_gives_one_located_problem(
    tmp_path: Path, text: str, where: tuple[int, int], fragment: str
) -> None:
    (tmp_path / "wf.yaml").write_text(text, encoding="utf-8")
    problem = one_problem(Src(tmp_path / "wf.yaml", text))
    assert (problem.file, (problem.line, problem.column)) == (str(tmp_path / "wf.yaml"), where)
    assert fragment in problem.message
    assert "\n" not in str(problem)


def test_deeply_nested_yaml_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    text = HEAD + "roles: " + "[" * 1200 + "]" * 1200 + "\n"
    problem = one_problem(write(tmp_path, "wf.yaml", text))
    assert "nested too deeply" in problem.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty; a workflow needs at least `workflow:`"),
        ("# only a comment\n\n", "the file is empty; a workflow needs at least `workflow:`"),
        ("- a\n- b\n", "a workflow file must be a mapping (workflow:, stages:, …)"),
        ("just text\n", "a workflow file must be a mapping (workflow:, stages:, …)"),
        ("{}\n", "workflow: missing required field 'workflow'"),
    ],
)
def test_files_that_are_not_workflows(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "wf.yaml").write_text(text, encoding="utf-8")
    problem = one_problem(Src(tmp_path / "wf.yaml", text))
    assert (problem.line, problem.column, problem.message) == (1, 1, message)


def test_missing_file_is_one_problem_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(DefinitionError) as info:
        load_workflow(path)
    [problem] = info.value.problems
    assert (problem.file, problem.line, problem.column) == (str(path), 1, 1)
    assert problem.message.startswith("cannot read file:")


def test_directory_and_non_utf8_files_are_problems(tmp_path: Path) -> None:
    for path in (tmp_path, tmp_path / "latin1.yaml"):
        if path != tmp_path:
            path.write_bytes(b"workflow: {id: caf\xe9, version: '1'}\n")
        with pytest.raises(DefinitionError) as info:
            load_workflow(path)
        [problem] = info.value.problems
        assert problem.message.startswith("cannot read file:")


def test_duplicate_yaml_keys_are_reported_and_the_rest_still_checked(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "wf.yaml",
        """
        workflow: {id: t, version: "1", id: u}
        roles: [chairman]
        roles: [lead]
        stages:
          - id: 1
            title: A
            metrics:
              m: {unit: count}
              m: {unit: percent}
            owner: ghost
        """,
    )
    found = src.problems()
    f = src.file
    assert_problems(
        found,
        [
            (f, src.at("id: u"), "duplicate key 'id'"),
            (f, src.at("roles", nth=2), "duplicate key 'roles'"),
            (f, src.at("m:", nth=2), "duplicate key 'm'"),
            (f, src.at("ghost"), "stage 1: unknown role 'ghost'"),
        ],
    )
    assert {p.hint for p in found if "duplicate" in p.message} == {"remove one of them"}


def test_mapping_keys_must_be_text(tmp_path: Path) -> None:
    src = write(tmp_path, "wf.yaml", HEAD + "? [a, b]\n: 1\n")
    problem = one_problem(src)
    assert (problem.line, problem.column, problem.message) == (2, 3, "mapping keys must be text")


# --------------------------------------------------------------------------------------------------
# Unknown fields, missing fields, wrong values.


def test_unknown_fields_get_did_you_mean_hints(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "wf.yaml",
        """
        workflow: {id: t, version: "1", titel: T}
        defaults: {escalation_rol: lead}
        stage: []
        stages:
          - id: 1
            titel: A
            title: A
            metrics:
              m: {unit: percent, treshold: 3}
            config:
              k: {type: int, default: 1, maximum: 5}
            triggers:
              - {id: T, kind: alert, when: "m < 1", cooldwn: 5m}
            zzzz: 1
        """,
    )
    found = src.problems()
    f = src.file
    assert_problems(
        found,
        [
            (f, src.at("T}"), "workflow.titel: unknown field 'titel'"),
            (f, src.at("lead}"), "defaults.escalation_rol: unknown field 'escalation_rol'"),
            (f, src.at("[]"), "unknown top-level key 'stage'"),
            (f, src.at("A"), "stage 1.titel: unknown field 'titel'"),
            (f, src.at("3}"), "stage 1.metrics.m.treshold: unknown field 'treshold'"),
            (f, src.at("5}"), "stage 1.config.k.maximum: unknown field 'maximum'"),
            (f, src.at("5m}"), "stage 1.triggers.0.cooldwn: unknown field 'cooldwn'"),
            (f, src.at("zzzz: 1", shift=6), "stage 1.zzzz: unknown field 'zzzz'"),
        ],
    )
    hints = {p.message.split("'")[1]: p.hint for p in found}
    assert hints == {
        "titel": "did you mean 'title'?",
        "escalation_rol": "did you mean 'escalation_role'?",
        "stage": "did you mean 'stages'?",
        "treshold": "did you mean 'threshold'?",
        "maximum": "did you mean 'max'?",
        "cooldwn": "did you mean 'cooldown'?",
        "zzzz": "see docs/workflow-format.md",
    }


def test_missing_fields_and_bad_values(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "wf.yaml",
        """
        workflow: {id: t}
        stages:
          - id: 1
            metrics:
              m: {unit: furlongs, direction: up}
            triggers:
              - {id: T, kind: alert, when: "m < 1", mode: automatic, max: 0}
          - id: 0
            title: Zero
        """,
    )
    found = src.problems()
    f = src.file
    assert_problems(
        found,
        [
            (f, src.at("{id: t}"), "workflow.version: missing required field 'version'"),
            (f, src.at("id: 1"), "stage 1.title: missing required field 'title'"),
            (f, src.at("furlongs"), "stage 1.metrics.m.unit: Input should be 'percent'"),
            (f, src.at("up}"), "stage 1.metrics.m.direction: Input should be"),
            (f, src.at("automatic"), "stage 1.triggers.0.mode: Input should be 'manual', 'assisted' or 'auto'"),
            (f, src.at("0}"), "stage 1.triggers.0.max: Input should be greater than or equal to 1"),
            (f, src.at("0\n"), "stage 0.id: Input should be greater than or equal to 1"),
        ],
    )
    literal = next(p for p in found if "mode" in p.message)
    assert literal.hint == "did you mean 'auto'?"  # the closest allowed value
    furlongs = next(p for p in found if "furlongs" in p.message or "unit" in p.message)
    assert furlongs.hint == "allowed values are listed in docs/workflow-format.md"  # none is close


def test_a_value_that_fits_no_member_of_a_union_is_one_problem(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "wf.yaml",
        HEAD
        + "stages:\n"
        + "  - id: 1\n"
        + "    title: A\n"
        + "    config: {p: {type: int, default: {a: 1}}}\n"
        + '    triggers: [{id: T, kind: recursion, when: "days_in_stage() > 1", action: {go_to: [1]}}]\n',
    )
    f = src.file
    assert_problems(
        src.problems(),
        [
            (f, src.at("{a: 1}"), "stage 1.config.p.default: {'a': 1} is none of int, float, bool, str, list[int]"),
            (f, src.at("[1]"), "stage 1.triggers.0.action.go_to: [1] is none of int, str"),
        ],
    )


def test_gate_check_problems_are_located_inside_the_check(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "wf.yaml",
        """
        workflow: {id: t, version: "1"}
        stages:
          - id: 1
            title: A
            metrics: {m: {unit: score}}
            gates:
              exit:
                - {artifact: x, name: [5]}
                - {customer: {metric: m, window: 5 days}}
                - {check: "m > 1", approval: chairman}
                - just a sentence
        """,
    )
    f = src.file
    assert_problems(
        src.problems(),
        [
            (f, src.at("[5]"), "stage 1.gates.exit.0.name: Input should be a valid string"),
            (f, src.at("5 days"), "stage 1.gates.exit.1.customer.window: '5 days' is not a duration"),
            (f, src.at('{check: "m > 1"'), "stage 1.gates.exit.2: a gate check needs exactly one of the keys"),
            (f, src.at("just a sentence"), "stage 1.gates.exit.3: a gate check needs exactly one of the keys"),
        ],
    )


def test_bad_stage_entries(tmp_path: Path) -> None:
    src = write(tmp_path, "wf.yaml", HEAD + "stages:\n  - 5\n  - {id: 1, title: A}\n")
    problem = one_problem(src)
    assert (problem.line, problem.column) == (3, 5)
    assert problem.message == "a stage must be a mapping with id and title"
    src = write(tmp_path, "wf2.yaml", HEAD + "stages: 5\n")
    problem = one_problem(src)
    assert (problem.line, problem.column, problem.message) == (2, 9, "`stages` must be a list of stages")


def test_a_structurally_broken_stage_does_not_hide_problems_elsewhere(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "wf.yaml",
        """
        workflow: {id: t, version: "1"}
        defaults: {escalation_role: nobody}
        config: {broken: {type: duration}, fine: {type: int, default: 3, max: 2}}
        stages:
          - id: 1
            title: A
            owner: ghost_a
            metrics:
              good: {unit: score, threshold: 5}
              bad: {unit: score, window: an hour}
            triggers: [{id: T, kind: alert, when: "days_in_stage() > 1", for: 5 minutes}]
          - id: 2
            title: B
            owner: ghost_b
            depends_on: [1]
            gates: {exit: [{check: "good >= threshold.good and nothing > 1"}]}
          - id: 3
            title: C
            rollback: {timeout: soon}
            owner: ghost_c
        """,
    )
    f = src.file
    assert_problems(
        src.problems(),
        [
            (f, src.at("{type: duration}"), "config.broken.default: missing required field 'default'"),
            (f, src.at("3, max"), "default 3 is above the maximum 2"),
            (f, src.at("nobody"), "unknown role 'nobody'"),
            (f, src.at("ghost_a"), "stage 1: unknown role 'ghost_a'"),
            (f, src.at("an hour"), "stage 1.metrics.bad.window: 'an hour' is not a duration"),
            (f, src.at("5 minutes"), "stage 1.triggers.0.for: '5 minutes' is not a duration"),
            (f, src.at("ghost_b"), "stage 2: unknown role 'ghost_b'"),
            (f, src.at("nothing"), "stage 2: condition: unknown metric 'nothing'"),
            (f, src.at("soon"), "stage 3.rollback.timeout: 'soon' is not a duration"),
            (f, src.at("ghost_c"), "stage 3: unknown role 'ghost_c'"),
        ],
    )


def test_a_stage_without_a_usable_id_is_reported_and_skipped(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "wf.yaml",
        HEAD + "stages:\n  - {id: first, title: A, owner: ghost}\n  - {id: 2, titel: B, owner: ghost2}\n",
    )
    f = src.file
    assert_problems(
        src.problems(),
        [
            (f, src.at("first"), "stage first.id: Input should be a valid integer"),
            (f, src.at("{id: 2"), "stage 2.title: missing required field 'title'"),
            (f, src.at("B,"), "stage 2.titel: unknown field 'titel'"),
            (f, src.at("ghost2"), "stage 2: unknown role 'ghost2'"),
        ],
    )


# --------------------------------------------------------------------------------------------------
# include: files of one stage, or of `stages: [...]`; problems located in the included file.


def test_include_single_stage_and_stage_list_files(tmp_path: Path) -> None:
    write(tmp_path, "stages/three.yaml", "id: 3\ntitle: Three\ndepends_on: [2]\n")
    write(tmp_path, "stages/more.yaml", "stages:\n  - {id: 2, title: Two}\n  - {id: 4, title: Four}\n")
    main = write(
        tmp_path,
        "wf.yaml",
        HEAD + "include: [stages/three.yaml, stages/more.yaml]\nstages:\n  - {id: 1, title: One}\n",
    )
    loaded = main.load()
    assert [(s.id, s.title) for s in loaded.workflow.stages] == [(1, "One"), (2, "Two"), (3, "Three"), (4, "Four")]
    assert "include" not in loaded.document


def test_problems_in_included_files_are_located_there(tmp_path: Path) -> None:
    three = write(tmp_path, "stages/three.yaml", "id: 3\ntitle: Three\nowner: ghost\ntitel: x\n")
    more = write(tmp_path, "stages/more.yaml", "stages:\n  - {id: 4, title: Four, inputs: [nothing]}\n")
    broken = write(tmp_path, "stages/broken.yaml", "id: 5\ntitle: [Five\n")
    listed = write(tmp_path, "stages/list.yaml", "- 1\n- 2\n")
    main = write(
        tmp_path,
        "wf.yaml",
        HEAD
        + "include:\n"
        + "  - stages/three.yaml\n"
        + "  - stages/more.yaml\n"
        + "  - stages/missing.yaml\n"
        + "  - stages/broken.yaml\n"
        + "  - stages/list.yaml\n"
        + "stages:\n"
        + "  - {id: 1, title: One, owner: phantom}\n",
    )
    assert_problems(
        main.problems(),
        [
            (three.file, (4, 8), "stage 3.titel: unknown field 'titel'"),
            (three.file, (3, 8), "stage 3: unknown role 'ghost'"),
            (more.file, more.at("nothing"), "stage 4: unknown artifact 'nothing'"),
            (main.file, main.at("stages/missing.yaml"), "included file 'stages/missing.yaml' does not exist"),
            (broken.file, (3, 1), "YAML syntax error"),
            (listed.file, (1, 1), "an included file holds one stage mapping or `stages: [...]`"),
            (main.file, main.at("phantom"), "stage 1: unknown role 'phantom'"),
        ],
    )


def test_include_must_be_a_list(tmp_path: Path) -> None:
    src = write(tmp_path, "wf.yaml", HEAD + "include: stages/three.yaml\n")
    problem = one_problem(src)
    assert (problem.line, problem.column) == (2, 10)
    assert problem.message == "`include` must be a list of relative file paths"


# --------------------------------------------------------------------------------------------------
# extends: a base workflow of our own in tmp_path (the bundled one is not relied on here).

BASE = """
workflow: {id: base, version: "1.0.0", title: Base lifecycle}
roles: [chairman, lead, exec, agent]
defaults:
  loop_prevention: {max_bounces: 2, window: 3d, role: lead}
stages:
  - id: 1
    title: Idea
    substages:
      - {id: "1.1", title: Brief, done_when: [Written]}
      - {id: "1.2", title: Review}
    metrics:
      score: {unit: score, threshold: 5, target: 8}
    approvals:
      chairman: {timeout: 24h}
    triggers:
      - {id: IDEA-1, kind: alert, when: "score < 3"}
      - {id: IDEA-2, kind: alert, when: "score < 2", mode: manual}
    gates:
      exit: [substages_done]
  - id: 2
    title: Build
    depends_on: [1]
"""

CHILD = """
extends: ./base.yaml
workflow: {id: studio, version: "2.0.0"}
stages:
  - id: 1
    title: Idea (studio)
    substages:
      - {id: "1.2", title: Review by lead}
      - {id: "1.3", title: Pitch}
    metrics:
      reach: {unit: count, direction: higher_is_better, threshold: 100}
    triggers:
      - {id: IDEA-2, kind: alert, when: "reach < 10", mode: assisted}
      - {id: IDEA-3, kind: alert, when: "score < 1"}
    gates:
      exit: [substages_done, {check: "reach >= threshold.reach and score >= threshold.score"}]
  - id: 3
    title: Launch
    depends_on: [2]
"""


def test_extends_merges_stages_by_the_documented_rules(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    loaded = write(tmp_path, "child.yaml", CHILD).load()
    wf = loaded.workflow
    assert (wf.workflow.id, wf.workflow.version) == ("studio", "2.0.0")
    assert wf.roles == ["chairman", "lead", "exec", "agent"]
    assert (wf.defaults.loop_prevention.max_bounces, wf.defaults.loop_prevention.role) == (2, "lead")
    assert [s.id for s in wf.stages] == [1, 2, 3]
    one = wf.stages[0]
    assert one.title == "Idea (studio)"  # other keys replace
    assert [(s.id, s.title) for s in one.substages] == [("1.1", "Brief"), ("1.2", "Review by lead"), ("1.3", "Pitch")]
    assert list(one.metrics) == ["score", "reach"]  # a metric added to a stage
    assert one.metrics["score"].threshold == 5
    assert list(one.approvals) == ["chairman"]
    # a trigger overridden by id keeps its place; a new id is appended
    assert [(t.id, t.when, t.mode) for t in one.triggers] == [
        ("IDEA-1", "score < 3", "auto"),
        ("IDEA-2", "reach < 10", "assisted"),
        ("IDEA-3", "score < 1", "auto"),
    ]
    assert len(one.gates.exit) == 2
    assert wf.stages[2].title == "Launch"  # a stage added
    assert "extends" not in loaded.document


def test_extends_a_relative_path_from_the_extending_files_directory(tmp_path: Path) -> None:
    write(tmp_path, "shared/base.yaml", BASE)
    child = write(tmp_path, "studios/acme/wf.yaml", CHILD.replace("./base.yaml", "../../shared/base.yaml"))
    assert [s.id for s in child.load().workflow.stages] == [1, 2, 3]


def test_problems_in_merged_lists_point_at_the_right_file_and_item(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE.replace("    depends_on: [1]", "    depends_on: [1]\n    owner: ghost"))
    child = write(
        tmp_path,
        "child.yaml",
        """
        extends: ./base.yaml
        workflow: {id: studio, version: "2"}
        stages:
          - id: 1
            substages:
              - {id: "1.2", title: Review, agent: nobody}
              - {id: "1.9", title: Extra, agent: noone}
            triggers:
              - {id: IDEA-2, kind: alert, when: "bogus_replaced > 1"}
              - {id: IDEA-7, kind: alert, when: "score < 1"}
              - {id: IDEA-8, kind: alert, when: "bogus_appended > 1", for: 5 mins}
        """,
    )
    assert_problems(
        child.problems(),
        [
            (child.file, child.at("nobody"), "stage 1: unknown agent 'nobody'"),
            (child.file, child.at("noone"), "stage 1: unknown agent 'noone'"),
            (child.file, child.at("5 mins"), "stage 1.triggers.3.for: '5 mins' is not a duration"),
            (base.file, base.at("ghost"), "stage 2: unknown role 'ghost'"),
        ],
    )
    child.path.write_text(child.text.replace(", for: 5 mins", ""), encoding="utf-8")
    assert_problems(
        child.problems(),
        [
            (child.file, child.at("nobody"), "stage 1: unknown agent 'nobody'"),
            (child.file, child.at("noone"), "stage 1: unknown agent 'noone'"),
            (child.file, child.at("bogus_replaced"), "unknown metric 'bogus_replaced'"),
            (child.file, child.at("bogus_appended"), "unknown metric 'bogus_appended'"),
            (base.file, base.at("ghost"), "stage 2: unknown role 'ghost'"),
        ],
    )


def test_extends_chains_keep_locations_at_every_level(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    mid = write(
        tmp_path,
        "mid.yaml",
        """
        extends: ./base.yaml
        workflow: {id: mid, version: "1"}
        stages:
          - id: 1
            triggers:
              - {id: IDEA-1, kind: alert, when: "mid_bad > 1"}
              - {id: IDEA-4, kind: alert, when: "score < 4"}
        """,
    )
    top = write(
        tmp_path,
        "top.yaml",
        """
        extends: ./mid.yaml
        workflow: {id: top, version: "1"}
        stages:
          - id: 1
            triggers:
              - {id: IDEA-4, kind: alert, when: "top_bad > 1"}
              - id: IDEA-5
                kind: alert
                when: >-
                  score < 1
                  or top_new > 1
        """,
    )
    assert_problems(
        top.problems(),
        [
            (mid.file, mid.at("mid_bad"), "unknown metric 'mid_bad'"),
            (top.file, top.at("top_bad"), "unknown metric 'top_bad'"),
            (top.file, top.at("top_new"), "unknown metric 'top_new'"),
        ],
    )


def test_extends_a_missing_file_is_located(tmp_path: Path) -> None:
    src = write(tmp_path, "wf.yaml", 'extends: ./base.yaml\nworkflow: {id: t, version: "1"}\n')
    problem = one_problem(src)
    assert (problem.line, problem.column) == (1, 10)
    assert problem.message == "cannot extend './base.yaml': no such file"
    assert problem.hint == "use `bundled` or a relative path"


def test_extends_cycles_are_reported_not_followed(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", 'extends: ./b.yaml\nworkflow: {id: a, version: "1"}\n')
    b = write(tmp_path, "b.yaml", 'extends: ./a.yaml\nworkflow: {id: b, version: "1"}\n')
    problem = one_problem(Src(tmp_path / "a.yaml", ""))
    assert (problem.file, problem.line, problem.column) == (b.file, 1, 10)
    assert "cycle" in problem.message


def test_problems_in_the_base_file_are_reported_through_the_child(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", BASE.replace("title: Build", "titel: Build"))
    child = write(tmp_path, "child.yaml", CHILD)
    problems = child.problems()
    assert any(
        (p.file, p.line, p.column) == (base.file, *base.at("Build")) and "unknown field 'titel'" in p.message
        for p in problems
    )


# --------------------------------------------------------------------------------------------------
# Digests: same content → same digest; any change → another; the stored document round-trips.


def test_same_content_gives_the_same_digest(tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "copy.yaml"
    copy.parent.mkdir()
    shutil.copy(MINI, copy)
    assert load_workflow(copy).digest == load_workflow(MINI).digest


def test_formatting_comments_key_order_and_stage_order_do_not_change_the_digest(tmp_path: Path) -> None:
    a = write(
        tmp_path,
        "a.yaml",
        """
        workflow: {id: t, version: "1"}
        stages:
          - {id: 1, title: A, metrics: {m: {unit: score, threshold: 5}}}
          - {id: 2, title: B, depends_on: [1]}
        """,
    )
    b = write(
        tmp_path,
        "b.yaml",
        """
        # the same workflow, written differently
        stages:
          - depends_on:
              - 1
            title: B
            id: 2
          - id: 1   # first stage
            metrics:
              m:
                threshold: 5
                unit: score
            title: 'A'
        workflow:
          version: '1'
          id: t
        """,
    )
    assert a.load().digest == b.load().digest


def test_a_workflow_built_with_extends_and_include_digests_like_the_same_workflow_written_flat(
    tmp_path: Path,
) -> None:
    write(tmp_path, "base.yaml", 'workflow: {id: t, version: "1"}\nstages:\n  - {id: 1, title: A}\n')
    write(tmp_path, "two.yaml", "id: 2\ntitle: B\n")
    child = write(
        tmp_path, "child.yaml", 'extends: ./base.yaml\ninclude: [two.yaml]\nworkflow: {id: t, version: "1"}\n'
    )
    flat = write(
        tmp_path,
        "flat.yaml",
        'workflow: {id: t, version: "1"}\nstages:\n  - {id: 1, title: A}\n  - {id: 2, title: B}\n',
    )
    assert child.load().digest == flat.load().digest


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("threshold: 6", "threshold: 6.5"),
        ("title: Idea", "title: Ideas"),
        ('version: "0.1"', 'version: "0.2"'),
        ("depends_on: [2]", "depends_on: [1, 2]"),
        ("- attest: Founder interviewed", "- attest: Founder interviewed twice"),
    ],
)
def test_any_change_gives_another_digest(tmp_path: Path, old: str, new: str) -> None:
    text = MINI.read_text(encoding="utf-8")
    assert text.count(old) == 1
    changed = write(tmp_path, "changed.yaml", text.replace(old, new))
    assert changed.load().digest != load_workflow(MINI).digest


def test_digest_is_a_sha256_and_version_is_the_declared_one() -> None:
    loaded = load_workflow(MINI)
    assert len(loaded.digest) == 64
    assert int(loaded.digest, 16) >= 0
    assert loaded.version == "0.1"


def _round_trips(loaded: LoadedWorkflow) -> None:
    again = workflow_from_document(loaded.document)
    assert again.digest == loaded.digest
    assert again.workflow == loaded.workflow
    stored = json.loads(json.dumps(loaded.document))  # as kept in the database
    assert workflow_from_document(stored).digest == loaded.digest


def test_document_round_trips_to_the_same_digest(tmp_path: Path) -> None:
    _round_trips(load_workflow(MINI))
    write(tmp_path, "base.yaml", BASE)
    _round_trips(write(tmp_path, "child.yaml", CHILD).load())


# --------------------------------------------------------------------------------------------------
# Garbage never escapes as anything but DefinitionError.

YAMLISH = st.lists(
    st.sampled_from(
        [
            "workflow",
            "stages",
            "id",
            "title",
            "include",
            "extends",
            ":",
            ": ",
            "- ",
            "{",
            "}",
            "[",
            "]",
            ",",
            "'",
            '"',
            "\n",
            "  ",
            "\t",
            "&a ",
            "*a",
            "!!int ",
            "!!str ",
            "!!timestamp ",
            "? ",
            "|",
            ">-",
            "#",
            "---",
            "<<: ",
            "1",
            "2024-13-45",
            "x",
            "\x00",
            "\ufeff",
            "%YAML 1.1",
        ]
    ),
    max_size=40,
).map("".join)


def _well_formed(problems: list[Problem], file: str) -> None:
    for problem in problems:
        assert problem.file == file
        assert problem.line >= 1 and problem.column >= 1
        assert problem.message


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(max_size=200), YAMLISH))
def test_parse_yaml_never_raises(text: str) -> None:
    doc, problems = parse_yaml(text, "g.yaml")
    _well_formed(problems, "g.yaml")
    assert doc.file == "g.yaml"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=200),
        YAMLISH.map(str.encode),
        st.tuples(st.integers(0, 1700), st.integers(0, 40), YAMLISH).map(
            lambda t: (lambda s: s[: t[0]] + t[2] + s[t[0] + t[1] :])(MINI.read_text(encoding="utf-8")).encode()
        ),
    )
)
def test_loading_garbage_only_ever_raises_definition_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("garbage") / "wf.yaml"
    path.write_bytes(data)
    try:
        load_workflow(path)
    except DefinitionError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.line >= 1 and problem.column >= 1


def test_a_broken_top_level_section_does_not_hide_stage_problems(tmp_path: Path) -> None:
    src = write(
        tmp_path,
        "wf.yaml",
        """
        workflow: {id: t, version: "1"}
        defaults: {approval: {timeout: 1 day}}
        stages:
          - {id: 1, title: A, owner: ghost}
        """,
    )
    f = src.file
    assert_problems(
        src.problems(),
        [
            (f, src.at("1 day"), "defaults.approval.timeout: '1 day' is not a duration"),
            (f, src.at("ghost"), "stage 1: unknown role 'ghost'"),
        ],
    )
