"""The one way untrusted text reaches the terminal: Rich markup escaped, control characters made visible.

Venture names, reasons, artifact and event text come from people and agents. Printed as they are,
`[red]…[/red]` or `[link=…]` would be read as Rich markup, and an ESC sequence, a carriage return
or a bidirectional override would move the cursor, recolour or rewrite what the terminal shows.
Every command prints such text through `safe` (tables, trees and error messages too).
"""

from __future__ import annotations

import re

from rich.markup import escape

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""C0 and C1 controls (but tab and newline), DEL, line/paragraph separators and bidirectional controls."""


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(value: object) -> str:
    """`value` as text Rich prints literally: markup escaped, control characters shown as `\\x1b`, `\\u202e`."""
    return escape(_CONTROL.sub(_visible, str(value)))
