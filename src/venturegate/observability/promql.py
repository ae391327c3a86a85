"""Serializers for text that ends up inside PromQL or a Prometheus/Alertmanager template.

Names in generated monitoring config (a service, a Prometheus job, a venture) can come from an
artifact, so they are never pasted into an expression or a template by string formatting:

- `string` writes a PromQL string literal (PromQL strings use Go's escapes, which JSON's are a
  subset of, so a quote, a backslash or a newline stays inside the literal);
- `selector` writes a `{label="value", ...}` matcher from such literals;
- `template_text` makes text literal inside an annotation, which Prometheus renders as a Go
  template: every `{{` becomes the action `{{ "{{" }}`, which prints it.
"""

from __future__ import annotations

import json
import re

_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def string(value: str) -> str:
    """A PromQL double-quoted string literal holding exactly `value`."""
    return json.dumps(value, ensure_ascii=True)


def selector(op: str = "=", **labels: str) -> str:
    """`{name="value",...}` with each value a string literal (`op` is `=` or `=~`)."""
    for name in labels:
        if not _LABEL.match(name):
            raise ValueError(f"{name!r} is not a Prometheus label name")
    return "{" + ",".join(f"{k}{op}{string(v)}" for k, v in labels.items()) + "}"


def template_text(value: str) -> str:
    """`value` as literal text of a Go template (an alert annotation): no action can start inside it."""
    return value.replace("{{", '{{ "{{" }}')
