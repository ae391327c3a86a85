"""Static checks (one test per kind of problem) and what a condition reads."""

from __future__ import annotations

import pytest

from tests.conditions.test_parser import EXAMPLES
from venturegate.core.conditions import ConditionProblem, ConditionSchema, References, analyze, parse, references

SCHEMA = ConditionSchema(
    metrics=frozenset(
        {
            "latency_ms",
            "cache_hit_rate",
            "cpu_utilization",
            "memory_utilization",
            "integration_success_rate",
            "circuit_breaker_open",
            "readiness_score",
            "error_rate",
            "latency_p95",
        }
    ),
    metric_levels={
        "cache_hit_rate": frozenset({"target", "threshold"}),
        "integration_success_rate": frozenset({"threshold"}),
        "latency_p95": frozenset({"target", "alert"}),
    },
    config_types={
        "rollback.response_time_threshold": "number",
        "rollback.errorRateThreshold": "number",
        "stage.max_age": "duration",
        "traffic.mode": "string",
        "traffic.enabled": "bool",
        "traffic.canary_steps": "list",
    },
    segments=frozenset({"b2b_enterprise", "b2b_smb", "b2c_mass", "b2c_premium"}),
)


def problems(text: str) -> list[ConditionProblem]:
    return analyze(parse(text), SCHEMA)


def only_problem(text: str) -> ConditionProblem:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("text", EXAMPLES)
def test_the_design_examples_are_well_typed(text: str) -> None:
    assert problems(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "age(readiness_score) > config.stage.max_age",
        'config.traffic.enabled and config.traffic.mode != "off"',
        "avg(latency_ms, config.stage.max_age) > 1",
        "age(readiness_score) / 1h > 2",
        "age(readiness_score) * 2 - 1d >= 1h30m",
        "-age(readiness_score) < 0s",
        "config.traffic.enabled == (error_rate > 1)",
    ],
)
def test_well_typed_conditions(text: str) -> None:
    assert problems(text) == []


def test_unknown_metric_suggests_a_close_name() -> None:
    problem = only_problem("avg(cache_hit_rat, 1h) < 70")
    assert problem == ConditionProblem("unknown metric 'cache_hit_rat'", 5, "did you mean 'cache_hit_rate'?")


def test_unknown_bare_metric_without_a_close_name() -> None:
    assert only_problem("zzz > 1") == ConditionProblem("unknown metric 'zzz'", 1, "")


def test_unknown_config_key() -> None:
    problem = only_problem("error_rate > 1 or config.rollback.response_time_treshold > 1")
    assert problem.message == "unknown config parameter 'rollback.response_time_treshold'"
    assert problem.column == 19
    assert problem.hint == "did you mean 'rollback.response_time_threshold'?"


def test_missing_level() -> None:
    problem = only_problem("cache_hit_rate < alert.cache_hit_rate")
    assert problem == ConditionProblem(
        "metric 'cache_hit_rate' has no alert level", 18, "it defines: target, threshold"
    )
    assert only_problem("error_rate > target.error_rate").hint == "it defines no levels"


def test_level_of_unknown_metric() -> None:
    assert only_problem("1 > target.nope").message == "unknown metric 'nope'"


