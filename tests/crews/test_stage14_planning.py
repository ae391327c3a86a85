"""Stage 14.2 and 14.3's pure parts: assignment, RACI rules, backlog rules, packing, forecast, readiness, exports."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import date

import numpy as np
import pytest

from venturegate.crews.stage14 import backlog as bl
from venturegate.crews.stage14 import exports, forecast, readiness
from venturegate.crews.stage14.packing import Member, first_fit, optimise
from venturegate.crews.stage14.team import Person, RaciRow, Role, assign, build_raci, validate_raci

START = date(2027, 3, 1)


def P(pid: str, skills: set[str], hours: float = 40, available: date | None = None) -> Person:
    return Person(pid, pid.title(), frozenset(skills), hours, available)


def R(name: str, count: int, critical: bool, skills: set[str]) -> Role:
    return Role(name, count, critical, frozenset(skills))


# -- 14.2 ------------------------------------------------------------------------------------------
def test_assignment_fills_critical_roles_first_and_reports_what_is_missing() -> None:
    people = [
        P("ana", {"python", "lead"}),
        P("bo", {"python"}),
        P("cy", {"devops"}),
        P("di", {"design"}, available=date(2027, 5, 1)),
    ]
    roles = [
        R("tech_lead", 1, True, {"lead"}),
        R("backend", 2, False, {"python"}),
        R("devops", 1, True, {"devops"}),
        R("designer", 1, False, {"design", "figma"}),
    ]
    got = assign(roles, people, START)
    assert got.status == "OPTIMAL"
    assert got.filled[("tech_lead", 0)] == "ana" and got.filled[("devops", 0)] == "cy"
    assert got.roles_filled_percent == 60.0  # 3 of 5 heads: one backend and the designer stay open
    assert got.unavailable_skills == ["figma"]
    assert [s.role.name for s in got.unfilled()] == ["backend", "designer"]


def test_a_critical_role_whose_only_candidate_starts_late_stays_unfilled() -> None:
    got = assign([R("security", 1, True, {"security"})], [P("eve", {"security"}, available=date(2027, 6, 1))], START)
    assert got.roles_filled_percent == 0.0 and got.late == {"eve": date(2027, 6, 1)}


def test_raci_spreads_accountability_within_the_share_and_validates() -> None:
    members = {p.id: p for p in [P("ana", {"python", "lead"}), P("cy", {"devops"}), P("bo", {"python"})]}
    role_of = {"ana": "lead", "cy": "devops", "bo": "backend"}
    acts = [
        ("Infra", frozenset({"devops"})),
        ("API", frozenset({"python"})),
        ("Web", frozenset({"python"})),
        ("Release", frozenset()),
    ]
    rows = build_raci(acts, members, role_of, {"lead", "devops"}, max_share=0.5)
    assert all(len(r.responsible) >= 1 and r.accountable in {"ana", "cy"} for r in rows)
    assert validate_raci(rows, set(members), max_share=0.5) == []


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ([RaciRow("A", ["ana"], "")], "exactly one Accountable"),
        ([RaciRow("A", [], "ana")], "at least one Responsible"),
        ([RaciRow("A", ["ana"], "zed")], "exactly one Accountable who is a team member"),
        ([RaciRow("A", ["ana"], "ana", informed=["zed"])], "not team members: zed"),
        (
            [RaciRow("A", ["bo"], "ana"), RaciRow("B", ["bo"], "ana"), RaciRow("C", ["bo"], "bo")],
            "ana is Accountable for 2 of 3",
        ),
    ],
)
def test_raci_rules_name_each_violation(rows: list[RaciRow], problem: str) -> None:
    assert any(problem in p for p in validate_raci(rows, {"ana", "bo"}, max_share=0.5))


# -- 14.3 backlog ----------------------------------------------------------------------------------
def _epics() -> list[dict[str, object]]:
    return [
        {
            "id": "auth",
            "title": "Auth",
            "priority": "must",
            "stories": [
                {
                    "title": "Sign up",
                    "points": 3,
                    "acceptance_criteria": ["A new user can sign up with e-mail and password"],
                },
                {"title": "Log in", "points": 2, "acceptance_criteria": ["fast"]},
            ],
        },
        {
            "id": "shop",
            "title": "Shop",
            "depends_on": ["auth"],
            "stories": [
                {
                    "id": "cart",
                    "title": "Cart",
                    "points": 5,
                    "acceptance_criteria": [
                        "The cart must keep items for 7 days",
                        "The cart must not keep items for 7 days",
                    ],
                },
                {
                    "title": "Search",
                    "points": 3,
                    "skill": "search",
                    "depends_on": ["payments-api"],
                    "acceptance_criteria": ["Search should be user-friendly and intuitive for all shoppers"],
                },
            ],
        },
        {"id": "ops", "title": "Ops"},
    ]


def test_backlog_transformation_rules() -> None:
    got = bl.build(_epics())
    ids = [s.id for s in got.stories]
    assert ids == ["auth-1", "auth-2", "cart", "shop-2"]
    assert got.by_id()["cart"].depends_on == ("auth-1", "auth-2")  # an epic dependency means all its stories
    assert got.by_id()["auth-1"].priority == "must" and got.by_id()["cart"].priority == "should"
    assert got.story_decomposition_rate == pytest.approx(66.67)  # `ops` has no stories
    assert got.unresolved == [("shop-2", "payments-api")]
    assert set(got.ambiguous) == {"auth-2", "cart", "shop-2"}
    assert any("conflicting" in w for w in got.ambiguous["cart"])
    assert any("vague 'user-friendly'" in w for w in got.ambiguous["shop-2"])
    assert got.ambiguous["auth-2"] == ["too short to test: 'fast'", "vague 'fast' without a measure: 'fast'"]


def test_a_dependency_cycle_is_an_error_naming_the_cycle() -> None:
    epics = [
        {
            "id": "e",
            "title": "E",
            "stories": [
                {"id": "a", "title": "A", "points": 1, "depends_on": ["c"]},
                {"id": "b", "title": "B", "points": 1, "depends_on": ["a"]},
                {"id": "c", "title": "C", "points": 1, "depends_on": ["b"]},
                {"id": "d", "title": "D", "points": 1},
            ],
        }
    ]
    with pytest.raises(bl.CyclicDependencies) as exc:
        bl.build(epics)
    assert set(exc.value.cycle) == {"a", "b", "c"} and exc.value.cycle[0] == exc.value.cycle[-1]
    assert "cyclic story dependencies: " in str(exc.value)


# -- 14.3 packing ----------------------------------------------------------------------------------
def _random_backlog(n: int, seed: int) -> tuple[list[bl.Story], list[Member]]:
    rng = random.Random(seed)
    stories = []
    for i in range(n):
        deps = tuple(f"s{j}" for j in rng.sample(range(i), min(i, rng.choice([0, 0, 1, 2]))))
        stories.append(
            bl.Story(
                f"s{i}",
                f"story {i}",
                rng.choice([1, 2, 3, 5, 8]),
                rng.choice(["must", "should", "could"]),
                ("a clear criterion here",),
                deps,
                "e",
                rng.choice([None, "py", "ops"]),
            )
        )
    team = [
        Member("a", 12, frozenset({"py"})),
        Member("b", 12, frozenset({"py", "ops"})),
        Member("c", 9, frozenset({"ops"})),
    ]
    return stories, team


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_packing_respects_capacity_dependencies_and_skills(seed: int) -> None:
    stories, team = _random_backlog(40, seed)
    by_id = {s.id: s for s in stories}
    greedy, best = first_fit(stories, team), optimise(stories, team, seconds=0.5)
    for plan in (greedy, best):
        assert set(plan.sprint) == set(by_id)
        load: dict[tuple[str, int], float] = {}
        for sid, k in plan.sprint.items():
            who = plan.person[sid]
            load[who, k] = load.get((who, k), 0) + by_id[sid].points
            assert by_id[sid].skill is None or by_id[sid].skill in next(m.skills for m in team if m.id == who)
            assert all(plan.sprint[d] < k for d in by_id[sid].depends_on)
        assert all(v <= next(m.capacity for m in team if m.id == who) for (who, _), v in load.items())
    assert best.sprints_used <= greedy.sprints_used
    assert best.gap is not None and best.gap >= 0


def test_stories_that_cannot_be_placed_are_reported() -> None:
    stories = [
        bl.Story("big", "Big", 40, "must", ("x y z w",), (), "e"),
        bl.Story("ml", "ML", 3, "must", ("x y z w",), (), "e", "ml"),
        bl.Story("after", "After", 1, "should", ("x y z w",), ("big",), "e"),
    ]
    plan = optimise(stories, [Member("a", 12, frozenset({"py"}))], seconds=0.5)
    assert set(plan.unplaceable) == {"big", "ml", "after"} and "skill 'ml'" in plan.unplaceable["ml"]


# -- forecast, velocity, readiness, exports -----------------------------------------------------------
def test_forecast_percentiles_and_deadline() -> None:
    fc = forecast.forecast(200, [20, 25, 18, 22, 30], 0, start=START, sprint_weeks=2, deadline=date(2027, 7, 1))
    assert fc.p50 <= fc.p85 <= fc.p95 and fc.p50 >= 200 // 30
    assert 0.0 <= (fc.on_time_probability or 0) <= 1.0
    assert fc.dates["p85"] > START.isoformat()
    no_history = forecast.forecast(100, [], 20, start=START, sprint_weeks=2, deadline=None)
    assert "no history" in no_history.method and no_history.p50 in (5, 6)


def test_p85_covers_at_least_85_percent_of_outcomes_from_the_same_process() -> None:
    rng = np.random.default_rng(7)
    covered = []
    for _ in range(40):
        history = list(rng.gamma(9, 22 / 9, size=12))
        p85 = forecast.forecast(300, history, 0, start=START, sprint_weeks=2, deadline=None, trials=4000).p85
        truth = np.cumsum(rng.gamma(9, 22 / 9, size=(400, 60)), axis=1) >= 300
        covered.append(float(np.mean(truth.argmax(axis=1) + 1 <= p85)))
    assert np.mean(covered) >= 0.85


def test_velocity_benchmark_band_and_deviation() -> None:
    assert forecast.benchmark_band(4) == (15.0, 25.0)
    assert forecast.deviation(20, (15, 25)) == 0.0 and forecast.deviation(30, (15, 25)) == 20.0
    assert forecast.capacity_points(40, 2) == 12.0


def test_readiness_is_the_documented_weighted_function() -> None:
    perfect = {m: 100.0 for m in readiness.INPUTS} | {
        "ci_cd_critical_test_failures": 0.0,
        "blocking_dependencies": 0.0,
        "prioritized_backlog_sprints": 3.0,
        "team_velocity": 22.0,
        "velocity_benchmark_deviation": 0.0,
    }
    flags = readiness.Flags(raci_valid=True, kickoff_scheduled=True, sprint1_stories=4, ceremonies=5, goal=True)
    assert readiness.compute(perfect, readiness.Settings(), flags).score == 100.0
    fresh = perfect | {"onboarding_completion_rate": 0.0, "raci_approval_rate": 50.0}
    got = readiness.compute(fresh, readiness.Settings(), flags)
    assert got.sections["team"] == 60.0 and got.score == pytest.approx((100 + 60 + 100) / 3, abs=0.01)
    missing = readiness.compute({}, readiness.Settings(), readiness.Flags())
    assert missing.score == 0.0 and set(missing.unknown) == set(readiness.INPUTS)


def test_exports_keep_awkward_titles_in_one_field() -> None:
    stories = [bl.Story("a-1", 'Pay, then "ship"\nfast', 3, "must", ("Paid orders ship within 2 days",), (), "a")]
    rows = list(csv.DictReader(io.StringIO(exports.jira_csv(stories, {"a-1": 0}, venture="acme"))))
    assert rows[0]["Summary"] == 'Pay, then "ship"\nfast' and rows[0]["Sprint"] == "Sprint 1"
    assert rows[0]["Story Points"] == "3" and rows[0]["Priority"] == "Highest"
    issues = json.loads(exports.github_json(stories, {"a-1": 0}))
    assert issues[0]["milestone"] == "Sprint 1" and "- [ ] Paid orders ship within 2 days" in issues[0]["body"]
