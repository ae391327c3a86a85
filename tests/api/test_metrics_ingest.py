"""`POST /api/metrics`: samples validated into the engine's `SampleIn`, text checks once per batch, same contract."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.testclient import TestClient

from tests.api.conftest import Client
from tests.conftest import T0
from venturegate.api import create_app
from venturegate.api import schemas as s
from venturegate.engine import Engine, SampleIn

VALIDATE = TypeAdapter(s.Samples)


class _FieldChecked(BaseModel):
    """The sample model as it was, every text check a field validator: what the batch checks must agree with."""

    model_config = ConfigDict(extra="forbid")
    venture: s.VentureRef
    metric: Annotated[s.Text, Field(min_length=1, max_length=200)]
    value: s.SampleValue
    at: s.When | None = None
    key: Annotated[s.Text, Field(min_length=1, max_length=200)] | None = None


class _FieldCheckedBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    samples: Annotated[list[_FieldChecked], Field(min_length=1, max_length=s.MAX_BATCH)]


def _where(loc: tuple[int | str, ...]) -> tuple[int, str]:
    return int(loc[1]), str(loc[2])


TEXT = st.sampled_from(["acme", " acme ", "", "   ", "a\x00b", "\x00", "42", " 7 ", "9" * 20, "x" * 201, "nps"])
SAMPLE = st.fixed_dictionaries(
    {"venture": TEXT, "metric": TEXT, "value": st.sampled_from([1, 2.5, float("inf"), "3"])},
    optional={"key": st.one_of(st.none(), TEXT), "at": st.sampled_from(["2026-11-02T09:00:00+02:00", "2026-11-02"])},
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(SAMPLE, min_size=1, max_size=6))
def test_batch_checks_say_what_field_validators_said(samples: list[dict[str, Any]]) -> None:
    try:
        expected: list[_FieldChecked] | None = _FieldCheckedBatch.model_validate({"samples": samples}).samples
        expected_errors = []
    except ValidationError as exc:
        expected = None
        expected_errors = [(_where(e["loc"]), e["msg"]) for e in exc.errors()]
    try:
        batch = VALIDATE.validate_python({"samples": samples})
    except ValidationError:  # what the model refuses itself (lengths, types, times) it refuses before any text check
        assert expected is None
        return
    assert isinstance(batch, s.SampleBatch)
    got, errors = s.sample_errors(batch.samples)
    assert [((i, field), msg) for i, field, msg in errors] == expected_errors
    if expected is not None:
        assert all(isinstance(x, SampleIn) for x in got)
        assert [(x.venture, x.metric, x.value, x.at, x.key) for x in got] == [
            (e.venture, e.metric, e.value, e.at, e.key) for e in expected
        ]


def test_openapi_documents_one_sample_or_a_batch(engine: Engine) -> None:
    doc = create_app(engine).openapi()
    body = doc["paths"]["/api/metrics"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"] == [{"$ref": "#/components/schemas/SampleBody"}, {"$ref": "#/components/schemas/SampleBatch"}]
    sample = doc["components"]["schemas"]["SampleBody"]
    assert sample["required"] == ["venture", "metric", "value"] and sample["additionalProperties"] is False
    assert sample["properties"]["venture"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "pattern": s.NOT_BLANK,
        "title": "Venture",
        "description": "Venture id or name.",
    }
    assert sample["properties"]["at"]["anyOf"][0] == {"type": "string", "format": "date-time"}
    batch = doc["components"]["schemas"]["SampleBatch"]["properties"]["samples"]
    assert (batch["minItems"], batch["maxItems"], batch["items"]) == (
        1,
        10_000,
        {"$ref": "#/components/schemas/SampleBody"},
    )
    ok = doc["paths"]["/api/metrics"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/Ingested"}


def _venture(c: TestClient) -> None:
    assert c.post("/api/ventures", json={"name": "acme", "segment": "b2b_smb", "stage": 2}).status_code == 201


def test_text_checks_name_each_field_and_record_nothing(client: Client) -> None:
    lead = client("lead")
    _venture(lead)
    batch = [{"venture": "acme", "metric": "nps", "value": 8, "key": f"k{i}"} for i in range(4)]
    wrong = [dict(x) for x in batch]
    wrong[1]["venture"] = "   "
    wrong[3]["metric"] = ""
    refused = lead.post("/api/metrics", json={"samples": wrong})
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    errors = refused.json()["errors"]
    assert [e["where"] for e in errors] == ["body.samples[1].venture", "body.samples[3].metric"]
    assert "should match pattern" in errors[0]["message"] and "at least 1 character" in errors[1]["message"]
    assert "body.samples[1].venture" in refused.json()["detail"]
    wrong[2]["key"] = "k\x002"  # text no database stores is refused at the edge, before the fields' checks
    nul = lead.post("/api/metrics", json={"samples": wrong}).json()["errors"]
    assert [e["where"] for e in nul] == ["body.samples[2].key"] and "NUL" in nul[0]["message"]
    got = lead.post("/api/metrics", json={"samples": batch}).json()
    assert (got["recorded"], got["duplicates"]) == (4, 0)  # the refused batch recorded nothing
    one = lead.post("/api/metrics", json={"venture": "acme", "metric": "n\x00ps", "value": 1})
    assert one.status_code == 422 and [e["where"] for e in one.json()["errors"]] == ["body.metric"]
    structural = lead.post("/api/metrics", json={"samples": [{"venture": "acme", "metric": "nps", "value": 1, "x": 1}]})
    assert [e["where"] for e in structural.json()["errors"]] == ["body.samples[0].x"]


def test_a_full_batch_and_a_trimmed_reference(client: Client, engine: Engine) -> None:
    lead = client("lead")
    _venture(lead)
    one = lead.post("/api/metrics", json={"venture": " 1 ", "metric": "latency_ms", "value": 120, "key": "t"}).json()
    assert one["sample"]["venture_id"] == 1 and one["recorded"] == 1
    full = [
        {"venture": "acme", "metric": "nps", "value": 8, "key": f"b{i}", "at": (T0 - timedelta(seconds=i)).isoformat()}
        for i in range(s.MAX_BATCH)
    ]
    got = lead.post("/api/metrics", json={"samples": full}).json()
    assert (got["recorded"], got["duplicates"], got["sample"]) == (s.MAX_BATCH, 0, None)
    again = lead.post("/api/metrics", json={"samples": full[:3]}).json()
    assert (again["recorded"], again["duplicate_keys"]) == (0, ["b0", "b1", "b2"])
    points = engine.samples("acme", "nps", since=T0 - timedelta(days=1), until=T0)
    assert len(points) == 500 and points[-1].at == T0
