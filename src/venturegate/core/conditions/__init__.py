"""The condition language: parse, check, print and judge expressions like `avg(x, 1h) < 70`."""

from venturegate.core.conditions.analysis import (
    ConditionProblem,
    ConditionSchema,
    ConfigType,
    References,
    analyze,
    references,
)
from venturegate.core.conditions.data import ConfigValue, DataAccess, InMemoryData, Sample
from venturegate.core.conditions.errors import ConditionError, ConditionSyntaxError
from venturegate.core.conditions.evaluation import evaluate, prepare
from venturegate.core.conditions.explanation import (
    Explanation,
    Value,
    ValueKind,
    Verdict,
    explain_lines,
    format_value,
)
from venturegate.core.conditions.functions import FUNCTIONS, WINDOW_FUNCTIONS
from venturegate.core.conditions.nodes import Expr
from venturegate.core.conditions.printer import to_text


def parse(text: str) -> Expr:
    """Parse a condition; raise `ConditionSyntaxError` with a 1-based line and column.

    The parser (and lark) is imported on first use: a command that reads a cached workflow, whose
    conditions come parsed, never pays for it.
    """
    from venturegate.core.conditions.parser import parse as parse_text

    return parse_text(text)


__all__ = [
    "FUNCTIONS",
    "WINDOW_FUNCTIONS",
    "ConditionError",
    "ConditionProblem",
    "ConditionSchema",
    "ConditionSyntaxError",
    "ConfigType",
    "ConfigValue",
    "DataAccess",
    "Explanation",
    "Expr",
    "InMemoryData",
    "References",
    "Sample",
    "Value",
    "ValueKind",
    "Verdict",
    "analyze",
    "evaluate",
    "explain_lines",
    "format_value",
    "parse",
    "prepare",
    "references",
    "to_text",
]
