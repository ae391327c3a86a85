"""A minimal valid instance of a JSON Schema, so tests can satisfy any bundled artifact requirement."""

from __future__ import annotations

from typing import Any


def instance(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """The smallest value that satisfies the common keywords of `schema` (examples first when given)."""
    root = schema if root is None else root
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return instance({**target, **{k: v for k, v in schema.items() if k != "$ref"}}, root)
    if schema.get("examples"):
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            merged: dict[str, Any] = {}
            for part in schema[key][:1] if key != "allOf" else schema[key]:
                merged.update(part)
            return instance({**{k: v for k, v in schema.items() if k != key}, **merged}, root)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: instance(props.get(name, {}), root) for name in schema.get("required", [])}
    if kind == "array":
        n = schema.get("minItems", 0) or (1 if schema.get("items") else 0)
        return [instance(schema.get("items", {}), root) for _ in range(n)]
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2026-11-01T00:00:00Z"
        if fmt == "date":
            return "2026-11-01"
        if fmt in ("uri", "url"):
            return "http://127.0.0.1:8080/"
        if fmt == "email":
            return "team@example.com"
        return "x" * max(1, schema.get("minLength", 1))
    if kind in ("number", "integer"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = low + (1 if "exclusiveMinimum" in schema else 0)
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    return None
