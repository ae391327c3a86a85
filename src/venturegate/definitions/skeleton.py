"""A schema-valid skeleton of any artifact, as YAML with comments (`venturegate artifact template NAME`).

Every required field gets a placeholder that satisfies its schema (its default, example or first
enum value, else a value checked against the field's own schema); optional fields are listed as
comments. The result is validated against the artifact's schema before it is printed.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema

_STRINGS = (
    "example",
    "https://api.example.com",
    "EXAMPLE_TOKEN",
    "2026-01-01T00:00:00Z",
    "2026-01-01",
    "0" * 64,
    "0123abc",
    "v1",
    "docs/api/example.yaml",
)


class _Gen:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
            target: Any = self.root
            for part in node["$ref"][2:].split("/"):
                target = target[part]
            node = target
        return node

    def value(self, schema: Any) -> Any:
        schema = self.resolve(schema)
        if not isinstance(schema, dict):
            return None
        for key in ("const", "default"):
            if key in schema:
                return schema[key]
        if schema.get("examples"):
            return schema["examples"][0]
        if schema.get("enum"):
            return schema["enum"][0]
        for key in ("oneOf", "anyOf"):
            if schema.get(key):
                return self.value(schema[key][0])
        kind = schema.get("type")
        kind = kind[0] if isinstance(kind, list) else kind
        if kind == "object" or "properties" in schema:
            required = schema.get("required", [])
            out = {k: self.value(v) for k, v in (schema.get("properties") or {}).items() if k in required}
            extra = schema.get("additionalProperties")
            if len(out) < int(schema.get("minProperties", 0)) and isinstance(extra, dict):
                out["example"] = self.value(extra)
            return out
        if kind == "array":
            items = [self.value(schema.get("items", {})) for _ in range(max(1, int(schema.get("minItems", 1))))]
            if "contains" in schema:  # the first item also satisfies `contains`
                wanted = self.value(schema["contains"])
                both = isinstance(items[0], dict) and isinstance(wanted, dict)
                items[0] = {**items[0], **wanted} if both else wanted
            return items
        if kind in ("number", "integer"):
            return _number(schema, integer=kind == "integer")
        if kind == "boolean":
            return False
        if kind == "string":
            checker = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
            for text in _STRINGS:
                if checker.is_valid(text):
                    return text
            return "x" * max(1, int(schema.get("minLength", 1)))
        return None


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else json.dumps(name)


def _comment(schema: dict[str, Any]) -> str:
    parts = []
    if schema.get("description"):
        parts.append(" ".join(str(schema["description"]).split()))
    if schema.get("enum"):
        parts.append("one of: " + ", ".join(json.dumps(v) for v in schema["enum"]))
    return ("  # " + "; ".join(parts)) if parts else ""


def _emit(gen: _Gen, schema: Any, value: Any, indent: int, lines: list[str]) -> None:
    schema = gen.resolve(schema)
    for key in ("oneOf", "anyOf"):
        if isinstance(schema, dict) and schema.get(key):
            schema = gen.resolve(schema[key][0])
    pad = "  " * indent
    if isinstance(value, dict):
        props = (schema or {}).get("properties") or {}
        for k, v in value.items():
            sub = gen.resolve(props.get(k, {}))
            if isinstance(v, dict | list) and v:
                lines.append(f"{pad}{_key(k)}:{_comment(sub)}")
                _emit(gen, sub, v, indent + 1, lines)
            else:
                lines.append(f"{pad}{_key(k)}: {json.dumps(v)}{_comment(sub)}")
        for k, sub in props.items():
            if k not in value:
                sub = gen.resolve(sub)
                kind = sub.get("type", "value") if isinstance(sub, dict) else "value"
                lines.append(f"{pad}# {_key(k)}: optional {kind}{_comment(sub) and ' -' + _comment(sub)[3:]}")
    elif isinstance(value, list):
        items = (schema or {}).get("items", {})
        for v in value:
            if isinstance(v, dict) and v:
                inner: list[str] = []
                _emit(gen, items, v, indent + 1, inner)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines += inner[1:]
            else:
                lines.append(f"{pad}- {json.dumps(v)}")


def skeleton(schema: dict[str, Any]) -> tuple[Any, str]:
    """A valid instance of `schema` and its YAML text with comments (raises ValueError if none was found)."""
    gen = _Gen(schema)
    value = gen.value(schema)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=str)
    if errors:
        raise ValueError(f"no valid skeleton: {errors[0].message}")
    lines: list[str] = []
    _emit(gen, schema, value, 0, lines)
    if value == {}:  # nothing required: an empty object, with the optional fields as comments
        lines.insert(0, "{}")
    return value, "\n".join(lines) + "\n"


def _number(schema: dict[str, Any], *, integer: bool) -> float | int:
    """A value inside the schema's bounds (inclusive or exclusive): 1 when allowed, else one between them."""

    def ok(x: float) -> bool:
        return (
            ("minimum" not in schema or x >= schema["minimum"])
            and ("exclusiveMinimum" not in schema or x > schema["exclusiveMinimum"])
            and ("maximum" not in schema or x <= schema["maximum"])
            and ("exclusiveMaximum" not in schema or x < schema["exclusiveMaximum"])
        )

    lows = [float(schema[k]) for k in ("minimum", "exclusiveMinimum") if k in schema]
    highs = [float(schema[k]) for k in ("maximum", "exclusiveMaximum") if k in schema]
    low, high = max(lows, default=0.0), min(highs, default=max(lows, default=0.0) + 2)
    candidates = [1.0, low, low + 1, high, high - 1, (low + high) / 2, float(int(low) + 1)]
    for x in candidates:
        if ok(x) and (not integer or x == int(x)):
            return int(x) if integer else x
    return int(low) + 1 if integer else (low + high) / 2
