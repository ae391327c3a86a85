"""Reading an OpenAPI document the way the stage-19 agents need it: operations, `$ref`s, path parameters and
which operation creates the resource a path parameter names (for chains and for load on item endpoints).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SAFE = ("get", "head")
_PARAM = re.compile(r"\{([^}/]+)\}")


@dataclass(frozen=True)
class Operation:
    """One documented operation."""

    method: str
    path: str
    raw: dict[str, Any]

    @property
    def label(self) -> str:
        """`GET /items/{item_id}`."""
        return f"{self.method.upper()} {self.path}"

    @property
    def params(self) -> list[str]:
        """The path parameters, left to right."""
        return _PARAM.findall(self.path)

    @property
    def safe(self) -> bool:
        """A read (GET/HEAD): load may repeat it freely."""
        return self.method in SAFE


def resolve(spec: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """`node` with a top-level local `$ref` followed (nested ones are left to the caller)."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and depth < 32:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return {}
        target: Any = spec
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node, depth = target, depth + 1
    return node


def operations(spec: dict[str, Any]) -> list[Operation]:
    """Every documented operation, in the document's order."""
    out = []
    for path, item in (spec.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            if isinstance(item.get(method), dict):
                out.append(Operation(method, str(path), item[method]))
    return out


def find(spec: dict[str, Any], method: str, path: str) -> Operation | None:
    """The operation `method path`, if documented."""
    return next((o for o in operations(spec) if o.method == method and o.path == path), None)


def by_operation_id(spec: dict[str, Any], operation_id: str) -> Operation | None:
    """The operation with this `operationId`."""
    return next((o for o in operations(spec) if o.raw.get("operationId") == operation_id), None)


def producer(spec: dict[str, Any], path: str, param: str) -> Operation | None:
    """The POST that creates what `{param}` of `path` names: the collection path right before the parameter."""
    head, sep, _ = path.partition("{" + param + "}")
    if not sep or not head.endswith("/"):
        return None
    return find(spec, "post", head.rstrip("/") or "/")


def chain_params(spec: dict[str, Any], path: str) -> list[tuple[str, Operation]] | None:
    """For each path parameter of `path`, the POST that creates its value; None when one has no producer."""
    out = []
    for param in _PARAM.findall(path):
        made = producer(spec, path, param)
        if made is None:
            return None
        out.append((param, made))
    return out


def id_from(body: Any, param: str) -> Any:
    """The identifier a create answer carries for `{param}`: the field of that name, else a close variant, else id."""
    if not isinstance(body, dict):
        return None
    stem = re.sub(r"(_id|Id|ID)$", "", param)
    for key in (param, "id", f"{stem}_id", f"{stem}Id", stem):
        if key in body and isinstance(body[key], str | int) and not isinstance(body[key], bool):
            return body[key]
    return None


def needs_auth(spec: dict[str, Any], op: Operation) -> bool:
    """Whether the operation declares a security requirement (its own, else the document's)."""
    return bool(op.raw.get("security", spec.get("security")))


def json_schema_of(spec: dict[str, Any], op: Operation, status: int) -> dict[str, Any] | None:
    """The JSON schema of `op`'s answer with `status` (its exact code, else `NXX`, else `default`)."""
    responses = op.raw.get("responses") or {}
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            answer = resolve(spec, responses[key])
            content = answer.get("content") or {} if isinstance(answer, dict) else {}
            for media, body in content.items():
                if "json" in media and isinstance(body, dict) and "schema" in body:
                    schema = resolve(spec, body["schema"])
                    return schema if isinstance(schema, dict) else None
            return None
    return None


def request_example(spec: dict[str, Any], op: Operation) -> Any:
    """The documented example body of `op`, or None."""
    body = resolve(spec, op.raw.get("requestBody") or {})
    for media, item in (body.get("content") or {}).items():
        if "json" in media and isinstance(item, dict):
            if "example" in item:
                return item["example"]
            examples = item.get("examples") or {}
            for ex in examples.values():
                ex = resolve(spec, ex)
                if isinstance(ex, dict) and "value" in ex:
                    return ex["value"]
    return None


def undocumented_fields(spec: dict[str, Any], schema: Any, value: Any, where: str = "") -> list[str]:
    """JSON paths of object keys in `value` that `schema` does not list (where it lists properties but does not
    allow extra ones explicitly): fields a client cannot know about."""
    schema = resolve(spec, schema)
    if not isinstance(schema, dict):
        return []
    found: list[str] = []
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and isinstance(value, dict):
            listed: set[str] = set()
            for sub in schema[key]:
                listed |= set((resolve(spec, sub) or {}).get("properties", {}) or {})
            listed |= set(schema.get("properties") or {})
            extra = [k for k in value if k not in listed]
            if listed and "additionalProperties" not in schema and "patternProperties" not in schema:
                found += [f"{where}.{k}" for k in extra]
            return found
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        props = schema["properties"]
        explicit = "additionalProperties" in schema or "patternProperties" in schema
        for k, v in value.items():
            if k in props:
                found += undocumented_fields(spec, props[k], v, f"{where}.{k}")
            elif not explicit:
                found.append(f"{where}.{k}")
    elif isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value[:20]):
            found += undocumented_fields(spec, schema["items"], v, f"{where}[{i}]")
    return found
