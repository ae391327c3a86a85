"""The bundled descriptions are whole: no text cut off by a `#` that YAML read as a comment."""

from __future__ import annotations

from venturegate.definitions.loader import load_workflow


def test_no_bundled_description_is_cut_off() -> None:
    wf = load_workflow().workflow
    texts = [(f"stage {s.id} trigger {t.id}", t.description) for s in wf.stages for t in s.triggers]
    texts += [(f"stage {s.id} metric {name}", m.description) for s in wf.stages for name, m in s.metrics.items()]
    texts += [(f"stage {s.id}", s.description) for s in wf.stages]
    cut = [where for where, text in texts if text and text.count("(") != text.count(")")]
    assert cut == []
    alerts = {t.id: t.description for s in wf.stages for t in s.triggers}
    assert "#api-alerts in the original setup" in alerts["INTEGRATION-ALERT-SUCCESS"]
