"""Experiments through the engine (SQLite and PostgreSQL), the `venturegate experiment` commands and the API."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.crews.conftest import LEAD
from venturegate.cli.app import app
from venturegate.crews.stage17 import demo, experiment_ops
from venturegate.crews.stage17.experiment_ops import DayIn
from venturegate.engine import BadInput, Engine, NotFound

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

START = date(2026, 11, 2)


def _venture(engine: Engine, name: str = "ledgerly") -> None:
    engine.create_venture(name, "b2b_smb", 17, actor=LEAD)
    engine.put_artifact(name, "market_strategy", demo.strategy(name), actor=LEAD)
    engine.put_artifact(name, "customer_segments", demo.segments(name), actor=LEAD)
    engine.put_artifact(name, "marketing_channels", demo.channels(name), actor=LEAD)


def test_a_test_is_recorded_analysed_and_feeds_the_metrics(bundled: Engine) -> None:
    _venture(bundled)
    experiment_ops.create_test(
        bundled, "ledgerly", "subject", ["A", "B"], baseline_rate=0.05, mde_relative=0.3, daily_traffic=4000, actor=LEAD
    )
    result: dict[str, object] = {}
    for day, rows in demo.simulated_days(START, 14, [0.05, 0.07], 4000, seed=11):
        result, _ = experiment_ops.record_day(bundled, "ledgerly", "subject", day, rows, actor=LEAD)
        if result["verdict"]["decision"] == "winner":  # type: ignore[index]
            break
    verdict = result["verdict"]
    assert verdict["decision"] == "winner" and verdict["winner"] == "B"  # type: ignore[index]
    assert verdict["rule"] in ("sequential", "fixed_horizon")  # type: ignore[index]
    assert not verdict["srm"]["mismatch"]  # type: ignore[index]
    art = bundled.artifact("ledgerly", "gtm_experiments")
    assert art.version >= 3 and art.content["tests"][0]["days"]
    since = datetime(2026, 11, 1, tzinfo=UTC)
    until = since + timedelta(days=40)
    for metric in ("lead_generation", "conversion_rate", "campaign_effectiveness"):
        assert bundled.samples("ledgerly", metric, since=since, until=until), metric
    svg = experiment_ops.chart_svg(experiment_ops.analysis(bundled, "ledgerly", "subject"))
    assert svg.startswith("<svg") and svg.count("<polyline") == 3


def test_bad_experiment_input_changes_nothing(bundled: Engine) -> None:
    _venture(bundled)
    with pytest.raises(BadInput, match="two distinct variants"):
        experiment_ops.create_test(
            bundled, "ledgerly", "t", ["A"], baseline_rate=0.05, mde_relative=0.2, daily_traffic=10, actor=LEAD
        )
    with pytest.raises(BadInput, match="baseline rate"):
        experiment_ops.create_test(
            bundled, "ledgerly", "t", ["A", "B"], baseline_rate=1.5, mde_relative=0.2, daily_traffic=10, actor=LEAD
        )
    with pytest.raises(NotFound):
        bundled.artifact("ledgerly", "gtm_experiments")
    experiment_ops.create_test(
        bundled, "ledgerly", "t", ["A", "B"], baseline_rate=0.05, mde_relative=0.2, daily_traffic=10, actor=LEAD
    )
    with pytest.raises(BadInput, match="more conversions"):
        experiment_ops.record_day(bundled, "ledgerly", "t", START, [DayIn("A", 10, 11)], actor=LEAD)
    with pytest.raises(BadInput, match="variant 'C'"):
        experiment_ops.record_day(bundled, "ledgerly", "t", START, [DayIn("C", 10, 1)], actor=LEAD)
    assert bundled.artifact("ledgerly", "gtm_experiments").version == 1


def test_channel_results_record_roas(sqlite_engine: Engine) -> None:
    bundled = sqlite_engine
    _venture(bundled)
    experiment_ops.record_channel(
        bundled, "ledgerly", "email", spend_usd=1000, leads=40, conversions=4, revenue_usd=3500, actor=LEAD
    )
    experiment_ops.record_channel(bundled, "ledgerly", "email", spend_usd=500, leads=10, conversions=1, actor=LEAD)
    assert experiment_ops.channel_results(bundled, "ledgerly")["email"]["spend_usd"] == 1500
    now = datetime.now(UTC)
    roas = bundled.samples("ledgerly", "roas", since=now - timedelta(hours=1), until=now + timedelta(hours=1))
    assert [round(p.value, 3) for p in roas][-1] == round(3500 / 1500, 3)


def test_cli_and_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VENTUREGATE_ACTOR", "lee:lead")
    runner = CliRunner()

    def vg(*args: str, code: int = 0) -> str:
        got = runner.invoke(app, list(args))
        assert got.exit_code == code, (args, got.output, got.exception)
        return got.output

    eng = Engine.open(f"sqlite:///{tmp_path / '.venturegate' / 'venturegate.db'}")
    _venture(eng)
    vg("experiment", "create", "ledgerly", "cta", "--variant", "A", "--variant", "B", "--baseline", "0.05")
    days = demo.simulated_days(START, 1, [0.05, 0.05], 1000, seed=2)
    ((day, (a, b)),) = days
    vg("experiment", "record", "ledgerly", "cta", "--day", day.isoformat(), "--variant", "A",
       "--exposures", str(a.exposures), "--conversions", str(a.conversions), "--clicks", str(a.clicks),
       "--leads", str(a.leads))  # fmt: skip
    experiment_ops.record_day(eng, "ledgerly", "cta", day, [b], actor=LEAD)
    shown = json.loads(vg("experiment", "show", "ledgerly", "cta", "--json", "--chart", str(tmp_path / "c.svg")))
    assert shown["days"] == 1 and shown["verdict"]["decision"] == "keep_running"
    assert (tmp_path / "c.svg").read_text().startswith("<svg")
    err = vg("experiment", "record", "ledgerly", "cta", "--variant", "Z", "--exposures", "1", "--conversions", "0",
             code=1)  # fmt: skip
    assert "variant 'Z'" in err
    from venturegate.api import create_app

    secret = eng.create_token("lead-1", "lead", actor=LEAD)[1]
    with TestClient(create_app(eng)) as client:
        client.headers["Authorization"] = f"Bearer {secret}"
        listed = client.get("/api/ventures/ledgerly/experiments").json()
        assert [t["id"] for t in listed] == ["cta"]
        made = client.post(
            "/api/ventures/ledgerly/experiments",
            json={"id": "ad", "variants": ["A", "B", "C"], "baseline_rate": 0.1, "daily_traffic": 900},
        )
        assert made.status_code == 201, made.text
        counts = [{"variant": v, "exposures": 300, "conversions": 30} for v in "ABC"]
        posted_day = {"day": "2026-11-02", "variants": counts}
        posted = client.post("/api/ventures/ledgerly/experiments/ad/days", json=posted_day)
        assert posted.status_code == 200, posted.text
        got = posted.json()
        assert got["verdict"]["decision"] == "keep_running" and len(got["verdict"]["comparisons"]) == 2
        assert client.get("/api/ventures/ledgerly/experiments/ad/chart.svg").text.startswith("<svg")
        unfinished = {**posted_day, "variants": [{"variant": "A"}]}
        bad = client.post("/api/ventures/ledgerly/experiments/ad/days", json=unfinished)
        assert bad.status_code == 422
        assert client.get("/api/ventures/ledgerly/experiments/nope").status_code == 404
        ch = client.post("/api/ventures/ledgerly/channels/email", json={"spend_usd": 100, "leads": 5})
        assert ch.status_code == 200 and ch.json()["totals"]["leads"] == 5
    eng.db.dispose()


def test_experiment_figures_drive_the_gtm_alerts(sqlite_engine: Engine) -> None:
    bundled = sqlite_engine
    _venture(bundled)
    experiment_ops.create_test(
        bundled, "ledgerly", "weak", ["A", "B"], baseline_rate=0.02, mde_relative=0.2, daily_traffic=2000, actor=LEAD
    )
    rows = [DayIn("A", 1000, 1, clicks=20, leads=50), DayIn("B", 1000, 1, clicks=22, leads=50)]
    today = datetime.now(UTC).date()
    _, fired = experiment_ops.record_day(bundled, "ledgerly", "weak", today, rows, actor=LEAD)
    acted = {f.trigger: f.outcome for f in fired}
    assert "GTM-ALERT-CONVERSION" in acted, fired  # 2 customers from 100 leads: 2 % < the b2b_smb warning, 3 %
