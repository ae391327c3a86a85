"""Crew jobs through the API: start one (queued on the app's queue), run it, list, show and cancel; bad input."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import pytest
from huey.api import Task
from starlette.testclient import TestClient  # imported first by tests/api/conftest.py, under its warning filter

from tests.api.conftest import Client
from tests.conftest import LEAD
from venturegate.api import create_app
from venturegate.api import schemas as s
from venturegate.crews.runner import run_job
from venturegate.engine import Engine
from venturegate.engine.jobs import JOB_STATUSES
from venturegate.worker import make_huey, register_jobs

pytestmark = pytest.mark.usefixtures("quick_crews")


@pytest.fixture
def acme(engine: Engine) -> int:
    """Venture `acme`, active at stage 1 of the mini workflow (crew `quick1` serves it)."""
    return engine.create_venture("acme", "b2b_smb", actor=LEAD).id


def _queued(url: str) -> list[Task]:
    """The tasks waiting on a queue (read by a worker's Huey, which knows the task)."""
    huey = make_huey(url)
    register_jobs(huey, lambda: None)
    return list(huey.pending())


def _problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    return body


def test_start_queue_run_and_read_a_job(
    client: Client, engine: Engine, acme: int, queue_url: str, reopen: Callable[[Engine], Engine]
) -> None:
    agent = client("agent")
    started = agent.post("/api/ventures/acme/jobs", json={"options": {"steps": 3}})
    assert started.status_code == 202, started.text
    job = started.json()
    assert started.headers["location"] == f"/api/jobs/{job['id']}"
    assert job["status"] == "queued" and job["crew"] == "quick1" and job["stage"] == 1
    assert job["venture_id"] == acme and job["actor"] == "agent-1" and job["options"] == {"steps": 3}
    (task,) = _queued(queue_url)  # on the app's queue, exactly as `venturegate run --queue` puts it
    assert task.name.endswith("venturegate.run_job") and task.args == (job["id"],)

    huey = make_huey(queue_url)  # a worker on another engine, as after a restart
    register_jobs(huey, lambda: reopen(engine))
    huey.execute(huey.dequeue())
    done = agent.get(f"/api/jobs/{job['id']}").json()
    assert done["status"] == "succeeded" and done["worker"].startswith("huey:")
    assert done["progress"]["step"] == "count" and (done["progress"]["done"], done["progress"]["total"]) == (3, 3)
    assert done["result"]["summary"] == {"counted": 3} and done["error"] is None
    kinds = [e.kind for e in engine.events("acme", kind="job.")]
    assert kinds == ["job.queued", "job.started", "job.succeeded"]

    viewer = client("viewer")
    assert [j["id"] for j in viewer.get("/api/jobs", params={"venture": "acme"}).json()] == [job["id"]]
    assert viewer.get("/api/jobs", params={"status": "succeeded"}).json()[0]["id"] == job["id"]
    assert viewer.get("/api/jobs", params={"status": "queued"}).json() == []


def test_stage_and_crew_may_be_named(client: Client, engine: Engine, acme: int) -> None:
    got = client("lead").post("/api/ventures/acme/jobs", json={"stage": 1, "crew": "quick1"})
    assert got.status_code == 202 and got.json()["crew"] == "quick1"
    assert run_job(engine, got.json()["id"]).status == "succeeded"
    again = client("lead").post(f"/api/ventures/{acme}/jobs")  # no body: the current stage's crew; an id works
    assert again.status_code == 202 and again.json()["id"] == got.json()["id"] + 1


def test_list_pages_newest_first(client: Client, engine: Engine, acme: int) -> None:
    ids = []
    for _ in range(3):
        ids.append(client("agent").post("/api/ventures/acme/jobs").json()["id"])
        run_job(engine, ids[-1])
    listed = client("viewer").get("/api/jobs", params={"limit": 2}).json()
    assert [j["id"] for j in listed] == ids[:0:-1]


@pytest.mark.timeout(60)
def test_the_in_process_worker_runs_a_started_job(engine: Engine, tokens: dict[str, str], tmp_path: Path) -> None:
    app = create_app(engine, worker=True, queue_url=f"sqlite:///{tmp_path / 'served.db'}")
    engine.create_venture("acme", "b2b_smb", actor=LEAD)
    with TestClient(app) as c:
        c.headers["Authorization"] = f"Bearer {tokens['agent']}"
        job = c.post("/api/ventures/acme/jobs", json={"options": {"steps": 2}}).json()
        deadline = time.monotonic() + 30
        while (got := c.get(f"/api/jobs/{job['id']}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, got
            time.sleep(0.05)
    assert got["status"] == "succeeded" and got["result"]["summary"] == {"counted": 2}


def test_cancel(client: Client, engine: Engine, acme: int, queue_url: str) -> None:
    lead = client("lead")
    job = lead.post("/api/ventures/acme/jobs").json()
    cancelled = lead.post(f"/api/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancel_requested"] is True
    refused = _problem(lead.post(f"/api/jobs/{job['id']}/cancel"), 409)
    assert "already cancelled" in refused["detail"]
    assert run_job(engine, job["id"]).status == "cancelled"  # the worker's task finds it cancelled: nothing runs
    assert [e.kind for e in engine.events("acme", kind="crew.")] == []

    running = client("agent").post("/api/ventures/acme/jobs").json()  # the stage is free again
    engine.claim_job(running["id"], worker="test")
    asked = client("agent").post(f"/api/jobs/{running['id']}/cancel").json()
    assert asked["status"] == "running" and asked["cancel_requested"] is True  # it stops at its next step
    assert engine.heartbeat_job(running["id"]) is True

    engine.finish_job(running["id"], "succeeded")
    _problem(lead.post(f"/api/jobs/{running['id']}/cancel"), 409)
    _problem(lead.post("/api/jobs/999999/cancel"), 404)


def test_who_may(client: Client, acme: int) -> None:
    _problem(client("").post("/api/ventures/acme/jobs"), 401)
    refused = _problem(client("viewer").post("/api/ventures/acme/jobs"), 403)
    assert "roles allowed: chairman, lead, plan, exec, agent" in refused["detail"]
    job = client("exec").post("/api/ventures/acme/jobs").json()
    _problem(client("viewer").post(f"/api/jobs/{job['id']}/cancel"), 403)
    assert client("viewer").get(f"/api/jobs/{job['id']}").json()["status"] == "queued"
    assert client("chairman").post(f"/api/jobs/{job['id']}/cancel").json()["status"] == "cancelled"
    doc = client("").get("/openapi.json").json()
    start = doc["paths"]["/api/ventures/{venture}/jobs"]["post"]
    assert start["x-permission"] == "run_crews" and start["x-roles"] == ["chairman", "lead", "plan", "exec", "agent"]
    assert "202" in start["responses"] and "422" in start["responses"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"options": {"steps": [1]}}, "body.options.steps"),
        ({"options": {"steps": None}}, "body.options.steps"),
        ({"options": {"steps": {"n": 1}}}, "body.options.steps"),
        ({"options": {"steps": 10**400}}, "body.options.steps"),  # 2**64 is kept as a number; this is no float
        ({"options": {"note": "a\x00b"}}, "body.options.note"),
        ({"options": {"note": "x" * 2001}}, "body.options.note"),
        ({"options": {"bad key": 1}}, "body.options.bad key.[key]"),
        ({"options": {f"k{i}": i for i in range(51)}}, "body.options"),
        ({"stage": -1}, "body.stage"),
        ({"stage": "one"}, "body.stage"),
        ({"crew": "no/slash"}, "body.crew"),
        ({"crews": "quick1"}, "body.crews"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(client: Client, acme: int, body: Any, where: str) -> None:
    got = _problem(client("agent").post("/api/ventures/acme/jobs", json=body), 422)
    assert where in [e["where"] for e in got["errors"]], got
    assert client("agent").get("/api/jobs").json() == []


def test_non_finite_options_are_422(client: Client, acme: int) -> None:
    got = client("agent").post(
        "/api/ventures/acme/jobs", content=b'{"options": {"rate": NaN}}', headers={"content-type": "application/json"}
    )
    assert _problem(got, 422)["errors"][0] == {
        "where": "body.options.rate",
        "message": "Value error, a number option must be finite",
        "hint": "",
    }


def test_what_cannot_start(client: Client, engine: Engine, acme: int, queue_url: str) -> None:
    agent = client("agent")
    unknown = _problem(agent.post("/api/ventures/nobody/jobs"), 404)
    assert unknown["errors"][0]["where"] == "venture"

    engine.create_venture("late", "b2b_smb", 3, actor=LEAD)  # no crew serves stage 3
    no_crew = _problem(agent.post("/api/ventures/late/jobs"), 404)
    assert no_crew["errors"][0]["where"] == "stage" and "no crew serves stage 3" in no_crew["detail"]
    assert "1 (quick1), 2 (quick2)" in no_crew["errors"][0]["hint"]

    other = _problem(agent.post("/api/ventures/acme/jobs", json={"crew": "quick2"}), 409)  # well formed
    assert other["errors"][0]["where"] == "crew"
    assert "crew 'quick2' serves stage 2; venture 'acme' is at stage 1" in other["detail"]
    assert other["errors"][0]["hint"] == "crews of stage 1: quick1"
    assert _problem(agent.post("/api/ventures/acme/jobs", json={"stage": 1, "crew": "quick2"}), 409) == other
    mixed = _problem(agent.post("/api/ventures/acme/jobs", json={"stage": 2, "crew": "quick1"}), 422)
    assert mixed["errors"][0]["where"] == "crew" and "serves stage 1, not 2" in mixed["detail"]  # self-contradictory
    missing = _problem(agent.post("/api/ventures/acme/jobs", json={"crew": "nope"}), 404)
    assert missing["errors"][0]["where"] == "crew"
    elsewhere = _problem(agent.post("/api/ventures/acme/jobs", json={"stage": 2}), 409)
    assert "is at stage 1, not 2" in elsewhere["detail"]

    first = agent.post("/api/ventures/acme/jobs").json()
    busy = _problem(agent.post("/api/ventures/acme/jobs"), 409)
    assert f"job {first['id']} already runs" in busy["detail"]
    engine.cancel_job(first["id"], actor=LEAD)
    engine.pause("acme", actor=LEAD, reason="budget")
    assert "paused" in _problem(agent.post("/api/ventures/acme/jobs"), 409)["detail"]
    assert [t.args for t in _queued(queue_url)] == [(first["id"],)]  # nothing refused was queued


def test_reads_that_find_nothing(client: Client, acme: int) -> None:
    viewer = client("viewer")
    _problem(viewer.get("/api/jobs/999999"), 404)
    _problem(viewer.get("/api/jobs/0"), 422)
    assert _problem(viewer.get("/api/jobs", params={"venture": "nobody"}), 404)["errors"][0]["where"] == "venture"
    _problem(viewer.get("/api/jobs", params={"status": "lost"}), 422)
    _problem(viewer.get("/api/jobs", params={"limit": 0}), 422)


def test_a_queue_that_refuses_fails_the_job(engine: Engine, tokens: dict[str, str], acme: int) -> None:
    with TestClient(create_app(engine, queue_url="nosuch://queue")) as c:
        c.headers["Authorization"] = f"Bearer {tokens['agent']}"
        got = _problem(c.post("/api/ventures/acme/jobs"), 503)
    assert "refused job" in got["detail"]
    (job,) = engine.jobs("acme")
    assert job.status == "failed" and "could not queue" in (job.error or "")


def test_job_statuses_match_the_engine() -> None:
    assert get_args(s.JobStatus) == JOB_STATUSES


def test_the_crews_are_listed_with_their_stage_and_agents(client: Client) -> None:
    answer = client("viewer").get("/api/crews")
    assert answer.status_code == 200, answer.text
    crews = {c["entry_point"]: c for c in answer.json()}
    assert {"quick1", "quick2"} <= set(crews)  # (plus the built-in fallback for stage 19)
    assert crews["quick1"]["stage"] == 1 and crews["quick2"]["stage"] == 2
    assert all(isinstance(c["agents"], list) for c in crews.values())
