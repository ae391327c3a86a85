"""`GET /api/ventures/{venture}/samples`: a venture's stored samples, newest first, filtered and bounded."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import Client
from tests.conftest import AGENT, T0
from venturegate.engine import Engine


def test_samples_are_listed_newest_first_with_filters(engine: Engine, client: Client) -> None:
    engine.create_venture("acme", "b2b_smb", actor=AGENT, now=T0 - timedelta(days=2))
    for i, value in enumerate((5.0, 6.5, -1.25)):
        at = T0 - timedelta(hours=3 - i)
        engine.record_sample("acme", "idea_score", value, actor=AGENT, key=f"k{i}", at=at)
    viewer = client("viewer")
    rows = viewer.get("/api/ventures/acme/samples").json()
    assert [r["value"] for r in rows] == [-1.25, 6.5, 5.0]
    assert rows[0]["key"] == "k2" and rows[0]["actor"] == "bot" and rows[0]["metric"] == "idea_score"
    since = (T0 - timedelta(hours=2, minutes=30)).isoformat()
    assert [r["value"] for r in viewer.get("/api/ventures/acme/samples", params={"since": since}).json()] == [
        -1.25,
        6.5,
    ]
    assert len(viewer.get("/api/ventures/acme/samples", params={"limit": 1}).json()) == 1
    assert viewer.get("/api/ventures/acme/samples", params={"metric": "nps"}).json() == []
    assert viewer.get("/api/ventures/acme/samples", params={"limit": 0}).status_code == 422
    assert viewer.get("/api/ventures/ghost/samples").status_code == 404
    assert client("").get("/api/ventures/acme/samples").status_code == 401


def test_levels_come_from_one_resolution_with_a_venture_override(engine: Engine, client: Client) -> None:
    engine.create_venture("acme", "b2c_mass", actor=AGENT, now=T0 - timedelta(days=2))
    engine.record_sample("acme", "idea_score", 7.5, actor=AGENT, key="k", at=T0 - timedelta(hours=1))
    viewer = client("viewer")
    idea = next(r for r in viewer.get("/api/ventures/acme/levels").json() if r["metric"] == "idea_score")
    assert (idea["threshold"], idea["source"], idea["verdict"]) == (7, "segment", "meets threshold")
    put = client("lead").put(
        "/api/ventures/acme/config/level.idea_score.threshold", json={"value": 8, "reason": "pilot"}
    )
    assert put.status_code == 200, put.text
    idea = next(r for r in viewer.get("/api/ventures/acme/levels").json() if r["metric"] == "idea_score")
    assert (idea["threshold"], idea["source"], idea["verdict"]) == (8, "venture", "past threshold")
    assert (
        client("agent")
        .put("/api/ventures/acme/config/level.idea_score.threshold", json={"value": 5, "reason": "easier"})
        .status_code
        == 403
    )