def test_unknown_function() -> None:
    problem = only_problem("avgg(latency_ms, 5m) > 1")
    assert problem == ConditionProblem("unknown function 'avgg'", 1, "did you mean 'avg'?")
    assert only_problem("zzzz() > 1").hint.startswith("functions: age, avg, count")


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("avg(latency_ms) > 1", "avg() takes 2 arguments, got 1", "write avg(metric, duration)"),
        ("age(latency_ms, 5m) > 1h", "age() takes 1 argument, got 2", "write age(metric)"),
        ("days_in_stage(1) > 1", "days_in_stage() takes 0 arguments, got 1", "write days_in_stage(no arguments)"),
    ],
)
def test_wrong_arity(text: str, message: str, hint: str) -> None:
    assert only_problem(text) == ConditionProblem(message, 1, hint)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("avg(5m, latency_ms) > 1", "the first argument of avg() must be a metric name", 5),
        ("avg(latency_ms, 5) > 1", "the window of avg() must be a duration, not a number", 17),
        ("avg(latency_ms, 0s) > 1", "a window of 0s holds no samples", 17),
        ("age(config.stage.max_age) > 1h", "the first argument of age() must be a metric name", 5),
        ("recursions(PERF) > 1", "recursions() takes a quoted trigger id", 12),
        ("avg(threshold.latency_ms, 5m) > 1", "the first argument of avg() must be a metric name", 5),
    ],
)
def test_wrong_argument_kinds(text: str, message: str, column: int) -> None:
    problem = problems(text)[0]
    assert (problem.message, problem.column) == (message, column)


def test_duration_compared_with_a_plain_number() -> None:
    problem = only_problem("age(readiness_score) > 5")
    assert problem == ConditionProblem("cannot compare a duration with a number", 22, "write a duration such as 5m")
    assert only_problem("2 < age(readiness_score)").hint == "write a duration such as 2m"


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("segment == 5", "cannot compare a string with a number", 9),
        ('segment < "b2b_smb"', "strings can only be compared with == or !=", 9),
        ("(error_rate > 1) < true", "bools can only be compared with == or !=", 18),
        ("error_rate + 5m > 1", "cannot use '+' on a number and a duration", 12),
        ("1h * 1h > 1", "cannot use '*' on a duration and a duration", 4),
        ("2 / 1h > 1", "cannot use '/' on a number and a duration", 3),
        ('-segment == "x"', "cannot negate a string", 1),
        ("error_rate and true", "'and' needs true or false, but this is a number", 1),
        ("not error_rate", "'not' needs true or false, but this is a number", 5),
        ("true or segment", "'or' needs true or false, but this is a string", 9),
        ("error_rate * 2", "a condition must be true or false, but this is a number", 12),
        ("config.traffic.canary_steps == 1", "config parameter 'traffic.canary_steps' is a list", 1),
        ('segment == "b2b_enterprize"', "unknown segment 'b2b_enterprize'", 12),
    ],
)
def test_type_errors(text: str, message: str, column: int) -> None:
    problem = only_problem(text)
    assert problem.message.startswith(message), problem
    assert problem.column == column


def test_one_mistake_gives_one_problem_and_problems_are_in_text_order() -> None:
    found = problems("nope > 1 and avg(nope2, 5m) > 1 and config.zz == 1")
    assert [problem.column for problem in found] == [1, 18, 37]
    assert [problem.message.split(" '")[0] for problem in found] == [
        "unknown metric",
        "unknown metric",
        "unknown config parameter",
    ]


def test_problem_positions_on_later_lines() -> None:
    problem = only_problem("error_rate > 1\nand nope > 1")
    assert (problem.line, problem.column) == (2, 5)
    assert str(problem) == "unknown metric 'nope' (line 2, column 5)"


def test_references_separate_samples_levels_config_and_triggers() -> None:
    tree = parse(
        "p95(latency_ms, 5m) > config.rollback.response_time_threshold "
        "and cache_hit_rate < threshold.cache_hit_rate and age(readiness_score) > 1d "
        'and recursions("PERF-001") < 3 and target.latency_p95 > 0 and segment == "b2c_mass"'
    )
    assert references(tree) == References(
        metrics=frozenset({"latency_ms", "cache_hit_rate", "readiness_score"}),
        levels=frozenset({("threshold", "cache_hit_rate"), ("target", "latency_p95")}),
        config=frozenset({"rollback.response_time_threshold"}),
        triggers=frozenset({"PERF-001"}),
    )


def test_references_of_a_constant_condition_are_empty() -> None:
    assert references(parse("days_in_stage() > 14")) == References()
