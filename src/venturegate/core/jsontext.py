"""JSON text exactly as `json.dumps(value)` (default arguments) writes it, with the encoder built once.

`json.dumps` builds a new C encoder on every call, a third of its cost for the small values the hot paths
encode (a condition's explanation, an event's data). Values must be acyclic: there is no circular
reference check (a cycle raises `RecursionError` instead of `ValueError`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring_ascii

__all__ = ["dumps", "splice"]


def _make() -> Callable[[object], str]:
    # The C encoder `json.JSONEncoder.iterencode` uses (untyped in the stubs); None without the accelerator.
    c_make_encoder: Callable[..., Callable[[object, int], list[str]]] | None = getattr(
        json.encoder, "c_make_encoder", None
    )
    if c_make_encoder is None:  # no C accelerator: the standard function
        return json.dumps
    encoder = json.JSONEncoder()
    one_shot = c_make_encoder(None, encoder.default, encode_basestring_ascii, None, ": ", ", ", False, False, True)
    join = "".join

    def dumps(value: object) -> str:
        """`json.dumps(value)`."""
        if type(value) is str:
            return encode_basestring_ascii(value)
        return join(one_shot(value, 0))

    return dumps


dumps: Callable[[object], str] = _make()


def splice(value: Mapping[str, object], raw: Mapping[str, str]) -> str:
    """`json.dumps` of `value` with `raw`'s keys after its own, each value JSON text already encoded (spliced in
    as is: a value that exists only as stored text is not decoded to be encoded again)."""
    head = dumps(dict(value))
    if not raw:
        return head
    tail = ", ".join(f"{encode_basestring_ascii(k)}: {text}" for k, text in raw.items())
    return f"{head[:-1]}, {tail}}}" if len(head) > 2 else f"{{{tail}}}"
