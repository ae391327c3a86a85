"""The API end to end on the mini workflow: every area the CLI covers, errors as problem+json, nothing changed."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.api.conftest import Client
from venturegate.engine import Engine


@pytest.fixture
def lead(client: Client) -> TestClient:
    """A lead's client with venture `acme` at stage 2 (entry gate attested)."""
    c = client("lead")
    assert c.post("/api/ventures", json={"name": "acme", "segment": "b2b_smb", "stage": 2}).status_code == 201
    assert c.post("/api/ventures/acme/attestations", json={"criterion": "Budget approved"}).json()["attested"]
    return c


def test_ventures_and_bad_input(client: Client, lead: TestClient, engine: Engine) -> None:
    listed = lead.get("/api/ventures", params={"stage": 2}).json()
    assert [v["name"] for v in listed] == ["acme"] and listed[0]["status"] == "active"
    shown = lead.get("/api/ventures/1").json()
    assert shown["substages"][0]["id"] == "2.1" and shown["visits"][0]["stage"] == 2
    dup = lead.post("/api/ventures", json={"name": "acme", "segment": "b2b_smb"})
    assert dup.status_code == 409 and "already exists" in dup.json()["detail"]  # a state, not a schema, refuses it
    bad = lead.post("/api/ventures", json={"name": "x", "segment": "mars"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["errors"][0]["where"] == "body.segment"
    missing = lead.get("/api/ventures/nope")
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/not-found"
    assert lead.get("/api/ventures/99999999999999999999999").status_code == 404  # too long for an id: a name
    assert len(engine.ventures()) == 1
    paused = lead.post("/api/ventures/acme/pause", json={"reason": "budget review"}).json()
    assert paused["status"] == "paused"
    again = lead.post("/api/ventures/acme/pause")
    assert again.status_code == 409 and "paused" in again.json()["detail"]
    assert lead.post("/api/ventures/acme/resume").json()["status"] == "active"


def test_metrics_single_batch_idempotency_and_firing(lead: TestClient) -> None:
    one = lead.post("/api/metrics", json={"venture": "acme", "metric": "latency_ms", "value": 1500, "key": "r1"})
    body = one.json()
    assert body["recorded"] == 1 and body["sample"]["duplicate"] is False
    assert [(f["trigger"], f["outcome"]) for f in body["fired"]] == [("SLOW-1", "pending")]
    again = lead.post("/api/metrics", json={"venture": "acme", "metric": "latency_ms", "value": 1500, "key": "r1"})
    assert again.json()["duplicates"] == 1 and again.json()["duplicate_keys"] == ["r1"]
    batch = {"samples": [{"venture": "acme", "metric": "nps", "value": 8, "key": f"n{i}"} for i in range(5)]}
    batch["samples"].append({"venture": "acme", "metric": "nps", "value": 8, "key": "n0"})
    got = lead.post("/api/metrics", json=batch).json()
    assert (got["recorded"], got["duplicates"], got["sample"]) == (5, 1, None)
    wrong = {
        "samples": [{"venture": "acme", "metric": "nps", "value": 8}, {"venture": "acme", "metric": "np", "value": 1}]
    }
    refused = lead.post("/api/metrics", json=wrong)
    assert refused.status_code == 404 and refused.json()["errors"][0]["where"] == "body.samples[1].metric"
    assert "did you mean 'nps'" in refused.json()["errors"][0]["hint"]
    too_many = {"samples": [{"venture": "acme", "metric": "nps", "value": 1}] * 10_001}
    assert lead.post("/api/metrics", json=too_many).status_code == 422
    naive = lead.post(
        "/api/metrics", json={"venture": "acme", "metric": "nps", "value": 1, "at": "2026-11-02T09:00:00"}
    )
    assert naive.status_code == 422 and naive.json()["errors"][0]["where"] == "body.at"
    nul = lead.post("/api/metrics", json={"venture": "acme", "metric": "n\u0000ps", "value": 1})
    assert nul.status_code == 422 and nul.json()["errors"][0]["where"] == "body.metric"
    assert "NUL" in nul.json()["errors"][0]["message"]


def test_gate_substages_advance(client: Client, lead: TestClient) -> None:
    gate = lead.get("/api/ventures/acme/gate").json()
    assert gate["passed"] is False and {c["kind"] for c in gate["checks"]} >= {"substages", "condition"}
    blocked = lead.post("/api/ventures/acme/advance", json={"expected_stage": 2})
    assert blocked.status_code == 409 and blocked.json()["type"] == "/problems/gate-not-passed"
    assert blocked.json()["gate"]["checks"] and blocked.json()["errors"][0]["where"].startswith("gate.")
    assert lead.post("/api/ventures/acme/substages/2.1/complete").json()["status"] == "done"
    needs = lead.post("/api/ventures/acme/substages/2.2/complete", json={})
    assert needs.status_code == 409 and needs.json()["type"] == "/problems/gate-not-passed"
    wrong = lead.post("/api/ventures/acme/substages/9.9/complete", json={})
    assert wrong.status_code == 404 and wrong.json()["errors"][0]["where"] == "substage"
    approval = lead.post("/api/ventures/acme/approvals", json={"role": "chairman", "reason": "ship"}).json()
    assert client("chairman").post(f"/api/approvals/{approval['id']}/approve", json={}).status_code == 200
    assert lead.post("/api/ventures/acme/substages/2.2/complete", json={"items": ["Shipped"]}).status_code == 200
    samples = [{"venture": "acme", "metric": "latency_ms", "value": 100}]
    samples += [{"venture": "acme", "metric": "nps", "value": 9} for _ in range(3)]
    assert lead.post("/api/metrics", json={"samples": samples}).status_code == 200
    moved = lead.post("/api/ventures/acme/advance", json={"expected_stage": 2}).json()
    assert (moved["from_stage"], moved["stage"]) == (2, 3)
    assert lead.get("/api/approvals", params={"venture": "acme", "status": "approved"}).json()[0]["role"] == "chairman"


def test_artifacts(lead: TestClient) -> None:
    lead.post("/api/ventures", json={"name": "idea", "segment": "b2c_mass"})
    put = lead.post("/api/ventures/idea/artifacts/idea_brief", json={"content": {"title": "Pets", "problem": "Vets"}})
    assert put.status_code == 201 and put.json()["version"] == 1
    bad = lead.post("/api/ventures/idea/artifacts/idea_brief", json={"content": {"title": "P"}})
    assert bad.status_code == 422 and bad.json()["type"] == "/problems/artifact-invalid"
    assert {e["where"] for e in bad.json()["errors"]} == {"content", "content/title"}
    notes = lead.post(
        "/api/ventures/idea/artifacts/market_notes", json={"content": {"n": 1}, "derived_from": ["idea_brief@1"]}
    )
    assert notes.status_code == 201
    chain = lead.get("/api/ventures/idea/artifacts/market_notes/lineage").json()
    assert [(x["depth"], x["name"]) for x in chain] == [(0, "market_notes"), (1, "idea_brief")]
    assert (
        lead.get("/api/ventures/idea/artifacts/idea_brief", params={"version": 1}).json()["content"]["title"] == "Pets"
    )
    assert lead.get("/api/ventures/idea/artifacts/idea_brief", params={"version": 7}).status_code == 404
    assert len(lead.get("/api/ventures/idea/artifacts").json()) == 2


def test_configuration_snapshots_rollback(lead: TestClient) -> None:
    assert lead.get("/api/ventures/acme/config/max_latency_ms").json()["source"] == "default"
    out_of_range = lead.put("/api/ventures/acme/config/max_latency_ms", json={"value": 5, "reason": "tight"})
    assert out_of_range.status_code == 422 and "50" in out_of_range.json()["detail"]
    assert lead.post("/api/ventures/acme/snapshots", json={"name": "before"}).status_code == 201
    changed = lead.put("/api/ventures/acme/config/max_latency_ms", json={"value": 800, "reason": "looser"}).json()
    assert (changed["value"], changed["version"]) == (800, 1)
    assert [c["key"] for c in lead.get("/api/ventures/acme/config/history").json()] == ["max_latency_ms"]
    diff = lead.get("/api/ventures/acme/config/diff", params={"a": "before"}).json()
    assert diff["changes"][0]["after"] == 800
    dry = lead.post("/api/ventures/acme/rollback", json={"to": "before", "dry_run": True}).json()
    assert dry["outcome"] == "dry-run"
    done = lead.post("/api/ventures/acme/rollback", json={"to": "before", "reason": "undo"}).json()
    assert done["outcome"] == "completed"
    assert lead.get("/api/ventures/acme/config/max_latency_ms").json()["value"] == 500
    assert lead.get("/api/rollbacks", params={"venture": "acme"}).json()[0]["id"] == done["id"]
    assert {s["name"] for s in lead.get("/api/ventures/acme/snapshots").json()} >= {"before", "pre-stage-2"}
    assert lead.get("/api/ventures/acme/config/nope.key").status_code == 404


def test_events_paging_and_filters(lead: TestClient) -> None:
    first = lead.get("/api/events", params={"venture": "acme", "limit": 2}).json()
    assert len(first["events"]) == 2 and first["next_cursor"] == str(first["events"][-1]["id"])
    rest = lead.get("/api/events", params={"venture": "acme", "limit": 100, "cursor": first["next_cursor"]}).json()
    assert rest["events"][0]["id"] > first["events"][-1]["id"] and rest["next_cursor"] is None
    kinds = {e["kind"] for e in lead.get("/api/events", params={"kind": "venture."}).json()["events"]}
    assert kinds == {"venture.created", "venture.blocked", "venture.unblocked"}
    assert lead.get("/api/events", params={"cursor": "abc"}).status_code == 422


def test_errors_escalations_figures_workflow_outbox(client: Client, lead: TestClient) -> None:
    reported = lead.post("/api/errors", json={"venture": "acme", "status": 503, "message": "Service Unavailable"})
    assert reported.status_code == 201 and reported.json()["status"] in ("escalated", "aborted", "recursed")
    assert lead.post("/api/errors", json={"venture": "acme"}).status_code == 422
    assert lead.get("/api/errors", params={"venture": "acme"}).json()[0]["id"] == reported.json()["id"]
    assert lead.get("/api/errors/summary").json()["errors"] == 1
    escalations = lead.get("/api/escalations", params={"status": "open"}).json()
    if escalations:
        code = escalations[0]["code"]
        resolved = client("chairman").post(f"/api/escalations/{code}/resolve", json={"resume_at": "2"})
        assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert {s["stage"] for s in lead.get("/api/stats").json()} >= {2}
    assert lead.put("/api/progression/2", json={"mode": "assisted"}).json()[0]["mode"] == "assisted"
    assert lead.get("/api/workflow").json()["workflow"]["id"] == "mini"
    assert lead.get("/api/workflow/stages/2").json()["title"] == "Build"
    assert lead.get("/api/workflow/stages/99").status_code == 404
    assert len(lead.get("/api/critique", params={"stage": 2}).json()) == 1
    assert lead.get("/api/ventures/acme/triggers").json()[0]["trigger"] == "SLOW-1"
    assert isinstance(lead.get("/api/outbox").json(), list)
    assert lead.post("/api/outbox/999/retry").status_code == 404
    assert lead.post("/api/tick").json()["timers"] >= 0
