"""Reading the exposition text back: series by name, keyed by their labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Series = dict[str, dict[tuple[tuple[str, str], ...], float]]


def parse(text: bytes | str) -> Series:
    """Every sample of the exposition, as {sample name: {sorted label pairs: value}}."""
    body = text.decode("utf-8") if isinstance(text, bytes) else text
    out: Series = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def by(series: Series, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    """One sample name's values keyed by the given labels' values, in order."""
    got: dict[tuple[str, ...], float] = {}
    for key, value in series.get(name, {}).items():
        found = dict(key)
        got[tuple(found[label] for label in labels)] = value
    return got
