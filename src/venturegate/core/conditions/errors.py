"""Errors raised for conditions that cannot be read or run."""

from __future__ import annotations


class ConditionError(ValueError):
    """A condition is not valid; `analyze` reports the same problems without raising."""


class ConditionSyntaxError(ConditionError):
    """A condition's text could not be parsed; positions are 1-based and relative to the text."""

    def __init__(self, message: str, line: int, column: int, hint: str = "") -> None:
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint
        where = f"line {line}, column {column}"
        super().__init__(f"{message} ({where})" + (f"; {hint}" if hint else ""))
