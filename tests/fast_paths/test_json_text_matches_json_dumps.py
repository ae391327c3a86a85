"""`core.jsontext.dumps` writes the same text as `json.dumps` with default arguments."""

from __future__ import annotations

import json
import math

import pytest

from venturegate.core.jsontext import dumps

VALUES: list[object] = [
    {"text": "quality < 70", "value": True, "left": 50.0, "right": 70, "children": [{"text": "q", "value": None}]},
    {"é": 'ünïcode ☃ \n\t"quoted"', "n": -0.0, "big": 1e300, "small": 5e-324, "i": 10**20},
    {"nan": math.nan, "inf": math.inf, "-inf": -math.inf},
    {3: "int key", 2.5: "float key", True: "bool key", None: "null key"},
    [1, (2, 3), [], {}],
    "a string \u2028",
    12.5,
    7,
    None,
    False,
]


@pytest.mark.parametrize("value", VALUES)
def test_same_text_as_json_dumps(value: object) -> None:
    assert dumps(value) == json.dumps(value)


def test_unserializable_raises_type_error() -> None:
    with pytest.raises(TypeError):
        dumps({"when": object()})
    with pytest.raises(TypeError):
        dumps({("tuple", "key"): 1})


def test_repeated_calls_are_independent() -> None:
    shared = {"a": 1}
    assert dumps([shared, shared]) == json.dumps([shared, shared])
    assert dumps(shared) == dumps(shared) == '{"a": 1}'
